#include "runtime/process/process_driver.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/fd_limit.h"
#include "common/ids.h"
#include "common/logging.h"
#include "runtime/exit_poller.h"
#include "runtime/process/proc_stat.h"

namespace skiff::runtime::process {
namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

// What a child reports through the exec pipe when it could not become the task.
enum class ChildStage : int { kCgroup = 1, kChdir, kStdio, kExec };

// Whether exec failed with `error` because of the program itself (missing,
// not executable, not a format the kernel runs), not for want of resources.
bool IsNotAProgram(int error) {
  return error == ENOENT || error == EACCES || error == ENOEXEC || error == ENOTDIR ||
         error == ELOOP || error == ENAMETOOLONG || error == EISDIR || error == ELIBBAD;
}

struct ChildFailure {
  int stage = 0;
  int error = 0;
};

// An fd closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

std::string ErrnoText(int err) { return std::strerror(err); }

// Calls `f` when the scope ends: the driver's due exit callbacks run after
// its lock is released.
template <typename F>
class AtExit {
 public:
  explicit AtExit(F f) : f_(std::move(f)) {}
  ~AtExit() { f_(); }
  AtExit(const AtExit&) = delete;
  AtExit& operator=(const AtExit&) = delete;

 private:
  F f_;
};

std::string DescribeWaitStatus(int status, std::optional<int>* code) {
  if (WIFEXITED(status)) {
    *code = WEXITSTATUS(status);
    return "exited with " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    *code = 128 + WTERMSIG(status);
    return "killed by signal " + std::to_string(WTERMSIG(status));
  }
  *code = std::nullopt;
  return "exit status unknown";
}

// The program to exec: `name` itself when it holds a '/', else the first
// executable regular file named `name` in `path_var`'s directories.
std::optional<std::string> ResolveProgram(const std::string& name, const std::string& path_var) {
  if (name.find('/') != std::string::npos) return name;
  size_t begin = 0;
  while (begin <= path_var.size()) {
    size_t end = path_var.find(':', begin);
    if (end == std::string::npos) end = path_var.size();
    std::string dir = path_var.substr(begin, end - begin);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    begin = end + 1;
  }
  return std::nullopt;
}

// A cgroup name from an instance id: only characters that are safe in a path.
std::string CgroupName(const std::string& instance_id) {
  std::string name;
  for (char c : instance_id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    name.push_back(ok ? c : '_');
  }
  if (name.empty() || name[0] == '.') name.insert(0, "task");
  return name + "-" + RandomHex(4);
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

// A pidfd for `pid` (readable once it has exited); -1 where the kernel has none.
int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Is the process still the one the identity names, and not finished?
bool IsAlive(const ProcessIdentity& id) {
  auto st = ReadProcStat(id.pid);
  return st && st->start_ticks == id.start_ticks && !st->Finished();
}

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] void BecomeTask(const char* program, char* const* argv, char* const* envp,
                             const char* work_dir, int stdin_fd, int log_fd, int cgroup_procs_fd,
                             int report_fd, const rlimit* file_limit) {
  auto fail = [report_fd](ChildStage stage) {
    ChildFailure f{static_cast<int>(stage), errno};
    ssize_t ignored = write(report_fd, &f, sizeof(f));
    (void)ignored;
    _exit(127);
  };
  // Own session and process group: survives the agent, and Stop can signal
  // everything the task starts.
  setsid();
  // The agent's signal mask and ignored signals are inherited across exec;
  // a task must start with the defaults (e.g. SIGPIPE is often ignored).
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  if (cgroup_procs_fd >= 0 && write(cgroup_procs_fd, "0", 1) != 1) fail(ChildStage::kCgroup);
  if (work_dir != nullptr && chdir(work_dir) != 0) fail(ChildStage::kChdir);
  if (dup2(stdin_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
      dup2(log_fd, STDERR_FILENO) < 0) {
    fail(ChildStage::kStdio);
  }
  // Whatever the agent opened without O_CLOEXEC (other threads' sockets, say)
  // must not leak into the task.
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  // The soft limit of open files the agent found, not the one it raised
  // (common/fd_limit.h). Best effort, as Go does: the task runs either way.
  if (file_limit != nullptr) setrlimit(RLIMIT_NOFILE, file_limit);
  execve(program, argv, envp);
  fail(ChildStage::kExec);
  _exit(127);  // not reached
}

}  // namespace

std::string FormatProcessHandle(const ProcessIdentity& identity) {
  return "pid:" + std::to_string(identity.pid) + ":" + std::to_string(identity.start_ticks);
}

Result<ProcessIdentity> ParseProcessHandle(const std::string& handle_id) {
  auto bad = [&] { return InvalidArgument("not a process handle: \"" + handle_id + "\""); };
  if (handle_id.rfind("pid:", 0) != 0) return bad();
  size_t colon = handle_id.find(':', 4);
  if (colon == std::string::npos) return bad();
  ProcessIdentity id;
  const char* pid_begin = handle_id.data() + 4;
  const char* pid_end = handle_id.data() + colon;
  auto [p1, e1] = std::from_chars(pid_begin, pid_end, id.pid);
  const char* ticks_end = handle_id.data() + handle_id.size();
  auto [p2, e2] = std::from_chars(pid_end + 1, ticks_end, id.start_ticks);
  if (e1 != std::errc() || p1 != pid_end || e2 != std::errc() || p2 != ticks_end ||
      pid_begin == pid_end || pid_end + 1 == ticks_end || id.pid <= 0) {
    return bad();
  }
  return id;
}

ProcessDriver::ProcessDriver(ProcessDriverOptions options) : options_(std::move(options)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  if (epoll_fd_ >= 0 && wake_fd_ >= 0 && epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0) {
    reaper_alive_ = true;
    reaper_ = std::thread([this] { ReaperLoop(); });
  } else {
    // Without a reaper a pidfd would never be heard: none is opened.
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    epoll_fd_ = -1;
    wake_fd_ = -1;
  }
  if (options_.cgroup_parent.empty()) {
    cgroup_note_ = "cgroups disabled by configuration: cpu/memory limits are not enforced";
    return;
  }
  auto parent = CgroupParent::Probe(options_.cgroup_parent);
  if (parent) {
    cgroups_ = std::move(*parent);
    cgroup_note_ =
        "cpu/memory limits enforced with cgroup v2 (cpu.max, memory.max) under " + cgroups_->dir();
  } else {
    cgroup_note_ = "cgroup v2 not available: cpu/memory limits are not enforced (" +
                   parent.error().message + ")";
    // Measuring only: tasks in v1 groups of their own are measured from them.
    cgroups_v1_ = CgroupV1Finder::Detect(options_.proc_root);
  }
}

ProcessDriver::~ProcessDriver() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [id, task] : tasks_) ClosePidfdLocked(task);
    due_.clear();
  }
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t ignored = write(wake_fd_, &one, sizeof(one));
    (void)ignored;
  }
  if (reaper_.joinable()) reaper_.join();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void ProcessDriver::WatchPidLocked(Task& task) {
  if (!reaper_alive_ || task.exited || task.pidfd >= 0) return;
  if (pidfds_ >= MaxPidfds()) return;  // looked at instead: the fds are for the tasks
  const int fd = PidfdOpen(task.id.pid);
  if (fd < 0) return;  // no pidfd here: exits are found by looking
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  task.pidfd = fd;
  ++pidfds_;
  task.key = next_key_++;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = task.key;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    close(fd);
    task.pidfd = -1;
    --pidfds_;
    return;
  }
  by_key_[task.key] = FormatProcessHandle(task.id);
  // The pid may have been reused between the caller's look at /proc and the
  // pidfd: the fd is only ours when the process still has the start time.
  if (!task.is_child && !IsAlive(task.id)) RefreshLocked(task, /*heard=*/true);
}

