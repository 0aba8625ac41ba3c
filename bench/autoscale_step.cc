// Benchmark: a step in traffic through the edge, autoscaled on requests a
// second (docs/autoscaling.md).
//
//   A process app (the test app, health-checked over http every second) with
//   autoscale {min: 1, max: 8, target_rps_per_replica: 500, window: 10s,
//   cooldown_up: 5s, cooldown_down: 15s}, on a server whose autoscale loop
//   runs every second (--sample-interval 1s; its edge reports traffic as
//   often). bench_fixed_rate drives the server's edge at the app's domain, open
//   loop: 100 requests a second until the window holds nothing else (1
//   replica), then 2,000 (the step), then 100 again. The step comes at a
//   random point of the edge's report period (the baseline is 20 s plus
//   0-1 s at random), so runs sample different points. Each rate is its own
//   generator process, started before the one it replaces is stopped, so the
//   load never pauses. Figures:
//   - from the step until ceil(2000 / 500) = 4 instances run healthy by the
//     API (polled every 100 ms); target window + 10 s;
//   - the answers other than 2xx/3xx and the failed requests while scaling
//     out (the 2,000 phase: until 4 are healthy, and 30 s more) and while
//     scaling in (the 100 phase after it, until only min is left), target 0;
//   - when each replica became healthy and went, and the autoscaler's events.
//
// Never fails on time; exit 1 only when something did not work at all (the
// server, the apply, the generator).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/quantity.h"
#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"

