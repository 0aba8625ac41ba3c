#include "runtime/process/process_driver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/fd_limit.h"
#include "fakes/testing.h"
#include "runtime/exit_poller.h"

namespace skiff::runtime::process {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Verify that handles round-trip and that anything else is kInvalidArgument.
TEST(ProcessHandleTest, FormatsAndParses) {
  EXPECT_EQ(FormatProcessHandle({1234, 987654}), "pid:1234:987654");
  auto id = ParseProcessHandle("pid:1234:987654");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*id, (ProcessIdentity{1234, 987654}));
  for (const char* bad : {"", "pid:", "pid:1", "pid:1:", "pid::5", "pid:x:5", "pid:1:5x",
                          "pid:-3:5", "pid:0:5", "docker:abc", "pid:1:2:3"}) {
    auto r = ParseProcessHandle(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

class ProcessDriverUnitTest : public ::testing::Test {
 protected:
  TaskConfig Shell(const std::string& script) {
    TaskConfig c;
    c.instance_id = "unit-1";
    c.run.command = {"sh", "-c", script};
    c.env = {{"ONLY", "this"}};
    c.log_path = dir_.File("log/unit.log");
    c.work_dir = dir_.path();
    return c;
  }

  TaskStatus WaitExit(const TaskHandle& handle) {
    TaskStatus status;
    EXPECT_TRUE(testing::PollUntil([&] {
      auto s = driver_.Inspect(handle);
      if (s) status = *s;
      return s && !s->running;
    }));
    return status;
  }

  testing::TempDir dir_;
  ProcessDriver driver_{ProcessDriverOptions{.cgroup_parent = ""}};
};

// Verify that the task sees exactly its env (plus PATH), its work dir, an empty
// stdin, and that both output streams land in the log.
TEST_F(ProcessDriverUnitTest, SetsUpEnvCwdAndStdio) {
  auto handle =
      driver_.Start(Shell("env > env.txt; pwd > pwd.txt; cat > stdin.txt; echo out; echo err >&2"));
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  TaskStatus status = WaitExit(*handle);
  EXPECT_EQ(status.exit_code, 0);

  std::set<std::string> names;
  std::istringstream env(ReadFile(dir_.File("env.txt")));
  for (std::string line; std::getline(env, line);) names.insert(line.substr(0, line.find('=')));
  // sh itself adds PWD (and may add SHLVL / _); nothing may come from the agent.
  names.erase("PWD");
  names.erase("SHLVL");
  names.erase("_");
  EXPECT_EQ(names, (std::set<std::string>{"ONLY", "PATH"}));
  EXPECT_EQ(ReadFile(dir_.File("pwd.txt")), dir_.path() + "\n");
  EXPECT_EQ(ReadFile(dir_.File("stdin.txt")), "");
  EXPECT_EQ(ReadFile(dir_.File("log/unit.log")), "out\nerr\n");
}

// Verify that exit codes and signals are reported as the agent shows them.
TEST_F(ProcessDriverUnitTest, ReportsExitCodesAndSignals) {
  auto exits = driver_.Start(Shell("exit 5"));
  ASSERT_TRUE(exits.has_value()) << exits.error().ToString();
  TaskStatus status = WaitExit(*exits);
  EXPECT_EQ(status.exit_code, 5);
  EXPECT_EQ(status.message, "exited with 5");

  auto killed = driver_.Start(Shell("kill -TERM $$"));
  ASSERT_TRUE(killed.has_value()) << killed.error().ToString();
  status = WaitExit(*killed);
  EXPECT_EQ(status.exit_code, 128 + 15);
  EXPECT_EQ(status.message, "killed by signal 15");
}

// Verify that the log is appended to, not overwritten, across starts.
TEST_F(ProcessDriverUnitTest, AppendsToLog) {
  for (const char* word : {"one", "two"}) {
    auto handle = driver_.Start(Shell(std::string("echo ") + word));
    ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
    WaitExit(*handle);
  }
  EXPECT_EQ(ReadFile(dir_.File("log/unit.log")), "one\ntwo\n");
}

// Verify that a task gets the soft limit of open files the agent found, not
// the one it raised (common/fd_limit.h): many programs mishandle a high one.
TEST_F(ProcessDriverUnitTest, TaskGetsTheFileLimitFound) {
  testing::ScopedSoftFileLimit lowered(512);
  ASSERT_TRUE(lowered.ok()) << "the hard limit is too low to lower the soft one";
  ASSERT_TRUE(RaiseFileLimit());
  rlimit in_force{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &in_force), 0);
  EXPECT_EQ(in_force.rlim_cur, lowered.hard());
  auto handle = driver_.Start(Shell("ulimit -Sn"));
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  EXPECT_EQ(WaitExit(*handle).exit_code, 0);
  EXPECT_EQ(ReadFile(dir_.File("log/unit.log")), "512\n");
}

// Verify that a config PATH wins over the agent's for finding the program.
TEST_F(ProcessDriverUnitTest, UsesConfigPath) {
  TaskConfig config = Shell("true");
  config.env["PATH"] = dir_.File("empty-bin");
  auto handle = driver_.Start(config);
  ASSERT_FALSE(handle.has_value());
  EXPECT_EQ(handle.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(handle.error().message, "sh: No such file or directory");
}

// Verify that an empty command is kInvalidArgument naming the field.
TEST_F(ProcessDriverUnitTest, EmptyCommandIsInvalid) {
  TaskConfig config = Shell("true");
  config.run.command.clear();
  auto handle = driver_.Start(config);
  ASSERT_FALSE(handle.has_value());
  EXPECT_EQ(handle.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(handle.error().field, "run.command");
}

class ProcessDriverClockTest : public ProcessDriverUnitTest {
 protected:
  ManualClock clock_;
  ProcessDriver driver_{ProcessDriverOptions{.cgroup_parent = "", .clock = &clock_}};
};

// Verify that Stop gives a task that ignores SIGTERM its whole grace on the
// driver's clock, and kills it the moment the clock reaches the grace.
TEST_F(ProcessDriverClockTest, StopWaitsTheGraceOnTheClock) {
  auto handle = driver_.Start(Shell("trap '' TERM; touch ready; while :; do sleep 0.05; done"));
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  ASSERT_TRUE(testing::PollUntil([&] { return std::filesystem::exists(dir_.File("ready")); }));
  std::atomic<bool> stopped{false};
  Status status;
  std::thread stopper([&] {
    status = driver_.Stop(*handle, std::chrono::seconds(30));
    stopped = true;
  });
  ASSERT_TRUE(testing::PollUntil([&] { return clock_.waiters() == 1; }));
  clock_.Advance(std::chrono::seconds(29));
  EXPECT_FALSE(testing::PollUntil([&] { return stopped.load(); }, std::chrono::milliseconds(100)));
  auto running = driver_.Inspect(*handle);
  ASSERT_TRUE(running.has_value());
  EXPECT_TRUE(running->running);
  clock_.Advance(std::chrono::seconds(1));
  stopper.join();
  EXPECT_TRUE(status.has_value()) << status.error().ToString();
  auto inspected = driver_.Inspect(*handle);
  ASSERT_TRUE(inspected.has_value());
  EXPECT_FALSE(inspected->running);
  EXPECT_EQ(inspected->exit_code, 128 + 9);
}

// Verify that a task which exits on SIGTERM ends Stop at once, though the
// clock never moves.
TEST_F(ProcessDriverClockTest, StopReturnsWhenTheTaskExits) {
  auto handle = driver_.Start(Shell("touch ready; while :; do sleep 0.05; done"));
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  ASSERT_TRUE(testing::PollUntil([&] { return std::filesystem::exists(dir_.File("ready")); }));
  Status status = driver_.Stop(*handle, std::chrono::hours(1));
  EXPECT_TRUE(status.has_value()) << status.error().ToString();
  auto inspected = driver_.Inspect(*handle);
  ASSERT_TRUE(inspected.has_value());
  EXPECT_EQ(inspected->exit_code, 128 + 15);
}

// Verify that exits are heard (pidfd), not polled: the WatchExit callback runs
// when the process ends, though nothing inspects it and the poller would
// look only after an hour; a watch of an exited task is called at once.
TEST_F(ProcessDriverUnitTest, WatchExitHearsTheExit) {
  ExitPoller poller(SystemClock::Get(), std::chrono::hours(1));
  poller.Start();
  auto handle = driver_.Start(Shell("while [ ! -e go ]; do sleep 0.01; done; exit 3"));
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  std::atomic<int> calls{0};
  driver_.WatchExit(
      *handle, [&] { ++calls; }, poller);
  EXPECT_EQ(poller.watching(), 0u);
  EXPECT_EQ(calls.load(), 0);
  std::ofstream(dir_.File("go")).close();
  ASSERT_TRUE(testing::PollUntil([&] { return calls.load() == 1; }));
  driver_.WatchExit(
      *handle, [&] { ++calls; }, poller);
  EXPECT_EQ(calls.load(), 2);
  auto inspected = driver_.Inspect(*handle);
  ASSERT_TRUE(inspected.has_value());
  EXPECT_EQ(inspected->exit_code, 3);
}

// Verify that releasing a task that still runs calls its pending watch once,
// before Release returns (nothing else can: the task has not exited), and
// that the handle can still be stopped afterwards.
TEST_F(ProcessDriverUnitTest, ReleaseCallsPendingWatch) {
  ExitPoller poller(SystemClock::Get(), std::chrono::hours(1));
  auto handle = driver_.Start(Shell("touch ready; while :; do sleep 0.05; done"));
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  ASSERT_TRUE(testing::PollUntil([&] { return std::filesystem::exists(dir_.File("ready")); }));
  std::atomic<int> calls = 0;
  driver_.WatchExit(
      *handle, [&] { ++calls; }, poller);
  EXPECT_EQ(calls.load(), 0);
  driver_.Release(*handle);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_TRUE(driver_.Stop(*handle, std::chrono::seconds(5)).has_value());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(poller.watching(), 0u);
}

// Verify that SampleAll measures every live task in one call, and leaves out
// the tasks that are gone.
TEST_F(ProcessDriverUnitTest, SampleAllMeasuresEveryLiveTask) {
  std::vector<TaskHandle> handles;
  for (const char* name : {"a", "b"}) {
    // The shell stays (no exec after the touch): a process in the middle of an
    // exec has no resident pages yet, and a sample taken then reads 0 bytes.
    auto handle =
        driver_.Start(Shell(std::string("touch ") + name + "; while sleep 1; do :; done"));
    ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
    handles.push_back(*handle);
  }
  auto gone = driver_.Start(Shell("exit 0"));
  ASSERT_TRUE(gone.has_value());
  WaitExit(*gone);
  handles.push_back(*gone);
  ASSERT_TRUE(testing::PollUntil([&] {
    return std::filesystem::exists(dir_.File("a")) && std::filesystem::exists(dir_.File("b"));
  }));
  auto samples = driver_.SampleAll(handles);
  EXPECT_EQ(samples.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(samples.count(handles[i].id), 1u) << i;
    EXPECT_GT(samples[handles[i].id].memory_bytes, 0) << i;
  }
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(driver_.Stop(handles[i], std::chrono::seconds(5)));
}

}  // namespace
}  // namespace skiff::runtime::process
