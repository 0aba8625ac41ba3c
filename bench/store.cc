// Benchmark: the store under the control plane, SQLite and PostgreSQL side by
// side in one run (issue 13, §4). PostgreSQL 15 is started for the run
// (initdb in a temp dir, a unix socket: fakes/postgres_server.h).
//
//   apply: 8 clients apply apps through AppService (the API's path without
//     HTTP) for a fixed time: applies/s.
//   watch: commit → every server's watcher. On PostgreSQL two stores on one
//     database stand for two servers; on SQLite, one. Each applied revision's
//     time from the commit's acknowledgement until every store's subscriber
//     has heard of it: p50/p99.
//   reconcile: a converged cluster of 150,000 instances (1,000 apps x 150 on
//     5,000 nodes, bench/cluster_shape.h) in the store; the controller's
//     pass = bring its SnapshotCache up to date + Compute(): the first pass's
//     whole read, and a later pass's update (one change) and compute, each
//     the best of three.
//
// Prints figures; never fails on time (exit 1 only when something did not
// work at all).
//
//   bench_store [--seconds S] [--clients N] [--apps N] [--replicas N] [--nodes N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster_shape.h"
#include "controller/app_service.h"
#include "controller/reconciler.h"
#include "fakes/postgres_server.h"
#include "fakes/testing.h"
#include "percentile.h"
#include "store/postgres/postgres_store.h"
#include "store/snapshot_cache.h"
#include "store/sqlite/sqlite_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using skiff::Status;
using skiff::store::Store;

struct Options {
  int seconds = 5;
  int clients = 8;
  skiff::bench::Shape shape;
};

// The stores one kind of database gives: the first takes the writes; every
// one is a server's view that must hear of them.
struct Stores {
  std::string name;
  std::vector<std::unique_ptr<Store>> servers;
};

// When each store's subscriber first heard of each revision.
class Heard {
 public:
  explicit Heard(size_t stores) : newest_(stores, 0) {}
  void Saw(size_t store, int64_t revision) {
    std::lock_guard lock(mu_);
    newest_[store] = std::max(newest_[store], revision);
    cv_.notify_all();
  }
  // Blocks until every store has heard of `revision` (or 10 s pass).
  bool WaitAll(int64_t revision) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      return std::all_of(newest_.begin(), newest_.end(),
                         [&](int64_t seen) { return seen >= revision; });
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int64_t> newest_;  // GUARDED_BY(mu_)
};

skiff::model::AppSpec SmallSpec(const std::string& name) {
  skiff::model::AppSpec spec;
  spec.name = name;
  spec.run.command = {"sleep", "1000"};
  spec.replicas = 0;
  return spec;
}

struct ApplyFigures {
  double per_second = 0;
  double watch_p50_ms = 0;
  double watch_p99_ms = 0;
  int failed = 0;
};

ApplyFigures MeasureApplies(Stores& stores, const Options& options) {
  Heard heard(stores.servers.size());
  std::vector<std::unique_ptr<skiff::store::Subscription>> subs;
  for (size_t i = 0; i < stores.servers.size(); ++i) {
    subs.push_back(stores.servers[i]->Subscribe([&heard, i](int64_t r) { heard.Saw(i, r); }));
  }
  skiff::controller::AppService apps(stores.servers[0].get(), skiff::SystemClock::Get());
  std::atomic<bool> stop = false;
  std::atomic<int> applied = 0;
  std::atomic<int> failed = 0;
  std::mutex mu;
  std::vector<double> watch_ms;  // GUARDED_BY(mu)
  std::vector<std::thread> clients;
  const auto start = Clock::now();
  for (int c = 0; c < options.clients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !stop; ++i) {
        auto r = apps.Apply(SmallSpec("c" + std::to_string(c) + "-" + std::to_string(i)));
        if (!r) {
          ++failed;
          continue;
        }
        ++applied;
        // From the commit's acknowledgement (Apply returned) until every
        // store heard of the newest revision the writing store has seen:
        // this commit's or a later client's (so the figure errs long).
        const auto t0 = Clock::now();
        if (!heard.WaitAll(stores.servers[0]->Revision())) {
          ++failed;
          continue;
        }
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        std::lock_guard lock(mu);
        watch_ms.push_back(ms);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(options.seconds));
  stop = true;
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  subs.clear();
  ApplyFigures out;
  out.per_second = applied / seconds;
  out.watch_p50_ms = Percentile(watch_ms, 0.50);
  out.watch_p99_ms = Percentile(watch_ms, 0.99);
  out.failed = failed;
  return out;
}