namespace {

using Clock = std::chrono::steady_clock;
using skiff::testing::SkiffServer;
using skiff::testing::Subprocess;
namespace json = boost::json;

constexpr const char* kApp = "step";
constexpr const char* kHost = "step.bench.test";
constexpr int kLowRps = 100;
constexpr int kHighRps = 2000;
constexpr int kRpsPerReplica = 500;
constexpr int kEnough = (kHighRps + kRpsPerReplica - 1) / kRpsPerReplica;  // 4
constexpr int kWindowSeconds = 10;
constexpr int kReportSeconds = 1;  // the server's edge reports traffic every --sample-interval
// Before the step: twice the window, so the window holds only the low rate
// and the app has settled at min (plus up to one report period at random).
constexpr int kBaselineSeconds = 2 * kWindowSeconds;
constexpr int kHoldSeconds = 30;       // at the high rate once enough are healthy
constexpr int kOutLimitSeconds = 120;  // giving up on enough healthy
constexpr int kInLimitSeconds = 180;   // giving up on min
constexpr auto kPoll = std::chrono::milliseconds(100);

// The autoscale block as applied (YAML flow), and printed.
constexpr const char* kPolicy =
    "{min: 1, max: 8, target_rps_per_replica: 500, window: 10s, cooldown_up: 5s, "
    "cooldown_down: 15s}";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string Spec() {
  return std::string("name: step\n") + "run: {command: [\"" + SKIFF_TESTAPP_BIN +
         "\", \"--host\", \"${HOST}\", \"--port\", \"${PORT}\"]}\n" + "domains: [" + kHost + "]\n" +
         "health: {type: http, path: /health, interval: 1s, timeout: 1s}\n" +
         "autoscale: " + kPolicy + "\n";
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// What bench_fixed_rate printed for one phase.
struct LoadFigures {
  double rate = 0, p50_ms = 0, p99_ms = 0, p999_ms = 0;
  long errors = 0, answers_5xx = 0, answers_other = 0, failed = 0;
  double late_p99_ms = 0;
};

// One bench_fixed_rate process sending `rate` requests a second to the app
// through the edge, for at most `limit_seconds` or until Stop.
class LoadPhase {
 public:
  LoadPhase(const SkiffServer& server, const std::string& out_path, int rate, int limit_seconds)
      : rate_(rate),
        started_(Clock::now()),
        process_(
            {SKIFF_FIXED_RATE_BIN, "--url", "http://" + server.edge_addr() + "/", "--host", kHost,
             "--rate", std::to_string(rate), "--seconds", std::to_string(limit_seconds)},
            {}, out_path) {}

  Clock::time_point started() const { return started_; }

  // Ends it (SIGTERM: it stops sending and waits for the answers still out)
  // and reads its figures; nullopt (and its output on stderr) when it failed.
  std::optional<LoadFigures> Stop() {
    process_.Signal(SIGTERM);
    const int code = process_.Wait();
    const std::string out = process_.Output();
    std::istringstream lines(out);
    std::string line, last;
    while (std::getline(lines, line)) {
      if (!line.empty()) last = line;
    }
    LoadFigures f;
    if (code != 0 || std::sscanf(last.c_str(), "%lf %lf %lf %lf %ld %ld %ld %ld %lf", &f.rate,
                                 &f.p50_ms, &f.p99_ms, &f.p999_ms, &f.errors, &f.answers_5xx,
                                 &f.answers_other, &f.failed, &f.late_p99_ms) != 9) {
      std::fprintf(stderr, "bench_fixed_rate at %d/s failed (exit %d):\n%s\n", rate_, code,
                   out.c_str());
      return std::nullopt;
    }
    return f;
  }

 private:
  int rate_;
  Clock::time_point started_;
  Subprocess process_;
};

// One instance as the polls saw it: when it was first seen healthy, and
// when it had left the list.
struct Seen {
  std::optional<Clock::time_point> healthy, gone;
};

// Polls the app's instances and keeps when each became healthy and when it
// left the list.
class Watcher {
 public:
  explicit Watcher(const SkiffServer& server) : server_(server) {}

  // One poll; returns how many instances run healthy (-1: the API did not answer).
  int Poll() {
    auto r = server_.Api("GET", std::string("/v1/apps/") + kApp + "/instances");
    if (!r || r->status != 200) return -1;
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (ec) return -1;
    const Clock::time_point now = Clock::now();
    int healthy = 0;
    listed_ = 0;
    std::map<std::string, bool> present;
    for (const json::value& i : v.at("instances").as_array()) {
      const json::object& o = i.as_object();
      const std::string id(o.at("id").as_string());
      present[id] = true;
      ++listed_;
      Seen& s = seen_[id];
      if (o.at("state").as_string() == "running" && o.at("health").as_string() == "healthy") {
        ++healthy;
        if (!s.healthy) s.healthy = now;
      }
    }
    for (auto& [id, s] : seen_) {
      if (!present.count(id) && !s.gone) s.gone = now;
    }
    return healthy;
  }

  // Instances listed at the last poll, in any state.
  int listed() const { return listed_; }
  const std::map<std::string, Seen>& seen() const { return seen_; }

 private:
  const SkiffServer& server_;
  int listed_ = 0;
  std::map<std::string, Seen> seen_;
};

// Polls until `done(healthy, listed)` or `limit`; the time it took from
// `from`, or nullopt.
template <typename F>
std::optional<double> WaitUntil(Watcher& watcher, Clock::time_point from, F done,
                                std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    const int healthy = watcher.Poll();
    if (healthy >= 0 && done(healthy, watcher.listed())) return Seconds(Clock::now() - from);
    std::this_thread::sleep_for(kPoll);
  }
  return std::nullopt;
}

void PrintPhase(const char* name, int rate, const LoadFigures& f) {
  std::printf(
      "      %-9s %5d/s asked, %6.0f/s answered 2xx, p50 %6.2f ms, p99 %7.2f ms, "
      "5xx %ld, other non-2xx %ld, failed %ld; generator late p99 %.2f ms%s%s\n",
      name, rate, f.rate, f.p50_ms, f.p99_ms, f.answers_5xx, f.answers_other, f.failed,
      f.late_p99_ms, f.late_p99_ms > 5 ? "  (the generator fell behind)" : "",
      f.rate < 0.95 * rate ? "  (fewer answers than asked)" : "");
}

// A time from the step, or `none`.
std::string At(const std::optional<Clock::time_point>& t, Clock::time_point step,
               const char* none) {
  if (!t) return none;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f s", Seconds(*t - step));
  return buf;
}

// The app's autoscale events, each at its time from `step_wall`.
void PrintEvents(const SkiffServer& server, std::chrono::system_clock::time_point step_wall) {
  auto r = server.Api("GET", std::string("/v1/events?app=") + kApp);
  boost::system::error_code ec;
  json::value v = r && r->status == 200 ? json::parse(r->body, ec) : json::value();
  if (!v.is_object()) {
    std::printf("      (the events did not answer)\n");
    return;
  }
  for (const json::value& e : v.at("events").as_array()) {
    const json::object& o = e.as_object();
    if (o.at("kind").as_string() != "app.autoscaled") continue;
    auto at = skiff::ParseTime(std::string(o.at("time").as_string()));
    const double t = at ? std::chrono::duration<double>(*at - step_wall).count() : 0;
    std::printf("      %+7.1f s  %s\n", t, std::string(o.at("message").as_string()).c_str());
  }
}

// A time taken, or that it did not come within `limit` seconds.
std::string Figure(const std::optional<double>& s, int limit) {
  char buf[32];
  if (!s) return "not in " + std::to_string(limit) + " s";
  std::snprintf(buf, sizeof buf, "%.1f s", *s);
  return buf;
}

}  // namespace

