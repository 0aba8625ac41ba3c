// ProcessDriver against real processes: the project's test app, sh and sleep.

#include "runtime/process/process_driver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/subprocess.h"
#include "fakes/testing.h"
#include "runtime/exit_poller.h"
#include "runtime/process/proc_stat.h"

namespace skiff::runtime::process {
namespace {

using ::testing::HasSubstr;

struct HttpReply {
  int status = 0;
  std::string body;
};

// A blocking HTTP/1.0 exchange with 127.0.0.1:port; nullopt when it fails.
std::optional<HttpReply> Http(int port, const std::string& path,
                              const std::string& method = "GET") {
  const int fd = skiff::testing::ConnectLoopback(port);
  if (fd < 0) return std::nullopt;
  std::string request = method + " " + path + " HTTP/1.0\r\nHost: test\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) response.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t head_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) return std::nullopt;
  HttpReply reply;
  reply.status = std::stoi(response.substr(9, 3));
  reply.body = response.substr(head_end + 4);
  return reply;
}

// A process that is gone, or a zombie nobody has reaped yet.
bool IsDead(pid_t pid) {
  auto st = ReadProcStat(pid);
  return !st || st->Finished();
}

pid_t PidOf(const TaskHandle& handle) { return ParseProcessHandle(handle.id).value().pid; }

class ProcessDriverTest : public ::testing::Test {
 protected:
  TaskConfig Config(std::map<std::string, std::string> extra_env = {}) {
    TaskConfig c;
    c.instance_id = "hello-1";
    c.app = "hello";
    c.revision = 7;
    c.run.command = {SKIFF_TESTAPP_BIN};
    c.host = "127.0.0.1";
    c.port = port_;
    c.env = {{"HOST", "127.0.0.1"},
             {"PORT", std::to_string(port_)},
             {"SKIFF_APP", "hello"},
             {"SKIFF_INSTANCE", "hello-1"},
             {"SKIFF_REVISION", "7"}};
    for (auto& [k, v] : extra_env) c.env[k] = v;
    c.log_path = dir_.File("logs/hello-1.log");
    c.work_dir = dir_.path();
    return c;
  }

  // Waits until the app answers on its port.
  bool Serving() {
    return testing::PollUntil([&] { return Http(port_, "/health").has_value(); });
  }

  // Waits until the task is seen as exited and returns its status.
  TaskStatus WaitExit(Driver& driver, const TaskHandle& handle) {
    TaskStatus status;
    EXPECT_TRUE(testing::PollUntil([&] {
      auto s = driver.Inspect(handle);
      if (!s) return false;
      status = *s;
      return !s->running;
    }));
    return status;
  }

  // Runs the config's command as a grandchild that is reparented away from us
  // (fork, setsid, fork, exec), as a task left behind by an earlier agent is.
  // Returns its pid, or -1.
  pid_t SpawnOrphan(const TaskConfig& config) {
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : config.env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string program = config.run.command[0];
    char* argv[] = {program.data(), nullptr};
    int fds[2];
    if (pipe(fds) != 0) return -1;
    std::filesystem::create_directories(std::filesystem::path(config.log_path).parent_path());
    int log_fd = open(config.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t middle = fork();
    if (middle == 0) {
      pid_t task = fork();
      if (task == 0) {
        setsid();  // as ProcessDriver's tasks do: their own group
        close(fds[0]);
        close(fds[1]);
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        execve(argv[0], argv, envp.data());
        _exit(127);
      }
      ssize_t ignored = write(fds[1], &task, sizeof(task));
      (void)ignored;
      _exit(0);
    }
    close(fds[1]);
    close(log_fd);
    pid_t task = -1;
    if (read(fds[0], &task, sizeof(task)) != sizeof(task)) task = -1;
    close(fds[0]);
    waitpid(middle, nullptr, 0);
    return task;
  }

  testing::TempDir dir_;
  int port_ = testing::FreePort();
  ProcessDriver driver_;
};

// Verify that a started app serves with its environment, logs to its file, and
// exits 0 on the SIGTERM of Stop.
TEST_F(ProcessDriverTest, StartsServesAndStopsGracefully) {
  auto handle = driver_.Start(Config({{"GREETING", "hi"}}));
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  EXPECT_THAT(handle->id, ::testing::StartsWith("pid:"));
  ASSERT_TRUE(Serving());

  auto reply = Http(port_, "/");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "hello from hello-1 rev 7\nhi\n");
  // The agent's PATH is passed on when the config has none.
  auto path = Http(port_, "/env/PATH");
  ASSERT_TRUE(path.has_value());
  EXPECT_EQ(path->status, 200);
  EXPECT_FALSE(path->body.empty());
  // Nothing else leaks from the agent's environment.
  auto home = Http(port_, "/env/SKIFF_TEST_ONLY_IN_AGENT");
  ASSERT_TRUE(home.has_value());
  EXPECT_EQ(home->status, 404);

