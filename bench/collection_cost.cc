// Benchmark: what sampling instances costs an agent (issue "Apps that follow
// their traffic", section 5, collection cost).
//
// Starts --tasks real tasks (`sleep`) through ProcessDriver (each in a cgroup
// v2 group of its own when the machine allows, else measured from /proc, or
// from cgroup v1 groups of their own), then samples all of them every
// --interval through Driver::SampleAll, as the agent's sampler does, for
// --seconds. Prints the cpu time the sampling thread used (getrusage
// RUSAGE_THREAD around the calls) as percent of one core, and the time of one
// pass. Target: <= 3 % of one core for 500 instances every second.
//
// Peers measured in the same run, on the same tasks:
//   - `ps -e -o pid,pgid,rss,time` once a second: the simple way of reading
//     the same figures (a full /proc scan, plus a process and its output);
//     its cpu is the children's (RUSAGE_CHILDREN);
//   - Driver::Sample one task at a time (what the default SampleAll does):
//     a few calls timed, extrapolated to every task each interval.
// Anchors, not measured here: cAdvisor uses about 7 % of two cores for 29
// containers; `docker stats` takes 1-2 s a call.
//
// Prints figures; never fails on time (exit 1 only when tasks cannot start).
//
//   bench_collection_cost [--tasks 500] [--seconds 30] [--interval-ms 1000]
//                         [--cgroup-parent /sys/fs/cgroup/skiff-bench | ""]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "runtime/process/process_driver.h"

