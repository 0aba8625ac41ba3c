#include "e2e/docker_support.h"

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <vector>

#include "fakes/testing.h"
#include "orchestrator/swarm/service_spec.h"
#include "orchestrator/swarm/swarm_engine.h"
#include "runtime/docker/build_context.h"
#include "runtime/docker/engine.h"

namespace skiff::testing {
namespace fs = std::filesystem;

namespace {

// This file is test/e2e/docker_support.cc; the script is scripts/dockerd.sh.
std::string DockerdScript() {
  return (fs::path(__FILE__).parent_path().parent_path().parent_path() / "scripts" / "dockerd.sh")
      .string();
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The engine named by `env`, else the one `dockerd.sh <args>` prints;
// checked to answer.
TestEngine FindEngine(const char* env, const std::vector<std::string>& script_args) {
  TestEngine e;
  if (const char* host = std::getenv(env); host && *host) {
    e.host = host;
  } else {
    e.scripts_own = true;
    std::vector<std::string> argv = {"bash", DockerdScript()};
    argv.insert(argv.end(), script_args.begin(), script_args.end());
    auto out = runtime::docker::RunCapture(argv);
    if (!out) {
      e.error = out.error().message;
      return e;
    }
    e.host = Trimmed(*out);
  }
  auto version = runtime::docker::DockerEngine(e.host).Version();
  if (!version) {
    e.error = version.error().message;
    e.host.clear();
  }
  return e;
}

constexpr char kSwarmTestOwnerPrefix[] = "swarm-e2e-";

// Undoes what killed Swarm test processes left on `engine` (see
// TestSwarmEngine): their services, and a drained node of the script's own
// engine. Best effort: what fails here shows in the tests.
void SwarmTestRecover(const orchestrator::swarm::SwarmEngine& engine, bool scripts_own) {
  auto services = engine.ListServices({orchestrator::swarm::kLabelOwner});
  if (!services) return;
  bool live = false;
  for (const auto& service : *services) {
    auto owner = service.labels.find(orchestrator::swarm::kLabelOwner);
    if (owner == service.labels.end() || owner->second.rfind(kSwarmTestOwnerPrefix, 0) != 0) {
      continue;
    }
    const pid_t pid =
        static_cast<pid_t>(std::atol(owner->second.c_str() + sizeof(kSwarmTestOwnerPrefix) - 1));
    if (pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM)) {
      live = true;  // another test process's, in use
      continue;
    }
    (void)engine.RemoveService(service.id);
  }
  if (!scripts_own || live) return;
  auto nodes = engine.ListNodes();
  if (!nodes) return;
  for (const auto& node : *nodes) {
    if (node.availability != "active") {
      (void)engine.SetNodeAvailability(node, orchestrator::swarm::NodeAvailability::kActive);
    }
  }
}

}  // namespace

std::string SwarmTestOwner() { return kSwarmTestOwnerPrefix + std::to_string(::getpid()); }

const TestEngine& TestDockerEngine() {
  static const TestEngine engine = FindEngine("SKIFF_TEST_DOCKER_HOST", {});
  return engine;
}

const TestEngine& TestSwarmEngine() {
  static const TestEngine engine = [] {
    TestEngine e = FindEngine("SKIFF_TEST_SWARM_HOST", {"swarm"});
    if (e.host.empty()) return e;
    const orchestrator::swarm::SwarmEngine engine(e.host);
    if (auto manager = engine.RequireManager(); !manager) {
      e.error = manager.error().message;
      e.host.clear();
      return e;
    }
    SwarmTestRecover(engine, e.scripts_own);
    return e;
  }();
  return engine;
}

Result<std::string> TestAppImage(const std::string& host) {
  static std::mutex mu;
  static std::set<std::string> built_on;  // engines, by host
  const std::string tag = "skiff-test/testapp:latest";
  std::lock_guard lock(mu);
  if (built_on.count(host) > 0) return tag;
  TempDir context;
  std::error_code ec;
  fs::copy_file(SKIFF_TESTAPP_BIN, context.File("testapp"), ec);
  if (ec) return Internal("copy the test app: " + ec.message());
  {
    std::FILE* f = std::fopen(context.File("Dockerfile").c_str(), "w");
    if (f == nullptr) return Internal("write the Dockerfile");
    std::fputs("FROM scratch\nCOPY testapp /testapp\nENTRYPOINT [\"/testapp\"]\n", f);
    std::fclose(f);
  }
  SKIFF_ASSIGN_OR_RETURN(std::string tar, runtime::docker::TarDirectory(context.path()));
  SKIFF_RETURN_IF_ERROR(runtime::docker::DockerEngine(host).BuildImage(tar, "Dockerfile", tag,
                                                                       [](std::string_view) {}));
  built_on.insert(host);
  return tag;
}

}  // namespace skiff::testing

namespace skiff::testing {

PrivateEngine::~PrivateEngine() {
  (void)runtime::docker::RunCapture(
      {"env", "SKIFF_DOCKERD_DIR=" + dir_, "bash", DockerdScript(), "stop"});
  // A crash leaves containerd's shims of that time behind (and their
  // containers' file systems mounted): every process named after this
  // engine's directory is its own.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(dir_ + "/") != std::string::npos) ::kill(std::stoi(name), SIGKILL);
  }
  // dockerd mounts its data root on itself and leaves it so: unmounted, the
  // directory can go with the test's.
  (void)runtime::docker::RunCapture({"umount", "-R", dir_ + "/root"});
}

Result<std::string> PrivateEngine::Start() {
  SKIFF_ASSIGN_OR_RETURN(
      std::string out,
      runtime::docker::RunCapture({"env", "SKIFF_DOCKERD_DIR=" + dir_, "bash", DockerdScript()}));
  std::string host = Trimmed(out);
  SKIFF_RETURN_IF_ERROR(runtime::docker::DockerEngine(host).Version());
  return host;
}

Status PrivateEngine::Crash() {
  std::ifstream pid_file(dir_ + "/dockerd.pid");
  pid_t pid = 0;
  if (!(pid_file >> pid) || pid <= 0) return FailedPrecondition("no dockerd.pid in " + dir_);
  if (::kill(pid, SIGKILL) != 0) return Internal("kill dockerd: " + std::string(strerror(errno)));
  // Gone for good, not only silent: a dockerd that finds its pid file's
  // process alive refuses to start (and the script then falls back to another
  // storage driver, which knows none of the images and containers).
  if (!PollUntil([&] { return !fs::exists("/proc/" + std::to_string(pid)); })) {
    return DeadlineExceeded("dockerd survives SIGKILL");
  }
  return OkStatus();
}

}  // namespace skiff::testing
