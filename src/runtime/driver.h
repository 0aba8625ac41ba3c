// runtime::Driver: how an agent runs an instance on its node (a process, a
// container). Drivers are blocking and thread-safe: the agent calls them from
// its worker threads, never from an event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "model/resources.h"
#include "model/spec.h"

namespace skiff::runtime {

struct TaskConfig {
  std::string instance_id;
  std::string app;
  int64_t revision = 0;
  model::RunSpec run;                      // ${VAR} in command/args already substituted
  std::map<std::string, std::string> env;  // complete: PORT, HOST, SKIFF_* and the spec's env
  std::string node_id;                     // the node running it
  std::string host;                        // node address to bind
  int port = 0;                            // allocated port
  int container_port = 0;                  // the spec's port: what an image listens on
  model::Resources resources;              // limits (0 = none)
  std::string log_path;                    // stdout+stderr go here
  std::string work_dir;                    // cwd for a process; empty = the agent's
};

// Opaque, serialisable identity of a running task. For ProcessDriver
// "pid:<pid>:<start-time-ticks>", so a restarted agent never mistakes a recycled
// pid for its task.
struct TaskHandle {
  std::string id;
  friend bool operator==(const TaskHandle&, const TaskHandle&) = default;
};

struct TaskStatus {
  bool running = false;
  std::optional<int> exit_code;  // when exited and known: the code, or 128 + signal
  std::string message;           // "exited with 1", "killed by signal 9", "exit status unknown"
  Time started_at;
};

// What a driver measures of one task (model/resources.h: the node protocol
// carries it too).
using model::ResourceSample;

struct DriverInfo {
  std::string name;              // "process", "docker"
  bool enforces_limits = false;  // whether cpu/memory limits are applied
  std::string notes;  // honest words on what is and is not enforced, or why it is not available
  // Whether it can run tasks now (a Docker engine that does not answer: no).
  // An agent offers only the drivers available, and asks again as it goes.
  bool available = true;
  // Whether WatchExit hears of exits by itself (a pidfd, the engine's event
  // stream) rather than through the caller's ExitPoller: an agent idles at no
  // cost only with drivers that do.
  bool hears_exits = false;
};

class ExitPoller;

class Driver {
 public:
  virtual ~Driver() = default;

  // What the driver offers now. Cheap enough to call on every heartbeat (a
  // driver that must ask an engine caches the answer for a while).
  virtual DriverInfo Info() const = 0;

  // Starts a task. It keeps running if the agent dies. Once Start has
  // succeeded, config.log_path exists (its directories made), even before the
  // task wrote anything, so its log can be read and followed at once.
  // Errors, the same for every driver (the message says why):
  // kInvalidArgument for a config of another driver's kind (an image given to
  // the process driver); kFailedPrecondition for one that can never start as
  // it stands, however often it is tried (a program or image that does not
  // exist or cannot be had, a failed build: the agent then reports that it
  // "cannot start", model/cannot_start.h, and the rollout fails at once);
  // kUnavailable / kInternal for a start that failed but may succeed later
  // (the engine does not answer, fork or a log file failed).
  virtual Result<TaskHandle> Start(const TaskConfig& config) = 0;

  // Re-attaches to a task started by an earlier agent process. kNotFound when it
  // is gone or the handle now names something else (pid reused).
  virtual Result<TaskHandle> Recover(const TaskHandle& handle) = 0;

  // Non-blocking state of the task. kNotFound for an unknown handle.
  virtual Result<TaskStatus> Inspect(const TaskHandle& handle) = 0;

  // Asks the task to stop (SIGTERM), waits up to `grace`, then kills it and
  // everything it started (SIGKILL of the group). Blocks until it is gone.
  // Stopping a task that is already gone succeeds, and so does stopping a
  // handle that names no task (released, unknown, or not even of this
  // driver's form), for which Inspect, Recover and Sample answer kNotFound:
  // a caller stopping what it recorded needs no case for a handle it cannot
  // read.
  virtual Status Stop(const TaskHandle& handle, Duration grace) = 0;

  // Resource use now. kNotFound when the task is gone.
  virtual Result<ResourceSample> Sample(const TaskHandle& handle) = 0;

  // Forgets a stopped task's bookkeeping (after Stop or observed exit): from
  // then on its handle names no task (Inspect, Recover, Sample: kNotFound;
  // RemoveOrphans does not count it), and WatchExit calls back for it.
  virtual void Release(const TaskHandle& handle) = 0;

  // Calls `on_exit` once, soon after the task has exited or its handle has
  // stopped naming a task (released, unknown): at once (on the calling thread)
  // when that is already so, else from a thread of the driver's or of
  // `poller`'s, with no lock of the driver's held. `on_exit` only says "look":
  // the caller then asks Inspect. It must not block.
  // The default has `poller` call Inspect at its pace (exits found by
  // polling); drivers that hear of exits override it and say so
  // (DriverInfo::hears_exits; ProcessDriver: pidfd, DockerDriver: the
  // engine's event stream).
  // REQUIRES: `poller` outlives the watch (it is stopped before the driver).
  virtual void WatchExit(const TaskHandle& handle, std::function<void()> on_exit,
                         ExitPoller& poller);

  // Resource use of many tasks at once: one entry per handle (by handle id)
  // that could be sampled; tasks gone are left out. Drivers that can measure
  // everything in one pass (one scan of /proc) override it; the default calls
  // Sample for each.
  virtual std::map<std::string, ResourceSample> SampleAll(const std::vector<TaskHandle>& handles);

  // Removes (stopping them at once) the tasks this driver left on the machine
  // for node `node_id` whose instance is not in `keep`: leftovers of instances
  // that no longer exist or moved away. Tasks it did not start (other tools',
  // other nodes') are never touched. Returns how many it removed. Drivers that
  // cannot list their tasks (processes) remove nothing.
  // REQUIRES: `keep` holds every instance the agent runs or is starting.
  virtual Result<int> RemoveOrphans(const std::string& node_id, const std::set<std::string>& keep) {
    (void)node_id;
    (void)keep;
    return 0;
  }
};

}  // namespace skiff::runtime
