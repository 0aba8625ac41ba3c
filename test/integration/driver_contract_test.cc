// The runtime::Driver contract (runtime/driver.h), run against every driver:
// the process driver on real processes, the Docker driver on a real (private)
// engine, and the FakeDriver the agent's tests use. Each runs the project's
// test app (the Docker one from an image built FROM scratch, on host
// networking bound to loopback). What differs by design is a trait of the
// driver under test, never a skipped test. Without a Docker engine its cases
// skip, and fail under CI=true.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "e2e/docker_support.h"
#include "e2e/subprocess.h"
#include "fakes/testing.h"
#include "net/http_client.h"
#include "runtime/docker/docker_driver.h"
#include "runtime/driver.h"
#include "runtime/exit_poller.h"
#include "runtime/fake/fake_driver.h"
#include "runtime/process/process_driver.h"

namespace skiff::runtime {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// The HTTP status of GET path on the test app at 127.0.0.1:port; 0 when it
// does not answer.
int Get(int port, const std::string& path) {
  auto r = net::HttpClient("http://127.0.0.1:" + std::to_string(port))
               .Do("GET", path, {}, {}, std::chrono::seconds(2));
  return r ? r->status : 0;
}

// Whether the test app of `instance_id` answers at 127.0.0.1:port: the port
// was free when it was chosen, and another process may have taken it since, so
// the answer must name the instance.
bool Answers(int port, const std::string& instance_id) {
  auto r = net::HttpClient("http://127.0.0.1:" + std::to_string(port))
               .Do("GET", "/", {}, {}, std::chrono::seconds(2));
  return r && r->status == 200 && r->body.starts_with("hello from " + instance_id + " ");
}

// What differs between drivers by design.
struct Traits {
  // RemoveOrphans finds the driver's leftovers (containers can be listed by
  // label; processes cannot).
  bool lists_tasks = false;
  // Recover adopts a task that has exited, and Inspect then tells how it ended
  // (a container keeps its state; an exited process is gone).
  bool recovers_exited = false;
  // Sample measures the task (memory > 0); the fake returns what it is told.
  bool measures = false;
};

// One driver under test, and the machine it runs on.
class DriverHarness {
 public:
  virtual ~DriverHarness() = default;
  virtual Traits traits() const = 0;
  virtual Driver& driver() = 0;
  // A new driver on the same machine, as after an agent restart; the old one
  // is gone.
  virtual Driver& Restart() = 0;
  // A config that runs the test app on 127.0.0.1 at a free port. With
  // `ignore_sigterm` the task ignores SIGTERM (Stop must kill it).
  virtual TaskConfig Config(const std::string& dir, const std::string& node_id,
                            bool ignore_sigterm = false) = 0;
  // `config` changed into one of the other driver's kind (kInvalidArgument here).
  virtual void MakeOtherKind(TaskConfig& config) = 0;
  // `config` changed into one of this kind that cannot run.
  virtual void MakeUnrunnable(TaskConfig& config) = 0;
  // Whether the task answers.
  virtual bool Serving(const TaskConfig& config) = 0;
  // The task exits by itself with code 3.
  virtual void Crash(const TaskConfig& config, const TaskHandle& handle) = 0;
  // The task is killed with SIGKILL by someone else.
  virtual void KillFromOutside(const TaskConfig& config, const TaskHandle& handle) = 0;
  // The task writes a line holding `marker` to its stdout.
  virtual void Say(const TaskConfig& config, const std::string& marker) = 0;
  // Makes the task use more than `bytes` of memory.
  virtual void UseMemory(const TaskConfig& config, int64_t bytes) = 0;
  // Where Sample returns what it is told (the fake): tells it what to return
  // for `config`'s task, and returns that. nullopt where Sample measures.
  virtual std::optional<ResourceSample> ScriptSample(const TaskConfig&) { return std::nullopt; }
};

// What the real drivers share: the test app speaking HTTP.
class TestAppHarness : public DriverHarness {
 public:
  bool Serving(const TaskConfig& config) override {
    return Answers(config.port, config.instance_id);
  }
  void Crash(const TaskConfig& config, const TaskHandle&) override {
    (void)Get(config.port, "/crash");
  }
  void Say(const TaskConfig& config, const std::string& marker) override {
    (void)Get(config.port, "/" + marker);
  }
  void UseMemory(const TaskConfig& config, int64_t bytes) override {
    (void)Get(config.port, "/big?kb=" + std::to_string(bytes / 1024 * 2));
  }