// Writes the converged cluster into `store`, a batch of objects a commit.
bool Load(Store& store, const skiff::store::Snapshot& snapshot) {
  constexpr size_t kBatch = 2000;
  skiff::store::Txn txn;
  size_t in_txn = 0;
  auto flush = [&]() -> bool {
    if (in_txn == 0) return true;
    auto r = store.Commit(txn);
    if (!r) {
      std::fprintf(stderr, "loading: %s\n", r.error().ToString().c_str());
      return false;
    }
    txn = skiff::store::Txn();
    in_txn = 0;
    return true;
  };
  auto add = [&](skiff::store::Object object) -> bool {
    txn.Put(std::move(object), skiff::store::kMustNotExist);
    return ++in_txn < kBatch || flush();
  };
  for (const auto& n : snapshot.nodes) {
    if (!add(n)) return false;
  }
  for (const auto& a : snapshot.apps) {
    if (!add(a)) return false;
  }
  for (const auto& d : snapshot.deployments) {
    if (!add(d)) return false;
  }
  for (const auto& i : snapshot.instances) {
    if (!add(i)) return false;
  }
  return flush();
}

struct ReconcileFigures {
  double first_ms = 0;    // the first pass: the whole state read
  double update_ms = 0;   // a later pass's read: the changes since (one here)
  double compute_ms = 0;  // Compute() over the whole state
  size_t instances = 0;
  size_t actions = 0;
};

