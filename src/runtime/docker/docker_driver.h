// DockerDriver: runs an instance as a Docker container through the Engine API
// (DockerEngine), never the `docker` CLI.
//
// Every container is created hardened: no-new-privileges, all capabilities
// dropped but run.cap_add, a pids limit, never privileged, no mounts at all
// (so never the engine's socket), memory and cpu limits from the resources,
// run.user, run.read_only. It carries the labels skiff.app, skiff.instance,
// skiff.revision, skiff.node (and skiff.log, where its log goes, and
// skiff.home, which agent's it is), which is how a restarted agent adopts it
// and how orphans are found; containers without them are never touched. Docker's own restart policy
// is off: the agent restarts.
//
// Identity: a TaskHandle is the container's full id. Release removes the
// container; Stop only stops it, so Inspect still tells how it ended.
//
// Exits are heard, not polled: one ExitWatcher per driver follows the
// engine's event stream (die and destroy of containers labelled
// skiff.instance) and calls the WatchExit callbacks; it survives the engine
// going away, restarting or appearing late (exit_watcher.h).
//
// Logs: one thread per task follows the container's stdout and stderr through
// the logs API (demultiplexed) and appends them to the task's log file; it
// reconnects from the last entry seen when the stream stays idle for
// `log_idle`. Release and the orphan sweep end it by removing the container;
// the destructor leaves it to end with its container.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/result.h"
#include "runtime/docker/engine.h"
#include "runtime/docker/exit_watcher.h"
#include "runtime/driver.h"

namespace skiff::runtime::docker {

inline constexpr char kLabelApp[] = "skiff.app";
inline constexpr char kLabelInstance[] = "skiff.instance";
inline constexpr char kLabelRevision[] = "skiff.revision";
inline constexpr char kLabelNode[] = "skiff.node";
inline constexpr char kLabelLog[] = "skiff.log";
inline constexpr char kLabelHome[] = "skiff.home";

struct DockerDriverOptions {
  // The engine's socket (DefaultEngineHost(): DOCKER_HOST or /var/run/docker.sock).
  std::string host = DefaultEngineHost();
  // The most processes (threads included) a container may have.
  int64_t pids_limit = 1024;
  // How long a log stream may stay quiet before it is reopened (each reopening
  // makes the engine scan the container's log file for the last entry seen).
  Duration log_idle = std::chrono::seconds(60);
  // Stamps samples; must outlive the driver.
  const Clock* clock = SystemClock::Get();
  // Where the agent that runs this driver keeps its data (an absolute path):
  // labelled skiff.home on every container, it tells this agent's containers
  // from others' on a shared engine whatever node id they name, so those left
  // under an earlier node id (a wiped data dir, a new --node-id) are found.
  // Empty: none.
  std::string home;
  // How long Info() keeps the engine's last answer to the question whether it
  // is there.
  Duration probe_interval = std::chrono::seconds(5);
  // How soon, then how seldom at most, the exit watcher tries again to reach
  // an engine that does not answer.
  Duration events_min_backoff = std::chrono::milliseconds(100);
  Duration events_max_backoff = std::chrono::seconds(5);
  // How often the exit watcher lists the containers again while it watches
  // any (ExitWatcherOptions::relist_interval).
  Duration events_relist_interval = std::chrono::seconds(60);
};

// The create body for `config` running `image` (pure; tested with tables).
boost::json::object ContainerCreateBody(const TaskConfig& config, const std::string& image,
                                        const DockerDriverOptions& options);

// The image tag a build of `app` at `revision` gets: "skiff/<app>:<revision>".
std::string BuildTag(const std::string& app, int64_t revision);

// The task status of an inspected container ("exited with 1", "killed by
// signal 9", "killed: out of memory").
TaskStatus StatusOf(const ContainerState& state);
// Whether `state` is a SIGKILL exit of under a second ago not (yet) marked as
// an out-of-memory kill: the engine may mark it a moment after the exit, so
// Inspect asks again briefly before reporting it.
bool MayBeUnsettledOom(const ContainerState& state, const Clock* clock);

class DockerDriver final : public Driver {
 public:
  explicit DockerDriver(DockerDriverOptions options = {});
  ~DockerDriver() override;  // leaves containers running: they belong to the node
  DockerDriver(const DockerDriver&) = delete;
  DockerDriver& operator=(const DockerDriver&) = delete;

  // Whether the engine answers ("20.10.24 (API 1.41)"); errors as
  // DockerEngine::Version. The all-in-one server asks this to decide whether
  // to offer the driver.
  Result<std::string> Probe() const;

