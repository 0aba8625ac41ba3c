#include "e2e/docker_support.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "fakes/testing.h"
#include "runtime/docker/build_context.h"
#include "runtime/docker/engine.h"

namespace skiff::testing {
namespace fs = std::filesystem;

const TestEngine& TestDockerEngine() {
  static const TestEngine engine = [] {
    TestEngine e;
    if (const char* host = std::getenv("SKIFF_TEST_DOCKER_HOST"); host && *host) {
      e.host = host;
    } else {
      // This file is test/e2e/docker_support.cc; the script is scripts/dockerd.sh.
      const fs::path script =
          fs::path(__FILE__).parent_path().parent_path().parent_path() / "scripts" / "dockerd.sh";
      auto out = runtime::docker::RunCapture({"bash", script.string()});
      if (!out) {
        e.error = out.error().message;
        return e;
      }
      e.host = *out;
      while (!e.host.empty() && (e.host.back() == '\n' || e.host.back() == ' ')) e.host.pop_back();
    }
    auto version = runtime::docker::DockerEngine(e.host).Version();
    if (!version) {
      e.error = version.error().message;
      e.host.clear();
    }
    return e;
  }();
  return engine;
}

Result<std::string> TestAppImage(const std::string& host) {
  static std::mutex mu;
  static std::string built;
  std::lock_guard lock(mu);
  if (!built.empty()) return built;
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
  const std::string tag = "skiff-test/testapp:latest";
  SKIFF_RETURN_IF_ERROR(runtime::docker::DockerEngine(host).BuildImage(tar, "Dockerfile", tag,
                                                                       [](std::string_view) {}));
  built = tag;
  return built;
}

}  // namespace skiff::testing
