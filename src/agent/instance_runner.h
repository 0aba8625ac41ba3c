// InstanceRunner: carries out the decisions of one instance on this node
// (runner_step.h says what they are and why). It is a job of the agent's
// RunnerPool, not a thread: it runs when its target changes, when the
// driver's exit watch says its task ended, or at the time its decisions asked
// for (a probe, a drain deadline), and never on two threads at once, so two
// tasks never run for one instance. An idle instance costs nothing between
// runs: no polling of its task.
//
// Each run: decide, send the reports, carry out the action (a driver call, a
// probe), feed its result back, and again until the decision is to wait.
// Bookkeeping that follows a task is done here: a task that enters the state
// is recorded (local state, port, exit watch); one that leaves it is released.
//
// Thread-safety: SetTarget, Unassign, Snapshot, finished may be called from
// any thread; RunOnce from the pool only.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/local_state.h"
#include "agent/port_allocator.h"
#include "agent/prober.h"
#include "agent/reporter.h"
#include "agent/runner_pool.h"
#include "agent/runner_step.h"
#include "common/clock.h"
#include "model/spec.h"
#include "runtime/driver.h"
#include "runtime/exit_poller.h"

namespace skiff::agent {

// What all runners of one agent share. Everything pointed to outlives them.
struct RunnerContext {
  std::string node_id;
  std::string host;      // node address instances bind
  std::string logs_dir;  // <data>/logs
  std::string apps_dir;  // <data>/apps: an app's default working directory is apps_dir/<app>
  std::map<std::string, runtime::Driver*> drivers;
  Reporter* reporter = nullptr;
  Prober* prober = nullptr;
  PortAllocator* ports = nullptr;
  LocalState* state = nullptr;
  const Clock* clock = nullptr;
  RunnerPool* pool = nullptr;
  // Finds exits for drivers that do not announce them (Driver::WatchExit).
  runtime::ExitPoller* exit_poller = nullptr;
};

class InstanceRunner final : public PoolJob {
 public:
  InstanceRunner(const RunnerContext* context, std::string instance_id);
  ~InstanceRunner() override;  // REQUIRES: removed from the pool (or the pool stopped)
  InstanceRunner(const InstanceRunner&) = delete;
  InstanceRunner& operator=(const InstanceRunner&) = delete;

  // Before the first run: takes over a task an earlier agent left running.
  void Adopt(const LocalInstance& local, runtime::Driver* driver);
  // Before the first run: the task of `generation` ended while no agent
  // watched; it is not started again for that generation.
  void MarkEnded(int64_t generation);

  // The latest wish of the control plane for this instance; the runner runs
  // only when it differs from the last one (resyncs hand it again). False when the
  // runner has already finished (the caller needs a new runner).
  // `secrets` are the values of the secrets `spec` names, given to the task
  // as environment variables (kept in memory only).
  bool SetTarget(const model::Instance& instance, const model::AppSpec& spec,
                 const std::map<std::string, std::string>& secrets = {});
  // The instance is no longer this node's: stop its task, then finish.
  void Unassign();
  // Makes runs return at the next step; the task is left running.
  void Shutdown();

  // True once unassigned and its task is gone: the pool may drop it.
  bool finished() const;

  struct Running {
    runtime::Driver* driver = nullptr;
    runtime::TaskHandle handle;
    std::string log_path;
    // What its spec reserves (zeros while no assignment has named it: a task
    // adopted at start-up).
    model::Resources resources;
  };
  // The task now running, if any (for sampling and log rotation).
  std::optional<Running> Snapshot() const;

  const std::string& id() const { return id_; }

  // PoolJob:
  MonoTime RunOnce() override;

 private:
  // Carries out `action`, feeding its result into state_.
  void Carry(const RunnerAction& action, const RunnerInput& in,
             std::vector<protocol::InstanceReport>* reports);
  // Records a task that entered the state / releases one that left it.
  void Follow(const std::optional<RunnerTask>& before, const RunnerInput& in);
  void Watch();
  void Send(protocol::InstanceReport report);
  runtime::Driver* DriverOf(const std::string& name) const;
  std::string LogPath() const;

  // Where exit callbacks find the runner: they may outlive it.
  struct ExitLink {
    std::mutex mu;
    InstanceRunner* runner = nullptr;  // GUARDED_BY(mu); null once the runner is gone
  };

  const RunnerContext* const context_;
  const std::string id_;
  std::shared_ptr<ExitLink> exit_link_;

  // Touched by runs only (one at a time).
  RunnerState state_;
  std::string watched_;  // the handle whose exit watch is pending

  mutable std::mutex mu_;
  std::optional<RunnerTarget> target_;  // GUARDED_BY(mu_)
  bool unassigned_ = false;             // GUARDED_BY(mu_)
  // Handles whose exit watch fired; only the one watched now counts (a late
  // callback for a released handle must not end the current watch).
  std::vector<std::string> exits_heard_;  // GUARDED_BY(mu_)
  bool shutdown_ = false;                 // GUARDED_BY(mu_)
  bool finished_ = false;                 // GUARDED_BY(mu_)
  std::optional<Running> running_;        // GUARDED_BY(mu_)
};

}  // namespace skiff::agent
