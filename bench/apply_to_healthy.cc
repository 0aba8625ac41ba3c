// Benchmark: how fast an applied app is healthy, and how small the server is.
//
//   apply -> first healthy instance: 50 apps of the test app (1 replica, an
//     http health check on /health with the default timings), applied one after another through the
//     API; the time from the PUT to the first instance the API shows healthy.
//   bare start: the same binary started by hand (fork/exec) until its /health
//     answers: the floor any platform pays; the ratio says what Skiff adds.
//   idle RSS of `skiff server` with 0 apps and with 100 running apps.
//
// Prints figures against the targets; never fails on time (exit 1 only when
// something did not work at all).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "net/http_client.h"
#include "percentile.h"

namespace {

using Clock = std::chrono::steady_clock;
using skiff::testing::SkiffServer;
namespace json = boost::json;

constexpr int kTimedApps = 50;
constexpr int kIdleApps = 100;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Resident memory of a process in MB (VmRSS), 0 when unknown.
double RssMb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

std::string Spec(const std::string& name) {
  json::object spec;
  spec["name"] = name;
  spec["run"] = {
      {"command", json::array{SKIFF_TESTAPP_BIN, "--host", "${HOST}", "--port", "${PORT}"}}};
  spec["replicas"] = 1;
  spec["health"] = {{"type", "http"}, {"path", "/health"}};
  return json::serialize(spec);
}

bool AnyHealthy(const SkiffServer& server, const std::string& app) {
  for (const json::value& i : skiff::testing::Instances(server, app)) {
    const json::object& o = i.as_object();
    if (o.at("health").as_string() == "healthy") return true;
  }
  return false;
}

// Waits (polling every millisecond) until `done`; false after `limit`.
template <typename F>
bool WaitFor(F done, std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// The floor: start the test app directly and wait for its /health.
std::vector<double> BareStarts(int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    const int port = skiff::testing::FreePort();
    auto start = Clock::now();
    skiff::testing::Subprocess app(
        {SKIFF_TESTAPP_BIN, "--host", "127.0.0.1", "--port", std::to_string(port)}, {},
        "/dev/null");
    skiff::net::HttpClient client("http://127.0.0.1:" + std::to_string(port));
    bool up = WaitFor(
        [&] {
          auto r = client.Do("GET", "/health", {}, {}, std::chrono::seconds(1));
          return r && r->status == 200;
        },
        std::chrono::seconds(10));
    if (up) out.push_back(Ms(Clock::now() - start));
  }
  return out;
}

}  // namespace

int main() {
  std::printf("Skiff benchmark: apply -> first healthy instance, idle RSS\n");
  std::printf("machine: %u cpus\n\n", std::thread::hardware_concurrency());

  SkiffServer server(/*port_count=*/1000);
  if (!server.Start()) return 1;
  std::this_thread::sleep_for(std::chrono::seconds(3));  // let start-up settle before measuring
  const double rss_empty = RssMb(server.pid());

  std::printf("[1/3] applying %d apps one at a time...\n", kTimedApps);
  std::vector<double> apply_ms;
  for (int i = 0; i < kTimedApps; ++i) {
    const std::string name = "bench-" + std::to_string(i);
    auto start = Clock::now();
    auto r = server.Api("PUT", "/v1/apps/" + name, Spec(name));
    if (!r || r->status != 201) {
      std::fprintf(stderr, "apply %s failed: %s\n", name.c_str(),
                   r ? r->body.c_str() : r.error().ToString().c_str());
      return 1;
    }
    if (!WaitFor([&] { return AnyHealthy(server, name); }, std::chrono::seconds(30))) {
      std::fprintf(stderr, "%s never became healthy\n", name.c_str());
      return 1;
    }
    apply_ms.push_back(Ms(Clock::now() - start));
    if ((i + 1) % 10 == 0) std::printf("      %d/%d\n", i + 1, kTimedApps);
  }

  std::printf("[2/3] %d bare starts of the same app (the floor)...\n", kTimedApps);
  std::vector<double> bare_ms = BareStarts(kTimedApps);
  if (bare_ms.empty()) return 1;

  std::printf("[3/3] applying %d more apps, then letting the server idle...\n",
              kIdleApps - kTimedApps);
  for (int i = kTimedApps; i < kIdleApps; ++i) {
    const std::string name = "bench-" + std::to_string(i);
    (void)server.Api("PUT", "/v1/apps/" + name, Spec(name));
  }
  int healthy_apps = 0;
  bool settled = WaitFor(
      [&] {
        healthy_apps = 0;
        for (int i = 0; i < kIdleApps; ++i) {
          healthy_apps += AnyHealthy(server, "bench-" + std::to_string(i));
        }
        return healthy_apps == kIdleApps;
      },
      std::chrono::seconds(120));
  if (!settled)
    std::printf("      only %d of %d apps healthy after 120s\n", healthy_apps, kIdleApps);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const double rss_full = RssMb(server.pid());

  const double p50 = Percentile(apply_ms, 0.5), p99 = Percentile(apply_ms, 0.99);
  const double bare50 = Percentile(bare_ms, 0.5), bare99 = Percentile(bare_ms, 0.99);
  std::printf("\n%-44s %10s %10s %12s\n", "figure", "value", "target", "vs bare");
  std::printf("%-44s %8.1fms %8sms %11.1fx\n", "apply -> first healthy, p50 (50 apps)", p50, "150",
              p50 / bare50);
  std::printf("%-44s %8.1fms %8sms %11.1fx\n", "apply -> first healthy, p99 (50 apps)", p99, "500",
              p99 / bare99);
  std::printf("%-44s %8.1fms %10s %12s\n", "bare start -> /health answers, p50", bare50, "-",
              "1.0x");
  std::printf("%-44s %8.1fms %10s %12s\n", "bare start -> /health answers, p99", bare99, "-",
              "1.0x");
  std::printf("%-44s %8.1fMB %8sMB %12s\n", "idle RSS of skiff server, 0 apps", rss_empty, "30",
              "-");
  std::printf("%-44s %8.1fMB %10s %12s\n",
              settled ? "idle RSS of skiff server, 100 apps" : "idle RSS, 100 apps (NOT settled)",
              rss_full, "-", "-");
  return 0;
}
