// ExitWatcher: hears of container exits from the Docker engine's event stream
// (GET /events: "die" and "destroy" of Skiff's containers), for
// DockerDriver::WatchExit. One stream and one thread per driver, however many
// containers it watches, instead of inspecting each container in turn.
//
// The stream is opened at the first watch and kept open while the engine
// answers. Each time it is opened (the first time, and after the engine went
// away, restarted or appeared late) the containers are listed once, in one
// call, so exits missed meanwhile are found, and the stream begins a little
// before that listing (`since`), so an exit between the listing and the
// subscription is replayed. While the engine does not answer, attempts back
// off from min_backoff to max_backoff. With nothing watched and no stream
// open it makes no call at all.
//
// Each callback is called at most once: by whoever takes it out of the table
// (an event, the listing, Take, TakeAll).
//
// Thread-safety: every method may be called from any thread. Callbacks run on
// the watcher's thread with no lock held, or are handed to the caller.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "runtime/docker/engine.h"

namespace skiff::runtime::docker {

struct ExitWatcherOptions {
  // Containers watched carry every one of these labels ("key" or "key=value");
  // the engine sends events of those only.
  std::vector<std::string> labels;
  Duration min_backoff = std::chrono::milliseconds(100);
  Duration max_backoff = std::chrono::seconds(5);
  // Stamps watches (events older than a watch are not its exit) and measures
  // the backoff; must outlive the watcher.
  const Clock* clock = SystemClock::Get();
};

class ExitWatcher {
 public:
  ExitWatcher(DockerEngine engine, ExitWatcherOptions options);
  // Ends the stream and the thread; callbacks not yet called are dropped.
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  // Calls `on_exit` once the engine says container `id` died or was removed
  // after now. It does not look whether it has exited already: the caller
  // does, after this (so no exit falls between), and then Takes the watch
  // back. Returns the watch's key.
  uint64_t Watch(const std::string& id, std::function<void()> on_exit);
  // Takes watch `key` out: its callback, or an empty function when it was
  // called (or taken) already.
  std::function<void()> Take(uint64_t key);
  // Takes every watch of `id` out (the container was released): their
  // callbacks, for the caller to call.
  std::vector<std::function<void()>> TakeAll(const std::string& id);

  // How many times the stream was opened (tests, and the log).
  int64_t opened() const;
  // Watches pending.
  size_t watching() const;

 private:
  struct Watched {
    std::string id;
    int64_t since_unix_nanos = 0;  // events before the watch are not its exit
    std::function<void()> on_exit;
  };

  void Run(std::stop_token stop);
  // Lists the containers and calls back the watches of those not running.
  Status CatchUp();
  void OnEvent(const ContainerEvent& event);
  // Takes the watches of `id` out of the table: those made up to
  // `at_unix_nanos` (when an exit was stamped, or the listing began), or all
  // when it is 0. REQUIRES: mu_ held.
  std::vector<std::function<void()>> TakeLocked(const std::string& id, int64_t at_unix_nanos);
  int64_t NowUnixNanos() const;

  const DockerEngine engine_;
  const ExitWatcherOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Watched> watched_;              // GUARDED_BY(mu_), by key
  std::multimap<std::string, uint64_t> keys_by_id_;  // GUARDED_BY(mu_)
  uint64_t next_key_ = 1;                            // GUARDED_BY(mu_)
  int64_t opened_ = 0;                               // GUARDED_BY(mu_)
  bool stopping_ = false;                            // GUARDED_BY(mu_)
  std::stop_source stop_;
  std::thread thread_;  // started by the first Watch
};

}  // namespace skiff::runtime::docker