  auto status = driver_.Inspect(*handle);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->running);
  EXPECT_EQ(status->message, "running");

  ASSERT_TRUE(driver_.Stop(*handle, std::chrono::seconds(10)).has_value());
  status = driver_.Inspect(*handle);
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->running);
  EXPECT_EQ(status->exit_code, 0);
  EXPECT_EQ(status->message, "exited with 0");

  std::string log = skiff::testing::ReadWholeFile(dir_.File("logs/hello-1.log"));
  EXPECT_THAT(log, HasSubstr("listening on 127.0.0.1:" + std::to_string(port_)));
  EXPECT_THAT(log, HasSubstr("GET /env/PATH"));
  EXPECT_THAT(log, HasSubstr("terminating"));

  // Stopping again, and releasing, are harmless.
  EXPECT_TRUE(driver_.Stop(*handle, std::chrono::seconds(1)).has_value());
  driver_.Release(*handle);
  auto released = driver_.Inspect(*handle);
  ASSERT_FALSE(released.has_value());
  EXPECT_EQ(released.error().code, ErrorCode::kNotFound);
}

// Verify that a task ignoring SIGTERM is killed after the grace, together with
// a process it started in its group.
TEST_F(ProcessDriverTest, StopKillsIgnoringTaskAndItsGroup) {
  TaskConfig config = Config({{"IGNORE_SIGTERM", "1"}});
  config.run.command = {"/bin/sh", "-c",
                        std::string("sleep 1000 & echo $! > sleep.pid; exec ") + SKIFF_TESTAPP_BIN};
  auto handle = driver_.Start(config);
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  ASSERT_TRUE(Serving());
  pid_t sleep_pid = 0;
  ASSERT_TRUE(testing::PollUntil([&] {
    sleep_pid = std::atoi(skiff::testing::ReadWholeFile(dir_.File("sleep.pid")).c_str());
    return sleep_pid > 0;
  }));
  ASSERT_FALSE(IsDead(sleep_pid));

  auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(driver_.Stop(*handle, std::chrono::milliseconds(300)).has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(300));

  auto status = driver_.Inspect(*handle);
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->running);
  EXPECT_EQ(status->exit_code, 128 + SIGKILL);
  EXPECT_EQ(status->message, "killed by signal 9");
  EXPECT_TRUE(IsDead(sleep_pid));
  EXPECT_THAT(skiff::testing::ReadWholeFile(config.log_path),
              ::testing::Not(HasSubstr("terminating")));
}

