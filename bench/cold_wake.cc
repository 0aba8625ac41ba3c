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
//   needed), and the next wake starts once its instance is gone. The edge
//   learns of the sleep a moment after the API says it: a GET answered in
//   that moment as for an app with no instance (503, no wake) is sent again
//   at once, and the timer starts at the send of the GET that was held.
//
// Each app runs on a server of its own: the process app's without
// DOCKER_HOST (the process driver only), the image app's with it. Each app
// has a name of this run's (the pid) and is deleted on every way out, the
// bench waiting until the engine has none of its containers left.
//
// Side effects: the image case runs scripts/dockerd.sh, which, as root, may
// apt-get install docker.io, and leaves its dockerd running (state under
// /tmp/skiff-dockerd) for later runs; the test image is built and cached
// there. When dockerd cannot be brought up (not root, no docker.io) the
// container row says "not run" and the process row is still measured.
//
// Prints p50 and p99 against the targets and the anchors; never fails on time.
// Exits 1 when something did not work: a server that does not start, or a
// wake that fails (the row says FAILED).
#include <stdlib.h>
#include <unistd.h>

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
#include "runtime/docker/engine.h"

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

// Deletes the app when it goes out of scope, on every way out, and waits
// until it has no instance left, and with `docker_host` until the engine has
// none of its containers (the server, killed at the end, would not remove
// them). Says so when they do not go.
class ColdAppDeleted {
 public:
  ColdAppDeleted(const SkiffServer& server, std::string app, std::string docker_host)
      : server_(server), app_(std::move(app)), docker_host_(std::move(docker_host)) {}
  ~ColdAppDeleted() {
    auto r = server_.Api("DELETE", "/v1/apps/" + app_);
    if (!r || (r->status != 200 && r->status != 202 && r->status != 404)) {
      std::fprintf(stderr, "deleting %s failed: %s\n", app_.c_str(),
                   r ? r->body.c_str() : r.error().ToString().c_str());
    }
    const bool gone = WaitFor(
        [&] {
          if (!skiff::testing::Instances(server_, app_).empty()) return false;
          if (docker_host_.empty()) return true;
          auto list = skiff::runtime::docker::DockerEngine(docker_host_)
                          .ListContainers({"skiff.app=" + app_});
          return list && list->empty();
        },
        std::chrono::seconds(60));
    if (!gone) {
      std::fprintf(stderr, "%s: instances or containers (label skiff.app=%s) left behind\n",
                   app_.c_str(), app_.c_str());
    }
  }
  ColdAppDeleted(const ColdAppDeleted&) = delete;
  ColdAppDeleted& operator=(const ColdAppDeleted&) = delete;

 private:
  const SkiffServer& server_;
  const std::string app_;
  const std::string docker_host_;
};

// One wake: a GET through the edge, sent again at once while the edge's table
// does not say the app sleeps yet (answered 503 "no healthy instance now",
// nothing held, nothing woken). The time of the GET that was held, in ms;
// nullopt (having said why) when it failed.
std::optional<double> Wake(skiff::net::HttpClient& edge, const ColdApp& app, int* stale) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (true) {
    const auto start = Clock::now();
    auto r = edge.Do("GET", "/", {}, {{"Host", app.host()}}, std::chrono::seconds(30));
    const double ms = Ms(Clock::now() - start);
    if (r && r->status == 503 && r->body.find("no healthy instance now") != std::string::npos &&
        Clock::now() < deadline) {
      ++*stale;
      continue;
    }
    if (!r || r->status != 200) {
      std::fprintf(
          stderr, "%s: %s\n", app.name.c_str(),
          r ? (std::to_string(r->status) + " " + r->body).c_str() : r.error().ToString().c_str());
      return std::nullopt;
    }
    return ms;
  }
}

// kWakes wakes of `app` through the server's edge, in ms; nullopt (having
// said why) when one did not work. The app is deleted on the way out.
std::optional<std::vector<double>> Wakes(const SkiffServer& server, const ColdApp& app,
                                         const std::string& docker_host) {
  ColdAppDeleted deleted(server, app.name, docker_host);
  skiff::net::HttpClient edge("http://" + server.edge_addr());
  std::vector<double> wake_ms;
  int stale = 0;  // GETs answered before the edge's table said the app sleeps
  for (int i = 0; i < kWakes; ++i) {
    if (!Sleep(server, app)) {
      std::fprintf(stderr, "%s did not go to sleep\n%s\n", app.name.c_str(),
                   server.Output().c_str());
      return std::nullopt;
    }
    std::optional<double> ms = Wake(edge, app, &stale);
    if (!ms) {
      std::fprintf(stderr, "%s: wake %d failed\n", app.name.c_str(), i + 1);
      return std::nullopt;
    }
    wake_ms.push_back(*ms);
    std::printf("      wake %2d: %7.1f ms\n", i + 1, *ms);
  }
  std::printf("      (%d GETs sent again at once: the edge had not seen the sleep yet)\n", stale);
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
  const std::string run = std::to_string(::getpid());

  // The process app on a server without DOCKER_HOST: the process driver
  // only, as on a machine without Docker.
  ::unsetenv("DOCKER_HOST");
  std::optional<std::vector<double>> process_ms;
  {
    SkiffServer server;
    if (!server.Start()) return 1;
    const ColdApp process{
        "cold-" + run,
        {{"command", json::array{SKIFF_TESTAPP_BIN, "--host", "${HOST}", "--port", "${PORT}"}}}};
    std::printf(
        "[1/2] %d wakes of a process app (server without DOCKER_HOST): sleep -> GET "
        "through the edge -> answer\n",
        kWakes);
    process_ms = Wakes(server, process, "");
  }

  // Then the engine and the image: the server's agent finds the engine
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
  }
  std::optional<std::vector<double>> image_ms;
  if (no_docker.empty()) {
    ::setenv("DOCKER_HOST", engine.host.c_str(), 1);
    SkiffServer server;
    if (!server.Start()) return 1;
    const ColdApp container{"cold-image-" + run, {{"image", image}, {"network", "host"}}};
    std::printf(
        "[2/2] %d wakes of an image app (cached, host network; server with DOCKER_HOST): "
        "the same\n",
        kWakes);
    image_ms = Wakes(server, container, engine.host);
  } else {
    std::printf("[2/2] image app: not run (%s)\n", no_docker.c_str());
  }

  std::printf("\n%-52s %10s %10s\n", "figure", "value", "target");
  const auto rows = [](const char* what, const std::optional<std::vector<double>>& ms,
                       const char* target) {
    if (ms) {
      PrintRows(what, *ms, target);
    } else {
      std::printf("%-52s %10s %8sms\n", (std::string("cold wake, ") + what).c_str(), "FAILED",
                  target);
    }
  };
  rows("process app", process_ms, "250");
  if (no_docker.empty()) {
    rows("cached container image", image_ms, "1000");
  } else {
    std::printf("%-52s %10s %8sms\n", "cold wake, cached container image", "not run", "1000");
    std::printf("  (%s)\n", no_docker.c_str());
  }
  std::printf("\nanchors: Fly Machines start in about 300 ms; Knative cold starts take seconds\n");
  return process_ms && (image_ms || !no_docker.empty()) ? 0 : 1;
}
