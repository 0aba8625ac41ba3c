// Benchmark: cold wakes through the edge (scale to zero, docs/scale-to-zero.md).
//
//   Two apps of the test app, health-checked over http every 100 ms, with
//   autoscale {min: 0, scale_to_zero: true}: a process app, and an image app
//   (the test app's image built FROM scratch and cached on the tests' private
//   dockerd, scripts/dockerd.sh; host networking, bound to 127.0.0.1). Each is
//   put to sleep (0 instances), then one GET goes through the server's edge:
//   the edge holds it, asks for a wake, and sends it to the first healthy
//   instance. The figure is the time from sending that request to its answer
//   (the answer is a few bytes: its first byte and its last come together),
//   over 20 wakes of each. Between wakes the app is put back to sleep by
//   applying it without autoscale and then with it again (no autoscaler loop
//   needed), and the next wake starts once its instance is gone.
//
// One server serves both (its agent runs processes and, with DOCKER_HOST set,
// containers). When dockerd cannot be brought up (not root, no docker.io) the
// container row says so and the process row is still measured.
//
// Prints p50 and p99 against the targets and the anchors; never fails on time
// (exit 1 only when something did not work at all).
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "e2e/docker_support.h"
#include "e2e/skiff_server.h"
#include "net/http_client.h"
#include "percentile.h"

namespace {

using Clock = std::chrono::steady_clock;
using skiff::testing::SkiffServer;
namespace json = boost::json;

constexpr int kWakes = 20;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// One app to wake: its name, and its `run` (a command or an image).
struct ColdApp {
  std::string name;
  json::object run;
  std::string host() const { return name + ".bench.test"; }
};

// The app, autoscaled from zero (`sleepy`) or with a plain count of 0.
std::string ColdSpec(const ColdApp& app, bool sleepy) {
  json::object spec;
  spec["name"] = app.name;
  spec["run"] = app.run;
  spec["replicas"] = 0;
  spec["domains"] = json::array{app.host()};
  spec["health"] = {
      {"type", "http"}, {"path", "/health"}, {"interval", "100ms"}, {"timeout", "100ms"}};
  if (sleepy) spec["autoscale"] = {{"min", 0}, {"max", 1}, {"scale_to_zero", true}};
  return json::serialize(spec);
}

std::string State(const SkiffServer& server, const std::string& app) {
  auto r = server.Api("GET", "/v1/apps/" + app);
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
bool Sleep(const SkiffServer& server, const ColdApp& app) {
  for (bool sleepy : {false, true}) {
    auto r = server.Api("PUT", "/v1/apps/" + app.name, ColdSpec(app, sleepy));
    if (!r || (r->status != 200 && r->status != 201)) {
      std::fprintf(stderr, "apply %s failed: %s\n", app.name.c_str(),
                   r ? r->body.c_str() : r.error().ToString().c_str());
      return false;
    }
  }
  return WaitFor(
      [&] {
        return State(server, app.name) == "sleeping" &&
               skiff::testing::Instances(server, app.name).empty();
      },
      std::chrono::seconds(60));
}

// kWakes wakes of `app` through the server's edge, in ms; nullopt (having
// said why) when one did not work.
std::optional<std::vector<double>> Wakes(const SkiffServer& server, const ColdApp& app) {
  skiff::net::HttpClient edge("http://" + server.edge_addr());
  std::vector<double> wake_ms;
  int stale = 0;  // requests the edge refused before its table said the app sleeps
  for (int i = 0; i < kWakes; ++i) {
    if (!Sleep(server, app)) {
      std::fprintf(stderr, "%s did not go to sleep\n%s\n", app.name.c_str(),
                   server.Output().c_str());
      return std::nullopt;
    }
    // The API says it sleeps before the edge's routing table does (the
    // watch brings it a moment later): a request before that is refused as
    // for an app with no instance (503), and wakes nothing. Give it time.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto start = Clock::now();
    auto r = edge.Do("GET", "/", {}, {{"Host", app.host()}}, std::chrono::seconds(30));
    const double ms = Ms(Clock::now() - start);
    if (r && r->status == 503 && r->body.find("no healthy instance now") != std::string::npos &&
        ++stale < 3) {
      std::printf("      (the edge had not seen the sleep yet: again)\n");
      --i;
      continue;
    }
    if (!r || r->status != 200) {
      std::fprintf(
          stderr, "%s wake %d: %s\n", app.name.c_str(), i,
          r ? (std::to_string(r->status) + " " + r->body).c_str() : r.error().ToString().c_str());
      return std::nullopt;
    }
    wake_ms.push_back(ms);
    std::printf("      wake %2d: %7.1f ms\n", i + 1, ms);
  }
  // Left asleep: its instance (a container, say) is not left running.
  (void)Sleep(server, app);
  return wake_ms;
}

void PrintRows(const char* what, const std::vector<double>& ms, const char* target) {
  const std::string p50 = std::string("cold wake, ") + what + ", p50 (20 wakes)";
  const std::string p99 = std::string("cold wake, ") + what + ", p99 (20 wakes)";
  std::printf("%-52s %8.1fms %8sms\n", p50.c_str(), Percentile(ms, 0.5), target);
  std::printf("%-52s %8.1fms %10s\n", p99.c_str(), Percentile(ms, 0.99), "-");
}

}  // namespace

int main() {
  std::printf("Skiff benchmark: cold wake through the edge (scale to zero)\n");
  std::printf("machine: %u cpus\n\n", std::thread::hardware_concurrency());

  // The engine and the image first: the server's agent finds the engine
  // through DOCKER_HOST, as a user's would.
  std::string no_docker;  // why the container case cannot run; empty when it can
  std::string image;
  const skiff::testing::TestEngine& engine = skiff::testing::TestDockerEngine();
  if (engine.host.empty()) {
    no_docker = "no Docker engine: " + engine.error;
  } else if (auto built = skiff::testing::TestAppImage(engine.host); !built) {
    no_docker = "building the test image: " + built.error().ToString();
  } else {
    image = *built;
    ::setenv("DOCKER_HOST", engine.host.c_str(), 1);
  }

  SkiffServer server;
  if (!server.Start()) return 1;

  const ColdApp process{
      "cold",
      {{"command", json::array{SKIFF_TESTAPP_BIN, "--host", "${HOST}", "--port", "${PORT}"}}}};
  std::printf("[1/2] %d wakes of a process app: sleep -> GET through the edge -> answer\n", kWakes);
  std::optional<std::vector<double>> process_ms = Wakes(server, process);
  if (!process_ms) return 1;

  std::optional<std::vector<double>> image_ms;
  if (no_docker.empty()) {
    const ColdApp container{"cold-image", {{"image", image}, {"network", "host"}}};
    std::printf("[2/2] %d wakes of an image app (cached, host network): the same\n", kWakes);
    image_ms = Wakes(server, container);
    if (!image_ms) no_docker = "a wake of the image app failed (see above)";
  } else {
    std::printf("[2/2] image app: not run (%s)\n", no_docker.c_str());
  }

  std::printf("\n%-52s %10s %10s\n", "figure", "value", "target");
  PrintRows("process app", *process_ms, "250");
  if (image_ms) {
    PrintRows("cached container image", *image_ms, "1000");
  } else {
    std::printf("%-52s %10s %8sms\n", "cold wake, cached container image", "not run", "1000");
    std::printf("  (%s)\n", no_docker.c_str());
  }
  std::printf("\nanchors: Fly Machines start in about 300 ms; Knative cold starts take seconds\n");
  return 0;
}
