// One thread of the edge (internal to edge_proxy.cc): its event loop, its
// listening socket, its client sessions and its idle upstream connections.
// Everything here runs on the worker's own thread, but Stop().
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <deque>
#include <future>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "edge/edge_proxy.h"
#include "edge/event_loop.h"
#include "edge/proxy_shared.h"

namespace skiff::edge {

class Session;
using SteadyTime = std::chrono::steady_clock::time_point;

// One connection to an instance. Owned by the worker's idle pool while idle,
// by a session while it carries that session's request.
struct Upstream final : EventLoop::Handler {
  static constexpr size_t kBufferBytes = 40 << 10;  // a response head fits

  Upstream(EdgeProxy::Worker* worker, int fd, std::string address);
  ~Upstream() override;
  void OnEvents(uint32_t events) override;

  size_t buffered() const { return end - begin; }
  std::string_view data() const { return {buffer.get() + begin, end - begin}; }
  void Consume(size_t n) {
    begin += n;
    if (begin == end) begin = end = 0;
  }

  EdgeProxy::Worker* const worker;
  const int fd;
  const std::string address;
  Session* owner = nullptr;  // null while idle
  bool connecting = true;    // the connect has not completed yet
  bool reused = false;       // it carried a request before this one
  bool readable = false;     // edge-triggered readiness, as last seen
  bool writable = false;
  bool peer_closed = false;  // the instance's FIN was seen: read to the end
  bool closed = false;       // Discard()ed: the loop closes the socket
  SteadyTime idle_since{};
  std::unique_ptr<char[]> buffer;
  size_t begin = 0;
  size_t end = 0;
};

class EdgeProxy::Worker {
 public:
  // `tls_listen_fd`: the TLS listener's socket, or -1.
  Worker(Shared* shared, int listen_fd, int tls_listen_fd, std::unique_ptr<EventLoop> loop);
  ~Worker();

  // The thread's body: sets its loop up and says so, or why it cannot,
  // through *prepared; then, if `go` comes true, accepts on the listening
  // socket and serves until Stop() and every session is done (else returns).
  void Run(std::promise<Status>* prepared, std::shared_future<bool> go);
  // Begins the graceful stop (any thread).
  void Stop();

  Shared& shared() { return *shared_; }
  EventLoop& loop() { return *loop_; }
  static SteadyTime now() { return std::chrono::steady_clock::now(); }
  // The current routing table, reloaded when the shared one changed.
  const std::shared_ptr<const RoutingTable>& table();

  // An idle connection to `address` (unless `fresh`), or a new one being
  // connected; an error when no socket could be made (the instance counts as
  // unreachable).
  Result<Upstream*> TakeUpstream(const std::string& address, bool fresh = false);
  // Back to the idle pool (it must be clean: a whole response read, nothing
  // buffered), or closed when the pool is full or the worker is stopping.
  void GiveBack(Upstream* upstream);
  // Closed and freed (at the end of the round).
  void Discard(Upstream* upstream);
  // An idle upstream had an event: the instance closed it or sent junk.
  void OnIdleUpstreamEvent(Upstream* upstream, uint32_t events);

  // Buffers an access log line; the buffer goes out when large, at every
  // sweep and at the end, so the log costs no syscall per request.
  void Log(const AccessLogEntry& entry);

  // A session ended: unlink it and free it at the end of the round.
  void SessionEnded(Session* session);

  // `session` holds a request for a sleeping app (it was admitted with
  // Admission::hold) / no longer does.
  void Hold(Session* session);
  void Unhold(Session* session);
  // Lets each held request whose app now has an instance go on, in the
  // order they were held (a new routing table came).
  void ResumeHeld();

 private:
  class Listener;
  void Accept(int fd, const sockaddr_storage& peer, bool tls);
  void Sweep();
  void FinishStop();

  Shared* const shared_;
  const int listen_fd_;
  const int tls_listen_fd_;
  const std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Listener> tls_listener_;
  uint64_t table_version_ = 0;
  std::shared_ptr<const RoutingTable> table_;
  Session* sessions_ = nullptr;  // intrusive list of live sessions
  size_t session_count_ = 0;
  std::deque<Session*> held_;  // in the order their requests were held
  std::unordered_map<std::string, std::vector<Upstream*>> idle_;
  bool stopping_ = false;
  SteadyTime stop_deadline_{};
  std::string log_buffer_;
  void FlushLog();
};

}  // namespace skiff::edge
