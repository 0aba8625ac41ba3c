// Benchmark: how fast an applied image app is healthy on the Docker driver.
//
//   apply -> first healthy instance: 20 apps of the test app's image (cached on
//     the engine: built FROM scratch, no pull), 1 replica, host networking, an
//     http health check on /health with the default timings, applied one after
//     another through the API; the time from the PUT to the first instance the
//     API shows healthy. Each app is deleted once measured.
//   bare container start: the same image created and started through the
//     Engine API by hand until its /health answers: the floor Docker itself
//     costs; the ratio says what Skiff adds.
//
// The engine is the tests' private dockerd (scripts/dockerd.sh). Prints
// figures against the target; never fails on time (exit 1 only when something
// did not work at all).
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "e2e/docker_support.h"
#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "net/http_client.h"
#include "percentile.h"
#include "runtime/docker/engine.h"

namespace {

using Clock = std::chrono::steady_clock;
using skiff::testing::SkiffServer;
namespace json = boost::json;

constexpr int kRuns = 20;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string Spec(const std::string& name, const std::string& image) {
  json::object spec;
  spec["name"] = name;
  spec["run"] = {{"image", image}, {"network", "host"}};
  spec["replicas"] = 1;
  spec["health"] = {{"type", "http"}, {"path", "/health"}};
  return json::serialize(spec);
}

bool AnyHealthy(const SkiffServer& server, const std::string& app) {
  for (const json::value& i : skiff::testing::Instances(server, app)) {
    if (i.as_object().at("health").as_string() == "healthy") return true;
  }
  return false;
}

template <typename F>
bool WaitFor(F done, std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// The floor: create and start the container by hand, wait for its /health.
std::vector<double> BareStarts(const std::string& host, const std::string& image, int n) {
  skiff::runtime::docker::DockerEngine engine(host);
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    const int port = skiff::testing::FreePort();
    json::object body{{"Image", image},
                      {"Env", json::array{"HOST=127.0.0.1", "PORT=" + std::to_string(port)}},
                      {"HostConfig", json::object{{"NetworkMode", "host"}}}};
    auto start = Clock::now();
    auto id = engine.CreateContainer(skiff::NewId("bench-bare"), body);
    if (!id || !engine.StartContainer(*id)) continue;
    skiff::net::HttpClient client("http://127.0.0.1:" + std::to_string(port));
    bool up = WaitFor(
        [&] {
          auto r = client.Do("GET", "/health", {}, {}, std::chrono::seconds(1));
          return r && r->status == 200;
        },
        std::chrono::seconds(10));
    if (up) out.push_back(Ms(Clock::now() - start));
    (void)engine.RemoveContainer(*id, /*force=*/true);
  }
  return out;
}

}  // namespace

int main() {
  std::printf("Skiff benchmark: apply -> first healthy instance of a cached image (Docker)\n");
  std::printf("machine: %u cpus\n\n", std::thread::hardware_concurrency());
  const skiff::testing::TestEngine& engine = skiff::testing::TestDockerEngine();
  if (engine.host.empty()) {
    std::fprintf(stderr, "no Docker engine: %s\n", engine.error.c_str());
    return 1;
  }
  auto image = skiff::testing::TestAppImage(engine.host);
  if (!image) {
    std::fprintf(stderr, "building the test image: %s\n", image.error().ToString().c_str());
    return 1;
  }
  ::setenv("DOCKER_HOST", engine.host.c_str(), 1);
  SkiffServer server;
  if (!server.Start()) return 1;
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let start-up settle

  std::printf("[1/2] applying %d image apps one at a time...\n", kRuns);
  std::vector<double> apply_ms;
  for (int i = 0; i < kRuns; ++i) {
    const std::string name = "dbench-" + std::to_string(i);
    auto start = Clock::now();
    auto r = server.Api("PUT", "/v1/apps/" + name, Spec(name, *image));
    if (!r || r->status != 201) {
      std::fprintf(stderr, "apply %s failed: %s\n", name.c_str(),
                   r ? r->body.c_str() : r.error().ToString().c_str());
      return 1;
    }
    if (!WaitFor([&] { return AnyHealthy(server, name); }, std::chrono::seconds(60))) {
      std::fprintf(stderr, "%s never became healthy\n%s\n", name.c_str(), server.Output().c_str());
      return 1;
    }
    apply_ms.push_back(Ms(Clock::now() - start));
    (void)server.Api("DELETE", "/v1/apps/" + name);
    if ((i + 1) % 5 == 0) std::printf("      %d/%d\n", i + 1, kRuns);
  }

  std::printf("[2/2] %d bare container starts of the same image (the floor)...\n", kRuns);
  std::vector<double> bare_ms = BareStarts(engine.host, *image, kRuns);
  if (bare_ms.empty()) return 1;

  const double p50 = Percentile(apply_ms, 0.5), p99 = Percentile(apply_ms, 0.99);
  const double bare50 = Percentile(bare_ms, 0.5), bare99 = Percentile(bare_ms, 0.99);
  std::printf("\n%-48s %10s %10s %10s\n", "figure", "value", "target", "vs bare");
  std::printf("%-48s %8.1fms %8sms %9.1fx\n", "apply -> first healthy (docker), p50 (20 apps)", p50,
              "800", p50 / bare50);
  std::printf("%-48s %8.1fms %10s %9.1fx\n", "apply -> first healthy (docker), p99 (20 apps)", p99,
              "-", p99 / bare99);
  std::printf("%-48s %8.1fms %10s %10s\n", "bare create+start -> /health answers, p50", bare50, "-",
              "1.0x");
  std::printf("%-48s %8.1fms %10s %10s\n", "bare create+start -> /health answers, p99", bare99, "-",
              "1.0x");
  // Let the deletes finish before the server goes.
  WaitFor(
      [&] {
        auto list =
            skiff::runtime::docker::DockerEngine(engine.host).ListContainers({"skiff.node"});
        return list && list->empty();
      },
      std::chrono::seconds(30));
  return 0;
}