 protected:
  static TaskConfig Base(const std::string& dir, const std::string& node_id, bool ignore_sigterm) {
    TaskConfig config;
    config.app = "contract";
    config.instance_id = NewId("dc");
    config.revision = 1;
    config.node_id = node_id;
    config.host = "127.0.0.1";
    config.port = testing::FreePort();
    config.env = {{"HOST", "127.0.0.1"},
                  {"PORT", std::to_string(config.port)},
                  {"SKIFF_APP", config.app},
                  {"SKIFF_INSTANCE", config.instance_id},
                  {"SKIFF_REVISION", "1"}};
    if (ignore_sigterm) config.env["IGNORE_SIGTERM"] = "1";
    config.log_path = dir + "/logs/" + config.instance_id + ".log";
    return config;
  }
};

class ProcessHarness final : public TestAppHarness {
 public:
  ProcessHarness() : driver_(std::make_unique<process::ProcessDriver>()) {}
  Traits traits() const override {
    return {.lists_tasks = false, .recovers_exited = false, .measures = true};
  }
  Driver& driver() override { return *driver_; }
  Driver& Restart() override {
    driver_ = std::make_unique<process::ProcessDriver>();
    return *driver_;
  }
  TaskConfig Config(const std::string& dir, const std::string& node_id,
                    bool ignore_sigterm) override {
    TaskConfig config = Base(dir, node_id, ignore_sigterm);
    config.run.command = {SKIFF_TESTAPP_BIN};
    config.work_dir = dir;
    return config;
  }
  void MakeOtherKind(TaskConfig& config) override {
    config.run.command.clear();
    config.run.image = "skiff-test/testapp:latest";
  }
  void MakeUnrunnable(TaskConfig& config) override {
    config.run.command = {"skiff-no-such-program"};
  }
  void KillFromOutside(const TaskConfig&, const TaskHandle& handle) override {
    ::kill(process::ParseProcessHandle(handle.id).value().pid, SIGKILL);
  }

 private:
  std::unique_ptr<process::ProcessDriver> driver_;
};

class DockerHarness final : public TestAppHarness {
 public:
  DockerHarness(std::string host, std::string image)
      : host_(std::move(host)), image_(std::move(image)), driver_(NewDriver()) {}
  Traits traits() const override {
    return {.lists_tasks = true, .recovers_exited = true, .measures = true};
  }
  Driver& driver() override { return *driver_; }
  Driver& Restart() override {
    driver_ = NewDriver();
    return *driver_;
  }
  TaskConfig Config(const std::string& dir, const std::string& node_id,
                    bool ignore_sigterm) override {
    TaskConfig config = Base(dir, node_id, ignore_sigterm);
    config.run.image = image_;
    config.run.network = model::NetworkMode::kHost;
    return config;
  }
  void MakeOtherKind(TaskConfig& config) override {
    config.run.image.clear();
    config.run.command = {SKIFF_TESTAPP_BIN};
  }
  void MakeUnrunnable(TaskConfig& config) override {
    // Neither present nor pullable: the registry is a closed loopback port.
    config.run.image = "127.0.0.1:9/skiff-missing:1";
  }
  void KillFromOutside(const TaskConfig&, const TaskHandle& handle) override {
    ASSERT_TRUE(driver_->engine().KillContainer(handle.id, "KILL"));
  }

 private:
  std::unique_ptr<docker::DockerDriver> NewDriver() const {
    return std::make_unique<docker::DockerDriver>(docker::DockerDriverOptions{.host = host_});
  }

