// Benchmark: failures of the leader under load, as rounds (issue 13, §3 and
// §4), on the parts of test/e2e/leader_kill9_e2e_test.cc
// (e2e/failover_cluster.h): a PostgreSQL of its own, three servers, two
// standalone agents, a standalone edge. Each round a client applies and
// scales apps through every server, and a probe asks the edge for an app
// deployed before the first round, without pause.
//
//   kill9:   kill -9 the leader; apply an app through a survivor and time
//            until the new leader's controller placed its instance (its first
//            action) and until the edge serves it; restart the killed server
//            (a follower now).
//   sigstop: SIGSTOP the leader until another leads in a later epoch (past
//            the ttl), then SIGCONT; count the changes of the frozen leader's
//            epoch committed after the takeover (the log's last revision
//            then) and the fenced writes it logs as refused after waking.
//
// Then, in both: every acknowledged write is on a surviving server, each app
// runs exactly its replicas once converged (listed and as live processes, no
// instance id twice), and the edge answered every request; the round's apps
// are deleted. Prints a line per round, the totals and the times' p50/p99
// (never judged); exits 1 when a write is lost, an instance runs twice, an
// app does not converge, the edge failed a request, an old epoch's write
// committed, or a wait of a round (each bounded by DEADLINE_S) did not end.
//
//   bench_leader_failure kill9|sigstop ROUNDS [TTL [DEADLINE_S]]
//   (bench/leader_kill9.sh and bench/leader_sigstop.sh run it)
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "e2e/failover_cluster.h"
#include "e2e/skiff_server.h"
#include "fakes/postgres_server.h"
#include "net/server_pool.h"
#include "percentile.h"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace json = boost::json;
namespace t = skiff::testing;

