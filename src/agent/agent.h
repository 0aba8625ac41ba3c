// Agent: runs a node's instances. It hears what to run only through
// ControlPlane and touches the machine only through runtime::Driver, so the
// same code is the all-in-one server's local agent and a remote `skiff agent`.
//
// Threading: a fixed handful of threads, whatever the number of instances.
// Instance runners (InstanceRunner: every operation on one instance is
// serialised on it) are jobs of a small RunnerPool, run when their target
// changes, when their task's exit is heard (Driver::WatchExit: a pidfd for
// processes, the engine's event stream for containers; polled Inspect, on one
// ExitPoller thread, for drivers that cannot tell) or when a probe or a drain
// deadline falls due; the pool grows a
// thread while stops in their grace hold the others. One watch thread
// (WaitForChange + ListAssignments, with a periodic resync) hands targets to
// the runners; one heartbeat thread (also re-registers the node after an
// outage, or re-joins it when its credential is refused); one sampler thread
// (one batched Driver::SampleAll per driver per interval, and log rotation);
// one reporter thread delivering instance reports in order and retrying them
// while the control plane is unavailable. Instances keep running through any
// control-plane outage; each loop logs an outage once. All waits are on the
// Clock, so tests drive them with a ManualClock.
//
// Local state (<data>/agent-state.json) maps instance -> {driver, handle,
// generation, port}; a restarted agent adopts running tasks (Driver::Recover)
// and reports dead ones failed, never starting an instance twice (a task its
// driver cannot check now, kUnavailable, is adopted as recorded). After the
// first listing of its assignments, and then at the resync pace, it has the
// drivers remove their leftover tasks of instances it does not run (orphans),
// and their logs. The drivers keep the logs bounded (runtime/log_keeper.h).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/instance_runner.h"
#include "agent/local_state.h"
#include "agent/port_allocator.h"
#include "agent/prober.h"
#include "agent/reporter.h"
#include "agent/runner_pool.h"
#include "common/clock.h"
#include "common/result.h"
#include "model/resources.h"
#include "protocol/control_plane.h"
#include "runtime/driver.h"
#include "runtime/exit_poller.h"
#include "runtime/offer.h"

namespace skiff::agent {

// The shortest sample interval the flags accept: below a second the cost of
// sampling grows and cpu averages get noisy (docs/metrics.md).
inline constexpr Duration kMinSampleInterval = std::chrono::seconds(1);

struct AgentOptions {
  // Empty: the id kept in the data dir, or a new one saved there.
  std::string node_id;
  std::string node_name;              // empty: the node id
  std::string address = "127.0.0.1";  // HOST for instances; what they bind
  std::string region;
  int port_first = 20000;  // instance ports are allocated from [port_first, port_last]
  int port_last = 29999;
  // Holds agent-state.json and logs/<instance>.log. Required; created if missing.
  std::string data_dir;
  std::map<std::string, std::string> labels;
  model::Resources capacity;
  Duration heartbeat_interval = std::chrono::seconds(1);
  // How often instances are sampled (one Driver::SampleAll per driver).
  // Flags keep it at or above kMinSampleInterval.
  Duration sample_interval = std::chrono::seconds(5);
  // A full ListAssignments at least this often, whatever the watch says.
  Duration resync_interval = std::chrono::seconds(5);
  // The longest single WaitForChange: it bounds how long Stop waits for the watch.
  Duration watch_timeout = std::chrono::seconds(1);
  // How often the tasks of drivers that do not announce exits (Docker) are
  // inspected for one; process exits are heard at once.
  Duration inspect_interval = std::chrono::milliseconds(500);
  // Not owned; must outlive the agent. nullptr: the built-in socket prober.
  Prober* prober = nullptr;
};

class Agent {
 public:
  // `control_plane`, the drivers (keyed "process", "docker"; absent ones are
  // not offered) and `clock` are not owned and must outlive the agent.
  Agent(AgentOptions options, protocol::ControlPlane* control_plane,
        std::map<std::string, runtime::Driver*> drivers, const Clock* clock);
  ~Agent();  // Stops.
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Loads local state, registers the node, adopts (or reports failed) the
  // instances an earlier agent left, then starts the loops. An unavailable
  // control plane is not an error (registration is retried); any other
  // registration error is returned as is (kUnauthenticated, ...), as are
  // kInvalidArgument for an empty data_dir and kInternal for an unreadable
  // one. REQUIRES: not started; port_first..port_last a valid range.
  Status Start();

  // Stops every loop and joins every thread. Instances keep running. Waits for
  // a driver call in progress (a stop may take up to its grace). Idempotent.
  void Stop();

  // The node id (valid after Start).
  std::string node_id() const;
  // Instance runners alive now (tests use it to wait for convergence).
  size_t runner_count() const;
  // Threads of the runner pool now (benchmarks, tests).
  int runner_threads() const { return pool_.threads(); }
  // Runners in the runner pool now: runner_count() once finished runners are
  // reaped (tests).
  size_t pool_jobs() const { return pool_.jobs(); }
  // Reports not yet delivered.
  size_t pending_reports() const { return reporter_.pending(); }

 private:
  Status Register();
  void Recover();
  void WatchLoop();
  std::string AssignmentsPath() const;
  void SaveAssignments(const protocol::Assignments& assignments);
  bool ApplySavedAssignments();
  void HeartbeatLoop();
  // The control plane refused the node's credential (a report said so): the
  // heartbeat loop registers the node again (RemoteControlPlane joins again
  // with its join token). Any thread.
  void CredentialRefused();
  void SampleLoop();
  void Apply(const protocol::Assignments& assignments);
  // Asks every driver to remove its tasks of this node that belong to no
  // instance the agent runs (Driver::RemoveOrphans). Called on the watch thread.
  void RemoveOrphans();
  void ReapFinishedLocked();
  // Waits up to `d` or until Stop; false when stopping.
  bool Sleep(Duration d);

  const AgentOptions options_;
  protocol::ControlPlane* const control_plane_;
  const std::map<std::string, runtime::Driver*> drivers_;
  const Clock* const clock_;
  std::unique_ptr<Prober> own_prober_;
  LocalState state_;
  std::string saved_key_;  // what the assignments kept on disk say (WatchLoop only)
  PortAllocator ports_;
  Reporter reporter_;
  RunnerPool pool_;
  runtime::ExitPoller exit_poller_;
  RunnerContext context_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;          // GUARDED_BY(mu_)
  bool stopping_ = false;         // GUARDED_BY(mu_)
  bool registered_ = false;       // GUARDED_BY(mu_)
  runtime::DriverOffer offered_;  // GUARDED_BY(mu_): what the last registration offered
  std::map<std::string, std::unique_ptr<InstanceRunner>> runners_;  // GUARDED_BY(mu_)

  std::thread watch_thread_;
  std::thread heartbeat_thread_;
  std::thread sample_thread_;
};

}  // namespace skiff::agent