  const std::string host_;
  const std::string image_;
  std::unique_ptr<docker::DockerDriver> driver_;
};

// The fake models the machine itself, so a restarted agent meets the same one.
// Scripted to behave as the test app does: it exits 0 on SIGTERM.
class FakeDriverHarness final : public DriverHarness {
 public:
  FakeDriverHarness() { driver_.SetTermExitCode(0); }
  Traits traits() const override {
    return {.lists_tasks = true, .recovers_exited = false, .measures = false};
  }
  Driver& driver() override { return driver_; }
  Driver& Restart() override { return driver_; }
  TaskConfig Config(const std::string& dir, const std::string& node_id,
                    bool ignore_sigterm) override {
    TaskConfig config;
    config.app = "contract";
    config.instance_id = NewId("dc");
    config.revision = 1;
    config.node_id = node_id;
    config.host = "127.0.0.1";
    config.run.command = {"skiff-testapp"};
    config.log_path = dir + "/logs/" + config.instance_id + ".log";
    driver_.SetStopDelay(ignore_sigterm ? Duration(std::chrono::hours(1)) : Duration(0));
    return config;
  }
  void MakeOtherKind(TaskConfig& config) override {
    config.run.command.clear();
    config.run.image = "skiff-test/testapp:latest";
  }
  void MakeUnrunnable(TaskConfig& config) override {
    driver_.FailStart(config.instance_id, Error{ErrorCode::kFailedPrecondition,
                                                "skiff-testapp: No such file or directory"});
  }
  bool Serving(const TaskConfig& config) override { return driver_.IsRunning(config.instance_id); }
  void Crash(const TaskConfig& config, const TaskHandle&) override {
    driver_.Exit(config.instance_id, 3);
  }
  void KillFromOutside(const TaskConfig& config, const TaskHandle&) override {
    driver_.Exit(config.instance_id, 128 + SIGKILL);
  }
  void Say(const TaskConfig& config, const std::string& marker) override {
    driver_.Print(config.instance_id, "GET /" + marker + "\n");
  }
  void UseMemory(const TaskConfig&, int64_t) override {}
  std::optional<ResourceSample> ScriptSample(const TaskConfig& config) override {
    const ResourceSample sample{.cpu_millis = 250, .memory_bytes = 48 << 20};
    driver_.SetSample(config.instance_id, sample);
    return sample;
  }

 private:
  FakeDriver driver_{"process"};
};

struct DriverFactory {
  std::string name;
  // nullptr, with `why` set, when the driver cannot be had here.
  std::function<std::unique_ptr<DriverHarness>(std::string* why)> make;
};
void PrintTo(const DriverFactory& factory, std::ostream* os) { *os << factory.name; }

class DriverContractTest : public ::testing::TestWithParam<DriverFactory> {
 protected:
  void SetUp() override {
    std::string why;
    harness_ = GetParam().make(&why);
    if (!harness_) {
      if (testing::InCi()) FAIL() << GetParam().name << ": " << why;
      GTEST_SKIP() << GetParam().name << ": " << why;
    }
  }

  // Leaves nothing running: every task started here is stopped and released.
  void TearDown() override {
    if (!harness_) return;
    for (const TaskHandle& handle : started_) {
      (void)driver().Stop(handle, 0s);
      driver().Release(handle);
    }
    (void)driver().RemoveOrphans(node_id_, {});
  }

  Driver& driver() { return harness_->driver(); }
  Traits traits() const { return harness_->traits(); }
  TaskConfig Config(bool ignore_sigterm = false) {
    return harness_->Config(dir_.path(), node_id_, ignore_sigterm);
  }

  // Starts `config` and remembers the task for TearDown.
  Result<TaskHandle> Start(const TaskConfig& config) {
    auto handle = driver().Start(config);
    if (handle) started_.push_back(*handle);
    return handle;
  }

  bool Serving(const TaskConfig& config) {
    return testing::PollUntil([&] { return harness_->Serving(config); }, 10s);
  }

  // Polls Inspect until the task is seen ended; its status.
  TaskStatus WaitExit(const TaskHandle& handle) {
    TaskStatus status;
    EXPECT_TRUE(testing::PollUntil([&] {
      auto s = driver().Inspect(handle);
      if (!s) return false;
      status = *s;
      return !s->running;
    }));
    return status;
  }

  bool LogHas(const TaskConfig& config, const std::string& text) {
    return testing::PollUntil(
        [&] {
          return skiff::testing::ReadWholeFile(config.log_path).find(text) != std::string::npos;
        },
        5s);
  }

