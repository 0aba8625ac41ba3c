// The Docker engine of tests: the one named by SKIFF_TEST_DOCKER_HOST, else the
// private dockerd that scripts/dockerd.sh brings up (starting it when none
// runs), and the test app's image built FROM scratch on it.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "common/result.h"
#include "fakes/testing.h"  // InCi

namespace skiff::testing {

struct TestEngine {
  std::string host;   // "unix:///…/docker.sock"; empty when there is none
  std::string error;  // why there is none
  // Brought up by scripts/dockerd.sh for the tests alone (no SKIFF_TEST_*
  // variable named it): tests may do to it what would harm a shared engine
  // (drain its node).
  bool scripts_own = false;
};

// Found (or brought up) once per process.
const TestEngine& TestDockerEngine();

// The Swarm engine of tests: the one named by SKIFF_TEST_SWARM_HOST, else
// the private dockerd that `scripts/dockerd.sh swarm` brings up and makes a
// single-node Swarm manager (its own, not TestDockerEngine's: see the
// script). Found (or brought up) once per process; `host` is empty and
// `error` says why when there is none or it is no Swarm manager.
//
// What a killed test run left behind is undone first: services whose
// skiff.owner is a SwarmTestOwner() of a process that no longer runs are
// removed, and on the script's own engine (scripts_own) a node left drained
// is made active again (unless such a process still runs).
const TestEngine& TestSwarmEngine();

// The skiff.owner of this process's Swarm test services: "swarm-e2e-<pid>".
std::string SwarmTestOwner();

// A dockerd of one test's own (scripts/dockerd.sh with its state in `dir`),
// for tests that crash and restart the engine: the shared one is never
// touched. Stopped (SIGTERM, as the script does) on destruction.
class PrivateEngine {
 public:
  explicit PrivateEngine(std::string dir) : dir_(std::move(dir)) {}
  ~PrivateEngine();
  PrivateEngine(const PrivateEngine&) = delete;
  PrivateEngine& operator=(const PrivateEngine&) = delete;

  // Starts it (or again after Crash) and waits until it answers: its host
  // ("unix://…"), or why it cannot run here.
  Result<std::string> Start();
  // Kills it at once, as a crash would (SIGKILL: no shutdown, no events),
  // and waits until the process is gone.
  Status Crash();

 private:
  std::string dir_;
};

// The image "skiff-test/testapp:latest": FROM scratch, the static test app as
// /testapp, its entrypoint. Built once per process on each engine.
Result<std::string> TestAppImage(const std::string& host);

}  // namespace skiff::testing

// In a test body: `host` names the engine, or the test skips (fails under
// CI=true) saying why there is none.
#define SKIFF_REQUIRE_ENGINE_(engine, what, host)                                   \
  const ::skiff::testing::TestEngine& skiff_engine_ = (engine);                     \
  if (skiff_engine_.host.empty()) {                                                 \
    if (::skiff::testing::InCi()) FAIL() << "no " what ": " << skiff_engine_.error; \
    GTEST_SKIP() << "no " what ": " << skiff_engine_.error;                         \
  }                                                                                 \
  const std::string host = skiff_engine_.host
#define SKIFF_REQUIRE_DOCKER(host) \
  SKIFF_REQUIRE_ENGINE_(::skiff::testing::TestDockerEngine(), "Docker engine", host)
// The same for the Swarm engine (TestSwarmEngine).
#define SKIFF_REQUIRE_SWARM(host) \
  SKIFF_REQUIRE_ENGINE_(::skiff::testing::TestSwarmEngine(), "Docker Swarm", host)