int64_t Ms(Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

// Totals over the rounds.
struct Totals {
  size_t acked = 0;
  size_t lost = 0;
  int duplicates = 0;
  int unconverged = 0;
  int64_t edge_requests = 0;
  int64_t edge_failures = 0;
  int64_t old_epoch_writes = 0;
  int refused = 0;
  int rounds_refused = 0;  // sigstop: rounds with a fenced write refused
  size_t failed_after_act = 0;
  int rounds_failed_after_act = 0;
  std::vector<double> first_ms;   // kill9: placed; sigstop: takeover
  std::vector<double> served_ms;  // kill9 only
  std::vector<double> pause_ms;   // each round's longest pause between acknowledged writes
  bool failed = false;
};

class Bench {
 public:
  Bench(bool sigstop, std::string ttl, seconds deadline)
      : sigstop_(sigstop), deadline_(deadline), cluster_(std::move(ttl)) {}

  bool Setup(t::PostgresServer* pg) {
    if (!cluster_.Start(pg)) return false;
    prefix_ = "lf" + std::to_string(getpid());
    first_ = prefix_ + "-first";
    // Health every second (as the e2e test's probed app): one slow answer of
    // a loaded machine does not take an instance out of the edge's routes.
    auto applied =
        cluster_.Apply(first_, t::TestAppSpec(first_, 2, "[" + first_ + ".bench]", "1s"));
    if (!applied || applied->status != 201) {
      std::fprintf(stderr, "could not apply the first app\n");
      return false;
    }
    if (!t::PollUntil([&] { return t::IsAppAnswer(cluster_.Edge(first_ + ".bench")); },
                      deadline_)) {
      std::fprintf(stderr, "the edge does not serve the first app\n");
      return false;
    }
    return true;
  }

  // One round; false when it could not finish (a deadline passed).
  bool Round(int round, Totals* totals) {
    const int leader = cluster_.WaitForOneLeader(deadline_);
    if (leader < 0) return Fail(round, "no single leader");
    const int survivor = (leader + 1) % cluster_.size();
    const std::string prefix = prefix_ + "-r" + std::to_string(round);
    t::EdgeProbe probe(cluster_, first_ + ".bench");
    probe.Start();
    // The round's apps and the first app, from before the failure until
    // they converged.
    t::DuplicateWatch watch(prefix_);
    watch.Start();
    // Under kill -9 the writes go to the leader first (some are in flight
    // when it dies); a stopped leader would hold each write sent to it for
    // the client's timeout, so then they go to a survivor first.
    t::WriteLoad load(cluster_.Urls(sigstop_ ? survivor : leader), cluster_.token(), prefix + "-w",
                      4);
    load.Start();
    if (!t::PollUntil([&] { return load.AckedCount() >= 3; }, deadline_)) {
      return Fail(round, "no write acknowledged");
    }
    // A random moment of the leader's term (pacing, not syncing).
    std::this_thread::sleep_for(milliseconds(random_() % 1000));
    const size_t acked_at_failure = load.AckedCount();
    std::string what;
    if (sigstop_) {
      if (!Freeze(round, leader, totals, &what)) return false;
    } else {
      if (!Kill(round, leader, survivor, prefix, totals, &what)) return false;
    }
    // Once the new leader acted, every write must be acknowledged: only the
    // one in flight when the leader failed may have gone unanswered.
    const size_t failed_at_act = load.Unacknowledged();
    const bool wrote_on =
        t::PollUntil([&] { return load.AckedCount() >= acked_at_failure + 3; }, deadline_);
    load.Stop();
    probe.Stop();
    if (!wrote_on) return Fail(round, "no write acknowledged after the failure");
    const size_t failed_after_act = load.Unacknowledged() - failed_at_act;
    std::string by_status;
    for (const auto& [status, count] : load.FailuresByStatus()) {
      by_status += (by_status.empty() ? "" : ", ") + std::to_string(count) + " " + status;
    }

    const std::vector<std::string> lost = t::LostWrites(cluster_.server(survivor), load.Acked());
    int duplicates = 0;
    // The round's apps, and the first app, which runs throughout.
    std::vector<std::string> unconverged =
        t::Unconverged(cluster_.server(survivor), prefix, deadline_, &duplicates);
    for (std::string& u :
         t::Unconverged(cluster_.server(survivor), first_, deadline_, &duplicates)) {
      unconverged.push_back(std::move(u));
    }
    watch.Stop();
    for (const std::string& d : watch.Duplicates()) {
      std::printf("  ran twice: %s\n", d.c_str());
      ++duplicates;
    }
    for (const std::string& l : lost) std::printf("  lost: %s\n", l.c_str());
    for (const std::string& u : unconverged) std::printf("  unconverged: %s\n", u.c_str());
    for (const std::string& f : probe.FirstFailures()) std::printf("  edge: %s\n", f.c_str());
    for (const std::string& f : load.FirstFailures())
      std::printf("  not acknowledged: %s\n", f.c_str());
    totals->acked += load.AckedCount();
    totals->pause_ms.push_back(static_cast<double>(load.LongestPause().count()));
    totals->lost += lost.size();
    totals->duplicates += duplicates;
    totals->unconverged += static_cast<int>(unconverged.size());
    totals->edge_requests += probe.requests();
    totals->edge_failures += probe.failures();
    totals->failed_after_act += failed_after_act;
    if (failed_after_act > 0) ++totals->rounds_failed_after_act;
    if (refused_ > 0) ++totals->rounds_refused;
    std::printf(
        "round %d: %s; %zu writes acknowledged (%zu before), %zu not (%s; %zu after the new "
        "leader acted), longest pause %lld ms, "
        "%zu lost, %d duplicates, %zu apps unconverged, edge %lld/%lld failed\n",
        round, what.c_str(), load.AckedCount(), acked_at_failure, load.Unacknowledged(),
        by_status.empty() ? "none" : by_status.c_str(), failed_after_act,
        static_cast<long long>(load.LongestPause().count()), lost.size(), duplicates,
        unconverged.size(), static_cast<long long>(probe.failures()),
        static_cast<long long>(probe.requests()));
    std::fflush(stdout);
    return DeleteApps(round, prefix);
  }

  // Changes of the leaders' loops committed at an epoch older than one
  // committed before them, over the retained change log: a write of an old term after
  // a later term's.
  std::string OldEpochAfterNewer() const {
    return cluster_.Query(
        "SELECT count(*) FROM (SELECT epoch, max(epoch) OVER (ORDER BY revision ROWS BETWEEN "
        "UNBOUNDED PRECEDING AND 1 PRECEDING) AS before FROM changes WHERE epoch > 0) t "
        "WHERE epoch < before");
  }

 private:
  bool Fail(int round, const std::string& why) {
    std::printf("round %d: %s within %lld s\n", round, why.c_str(),
                static_cast<long long>(deadline_.count()));
    for (int i = 0; i < cluster_.size(); ++i) {
      const std::string out = cluster_.server(i).Output();
      std::printf("--- s%d's last output:\n%s\n", i + 1,
                  out.substr(out.size() > 3000 ? out.size() - 3000 : 0).c_str());
    }
    return false;
  }

  bool Kill(int round, int leader, int survivor, const std::string& prefix, Totals* totals,
            std::string* what) {
    cluster_.server(leader).Kill();
    const auto killed = Clock::now();
    const std::string app = prefix + "-after";
    auto applied = cluster_.Apply(app, t::TestAppSpec(app, 1, "[" + app + ".bench]"), survivor);
    if (!applied || applied->status != 201) return Fail(round, "the probe app was not applied");
    if (!t::PollUntil([&] { return !t::Instances(cluster_.server(survivor), app).empty(); },
                      deadline_, milliseconds(10))) {
      return Fail(round, "no new leader placed the probe app's instance");
    }
    const auto placed = Clock::now();
    if (!t::PollUntil([&] { return t::IsAppAnswer(cluster_.Edge(app + ".bench")); }, deadline_,
                      milliseconds(10))) {
      return Fail(round, "the edge did not serve the probe app");
    }
    const auto served = Clock::now();
    totals->first_ms.push_back(static_cast<double>(Ms(placed - killed)));
    totals->served_ms.push_back(static_cast<double>(Ms(served - killed)));
    if (!cluster_.server(leader).Start()) return Fail(round, "the killed server did not restart");
    *what = "s" + std::to_string(leader + 1) + " killed -> placed in " +
            std::to_string(Ms(placed - killed)) + " ms, served in " +
            std::to_string(Ms(served - killed)) + " ms";
    return true;
  }

  bool Freeze(int round, int leader, Totals* totals, std::string* what) {
    t::SkiffServer& frozen = cluster_.server(leader);
    const t::Leading before = t::HealthOf(frozen);
    // Epoch 0 would count the API's unfenced writes as the old term's.
    if (!before.answered || !before.leader || before.epoch <= 0) {
      return Fail(round, "the leader to freeze no longer leads");
    }
    const int64_t old_epoch = before.epoch;
    if (::kill(frozen.pid(), SIGSTOP) != 0) return Fail(round, "SIGSTOP failed");
    const auto stopped = Clock::now();
    int next = -1;
    int64_t new_epoch = 0;
    const bool took_over = t::PollUntil(
        [&] {
          for (int i = 0; i < cluster_.size(); ++i) {
            if (i == leader) continue;
            const t::Leading l = t::HealthOf(cluster_.server(i));
            if (l.leader && l.epoch > old_epoch) {
              next = i;
              new_epoch = l.epoch;
              return true;
            }
          }
          return false;
        },
        deadline_, milliseconds(10));
    const auto took = Clock::now() - stopped;
    // The log as the takeover left it (as leader_e2e_test's frozen leader):
    // nothing of the old term may follow.
    const std::string at_takeover = cluster_.Query("SELECT max(revision) FROM changes");
    const int refused_before = t::CountOccurrences(frozen.Output(), "fenced:");
    ::kill(frozen.pid(), SIGCONT);
    if (!took_over) return Fail(round, "no takeover while the leader was stopped");
    if (!t::PollUntil(
            [&] {
              const t::Leading l = t::HealthOf(frozen);
              return l.answered && !l.leader;
            },
            deadline_)) {
      return Fail(round, "the woken leader did not step down");
    }
    if (!t::PollUntil(
            [&] {
              return cluster_.Query("SELECT count(*) FROM changes WHERE epoch = " +
                                    std::to_string(new_epoch)) != "0";
            },
            deadline_)) {
      return Fail(round, "the new leader wrote nothing");
    }
    const std::string old_writes =
        cluster_.Query("SELECT count(*) FROM changes WHERE epoch = " + std::to_string(old_epoch) +
                       " AND revision > " + at_takeover);
    const int refused = t::CountOccurrences(frozen.Output(), "fenced:") - refused_before;
    const int64_t old_count = old_writes == "?" ? 1 : std::stoll(old_writes);
    totals->old_epoch_writes += old_count;
    totals->refused += refused;
    refused_ = refused;
    totals->first_ms.push_back(static_cast<double>(Ms(took)));
    *what = "s" + std::to_string(leader + 1) + " stopped -> s" + std::to_string(next + 1) +
            " led in " + std::to_string(Ms(took)) +
            " ms; the old epoch's commits after: " + old_writes +
            ", its refused fenced writes: " + std::to_string(refused);
    return true;
  }

  // Deletes the apps whose names start with `prefix` and waits until none of
  // their processes runs.
  bool DeleteApps(int round, const std::string& prefix) {
    const skiff::net::ServerPool pool(cluster_.Urls());
    const skiff::net::HttpHeaders auth{{"Authorization", "Bearer " + cluster_.token()}};
    auto list = pool.Do("GET", "/v1/apps", {}, auth);
    if (!list || list->status != 200) return Fail(round, "GET /v1/apps failed");
    std::vector<std::string> names;
    const json::value apps = json::parse(list->body);
    for (const json::value& a : apps.at("apps").as_array()) {
      std::string name(a.at("name").as_string());
      if (name.rfind(prefix, 0) == 0) names.push_back(std::move(name));
    }
    for (const std::string& name : names) {
      auto deleted = pool.Do("DELETE", "/v1/apps/" + name, {}, auth);
      if (!deleted || deleted->status >= 300) return Fail(round, "DELETE " + name + " failed");
    }
    if (!t::PollUntil(
            [&] {
              for (const std::string& name : names) {
                if (!t::AppProcesses(name).empty()) return false;
              }
              return true;
            },
            deadline_, milliseconds(50))) {
      return Fail(round, "the deleted apps' processes did not stop");
    }
    return true;
  }

  bool sigstop_;
  int refused_ = 0;  // the last round's refused fenced writes
  seconds deadline_;
  t::FailoverCluster cluster_;
  std::string prefix_;
  std::string first_;
  std::mt19937 random_{std::random_device{}()};
};

int Run(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "kill9";
  if (mode != "kill9" && mode != "sigstop") {
    std::fprintf(stderr, "usage: bench_leader_failure kill9|sigstop [ROUNDS [TTL [DEADLINE_S]]]\n");
    return 2;
  }
  const bool sigstop = mode == "sigstop";
  const int rounds = argc > 2 ? std::atoi(argv[2]) : (sigstop ? 20 : 100);
  const std::string ttl = argc > 3 ? argv[3] : "5s";
  const seconds deadline(argc > 4 ? std::atoi(argv[4]) : 60);
  std::string why;
  t::PostgresServer* pg = t::PostgresServer::Shared(&why);
  if (pg == nullptr) {
    std::fprintf(stderr, "no PostgreSQL: %s\n", why.c_str());
    return 1;
  }
  Bench bench(sigstop, ttl, deadline);
  if (!bench.Setup(pg)) return 1;
  std::printf("[setup] PostgreSQL, 3 servers (leader ttl %s), 2 agents, 1 edge; %d rounds of %s\n",
              ttl.c_str(), rounds,
              sigstop ? "SIGSTOP of the leader past its ttl, SIGCONT"
                      : "kill -9 of the leader, restarted as a follower");
  std::fflush(stdout);
  Totals totals;
  int done = 0;
  for (int round = 1; round <= rounds; ++round, ++done) {
    if (!bench.Round(round, &totals)) {
      totals.failed = true;
      break;
    }
  }
  std::printf(
      "%s, %d rounds: %zu writes acknowledged, %zu lost, %d duplicate instances, %d apps "
      "unconverged, %lld of %lld requests through the edge failed",
      mode.c_str(), done, totals.acked, totals.lost, totals.duplicates, totals.unconverged,
      static_cast<long long>(totals.edge_failures), static_cast<long long>(totals.edge_requests));
  if (sigstop) {
    std::printf(
        ", %lld commits of an old epoch after the takeover, %d fenced writes refused (in %d "
        "rounds)",
        static_cast<long long>(totals.old_epoch_writes), totals.refused, totals.rounds_refused);
  }
  std::printf(", %zu writes not acknowledged after the new leader acted (in %d rounds)",
              totals.failed_after_act, totals.rounds_failed_after_act);
  const std::string after_newer = bench.OldEpochAfterNewer();
  std::printf(
      "; in the retained change log, %s changes of the leaders' loops at an epoch older than one "
      "committed before them\n",
      after_newer.c_str());
  if (!totals.first_ms.empty()) {
    std::vector<double>& first = totals.first_ms;
    std::printf("%s (ttl %s): p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
                sigstop ? "takeover (SIGSTOP -> another leads)"
                        : "failover (kill -9 -> the new leader placed an app applied after it)",
                ttl.c_str(), Percentile(first, 0.5), Percentile(first, 0.99),
                *std::max_element(first.begin(), first.end()));
  }
  if (!totals.pause_ms.empty()) {
    std::vector<double>& pause = totals.pause_ms;
    std::printf(
        "a round's longest pause between acknowledged writes: p50 %.0f ms, p99 %.0f ms, "
        "max %.0f ms\n",
        Percentile(pause, 0.5), Percentile(pause, 0.99),
        *std::max_element(pause.begin(), pause.end()));
  }
  if (!totals.served_ms.empty()) {
    std::vector<double>& served = totals.served_ms;
    std::printf("kill -9 -> that app served by the edge: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
                Percentile(served, 0.5), Percentile(served, 0.99),
                *std::max_element(served.begin(), served.end()));
  }
  const bool bad = totals.failed || totals.lost > 0 || totals.duplicates > 0 ||
                   totals.unconverged > 0 || totals.edge_failures > 0 ||
                   totals.old_epoch_writes > 0 || totals.failed_after_act > 0 || after_newer != "0";
  return bad ? 1 : 0;
}

}  // namespace

// Catches what the checks throw (a malformed answer) so the cluster's
// destructors stop its processes.
int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_leader_failure: %s\n", e.what());
    return 1;
  }
}