void ProcessDriver::ClosePidfdLocked(Task& task) {
  if (task.pidfd < 0) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, task.pidfd, nullptr);
  close(task.pidfd);
  task.pidfd = -1;
  --pidfds_;
  by_key_.erase(task.key);
}

int ProcessDriver::MaxPidfds() const {
  if (options_.max_pidfds > 0) return options_.max_pidfds;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 1 << 16;
  return static_cast<int>(std::min<rlim_t>(limit.rlim_cur / 4, 1 << 20));
}

void ProcessDriver::ReaperDied() {
  {
    std::lock_guard lock(mu_);
    reaper_alive_ = false;
    for (auto& [id, task] : tasks_) {
      ClosePidfdLocked(task);
      // Called as if exited: the callers look, find it running, and watch
      // again, through their poller now.
      for (auto& on_exit : task.on_exit) due_.push_back(std::move(on_exit));
      task.on_exit.clear();
    }
  }
  RunDue();
}

void ProcessDriver::RunDue() {
  std::vector<std::function<void()>> due;
  {
    std::lock_guard lock(mu_);
    due.swap(due_);
  }
  for (auto& on_exit : due) on_exit();
}

void ProcessDriver::ReaperLoop() {
  epoll_event events[64];
  while (true) {
    const int n = epoll_wait(epoll_fd_, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      SKIFF_LOG_ERROR("process driver: epoll_wait: {}; exits are looked for instead",
                      ErrnoText(errno));
      ReaperDied();
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      for (int i = 0; i < n; ++i) {
        auto key = by_key_.find(events[i].data.u64);
        if (key == by_key_.end()) continue;
        auto it = tasks_.find(key->second);
        if (it == tasks_.end()) continue;
        Task& task = it->second;
        RefreshLocked(task, /*heard=*/true);
        if (!task.exited) {
          // Readable means the process ended; whatever keeps it from looking
          // ended (its reaping elsewhere), a level-triggered fd must not spin.
          task.exited = true;
          task.exit_code = std::nullopt;
          task.message = "exit status unknown";
          RefreshLocked(task, /*heard=*/true);
        }
      }
    }
    exited_cv_.notify_all();
    RunDue();
  }
}

