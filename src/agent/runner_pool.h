// RunnerPool: runs the agent's instance runners on a few threads instead of a
// thread each. A job (an InstanceRunner) is run when it is woken or when the
// time it asked for comes; one job never runs on two threads at once, and a
// wake during its run runs it again right after. Due jobs run in order of due
// time, and a wake is due now, behind the jobs already due (first in, first
// out), so wakes cannot starve timed jobs.
//
// Jobs that block (a stop in its grace, a probe) hold a thread while they do,
// so what bounds them is not the thread count: whenever jobs are queued and
// no thread is idle (nor starting), the pool starts one more (up to
// max_threads, set far above what blocked jobs need), so some thread always
// waits for the head of the queue and a due job never waits for a busy one. A
// thread beyond min_threads that finds nothing to do for idle_exit ends,
// unless it is the only idle thread while jobs are queued: idle, the pool
// costs about min_threads threads.
//
// Thread-safety: every method may be called from any thread, but Remove not
// from inside the job it removes.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace skiff::agent {

class PoolJob {
 public:
  virtual ~PoolJob() = default;
  // Does what is due now; returns when it wants to run again if not woken
  // (MonoTime::max(): only when woken).
  virtual MonoTime RunOnce() = 0;
};

struct RunnerPoolOptions {
  int min_threads = 2;
  int max_threads = 1024;
  Duration idle_exit = std::chrono::seconds(1);
};

class RunnerPool {
 public:
  // `clock` must outlive the pool.
  RunnerPool(const Clock* clock, RunnerPoolOptions options = {});
  ~RunnerPool();  // Stops.
  RunnerPool(const RunnerPool&) = delete;
  RunnerPool& operator=(const RunnerPool&) = delete;

  // Starts min_threads threads. REQUIRES: not started.
  void Start();
  // Waits for the jobs running now, then ends every thread. Idempotent.
  void Stop();

  // Adds `job` (not owned; it must stay alive until removed or the pool
  // stops) and runs it soon.
  void Add(PoolJob* job);
  // Runs `job` soon (again after its current run if it is running). Ignored
  // for jobs not added.
  void Wake(PoolJob* job);
  // Waits until `job` is not running, then forgets it.
  void Remove(PoolJob* job);

  // Threads alive now (tests, benchmarks).
  int threads() const;
  // Threads started and not yet joined (tests): one that ended is joined
  // soon by another, so its stack is unmapped (a burst of a thousand starts
  // left ~16 KB of resident stack each while no thread was started after).
  size_t unjoined_threads() const;
  // Jobs added and not removed (tests).
  size_t jobs() const;

 private:
  struct Entry {
    MonoTime due = MonoTime::max();
    uint64_t seq = 0;  // ties of due time run in the order scheduled
    bool running = false;
    bool rerun = false;  // woken while running
  };
  void Worker(bool extra);
  void ScheduleLocked(PoolJob* job, Entry& entry, MonoTime due);
  // Starts a thread if jobs are queued and no thread is idle or starting.
  void MaybeSpawnLocked();
  void SpawnLocked(bool extra);
  // Joins the threads that ended on their own. REQUIRES: mu_ held, not
  // called by one of them.
  void JoinEndedLocked();

  const Clock* const clock_;
  const RunnerPoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;         // work may be due, or stopping
  std::condition_variable done_cv_;    // a job finished a run
  std::map<PoolJob*, Entry> entries_;  // GUARDED_BY(mu_)
  // Idle jobs by due time, then the order scheduled; GUARDED_BY(mu_).
  std::set<std::tuple<MonoTime, uint64_t, PoolJob*>> queue_;
  uint64_t next_seq_ = 0;               // GUARDED_BY(mu_)
  uint64_t changes_ = 0;                // GUARDED_BY(mu_)
  bool stopping_ = false;               // GUARDED_BY(mu_)
  int alive_ = 0;                       // GUARDED_BY(mu_)
  int idle_ = 0;                        // GUARDED_BY(mu_)
  int starting_ = 0;                    // spawned, not yet looking at the queue; GUARDED_BY(mu_)
  std::vector<std::thread> threads_;    // GUARDED_BY(mu_)
  std::vector<std::thread::id> ended_;  // GUARDED_BY(mu_): to join
};

}  // namespace skiff::agent