  DockerEngine& engine() { return engine_; }
  // The watcher of exits (tests: how often its stream was opened).
  const ExitWatcher& exit_watcher() const { return exits_; }

  // Driver:

  // Available while the engine answers (asked at most every probe_interval);
  // otherwise the notes say why not.
  DriverInfo Info() const override;

  // Builds the image first for run.build (BuildImage: tagged BuildTag, once
  // per tag at a time, the output appended to the log as it comes), pulls run.image when
  // missing, creates and starts the container, and starts following its logs.
  // kInvalidArgument for a command (not an image); kFailedPrecondition for an
  // image that is missing and cannot be pulled ("image X not found locally and
  // pull failed: …") or a failed build (the build's error); kUnavailable when
  // the engine does not answer; the engine's error when it refuses to create
  // or start the container (which is then removed).
  Result<TaskHandle> Start(const TaskConfig& config) override;

  // Adopts a container of Skiff's (labelled skiff.instance) by id, running or
  // not (Inspect then tells how it ended); kNotFound when it is gone or not
  // Skiff's.
  // kUnavailable when the engine does not answer (the agent then adopts the
  // task as recorded and inspects it later).
  Result<TaskHandle> Recover(const TaskHandle& handle) override;
  // Also starts following the logs of a running container of Skiff's that has
  // no follower yet (adopted while the engine did not answer).
  Result<TaskStatus> Inspect(const TaskHandle& handle) override;

  // The engine's stop: SIGTERM, SIGKILL after `grace`. A gone container is
  // stopped.
  Status Stop(const TaskHandle& handle, Duration grace) override;

  // From the one-shot stats call: cpu averaged since the previous sample (the
  // first since the container started, at most its online cpus' worth),
  // memory: the working set (usage minus inactive file pages) and the
  // limit (memory_stats.limit; 0 when the container has none).
  // kNotFound when the container is gone or not running.
  Result<ResourceSample> Sample(const TaskHandle& handle) override;

  // Stops following the logs and removes the container; its WatchExit
  // callbacks are called.
  void Release(const TaskHandle& handle) override;

  // Hears of the exit from the engine's event stream; `poller` is not used.
  // Calls back at once unless the engine says the container runs: an inspect
  // that failed (the engine gone, a 500, a timeout) cannot tell whether the
  // exit came before the watch, and the callback only says "look" (the
  // caller's Inspect fails too, and is retried). A watch left pending while
  // the engine goes away is called back by the listing when it answers again.
  void WatchExit(const TaskHandle& handle, std::function<void()> on_exit,
                 ExitPoller& poller) override;

  // Also removes the containers of this driver's home (options.home) that
  // name another node id, unless their instance is kept: what this machine
  // left under an earlier id of its node. Kept ones stay, to be adopted by
  // their handle (Recover takes any container of Skiff's).
  Result<int> RemoveOrphans(const std::string& node_id, const std::set<std::string>& keep) override;

 private:
  // A log follower's thread owns copies of all it uses, so the destructor can
  // detach it while its container runs on (it ends at its next entry).
  struct Follower {
    std::shared_ptr<std::atomic<bool>> stop = std::make_shared<std::atomic<bool>>(false);
    std::thread thread;
  };
  struct CpuMark {
    int64_t usage_ns = 0;
    Time at;
    bool memory_limited = false;  // HostConfig.Memory > 0 (learnt at the first sample)
  };

  // The image to run: run.image (pulled when missing) or the built one.
  Result<std::string> EnsureImage(const TaskConfig& config);
  Status Build(const TaskConfig& config, const std::string& tag);
  // Starts following `id`'s logs into `log_path` from `since_unix_nanos`.
  void Follow(const std::string& id, const std::string& log_path, int64_t since_unix_nanos);
  // Takes `id`'s follower out (nullptr when none) and tells it to stop; the
  // caller joins it once the log stream has ended (the container gone).
  std::unique_ptr<Follower> Unfollow(const std::string& id);

  const DockerDriverOptions options_;
  DockerEngine engine_;
  ExitWatcher exits_;

  // Info's cached answer of the engine.
  mutable std::mutex probe_mu_;
  mutable std::optional<std::chrono::steady_clock::time_point> probed_at_;  // GUARDED_BY(probe_mu_)
  mutable std::string probe_error_;  // GUARDED_BY(probe_mu_); empty: it answered

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Follower>> followers_;      // GUARDED_BY(mu_), by id
  std::map<std::string, CpuMark> cpu_marks_;                        // GUARDED_BY(mu_), by id
  std::map<std::string, std::shared_ptr<std::mutex>> build_locks_;  // GUARDED_BY(mu_), by tag
};

}  // namespace skiff::runtime::docker
