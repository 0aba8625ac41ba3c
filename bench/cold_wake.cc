// Benchmark: cold wakes through the edge (scale to zero, docs/scale-to-zero.md).
//
//   A process app (the test app, health-checked over http every 100 ms) with
//   autoscale {min: 0, scale_to_zero: true} is put to sleep (0 instances),
//   then one GET goes through the server's edge: the edge holds it, asks for
//   a wake, and sends it to the first healthy instance. The figure is the
//   time from sending that request to its answer (the answer is a few
//   bytes: its first byte and its last come together), over 20 wakes.
//   Between wakes the app is put back to sleep by applying it without
//   autoscale and then with it again (no autoscaler loop needed), and the
//   next wake starts once its instance is gone.
//
// Prints p50 and p99 against the target and the anchors; never fails on
// time (exit 1 only when something did not work at all). The cached
// container image case is not measured here (it needs dockerd).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "e2e/skiff_server.h"
#include "net/http_client.h"
#include "percentile.h"

namespace {

using Clock = std::chrono::steady_clock;
using skiff::testing::SkiffServer;
namespace json = boost::json;

constexpr int kWakes = 20;
constexpr const char* kHost = "cold.bench.test";

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// The app, autoscaled from zero (`sleepy`) or with a plain count of 0.
std::string ColdSpec(bool sleepy) {
  json::object spec;
  spec["name"] = "cold";
  spec["run"] = {
      {"command", json::array{SKIFF_TESTAPP_BIN, "--host", "${HOST}", "--port", "${PORT}"}}};
  spec["replicas"] = 0;
  spec["domains"] = json::array{kHost};
  spec["health"] = {
      {"type", "http"}, {"path", "/health"}, {"interval", "100ms"}, {"timeout", "100ms"}};
  if (sleepy) spec["autoscale"] = {{"min", 0}, {"max", 1}, {"scale_to_zero", true}};
  return json::serialize(spec);
}

std::string State(const SkiffServer& server) {
  auto r = server.Api("GET", "/v1/apps/cold");
  if (!r || r->status != 200) return "";
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec) return "";
  return std::string(v.at("status").at("state").as_string());
}

// Waits (polling every 5 ms) until `done`; false after `limit`.
template <typename F>
bool WaitFor(F done, std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Puts the app to sleep and waits until it has no instance left.
bool Sleep(const SkiffServer& server) {
  for (bool sleepy : {false, true}) {
    auto r = server.Api("PUT", "/v1/apps/cold", ColdSpec(sleepy));
    if (!r || (r->status != 200 && r->status != 201)) {
      std::fprintf(stderr, "apply failed: %s\n",
                   r ? r->body.c_str() : r.error().ToString().c_str());
      return false;
    }
  }
  return WaitFor(
      [&] {
        return State(server) == "sleeping" && skiff::testing::Instances(server, "cold").empty();
      },
      std::chrono::seconds(60));
}

}  // namespace

int main() {
  std::printf("Skiff benchmark: cold wake through the edge (scale to zero)\n");
  std::printf("machine: %u cpus\n\n", std::thread::hardware_concurrency());

  SkiffServer server;
  if (!server.Start()) return 1;
  skiff::net::HttpClient edge("http://" + server.edge_addr());

  std::printf("[1/1] %d wakes of a process app: sleep -> GET through the edge -> answer\n", kWakes);
  std::vector<double> wake_ms;
  for (int i = 0; i < kWakes; ++i) {
    if (!Sleep(server)) {
      std::fprintf(stderr, "the app did not go to sleep\n%s\n", server.Output().c_str());
      return 1;
    }
    const auto start = Clock::now();
    auto r = edge.Do("GET", "/", {}, {{"Host", kHost}}, std::chrono::seconds(30));
    const double ms = Ms(Clock::now() - start);
    if (!r || r->status != 200) {
      std::fprintf(
          stderr, "wake %d: %s\n", i,
          r ? (std::to_string(r->status) + " " + r->body).c_str() : r.error().ToString().c_str());
      return 1;
    }
    wake_ms.push_back(ms);
    std::printf("      wake %2d: %7.1f ms\n", i + 1, ms);
  }

  const double p50 = Percentile(wake_ms, 0.5), p99 = Percentile(wake_ms, 0.99);
  std::printf("\n%-48s %10s %10s\n", "figure", "value", "target");
  std::printf("%-48s %8.1fms %8sms\n", "cold wake, process app, p50 (20 wakes)", p50, "250");
  std::printf("%-48s %8.1fms %10s\n", "cold wake, process app, p99 (20 wakes)", p99, "-");
  std::printf("%-48s %10s %10s\n", "cold wake, cached container image", "not run", "1000ms");
  std::printf("\nanchors: Fly Machines start in about 300 ms; Knative cold starts take seconds\n");
  return 0;
}