// Verify that a crash is reported with its exit code.
TEST_F(ProcessDriverTest, CrashReportsExitCode) {
  auto handle = driver_.Start(Config());
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  ASSERT_TRUE(Serving());
  Http(port_, "/crash");
  TaskStatus status = WaitExit(driver_, *handle);
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_EQ(status.message, "exited with 3");
  auto sample = driver_.Sample(*handle);
  ASSERT_FALSE(sample.has_value());
  EXPECT_EQ(sample.error().code, ErrorCode::kNotFound);
  auto recovered = driver_.Recover(*handle);
  ASSERT_FALSE(recovered.has_value());
  EXPECT_EQ(recovered.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(driver_.Stop(*handle, std::chrono::seconds(1)).has_value());
}

// Verify that a task killed from outside reports the signal as 128 + 9.
TEST_F(ProcessDriverTest, KillNineReportsSignal) {
  auto handle = driver_.Start(Config());
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  ASSERT_TRUE(Serving());
  ASSERT_EQ(kill(PidOf(*handle), SIGKILL), 0);
  TaskStatus status = WaitExit(driver_, *handle);
  EXPECT_EQ(status.exit_code, 137);
  EXPECT_EQ(status.message, "killed by signal 9");
}

// Verify that programs that cannot run fail Start with kFailedPrecondition
// (it can never start as it stands) and the reason, and that a work dir that
// cannot be entered is kUnavailable.
TEST_F(ProcessDriverTest, ExecFailuresAreReported) {
  TaskConfig missing = Config();
  missing.run.command = {"skiff-no-such-program"};
  auto r1 = driver_.Start(missing);
  ASSERT_FALSE(r1.has_value());
  EXPECT_EQ(r1.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(r1.error().message, "skiff-no-such-program: No such file or directory");

  TaskConfig bad_path = Config();
  bad_path.run.command = {dir_.File("nope/app")};
  auto r2 = driver_.Start(bad_path);
  ASSERT_FALSE(r2.has_value());
  EXPECT_EQ(r2.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(r2.error().message, HasSubstr("No such file or directory"));

  TaskConfig not_executable = Config();
  std::ofstream(dir_.File("plain.txt")) << "not a program";
  not_executable.run.command = {dir_.File("plain.txt")};
  auto r3 = driver_.Start(not_executable);
  ASSERT_FALSE(r3.has_value());
  EXPECT_EQ(r3.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(r3.error().message, HasSubstr("Permission denied"));

  TaskConfig bad_dir = Config();
  bad_dir.work_dir = dir_.File("no-such-dir");
  auto r4 = driver_.Start(bad_dir);
  ASSERT_FALSE(r4.has_value());
  EXPECT_EQ(r4.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(r4.error().message, HasSubstr("work dir"));

  TaskConfig image = Config();
  image.run.command.clear();
  image.run.image = "registry.example/hello:1";
  auto r5 = driver_.Start(image);
  ASSERT_FALSE(r5.has_value());
  EXPECT_EQ(r5.error().code, ErrorCode::kInvalidArgument);
}

// Verify that a second driver (a restarted agent) adopts a running task by its
// handle, refuses a handle whose start time does not match, and can stop it.
TEST_F(ProcessDriverTest, SecondDriverRecoversAndStops) {
  auto handle = driver_.Start(Config());
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  ASSERT_TRUE(Serving());

  ProcessDriver second;
  auto unknown = second.Inspect(*handle);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);

  auto recovered = second.Recover(*handle);
  ASSERT_TRUE(recovered.has_value()) << recovered.error().ToString();
  EXPECT_EQ(*recovered, *handle);
  auto status = second.Inspect(*handle);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->running);
  // started_at comes from the kernel's record; it is recent.
  EXPECT_LT(std::chrono::abs(status->started_at - std::chrono::system_clock::now()),
            std::chrono::minutes(5));

  ProcessIdentity id = ParseProcessHandle(handle->id).value();
  auto bogus = second.Recover(TaskHandle{FormatProcessHandle({id.pid, id.start_ticks + 1})});
  ASSERT_FALSE(bogus.has_value());
  EXPECT_EQ(bogus.error().code, ErrorCode::kNotFound);
  auto malformed = second.Recover(TaskHandle{"container:abc"});
  ASSERT_FALSE(malformed.has_value());
  EXPECT_EQ(malformed.error().code, ErrorCode::kNotFound);

  auto sample = second.Sample(*handle);
  ASSERT_TRUE(sample.has_value()) << sample.error().ToString();
  EXPECT_GT(sample->memory_bytes, 0);

  // The first agent is gone: only the second hears the exit (both drivers
  // would, each through its own pidfd, and either could reap it first). Both
  // live in this process, so the task is still a child here and its exit code
  // is known.
  driver_.Release(*handle);
  ASSERT_TRUE(second.Stop(*handle, std::chrono::seconds(10)).has_value());
  status = second.Inspect(*handle);
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->running);
  EXPECT_EQ(status->exit_code, 0);
}

// Verify that a task that is not our child (the agent restarted) is recovered,
// sampled and stopped, and that its exit code is honestly unknown.
TEST_F(ProcessDriverTest, OrphanIsRecoveredWithUnknownExit) {
  pid_t pid = SpawnOrphan(Config());
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(Serving());
  auto st = ReadProcStat(pid);
  ASSERT_TRUE(st.has_value());
  ASSERT_NE(st->ppid, getpid());
  ASSERT_EQ(st->pgrp, pid);
  TaskHandle handle{FormatProcessHandle({pid, st->start_ticks})};

  auto recovered = driver_.Recover(handle);
  ASSERT_TRUE(recovered.has_value()) << recovered.error().ToString();
  auto status = driver_.Inspect(handle);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->running);
  EXPECT_TRUE(testing::PollUntil([&] {
    auto s = driver_.Sample(handle);
    return s && s->memory_bytes > 0;
  }));

  ASSERT_TRUE(driver_.Stop(handle, std::chrono::seconds(10)).has_value());
  EXPECT_TRUE(IsDead(pid));
  status = driver_.Inspect(handle);
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->running);
  EXPECT_FALSE(status->exit_code.has_value());
  EXPECT_EQ(status->message, "exit status unknown: process was not started by this agent");
  auto again = driver_.Recover(handle);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
}