  testing::TempDir dir_;
  const std::string node_id_ = NewId("contract-node");
  std::unique_ptr<DriverHarness> harness_;
  std::vector<TaskHandle> started_;
};

// Verify that Info names the driver and, where it does not enforce limits,
// says so in words.
TEST_P(DriverContractTest, InfoIsHonest) {
  DriverInfo info = driver().Info();
  EXPECT_EQ(info.name, GetParam().name == "fake" ? "process" : GetParam().name);
  if (!info.enforces_limits) {
    EXPECT_FALSE(info.notes.empty());
  }
}

// Verify the life of a task that obeys SIGTERM: it runs and says so, Stop
// returns well before the grace with its clean exit, stopping again succeeds,
// and after Release the task is unknown (and stopping it still succeeds).
TEST_P(DriverContractTest, StartInspectStopRelease) {
  TaskConfig config = Config();
  const Time before =
      std::chrono::time_point_cast<Time::duration>(std::chrono::system_clock::now());
  auto handle = Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  EXPECT_FALSE(handle->id.empty());
  // The log is there before the task wrote anything.
  EXPECT_TRUE(std::filesystem::exists(config.log_path)) << config.log_path;
  ASSERT_TRUE(Serving(config));
  auto status = driver().Inspect(*handle);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_TRUE(status->running);
  EXPECT_FALSE(status->exit_code.has_value());
  EXPECT_GE(status->started_at, before - 2s);
  EXPECT_LE(status->started_at, before + 1min);

  const auto stop_began = std::chrono::steady_clock::now();
  ASSERT_TRUE(driver().Stop(*handle, 30s));
  EXPECT_LT(std::chrono::steady_clock::now() - stop_began, 20s);
  status = driver().Inspect(*handle);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_FALSE(status->running);
  EXPECT_EQ(status->exit_code, 0);
  EXPECT_EQ(status->message, "exited with 0");
  EXPECT_TRUE(driver().Stop(*handle, 1s));

  driver().Release(*handle);
  auto released = driver().Inspect(*handle);
  ASSERT_FALSE(released);
  EXPECT_EQ(released.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(driver().Stop(*handle, 1s));
}

// Verify that a task ignoring SIGTERM is killed once the grace has passed.
TEST_P(DriverContractTest, StopKillsAfterGrace) {
  TaskConfig config = Config(/*ignore_sigterm=*/true);
  auto handle = Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(Serving(config));
  const auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(driver().Stop(*handle, 1s));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 1s);
  auto status = driver().Inspect(*handle);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_FALSE(status->running);
  EXPECT_EQ(status->exit_code, 128 + SIGKILL);
  EXPECT_EQ(status->message, "killed by signal 9");
}

// Verify that a task that exits by itself reports its code, can no longer be
// sampled, and that stopping it succeeds.
TEST_P(DriverContractTest, ExitReportsCode) {
  TaskConfig config = Config();
  auto handle = Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(Serving(config));
  harness_->Crash(config, *handle);
  TaskStatus status = WaitExit(*handle);
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_EQ(status.message, "exited with 3");
  auto sample = driver().Sample(*handle);
  ASSERT_FALSE(sample);
  EXPECT_EQ(sample.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(driver().Stop(*handle, 1s));
}

// Verify that a task killed from outside reports the signal as 128 + 9.
TEST_P(DriverContractTest, KillFromOutsideReportsSignal) {
  TaskConfig config = Config();
  auto handle = Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(Serving(config));
  harness_->KillFromOutside(config, *handle);
  TaskStatus status = WaitExit(*handle);
  EXPECT_EQ(status.exit_code, 128 + SIGKILL);
  EXPECT_EQ(status.message, "killed by signal 9");
}

// Verify that what a task writes goes to its log file, and that a later task
// with the same log appends to it.
TEST_P(DriverContractTest, LogsAppendToLogFile) {
  TaskConfig config = Config();
  auto first = Start(config);
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_TRUE(Serving(config));
  harness_->Say(config, "first-marker");
  EXPECT_TRUE(LogHas(config, "first-marker")) << skiff::testing::ReadWholeFile(config.log_path);
  ASSERT_TRUE(driver().Stop(*first, 10s));
  driver().Release(*first);

  auto second = Start(config);
  ASSERT_TRUE(second) << second.error().ToString();
  ASSERT_TRUE(Serving(config));
  harness_->Say(config, "second-marker");
  EXPECT_TRUE(LogHas(config, "second-marker")) << skiff::testing::ReadWholeFile(config.log_path);
  EXPECT_THAT(skiff::testing::ReadWholeFile(config.log_path), HasSubstr("first-marker"));
}

// Verify the exact codes of what cannot be done: a config of the other
// driver's kind, one that cannot run, and handles that name nothing.
TEST_P(DriverContractTest, ErrorsHaveExactCodes) {
  TaskConfig other = Config();
  harness_->MakeOtherKind(other);
  auto wrong_kind = Start(other);
  ASSERT_FALSE(wrong_kind);
  EXPECT_EQ(wrong_kind.error().code, ErrorCode::kInvalidArgument);

  TaskConfig unrunnable = Config();
  harness_->MakeUnrunnable(unrunnable);
  auto failed = Start(unrunnable);
  ASSERT_FALSE(failed);
  // It can never start as it stands: the agent says so and the rollout fails.
  EXPECT_EQ(failed.error().code, ErrorCode::kFailedPrecondition) << failed.error().ToString();
  EXPECT_FALSE(failed.error().message.empty());

  // A handle of no form this driver knows names no task: gone, so stopped.
  const TaskHandle nothing{"no-such-task"};
  EXPECT_TRUE(driver().Stop(nothing, 1s));
  auto inspected = driver().Inspect(nothing);
  ASSERT_FALSE(inspected);
  EXPECT_EQ(inspected.error().code, ErrorCode::kNotFound);
  auto recovered = driver().Recover(nothing);
  ASSERT_FALSE(recovered);
  EXPECT_EQ(recovered.error().code, ErrorCode::kNotFound);
  auto sampled = driver().Sample(nothing);
  ASSERT_FALSE(sampled);
  EXPECT_EQ(sampled.error().code, ErrorCode::kNotFound);
}

// Verify that a driver made after a restart adopts a running task by its
// handle: it inspects, samples, keeps its log and stops it.
TEST_P(DriverContractTest, AdoptsRunningTaskAfterRestart) {
  TaskConfig config = Config();
  auto handle = Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(Serving(config));

  Driver& restarted = harness_->Restart();
  auto adopted = restarted.Recover(*handle);
  ASSERT_TRUE(adopted) << adopted.error().ToString();
  EXPECT_EQ(*adopted, *handle);
  auto status = restarted.Inspect(*handle);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_TRUE(status->running);
  EXPECT_TRUE(restarted.Sample(*handle));
  harness_->Say(config, "after-restart");
  EXPECT_TRUE(LogHas(config, "after-restart")) << skiff::testing::ReadWholeFile(config.log_path);

  ASSERT_TRUE(restarted.Stop(*handle, 10s));
  status = restarted.Inspect(*handle);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_FALSE(status->running);
}

// Verify what a restarted driver makes of a task that exited meanwhile: a
// driver that keeps ended tasks adopts it and tells how it ended; the others
// answer kNotFound.
TEST_P(DriverContractTest, RecoverOfExitedTask) {
  TaskConfig config = Config();
  auto handle = Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(Serving(config));
  harness_->Crash(config, *handle);
  WaitExit(*handle);

  Driver& restarted = harness_->Restart();
  auto recovered = restarted.Recover(*handle);
  if (traits().recovers_exited) {
    ASSERT_TRUE(recovered) << recovered.error().ToString();
    auto status = restarted.Inspect(*handle);
    ASSERT_TRUE(status) << status.error().ToString();
    EXPECT_FALSE(status->running);
    EXPECT_EQ(status->exit_code, 3);
  } else {
    ASSERT_FALSE(recovered);
    EXPECT_EQ(recovered.error().code, ErrorCode::kNotFound);
  }
}

// Verify that a running task can be sampled, stamped now.
TEST_P(DriverContractTest, SamplesRunningTask) {
  TaskConfig config = Config();
  auto handle = Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(Serving(config));
  Result<ResourceSample> sample = NotFound("not sampled");
  // Right after exec the new image may not be mapped yet: poll for memory.
  EXPECT_TRUE(testing::PollUntil([&] {
    sample = driver().Sample(*handle);
    return sample && (!traits().measures || sample->memory_bytes > 0);
  }));
  ASSERT_TRUE(sample) << sample.error().ToString();
  EXPECT_LT(std::chrono::abs(sample->at - std::chrono::system_clock::now()), 1min);
  if (!traits().measures) return;
  // An idle test app: some memory, far less than a gigabyte, and less cpu
  // than the machine has (a wrong unit fails one of these).
  EXPECT_GT(sample->memory_bytes, 64 << 10);
  EXPECT_LT(sample->memory_bytes, int64_t{1} << 30);
  EXPECT_GE(sample->cpu_millis, 0);
  EXPECT_LE(sample->cpu_millis, 1000 * static_cast<int64_t>(std::thread::hardware_concurrency()));
}

// Verify that a driver that returns what it is told (the fake) returns
// exactly that.
TEST_P(DriverContractTest, SampleOfScriptedTaskIsWhatItWasTold) {
  TaskConfig config = Config();
  std::optional<ResourceSample> scripted = harness_->ScriptSample(config);
  if (!scripted) return;  // a real driver: SamplesRunningTask measures it
  auto handle = Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  auto sample = driver().Sample(*handle);
  ASSERT_TRUE(sample) << sample.error().ToString();
  EXPECT_EQ(sample->cpu_millis, scripted->cpu_millis);
  EXPECT_EQ(sample->memory_bytes, scripted->memory_bytes);
}

// Verify that the orphan sweep removes exactly this node's tasks that are not
// kept (running or ended), where the driver can list its tasks, and touches
// nothing where it cannot.
TEST_P(DriverContractTest, RemoveOrphansOfItsNodeOnly) {
  TaskConfig kept = Config();
  TaskConfig orphan = Config();
  TaskConfig ended = Config();
  TaskConfig elsewhere = Config();
  elsewhere.node_id = NewId("other-node");
  std::vector<TaskHandle> handles;
  for (const TaskConfig* config : {&kept, &orphan, &ended, &elsewhere}) {
    auto handle = Start(*config);
    ASSERT_TRUE(handle) << handle.error().ToString();
    handles.push_back(*handle);
  }
  for (const TaskConfig* config : {&kept, &orphan, &ended, &elsewhere}) {
    ASSERT_TRUE(Serving(*config));
  }
  harness_->Crash(ended, handles[2]);
  WaitExit(handles[2]);

  auto removed = driver().RemoveOrphans(node_id_, {kept.instance_id});
  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(*removed, traits().lists_tasks ? 2 : 0);
  auto running = [&](const TaskHandle& handle) {
    auto status = driver().Inspect(handle);
    return status && status->running;
  };
  EXPECT_TRUE(running(handles[0]));
  EXPECT_TRUE(running(handles[3]));
  if (traits().lists_tasks) {
    for (const TaskHandle& gone : {handles[1], handles[2]}) {
      auto status = driver().Inspect(gone);
      ASSERT_FALSE(status);
      EXPECT_EQ(status.error().code, ErrorCode::kNotFound);
    }
  } else {
    EXPECT_TRUE(running(handles[1]));
  }
  (void)driver().Stop(handles[3], 0s);
  driver().Release(handles[3]);
}

// Verify that a driver that says it enforces limits does: a task going past
// its memory limit is killed. One that does not says so.
TEST_P(DriverContractTest, MemoryLimitWhereEnforced) {
  const DriverInfo info = driver().Info();
  if (!info.enforces_limits) {
    EXPECT_THAT(info.notes, HasSubstr("limits are not enforced"));
    return;
  }
  TaskConfig config = Config();
  config.resources = {.cpu_millis = 500, .memory_bytes = 32 << 20};
  auto handle = Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(Serving(config));
  harness_->UseMemory(config, 32 << 20);
  TaskStatus status = WaitExit(*handle);
  EXPECT_EQ(status.exit_code, 128 + SIGKILL) << status.message;
}

// Verify that a released task is forgotten everywhere, even one released
// while it still ran: Inspect and Sample answer kNotFound, the orphan sweep
// does not count it, stopping its handle succeeds, and once stopped nothing
// recovers it.
TEST_P(DriverContractTest, ReleasedTaskIsForgotten) {
  TaskConfig config = Config();
  auto handle = Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(Serving(config));
  driver().Release(*handle);

  auto inspected = driver().Inspect(*handle);
  ASSERT_FALSE(inspected);
  EXPECT_EQ(inspected.error().code, ErrorCode::kNotFound);
  auto sampled = driver().Sample(*handle);
  ASSERT_FALSE(sampled);
  EXPECT_EQ(sampled.error().code, ErrorCode::kNotFound);
  auto removed = driver().RemoveOrphans(node_id_, {});
  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(*removed, 0);
  EXPECT_TRUE(driver().Stop(*handle, 1s));
  auto recovered = driver().Recover(*handle);
  ASSERT_FALSE(recovered);
  EXPECT_EQ(recovered.error().code, ErrorCode::kNotFound);
}

// Verify that WatchExit calls back once after the task exits: by itself for a
// driver that says it hears exits (its ExitPoller is never started and
// nothing is ever left on it, so only the driver can have called), through
// the poller otherwise; at once (on the calling thread) for a task that has
// ended or was released; and once for a task released while it ran.
TEST_P(DriverContractTest, WatchExitCallsBackOnce) {
  const bool hears = driver().Info().hears_exits;
  ExitPoller poller(SystemClock::Get(), 50ms);
  if (!hears) poller.Start();
  TaskConfig config = Config();
  auto handle = Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(Serving(config));

  std::atomic<int> calls = 0;
  driver().WatchExit(
      *handle, [&] { ++calls; }, poller);
  EXPECT_EQ(calls.load(), 0);
  if (hears) {
    EXPECT_EQ(poller.watching(), 0u);
  }
  const auto crashed = std::chrono::steady_clock::now();
  harness_->Crash(config, *handle);
  ASSERT_TRUE(testing::PollUntil([&] { return calls.load() > 0; }, 10s, 1ms));
  const auto heard = std::chrono::steady_clock::now() - crashed;
  RecordProperty(
      "exit_heard_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(heard).count()));
  // Heard by the driver itself, or taken off the poller that found it.
  EXPECT_EQ(poller.watching(), 0u);
  auto status = driver().Inspect(*handle);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_FALSE(status->running);

  std::atomic<int> ended = 0;
  driver().WatchExit(
      *handle, [&] { ++ended; }, poller);
  EXPECT_EQ(ended.load(), 1);
  driver().Release(*handle);
  std::atomic<int> released = 0;
  driver().WatchExit(
      *handle, [&] { ++released; }, poller);
  EXPECT_EQ(released.load(), 1);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(ended.load(), 1);

  // Released while it still ran, a watched task is called back once too (and
  // stopping it afterwards succeeds).
  TaskConfig second = Config();
  auto running = Start(second);
  ASSERT_TRUE(running) << running.error().ToString();
  ASSERT_TRUE(Serving(second));
  std::atomic<int> released_running = 0;
  driver().WatchExit(
      *running, [&] { ++released_running; }, poller);
  driver().Release(*running);
  EXPECT_TRUE(testing::PollUntil([&] { return released_running.load() == 1; }));
  EXPECT_TRUE(driver().Stop(*running, 10s));
  poller.Stop();
  EXPECT_EQ(released_running.load(), 1);
}

std::unique_ptr<DriverHarness> MakeDocker(std::string* why) {
  const testing::TestEngine& engine = testing::TestDockerEngine();
  if (engine.host.empty()) {
    *why = "no Docker engine: " + engine.error;
    return nullptr;
  }
  auto image = testing::TestAppImage(engine.host);
  if (!image) {
    *why = "cannot build the test image: " + image.error().ToString();
    return nullptr;
  }
  return std::make_unique<DockerHarness>(engine.host, *image);
}

INSTANTIATE_TEST_SUITE_P(
    Drivers, DriverContractTest,
    ::testing::Values(
        DriverFactory{"process", [](std::string*) { return std::make_unique<ProcessHarness>(); }},
        DriverFactory{"docker", MakeDocker},
        DriverFactory{"fake", [](std::string*) { return std::make_unique<FakeDriverHarness>(); }}),
    [](const ::testing::TestParamInfo<DriverFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace skiff::runtime