// The controller's passes (controller_loop.cc): a SnapshotCache brought up to
// date, then Compute(). The first reads the whole state; each later one
// follows one change (an instance's health flapping back to healthy).
ReconcileFigures MeasureReconcile(Store& store, skiff::Time now) {
  ReconcileFigures out;
  out.update_ms = 1e18;
  out.compute_ms = 1e18;
  int next = 0;
  skiff::controller::ReconcilerConfig config{
      .new_id = [&](const std::string& app) { return app + "-new-" + std::to_string(next++); }};
  skiff::store::SnapshotCache cache(&store);
  const auto t0 = Clock::now();
  if (Status first = cache.Update(); !first) {
    std::fprintf(stderr, "snapshot: %s\n", first.error().ToString().c_str());
    return out;
  }
  out.first_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  for (int run = 0; run < 3; ++run) {
    skiff::model::Instance changed = cache.snapshot().instances.front();
    changed.message = "pass " + std::to_string(run);
    if (auto r = store.Commit(skiff::store::Txn().Put(changed, changed.version)); !r) {
      std::fprintf(stderr, "commit: %s\n", r.error().ToString().c_str());
      return out;
    }
    const auto t1 = Clock::now();
    if (Status updated = cache.Update(); !updated) {
      std::fprintf(stderr, "update: %s\n", updated.error().ToString().c_str());
      return out;
    }
    const auto t2 = Clock::now();
    skiff::controller::Actions actions = skiff::controller::Compute(cache.snapshot(), now, config);
    const auto t3 = Clock::now();
    out.update_ms =
        std::min(out.update_ms, std::chrono::duration<double, std::milli>(t2 - t1).count());
    out.compute_ms =
        std::min(out.compute_ms, std::chrono::duration<double, std::milli>(t3 - t2).count());
    out.instances = cache.snapshot().instances.size();
    out.actions = actions.size();
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--seconds") == 0) {
      options.seconds = value;
    } else if (std::strcmp(argv[i], "--clients") == 0) {
      options.clients = value;
    } else if (std::strcmp(argv[i], "--apps") == 0) {
      options.shape.apps = value;
    } else if (std::strcmp(argv[i], "--replicas") == 0) {
      options.shape.replicas = value;
    } else if (std::strcmp(argv[i], "--nodes") == 0) {
      options.shape.nodes = value;
    } else {
      std::fprintf(stderr,
                   "usage: bench_store [--seconds S] [--clients N] [--apps N] [--replicas N] "
                   "[--nodes N]\n");
      return 2;
    }
  }
  skiff::testing::TempDir dir;
  std::string why;
  skiff::testing::PostgresServer* pg = skiff::testing::PostgresServer::Shared(&why);
  if (pg == nullptr) {
    std::fprintf(stderr, "no PostgreSQL: %s\n", why.c_str());
    return 1;
  }

  // Two rounds of stores: empty ones for the applies, then fresh ones for the
  // converged cluster (so the applies' apps do not count in it).
  auto open = [&](const std::string& tag, int servers) -> std::vector<Stores> {
    std::vector<Stores> out;
    auto sqlite = skiff::store::SqliteStore::Open(dir.File(tag + ".db"));
    if (!sqlite) {
      std::fprintf(stderr, "sqlite: %s\n", sqlite.error().ToString().c_str());
      return {};
    }
    Stores s{"sqlite", {}};
    s.servers.push_back(std::move(*sqlite));
    out.push_back(std::move(s));
    auto db = pg->CreateDatabase();
    if (!db) {
      std::fprintf(stderr, "postgres: %s\n", db.error().ToString().c_str());
      return {};
    }
    Stores p{"postgres", {}};
    for (int i = 0; i < servers; ++i) {
      auto store = skiff::store::PostgresStore::Open(*db);
      if (!store) {
        std::fprintf(stderr, "postgres: %s\n", store.error().ToString().c_str());
        return {};
      }
      p.servers.push_back(std::move(*store));
    }
    out.push_back(std::move(p));
    return out;
  };

  bool ok = true;
  std::vector<Stores> stores = open("apply", 2);
  if (stores.empty()) return 1;
  std::printf(
      "apply: %d clients for %d s each; watch: commit -> every server's subscriber "
      "(PostgreSQL: 2 stores on one database, SQLite: 1)\n",
      options.clients, options.seconds);
  std::printf("%-10s%12s%14s%14s%8s\n", "store", "applies/s", "watch p50 ms", "watch p99 ms",
              "failed");
  std::map<std::string, double> rate;
  for (Stores& s : stores) {
    ApplyFigures f = MeasureApplies(s, options);
    rate[s.name] = f.per_second;
    std::printf("%-10s%12.0f%14.2f%14.2f%8d\n", s.name.c_str(), f.per_second, f.watch_p50_ms,
                f.watch_p99_ms, f.failed);
    ok = ok && f.failed == 0;
  }
  if (rate["sqlite"] > 0) {
    std::printf("postgres/sqlite applies: %.2fx\n\n", rate["postgres"] / rate["sqlite"]);
  }

  const skiff::Time now = skiff::Time(std::chrono::seconds(1'700'000'000));
  const skiff::store::Snapshot cluster = skiff::bench::ConvergedSnapshot(options.shape, now);
  std::printf("reconcile pass over %zu instances (%d apps x %d, %d nodes), best of three:\n",
              cluster.instances.size(), options.shape.apps, options.shape.replicas,
              options.shape.nodes);
  std::printf("%-10s%14s%14s%14s%12s%10s\n", "store", "first read ms", "update ms", "compute ms",
              "pass ms", "actions");
  std::vector<Stores> loaded = open("reconcile", 1);
  if (loaded.empty()) return 1;
  for (Stores& s : loaded) {
    const auto t0 = Clock::now();
    if (!Load(*s.servers[0], cluster)) return 1;
    const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
    ReconcileFigures f = MeasureReconcile(*s.servers[0], now);
    std::printf("%-10s%14.1f%14.2f%14.1f%12.1f%10zu   (loaded in %.1f s)\n", s.name.c_str(),
                f.first_ms, f.update_ms, f.compute_ms, f.update_ms + f.compute_ms, f.actions,
                load_s);
    ok = ok && f.actions == 0 && f.instances == cluster.instances.size();
  }
  std::printf("target: a pass <= 100 ms on PostgreSQL as on SQLite\n");
  return ok ? 0 : 1;
}