// Verify that samples see the group's memory and a busy task's cpu.
TEST_F(ProcessDriverTest, SampleMeasuresGroup) {
  TaskConfig config = Config();
  // A shell keeps one child busy; the group's cpu shows it.
  config.run.command = {"/bin/sh", "-c", "while :; do :; done & wait"};
  auto handle = driver_.Start(config);
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  // Right after exec the new image may not be mapped yet: poll for memory.
  EXPECT_TRUE(testing::PollUntil([&] {
    auto s = driver_.Sample(*handle);
    return s && s->memory_bytes > 0 && s->cpu_millis >= 0;
  }));
  int64_t cpu = 0;
  EXPECT_TRUE(testing::PollUntil(
      [&] {
        auto s = driver_.Sample(*handle);
        if (s) cpu = s->cpu_millis;
        return s && s->cpu_millis > 100;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(200)))
      << "last cpu " << cpu;
  ASSERT_TRUE(driver_.Stop(*handle, std::chrono::seconds(1)).has_value());
  auto after = driver_.Sample(*handle);
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code, ErrorCode::kNotFound);
}

// Verify that the driver says honestly whether it enforces limits.
TEST_F(ProcessDriverTest, InfoIsHonestAboutLimits) {
  DriverInfo info = driver_.Info();
  EXPECT_EQ(info.name, "process");
  if (info.enforces_limits) {
    EXPECT_THAT(info.notes, HasSubstr("cgroup v2"));
  } else {
    EXPECT_THAT(info.notes, HasSubstr("not enforced"));
  }
  ProcessDriverOptions no_cgroups;
  no_cgroups.cgroup_parent.clear();
  ProcessDriver plain(no_cgroups);
  EXPECT_FALSE(plain.Info().enforces_limits);
  EXPECT_THAT(plain.Info().notes, HasSubstr("not enforced"));
}

// Verify that stopping a handle of a process that is long gone succeeds, and
// so does stopping a handle that names no process at all (Driver::Stop).
TEST_F(ProcessDriverTest, StopOfGoneTaskSucceeds) {
  auto handle = driver_.Start(Config());
  ASSERT_TRUE(handle.has_value()) << handle.error().ToString();
  ASSERT_TRUE(driver_.Stop(*handle, std::chrono::seconds(10)).has_value());
  ProcessDriver other;
  EXPECT_TRUE(other.Stop(*handle, std::chrono::seconds(1)).has_value());
  auto malformed = other.Stop(TaskHandle{"pid:x:y"}, std::chrono::seconds(1));
  EXPECT_TRUE(malformed.has_value()) << malformed.error().ToString();
}

// Verify that past max_pidfds a task holds no pidfd (so a thousand tasks do
// not use up the agent's file descriptors) and its exit is still heard, by the
// caller's poller, as the exit of the task that holds one is by the reaper.
TEST_F(ProcessDriverTest, ExitsHeardPastMaxPidfds) {
  ProcessDriverOptions options;
  options.cgroup_parent = "";
  options.max_pidfds = 1;
  ProcessDriver driver(options);
  ExitPoller poller(SystemClock::Get(), std::chrono::milliseconds(20));
  poller.Start();
  TaskConfig config = Config();
  config.run.command = {"sleep", "1000"};
  auto first = driver.Start(config);
  auto second = driver.Start(config);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  std::atomic<int> heard_first{0};
  std::atomic<int> heard_second{0};
  driver.WatchExit(
      *first, [&] { ++heard_first; }, poller);
  driver.WatchExit(
      *second, [&] { ++heard_second; }, poller);
  EXPECT_EQ(poller.watching(), 1u);
  ASSERT_EQ(kill(PidOf(*first), SIGKILL), 0);
  ASSERT_EQ(kill(PidOf(*second), SIGKILL), 0);
  EXPECT_TRUE(testing::PollUntil([&] { return heard_first == 1 && heard_second == 1; }));
  poller.Stop();
}

}  // namespace
}  // namespace skiff::runtime::process

// The environment check in StartsServesAndStopsGracefully needs a variable the
// agent has and the task must not inherit.
[[maybe_unused]] static const int kAgentOnlyEnv = setenv("SKIFF_TEST_ONLY_IN_AGENT", "1", 1);