int main() {
  std::printf(
      "Skiff benchmark: a step from %d to %d requests a second through the edge, "
      "autoscaled\n",
      kLowRps, kHighRps);
  std::printf("machine: %u cpus, load average %s\n", std::thread::hardware_concurrency(),
              LoadAverage().c_str());
  std::printf("policy:  autoscale: %s\n", kPolicy);
  std::printf(
      "         (scale_out_threshold 10, scale_in_threshold 20, max_step 4: the "
      "defaults); server --sample-interval 1s, edge reports every %d s\n\n",
      kReportSeconds);

  SkiffServer server;
  server.AddArgs({"--sample-interval", "1s"});
  if (!server.Start()) return 1;
  skiff::testing::TempDir dir;
  auto applied =
      server.Api("PUT", std::string("/v1/apps/") + kApp, Spec(), nullptr, "application/yaml");
  if (!applied || applied->status != 201) {
    std::fprintf(stderr, "apply failed: %s\n",
                 applied ? applied->body.c_str() : applied.error().ToString().c_str());
    return 1;
  }
  Watcher watcher(server);
  if (!WaitUntil(
          watcher, Clock::now(), [](int healthy, int) { return healthy == 1; },
          std::chrono::seconds(60))) {
    std::fprintf(stderr, "the app never became healthy\n%s\n", server.Output().c_str());
    return 1;
  }

  std::random_device seed;
  const auto baseline_ms =
      std::chrono::milliseconds(kBaselineSeconds * 1000 + std::uniform_int_distribution<int>(
                                                              0, kReportSeconds * 1000 - 1)(seed));
  std::printf("[1/3] %d/s for %.1f s (the window holds only this rate)...\n", kLowRps,
              baseline_ms.count() / 1000.0);
  LoadPhase low(server, dir.File("baseline.txt"), kLowRps, 3600);
  std::this_thread::sleep_for(baseline_ms);
  const int before = watcher.Poll();
  std::printf("      %d healthy before the step\n", before);

  std::printf("[2/3] step to %d/s until %d are healthy, then %d s more...\n", kHighRps, kEnough,
              kHoldSeconds);
  const auto step_wall = std::chrono::system_clock::now();
  LoadPhase high(server, dir.File("out.txt"), kHighRps, 3600);
  const Clock::time_point step = high.started();
  auto baseline = low.Stop();
  const std::optional<double> to_enough = WaitUntil(
      watcher, step, [](int healthy, int) { return healthy >= kEnough; },
      std::chrono::seconds(kOutLimitSeconds));
  int most = 0;
  WaitUntil(
      watcher, step,
      [&](int healthy, int) {
        most = std::max(most, healthy);
        return false;
      },
      std::chrono::seconds(kHoldSeconds));
  std::printf("      %d healthy at the end of the hold (most seen: %d)\n", watcher.Poll(), most);

  std::printf("[3/3] back to %d/s until only min (1) is left...\n", kLowRps);
  LoadPhase tail(server, dir.File("in.txt"), kLowRps, 3600);
  const Clock::time_point down = tail.started();
  auto out = high.Stop();
  const std::optional<double> to_min = WaitUntil(
      watcher, down, [](int healthy, int listed) { return healthy == 1 && listed == 1; },
      std::chrono::seconds(kInLimitSeconds));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // answers of the last stop settle
  auto in = tail.Stop();
  if (!baseline || !out || !in) return 1;

  std::printf("\nload (bench_fixed_rate, open loop, 64 keep-alive connections to the edge):\n");
  PrintPhase("before", kLowRps, *baseline);
  PrintPhase("scale out", kHighRps, *out);
  PrintPhase("scale in", kLowRps, *in);

  const double down_at = Seconds(down - step);
  std::printf("\nreplicas (times from the step; the step down was at %+.1f s):\n", down_at);
  std::vector<std::pair<std::string, Seen>> replicas(watcher.seen().begin(), watcher.seen().end());
  std::sort(replicas.begin(), replicas.end(), [](const auto& a, const auto& b) {
    return a.second.healthy.value_or(Clock::time_point::max()) <
           b.second.healthy.value_or(Clock::time_point::max());
  });
  for (const auto& [id, s] : replicas) {
    std::printf("      %-40s healthy %9s   gone %9s\n", id.c_str(),
                At(s.healthy, step, "never").c_str(), At(s.gone, step, "-").c_str());
  }
  std::printf("\nautoscale events (times from the step):\n");
  PrintEvents(server, step_wall);

  std::printf("\n%-52s %12s %12s\n", "figure", "value", "target");
  std::printf("%-52s %12s %10d s\n", "step -> 4 replicas healthy",
              Figure(to_enough, kOutLimitSeconds).c_str(), kWindowSeconds + 10);
  std::printf("%-52s %12ld %12d\n", "5xx while scaling out", out->answers_5xx, 0);
  std::printf("%-52s %12ld %12d\n", "other non-2xx/failed while scaling out",
              out->answers_other + out->failed, 0);
  std::printf("%-52s %12ld %12d\n", "5xx while scaling in", in->answers_5xx, 0);
  std::printf("%-52s %12ld %12d\n", "other non-2xx/failed while scaling in",
              in->answers_other + in->failed, 0);
  std::printf("%-52s %12s %12s\n", "step down -> back at min (1)",
              Figure(to_min, kInLimitSeconds).c_str(), "-");
  std::printf("\nload average at the end: %s\n", LoadAverage().c_str());
  std::printf(
      "anchors: Kubernetes' HPA syncs every 15 s on metrics scraped every 15-60 s "
      "and waits for readiness; Knative's KPA decides every 2 s over a 60 s window "
      "(6 s in panic)\n");
  return 0;
}
