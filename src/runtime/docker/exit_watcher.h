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
// subscription is replayed. While watches are pending, the containers are
// listed again (and the stream opened again) every relist_interval however
// the stream fares: an exit the stream cannot tell (its event came before the
// watch, a half-open connection that never delivers, a clock skewed against
// the engine's so `since` began too late) is found within that interval.
// While the engine does not answer, or answers but ends the stream at once,
// attempts back off from min_backoff to max_backoff; the backoff starts over
// once a stream stayed up max_backoff or delivered an event. With nothing
// watched and no stream open it makes no call at all.
//
// An event of a watched container calls back all its watches, whenever the
// engine stamped it: Skiff never starts a container again (each Start makes
// a new one), so a container that died stays dead, and the callback only
// means "look" (the engine's clock is not compared with ours). A listing
// calls back the watches made before it began of the containers it does not
// show running (a watch made during the listing is its maker's to look at).
//
// Each callback is called at most once: by whoever takes it out of the table
// (an event, a listing, Take, TakeAll).
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
  // How often the containers are listed again while watches are pending and
  // the stream is up (a listing and a reconnect: cheap).
  Duration relist_interval = std::chrono::seconds(60);
  // Times the backoff and the relisting; must outlive the watcher.
  const Clock* clock = SystemClock::Get();
};

class ExitWatcher {
 public:
  ExitWatcher(DockerEngine engine, ExitWatcherOptions options);
  // Ends the stream, a listing under way, and the threads; callbacks not yet
  // called are dropped.
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  // Calls `on_exit` once the engine says container `id` died or was removed,
  // or a listing begun after now does not show it running. It does not look
  // whether it has exited already: the caller does, after this (so no exit
  // falls between), and then Takes the watch back. Returns the watch's key.
  uint64_t Watch(const std::string& id, std::function<void()> on_exit);
  // Takes watch `key` out: its callback, or an empty function when it was
  // called (or taken) already.
  std::function<void()> Take(uint64_t key);
  // Takes every watch of `id` out (the container was released): their
  // callbacks, for the caller to call.
  std::vector<std::function<void()>> TakeAll(const std::string& id);

  // How many listings succeeded, each before the stream was opened (again):
  // counted before the listing's callbacks are called (tests, and the log).
  int64_t opened() const;
  // Watches pending.
  size_t watching() const;

 private:
  struct Watched {
    std::string id;
    std::function<void()> on_exit;
  };

  void Run(std::stop_token stop);
  // Ends the stream every relist_interval while watches are pending, so Run
  // lists and opens it again.
  void Relist();
  // Lists the containers and calls back the watches (made before the listing
  // began) of those not running. A stop on `stop` ends the listing.
  Status CatchUp(std::stop_token stop);
  void OnEvent(const ContainerEvent& event);
  // Takes the watches of `id` whose key is below `below` out of the table.
  // REQUIRES: mu_ held.
  std::vector<std::function<void()>> TakeLocked(const std::string& id, uint64_t below);

  const DockerEngine engine_;
  const ExitWatcherOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Watched> watched_;              // GUARDED_BY(mu_), by key
  std::multimap<std::string, uint64_t> keys_by_id_;  // GUARDED_BY(mu_)
  uint64_t next_key_ = 1;                            // GUARDED_BY(mu_)
  int64_t opened_ = 0;                               // GUARDED_BY(mu_)
  bool stopping_ = false;                            // GUARDED_BY(mu_)
  // The open stream's own stop (Relist ends it), and when the listing before
  // it began; null while no stream is open.
  std::stop_source* stream_stop_ = nullptr;  // GUARDED_BY(mu_)
  MonoTime listed_at_;                       // GUARDED_BY(mu_)
  uint64_t stream_serial_ = 0;               // GUARDED_BY(mu_): streams opened so far
  bool relisting_ = false;                   // GUARDED_BY(mu_): Relist ended the stream
  std::stop_source stop_;
  std::thread thread_;         // started by the first Watch
  std::thread relist_thread_;  // likewise
};

}  // namespace skiff::runtime::docker
