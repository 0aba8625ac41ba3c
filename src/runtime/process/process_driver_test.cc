#include "runtime/process/process_driver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "fakes/testing.h"

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

// Verify that a config PATH wins over the agent's for finding the program.
TEST_F(ProcessDriverUnitTest, UsesConfigPath) {
  TaskConfig config = Shell("true");
  config.env["PATH"] = dir_.File("empty-bin");
  auto handle = driver_.Start(config);
  ASSERT_FALSE(handle.has_value());
  EXPECT_EQ(handle.error().code, ErrorCode::kUnavailable);
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

}  // namespace
}  // namespace skiff::runtime::process