DriverInfo ProcessDriver::Info() const {
  return DriverInfo{.name = "process",
                    .enforces_limits = cgroups_.has_value(),
                    .notes = cgroup_note_,
                    .hears_exits = reaper_alive_};
}

Result<TaskHandle> ProcessDriver::Start(const TaskConfig& config) {
  if (!config.run.image.empty()) {
    return InvalidArgument("the process driver cannot run an image", "run.image");
  }
  if (config.run.command.empty() || config.run.command[0].empty()) {
    return InvalidArgument("empty command", "run.command");
  }

  // Everything the child needs is prepared here: after fork only
  // async-signal-safe calls are allowed (other threads may hold malloc's lock).
  std::map<std::string, std::string> env = config.env;
  if (env.find("PATH") == env.end()) {
    const char* agent_path = std::getenv("PATH");
    env["PATH"] = agent_path != nullptr && *agent_path ? agent_path : kDefaultPath;
  }
  const std::string& name = config.run.command[0];
  std::optional<std::string> program = ResolveProgram(name, env["PATH"]);
  if (!program) return FailedPrecondition(name + ": " + ErrnoText(ENOENT));

  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = config.run.command;
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  std::string log_path = config.log_path.empty() ? "/dev/null" : config.log_path;
  std::error_code ec;
  std::filesystem::path log_dir = std::filesystem::path(log_path).parent_path();
  if (!log_dir.empty()) std::filesystem::create_directories(log_dir, ec);
  Fd log_fd(open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log_fd.get() < 0) return Unavailable("cannot open log " + log_path + ": " + ErrnoText(errno));
  Fd stdin_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (stdin_fd.get() < 0) return Unavailable("cannot open /dev/null: " + ErrnoText(errno));

  std::string cgroup;
  Fd cgroup_procs;
  if (cgroups_) {
    SKIFF_ASSIGN_OR_RETURN(
        cgroup, cgroups_->CreateTaskGroup(CgroupName(config.instance_id), config.resources));
    cgroup_procs.Reset(open((cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (cgroup_procs.get() < 0) {
      int err = errno;
      RemoveCgroup(cgroup);
      return Unavailable("cannot open " + cgroup + "/cgroup.procs: " + ErrnoText(err));
    }
  }
  auto fail_before_fork = [&](std::string message) {
    if (!cgroup.empty()) RemoveCgroup(cgroup);
    return Unavailable(std::move(message));
  };

  // The child reports a failure before exec through this pipe; a successful
  // exec closes it (O_CLOEXEC), so EOF means the program is running.
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return fail_before_fork("pipe: " + ErrnoText(errno));
  Fd report_read(pipe_fds[0]);
  Fd report_write(pipe_fds[1]);

  const char* work_dir = config.work_dir.empty() ? nullptr : config.work_dir.c_str();
  const std::optional<rlimit> file_limit = FileLimitForChildren();
  pid_t pid = fork();
  if (pid < 0) return fail_before_fork("fork: " + ErrnoText(errno));
  if (pid == 0) {
    BecomeTask(program->c_str(), argv.data(), envp.data(), work_dir, stdin_fd.get(), log_fd.get(),
               cgroup_procs.get(), report_write.get(), file_limit ? &*file_limit : nullptr);
  }
  Time started_at = options_.clock->Now();
  report_write.Reset();

  ChildFailure failure;
  ssize_t n;
  do {
    n = read(report_read.get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!cgroup.empty()) RemoveCgroup(cgroup);
    std::string what;
    switch (static_cast<ChildStage>(failure.stage)) {
      case ChildStage::kCgroup:
        what = "cannot join cgroup " + cgroup;
        break;
      case ChildStage::kChdir:
        what = "cannot enter work dir " + config.work_dir;
        break;
      case ChildStage::kStdio:
        what = "cannot set up stdio";
        break;
      case ChildStage::kExec:
        what = *program;
        break;
    }
    Error error{ErrorCode::kUnavailable, what + ": " + ErrnoText(failure.error)};
    if (static_cast<ChildStage>(failure.stage) == ChildStage::kExec &&
        IsNotAProgram(failure.error)) {
      error.code = ErrorCode::kFailedPrecondition;  // trying again changes nothing
    }
    return tl::unexpected(std::move(error));
  }

  // The start time is fixed at fork; a zombie's stat still holds it.
  auto st = ReadProcStat(pid);
  if (!st) return Internal("started pid " + std::to_string(pid) + " but cannot read its stat");
  Task task;
  task.id = ProcessIdentity{pid, st->start_ticks};
  task.pgid = pid;
  task.is_child = true;
  task.started_at = started_at;
  task.cgroup = cgroup;
  TaskHandle handle{FormatProcessHandle(task.id)};
  std::lock_guard lock(mu_);
  Task& entry = tasks_[handle.id] = std::move(task);
  WatchPidLocked(entry);
  return handle;
}

Result<ProcessDriver::Task> ProcessDriver::Adopt(const TaskHandle& handle) const {
  SKIFF_ASSIGN_OR_RETURN(ProcessIdentity id, ParseProcessHandle(handle.id));
  auto st = ReadProcStat(id.pid);
  if (!st || st->Finished()) return NotFound("process " + std::to_string(id.pid) + " is gone");
  if (st->start_ticks != id.start_ticks) {
    return NotFound("pid " + std::to_string(id.pid) + " now names another process");
  }
  Task task;
  task.id = id;
  // Only a group leader's group is the task's own; otherwise signal it alone.
  task.pgid = st->pgrp == id.pid ? id.pid : 0;
  task.is_child = st->ppid == getpid();
  int64_t ticks = ClockTicksPerSecond();
  task.started_at = Time(std::chrono::seconds(BootTimeSeconds())) +
                    std::chrono::duration_cast<Time::duration>(std::chrono::milliseconds(
                        static_cast<int64_t>(id.start_ticks) * 1000 / ticks));
  if (cgroups_) task.cgroup = cgroups_->GroupOf(id.pid).value_or("");
  return task;
}

Result<TaskHandle> ProcessDriver::Recover(const TaskHandle& handle) {
  AtExit run_due([this] { RunDue(); });
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(handle.id);
    if (it != tasks_.end()) {
      RefreshLocked(it->second);
      if (it->second.exited) return NotFound("task " + handle.id + " has exited");
      return handle;
    }
  }
  auto adopted = Adopt(handle);
  if (!adopted) {
    if (adopted.error().code == ErrorCode::kInvalidArgument) {
      return NotFound(adopted.error().message);
    }
    return tl::unexpected(adopted.error());
  }
  std::lock_guard lock(mu_);
  Task& entry = tasks_.emplace(handle.id, std::move(*adopted)).first->second;
  WatchPidLocked(entry);
  return handle;
}

void ProcessDriver::RefreshLocked(Task& task, bool heard) {
  // A task whose pidfd is watched needs no look: the reaper hears its exit.
  if (!heard && !task.exited && task.pidfd >= 0) return;
  if (!task.exited && task.is_child) {
    int status = 0;
    pid_t r = waitpid(task.id.pid, &status, WNOHANG);
    if (r == task.id.pid) {
      task.exited = true;
      task.message = DescribeWaitStatus(status, &task.exit_code);
    } else if (r == 0) {
      return;
    } else {
      // ECHILD: reaped elsewhere (SIGCHLD ignored, say); fall back to /proc.
      task.is_child = false;
    }
  }
  if (!task.exited && !IsAlive(task.id)) {
    task.exited = true;
    task.exit_code = std::nullopt;
    task.message = "exit status unknown: process was not started by this agent";
  }
  if (!task.exited) return;
  if (task.pidfd >= 0) {
    // Found now (a Stop may wait for it on another thread).
    ClosePidfdLocked(task);
    exited_cv_.notify_all();
  }
  for (auto& on_exit : task.on_exit) due_.push_back(std::move(on_exit));
  task.on_exit.clear();
}

Result<TaskStatus> ProcessDriver::Inspect(const TaskHandle& handle) {
  AtExit run_due([this] { RunDue(); });
  std::lock_guard lock(mu_);
  auto it = tasks_.find(handle.id);
  if (it == tasks_.end()) return NotFound("unknown task " + handle.id);
  Task& task = it->second;
  RefreshLocked(task);
  TaskStatus status;
  status.running = !task.exited;
  status.exit_code = task.exit_code;
  status.message = task.exited ? task.message : "running";
  status.started_at = task.started_at;
  return status;
}

Status ProcessDriver::Stop(const TaskHandle& handle, Duration grace) {
  AtExit run_due([this] { RunDue(); });
  Task task;
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(handle.id);
    if (it != tasks_.end()) {
      RefreshLocked(it->second);
      task = it->second;
    }
  }
  if (task.id.pid == 0) {
    auto adopted = Adopt(handle);
    if (!adopted) {
      // Gone already, or a handle that names no process at all: either way
      // there is nothing to stop (Driver::Stop).
      if (adopted.error().code == ErrorCode::kNotFound ||
          adopted.error().code == ErrorCode::kInvalidArgument) {
        return OkStatus();
      }
      return tl::unexpected(adopted.error());
    }
    std::lock_guard lock(mu_);
    Task& entry = tasks_.emplace(handle.id, std::move(*adopted)).first->second;
    WatchPidLocked(entry);
    task = entry;
  }

  // A pgid names our group while its leader is ours or gone: the number is not
  // handed out again while any member of the old group lives, so a live leader
  // with another start time means the group is someone else's now.
  auto group_is_ours = [&] {
    auto leader = ReadProcStat(task.pgid);
    return !leader || leader->start_ticks == task.id.start_ticks;
  };
  auto signal_task = [&](int sig) {
    if (task.pgid > 0) {
      if (group_is_ours()) kill(-task.pgid, sig);
    } else if (IsAlive(task.id)) {
      kill(task.id.pid, sig);
    }
  };
  const Clock* clock = options_.clock;
  // Whether the task exited within `limit` of the clock. With a pidfd the
  // reaper says when; without one, look again at the stop_poll pace.
  auto wait_exit = [&](Duration limit) {
    const MonoTime deadline = clock->MonotonicNow() + limit;
    std::unique_lock lock(mu_);
    auto exited = [&] {
      auto it = tasks_.find(handle.id);
      return it == tasks_.end() || it->second.exited;
    };
    while (true) {
      auto it = tasks_.find(handle.id);
      if (it == tasks_.end()) return true;
      RefreshLocked(it->second);
      if (it->second.exited) return true;
      const MonoTime now = clock->MonotonicNow();
      if (now >= deadline) return false;
      const MonoTime until =
          it->second.pidfd >= 0 ? deadline : std::min(deadline, now + options_.stop_poll);
      clock->WaitUntil(exited_cv_, lock, until, exited);
    }
  };

  if (!task.exited) {
    signal_task(SIGTERM);
    wait_exit(grace);
  }
  // Also after a clean exit of the leader: whatever it left in its group goes.
  // The group id cannot have been reused while any member is alive.
  signal_task(SIGKILL);
  if (!task.cgroup.empty()) {
    int fd = open((task.cgroup + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t ignored = write(fd, "1", 1);
      (void)ignored;
      close(fd);
    }
  }
  if (!wait_exit(options_.kill_wait)) {
    return DeadlineExceeded("pid " + std::to_string(task.id.pid) + " survived SIGKILL");
  }
  // Stragglers die asynchronously after SIGKILL; wait (bounded) until none
  // runs. Nothing announces their end: this looks at the kernel's pace.
  if (task.pgid > 0 && group_is_ours()) {
    const MonoTime deadline = clock->MonotonicNow() + options_.kill_wait;
    while (!ProcessGroupMembers(task.pgid).empty()) {
      if (clock->MonotonicNow() >= deadline) {
        return DeadlineExceeded("processes of group " + std::to_string(task.pgid) +
                                " survived SIGKILL");
      }
      kill(-task.pgid, SIGKILL);
      std::this_thread::sleep_for(options_.stop_poll);
    }
  }
  if (!task.cgroup.empty()) RemoveCgroup(task.cgroup);
  return OkStatus();
}

Result<ResourceSample> ProcessDriver::Sample(const TaskHandle& handle) {
  auto samples = SampleAll({handle});
  auto it = samples.find(handle.id);
  if (it == samples.end()) return NotFound("task " + handle.id + " has exited");
  return it->second;
}

std::map<std::string, ResourceSample> ProcessDriver::SampleAll(
    const std::vector<TaskHandle>& handles) {
  AtExit run_due([this] { RunDue(); });
  std::vector<std::pair<std::string, Task>> tasks;
  {
    std::lock_guard lock(mu_);
    for (const TaskHandle& handle : handles) {
      auto it = tasks_.find(handle.id);
      if (it == tasks_.end()) continue;
      RefreshLocked(it->second);
      if (!it->second.exited) tasks.emplace_back(handle.id, it->second);
    }
  }

  // Measuring happens without the lock: a scan of /proc takes milliseconds.
  std::map<std::string, CgroupUsage> usage;
  // v1 groups looked up now (once per task: a process stays in its groups).
  std::map<std::string, std::optional<CgroupV1Groups>> found_v1;
  bool need_proc = false;
  for (const auto& [id, task] : tasks) {
    if (!task.cgroup.empty()) {
      if (auto read = ReadCgroupUsage(task.cgroup)) {
        usage[id] = *read;
        continue;
      }
    } else if (cgroups_v1_) {
      std::optional<CgroupV1Groups> groups = task.v1_groups;
      if (!task.v1_looked) groups = found_v1[id] = cgroups_v1_->GroupsOf(task.id.pid);
      if (groups) {
        if (auto read = ReadCgroupV1Usage(*groups)) {
          usage[id] = *read;
          continue;
        }
      }
    }
    need_proc = true;
  }
  if (need_proc) {
    // One pass over /proc for every task measured by its process group:
    // cpu time and resident memory (no working set nor limit without a group).
    std::map<pid_t, CgroupUsage> by_group;
    std::map<pid_t, std::pair<uint64_t, CgroupUsage>> by_pid;  // with its start ticks
    const int64_t ticks = ClockTicksPerSecond();
    const int64_t page = PageSizeBytes();
    for (pid_t pid : ListPids()) {
      auto st = ReadProcStat(pid);
      if (!st || st->Finished()) continue;
      const int64_t cpu =
          static_cast<int64_t>(st->utime_ticks + st->stime_ticks) * 1'000'000 / ticks;
      const int64_t memory = st->rss_pages * page;
      CgroupUsage& group = by_group[st->pgrp];
      group.cpu_usec += cpu;
      group.memory_bytes += memory;
      by_pid[pid] = {st->start_ticks, CgroupUsage{.cpu_usec = cpu, .memory_bytes = memory}};
    }
    for (const auto& [id, task] : tasks) {
      if (usage.count(id) > 0) continue;
      if (task.pgid > 0) {
        if (auto it = by_group.find(task.pgid); it != by_group.end()) usage[id] = it->second;
      } else if (auto it = by_pid.find(task.id.pid);
                 it != by_pid.end() && it->second.first == task.id.start_ticks) {
        usage[id] = it->second.second;
      }
    }
  }

  std::map<std::string, ResourceSample> samples;
  for (const auto& [id, task] : tasks) {
    auto it = usage.find(id);
    if (it == usage.end()) continue;  // gone meanwhile
    samples[id] = MakeSample(id, task, it->second);
  }
  if (!found_v1.empty()) {
    std::lock_guard lock(mu_);
    for (auto& [id, groups] : found_v1) {
      if (auto it = tasks_.find(id); it != tasks_.end()) {
        it->second.v1_looked = true;
        it->second.v1_groups = std::move(groups);
      }
    }
  }
  return samples;
}

ResourceSample ProcessDriver::MakeSample(const std::string& handle_id, const Task& task,
                                         const CgroupUsage& usage) {
  const int64_t cpu_usec = usage.cpu_usec;
  const MonoTime now = options_.clock->MonotonicNow();
  double elapsed_usec;
  int64_t used_usec;
  if (task.sampled) {
    elapsed_usec = static_cast<double>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - task.last_sample_at).count());
    // Processes that left the group take their cpu time with them: clamp.
    used_usec = std::max<int64_t>(0, cpu_usec - task.last_cpu_usec);
  } else {
    double age_sec = UptimeSeconds() - static_cast<double>(task.id.start_ticks) /
                                           static_cast<double>(ClockTicksPerSecond());
    elapsed_usec = age_sec * 1e6;
    used_usec = cpu_usec;
  }
  ResourceSample sample;
  sample.at = options_.clock->Now();
  sample.memory_bytes = usage.memory_bytes;
  sample.memory_limit_bytes = usage.memory_limit_bytes;
  sample.cpu_millis =
      elapsed_usec > 0
          ? static_cast<int64_t>(static_cast<double>(used_usec) * 1000.0 / elapsed_usec)
          : 0;

  std::lock_guard lock(mu_);
  auto it = tasks_.find(handle_id);
  if (it != tasks_.end()) {
    it->second.sampled = true;
    it->second.last_sample_at = now;
    it->second.last_cpu_usec = cpu_usec;
  }
  return sample;
}

void ProcessDriver::Release(const TaskHandle& handle) {
  AtExit run_due([this] { RunDue(); });
  std::string cgroup;
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(handle.id);
    if (it == tasks_.end()) return;
    RefreshLocked(it->second);
    ClosePidfdLocked(it->second);
    for (auto& on_exit : it->second.on_exit) due_.push_back(std::move(on_exit));
    cgroup = it->second.cgroup;
    tasks_.erase(it);
  }
  if (!cgroup.empty()) RemoveCgroup(cgroup);
}

void ProcessDriver::WatchExit(const TaskHandle& handle, std::function<void()> on_exit,
                              ExitPoller& poller) {
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(handle.id);
    if (it != tasks_.end()) {
      RefreshLocked(it->second);
      if (!it->second.exited && it->second.pidfd >= 0) {
        it->second.on_exit.push_back(std::move(on_exit));
        return;
      }
      if (!it->second.exited) {
        // No pidfd (an old kernel, past max_pidfds, no reaper): the
        // caller's poller looks for the exit.
        poller.Watch(this, handle, std::move(on_exit));
        return;
      }
    }
  }
  RunDue();
  on_exit();
}

}  // namespace skiff::runtime::process
