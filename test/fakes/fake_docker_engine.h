// FakeDockerEngine: the few calls of the Docker Engine API that the exit
// watcher and the driver's WatchExit make, answered from a script on a unix
// socket, for unit tests that need to hold, fail or split what a real engine
// never would on cue. Each request is read whole (a request line and headers,
// no body) and answered on its own connection, as DockerEngine asks:
//   GET /v1.41/containers/json?...      the containers set (SetContainer), or
//                                       SetListStatus's error; held while
//                                       HoldListings(true)
//   GET /v1.41/containers/ID/json       one of them (404 when unknown), or
//                                       SetInspectStatus's error
//   GET /v1.41/events?...               200, chunked, kept open: Send writes
//                                       to it, EndStreams ends it
// Anything else is a 404.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace skiff::testing {

class FakeDockerEngine {
 public:
  // Listens at `socket_path` at once (which must not exist).
  explicit FakeDockerEngine(std::string socket_path);
  // Ends every stream and held call, and waits for their threads.
  ~FakeDockerEngine();
  FakeDockerEngine(const FakeDockerEngine&) = delete;
  FakeDockerEngine& operator=(const FakeDockerEngine&) = delete;

  // "unix://<socket_path>": DockerEngine's host.
  std::string host() const { return "unix://" + path_; }

  // Container `id` is listed and inspected in `state` ("running", "exited").
  void SetContainer(const std::string& id, const std::string& state);
  // Listings answer `status` (200: the containers) with an error body.
  void SetListStatus(int status);
  // Inspections answer `status` (0: from the containers) with an error body.
  void SetInspectStatus(int status);
  // While true, listings wait (unanswered) until it is false again or the
  // engine goes.
  void HoldListings(bool hold);
  // Every events stream opened from now on ends as soon as it began (an
  // engine that drops the subscription at once).
  void EndStreamsAtOnce(bool at_once);

  // Writes `data` (event lines, or any piece of them) as one chunk to every
  // open events stream.
  void Send(std::string_view data);
  // Ends every open events stream (its last chunk; then the engine closes).
  void EndStreams();

  // Requests received so far: listings, inspections, events streams.
  int listings() const;
  int inspections() const;
  int streams_opened() const;
  // Events streams open now (a client that went away closed its own).
  int streams_open() const;
  // Connections open now, of any call.
  int connections() const;
  // The request target of the last events stream ("/v1.41/events?...").
  std::string last_events_target() const;

 private:
  void Accept();
  void Serve(int fd);
  // Answers `fd` with `status` and `body`, then closes it.
  static void Reply(int fd, int status, const std::string& body);

  const std::string path_;
  int listen_fd_ = -1;
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                          // GUARDED_BY(mu_)
  std::map<std::string, std::string> containers_;  // GUARDED_BY(mu_), id -> state
  int list_status_ = 200;                          // GUARDED_BY(mu_)
  int inspect_status_ = 0;                         // GUARDED_BY(mu_)
  bool hold_listings_ = false;                     // GUARDED_BY(mu_)
  bool end_at_once_ = false;                       // GUARDED_BY(mu_)
  int listings_ = 0;                               // GUARDED_BY(mu_)
  int inspections_ = 0;                            // GUARDED_BY(mu_)
  int streams_opened_ = 0;                         // GUARDED_BY(mu_)
  std::string last_events_target_;                 // GUARDED_BY(mu_)
  std::set<int> streams_;                          // GUARDED_BY(mu_), open events streams
  std::set<int> connections_;                      // GUARDED_BY(mu_), every open connection
  std::vector<std::thread> servers_;               // GUARDED_BY(mu_)
};

}  // namespace skiff::testing