namespace {

using Clock = std::chrono::steady_clock;
using skiff::runtime::TaskConfig;
using skiff::runtime::TaskHandle;
using skiff::runtime::process::ProcessDriver;
using skiff::runtime::process::ProcessDriverOptions;

double CpuSeconds(int who) {
  rusage usage{};
  getrusage(who, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Runs `ps -e -o pid,pgid,rss,time` with its output thrown away; false when it failed.
bool RunPs() {
  std::fflush(stdout);  // else the child's freopen writes our buffered lines again
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    FILE* null = std::freopen("/dev/null", "w", stdout);
    (void)null;
    execlp("ps", "ps", "-e", "-o", "pid,pgid,rss,time", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  int tasks = 500;
  int seconds = 30;
  int interval_ms = 1000;
  std::string cgroup_parent = "/sys/fs/cgroup/skiff-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--tasks") {
      tasks = std::atoi(argv[i + 1]);
    } else if (flag == "--seconds") {
      seconds = std::atoi(argv[i + 1]);
    } else if (flag == "--interval-ms") {
      interval_ms = std::atoi(argv[i + 1]);
    } else if (flag == "--cgroup-parent") {
      cgroup_parent = argv[i + 1];
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  const auto interval = std::chrono::milliseconds(interval_ms);

  ProcessDriverOptions options;
  options.cgroup_parent = cgroup_parent;
  ProcessDriver driver(options);
  std::printf("collection cost: %d tasks (sleep), sampled every %d ms for %d s\n", tasks,
              interval_ms, seconds);
  std::printf("  driver: %s\n", driver.Info().notes.c_str());

  std::vector<TaskHandle> handles;
  const Clock::time_point start_begin = Clock::now();
  for (int i = 0; i < tasks; ++i) {
    TaskConfig config;
    config.instance_id = "bench-" + std::to_string(i);
    config.app = "bench";
    config.run.command = {"sleep", "3600"};
    auto handle = driver.Start(config);
    if (!handle) {
      std::fprintf(stderr, "task %d did not start: %s\n", i, handle.error().ToString().c_str());
      for (const TaskHandle& h : handles) (void)driver.Stop(h, std::chrono::milliseconds(0));
      return 1;
    }
    handles.push_back(*handle);
  }
  std::printf("  started %d tasks in %.2f s\n", tasks, Seconds(Clock::now() - start_begin));

  // Skiff: one SampleAll per interval.
  double sampling_cpu = 0;
  double pass_max = 0;
  double pass_sum = 0;
  size_t sampled_min = handles.size();
  int64_t working_set_sum = 0;
  int passes = 0;
  const Clock::time_point begin = Clock::now();
  Clock::time_point next = begin;
  while (Clock::now() - begin < std::chrono::seconds(seconds)) {
    const double cpu_before = CpuSeconds(RUSAGE_THREAD);
    const Clock::time_point t0 = Clock::now();
    auto samples = driver.SampleAll(handles);
    const double pass = Seconds(Clock::now() - t0);
    sampling_cpu += CpuSeconds(RUSAGE_THREAD) - cpu_before;
    pass_sum += pass;
    pass_max = std::max(pass_max, pass);
    sampled_min = std::min(sampled_min, samples.size());
    if (passes == 0) {
      for (const auto& [id, s] : samples) working_set_sum += s.memory_bytes;
    }
    ++passes;
    next += interval;
    std::this_thread::sleep_until(next);
  }
  const double elapsed = Seconds(Clock::now() - begin);
  const double skiff_percent = sampling_cpu / elapsed * 100;
  std::printf("\n  skiff SampleAll: %d passes, every task sampled in each: %s\n", passes,
              sampled_min == handles.size() ? "yes" : "NO");
  std::printf("    cpu %.3f s over %.1f s = %.2f %% of one core (target <= 3 %%)\n", sampling_cpu,
              elapsed, skiff_percent);
  std::printf("    one pass: mean %.2f ms, max %.2f ms; mean working set %.0f KiB a task\n",
              pass_sum / passes * 1e3, pass_max * 1e3,
              static_cast<double>(working_set_sum) / static_cast<double>(handles.size()) / 1024);

  // Peer: `ps` once an interval, for as long.
  const int ps_runs = std::max(1, seconds / 3);
  const double children_before = CpuSeconds(RUSAGE_CHILDREN);
  const double self_before = CpuSeconds(RUSAGE_THREAD);
  double ps_wall = 0;
  bool ps_ok = true;
  for (int i = 0; i < ps_runs; ++i) {
    const Clock::time_point t0 = Clock::now();
    ps_ok = RunPs() && ps_ok;
    ps_wall += Seconds(Clock::now() - t0);
  }
  const double ps_cpu =
      (CpuSeconds(RUSAGE_CHILDREN) - children_before) + (CpuSeconds(RUSAGE_THREAD) - self_before);
  const double ps_percent = ps_cpu / ps_runs / Seconds(interval) * 100;
  std::printf(
      "\n  peer `ps -e -o pid,pgid,rss,time` once an interval%s: %.2f ms a call, "
      "%.2f %% of one core (%.1fx skiff)\n",
      ps_ok ? "" : " (FAILED)", ps_wall / ps_runs * 1e3, ps_percent,
      skiff_percent > 0 ? ps_percent / skiff_percent : 0.0);

  // Peer: one Sample per task (the default SampleAll), extrapolated.
  const int singles = std::min<int>(20, static_cast<int>(handles.size()));
  const double single_before = CpuSeconds(RUSAGE_THREAD);
  for (int i = 0; i < singles; ++i) (void)driver.Sample(handles[static_cast<size_t>(i)]);
  const double single_cpu = (CpuSeconds(RUSAGE_THREAD) - single_before) / singles;
  const double single_percent =
      single_cpu * static_cast<double>(handles.size()) / Seconds(interval) * 100;
  std::printf(
      "  peer Driver::Sample per task: %.2f ms cpu a call, %.0f %% of one core for all "
      "(%.0fx skiff)\n",
      single_cpu * 1e3, single_percent, skiff_percent > 0 ? single_percent / skiff_percent : 0.0);
  std::printf(
      "\n  anchors (not measured): cAdvisor ~7 %% of two cores for 29 containers; "
      "`docker stats` 1-2 s a call\n");

  const Clock::time_point stop_begin = Clock::now();
  for (const TaskHandle& h : handles) {
    (void)driver.Stop(h, std::chrono::milliseconds(0));
    driver.Release(h);
  }
  std::printf("  stopped in %.2f s\n", Seconds(Clock::now() - stop_begin));
  return 0;
}
