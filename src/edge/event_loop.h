// EventLoop: one thread's I/O engine for the edge, the one seam between the
// edge's sessions and the kernel. The edge's data path does not go through
// Asio: a proxied request must cost no more than its four transfers (a read
// and a write on each side) and nothing per request beyond them.
//
// Two engines implement it (IoEngine):
//   epoll     (epoll_loop.cc) descriptors registered once, edge-triggered, for
//             both directions; Recv and Send are recv(2) and sendmsg(2) at once.
//             Four syscalls a request plus a share of epoll_wait.
//   io_uring  (uring_loop.cc) a multishot recv per socket into a provided
//             buffer ring (one-shot recvs of a buffer each while its
//             handler falls behind),
//             sends as SQEs from buffers the engine owns until their
//             completion, multishot accept, one io_uring_submit_and_wait a
//             round: the syscalls per request fall with the batch size.
// Both look the same to a handler: readiness events with epoll's bits
// (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP), reported at least once
// per edge (a handler tracks readiness itself and treats a short Recv as
// "drained"), and Recv/Send that behave as recv(2)/sendmsg(2) on a
// non-blocking socket (-1 with errno EAGAIN when nothing can be done now).
// With io_uring, "sent" means the engine took the bytes (bounded per socket;
// past the bound Send says EAGAIN and EPOLLOUT follows when there is room),
// and Close lets what was taken go out before the socket closes.
//
// Timeouts are coarse: every kSweepInterval the loop calls the sweep hook,
// which checks its connections' deadlines (no timer is armed or cancelled per
// request).
//
// Thread-safety: Post() and Stop() may be called from any thread; everything
// else only from the loop's own thread: the one that runs Run(), before or
// during it. (io_uring's ring takes submissions from one thread, the first
// that adds a socket or runs the loop; another one is a checked failure.)
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace skiff::edge {

enum class IoEngine {
  kAuto,  // io_uring where the kernel allows it, else epoll
  kEpoll,
  kUring,
};

// "auto", "epoll", "io_uring".
std::string_view IoEngineName(IoEngine engine);
// The inverse of IoEngineName ("uring" too); kInvalidArgument otherwise.
Result<IoEngine> ParseIoEngine(std::string_view name);

class EventLoop {
 public:
  // What a registered socket's owner implements.
  class Handler {
   public:
    virtual ~Handler() = default;
    // The socket's readiness since the last call, as epoll's mask (EPOLLIN,
    // EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP), at least once per edge and
    // at most once a round. Called on the loop's thread; it may Recv, Send,
    // Close or Remove this socket or others, Add new ones and Defer; it must
    // not delete a Handler the loop may still call this round (Defer that).
    virtual void OnEvents(uint32_t events) = 0;
  };
  // What a listening socket's owner implements: `fd` is a new connection,
  // non-blocking and close-on-exec, now the acceptor's.
  class Acceptor {
   public:
    virtual ~Acceptor() = default;
    virtual void OnAccept(int fd, const sockaddr_storage& peer) = 0;
  };

  static constexpr std::chrono::milliseconds kSweepInterval{250};

  // A loop with `engine`; kAuto takes io_uring when UringAvailable(), else
  // epoll. kUring where it is not available: kUnavailable (with the kernel's
  // reason). (EdgeProxy::Listen falls back to epoll for every thread when
  // io_uring fails after the probe passed.)
  static Result<std::unique_ptr<EventLoop>> Create(IoEngine engine);
  // Whether an io_uring engine can be set up here: kUnavailable when the
  // build has no liburing, the kernel has no io_uring or refuses it
  // (kernel.io_uring_disabled, seccomp), or is older than the engine needs
  // (multishot recv: Linux 6.0). Thread-safe; probes once.
  static Status UringAvailable();

  virtual ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // kEpoll or kUring: the engine this loop is.
  virtual IoEngine engine() const = 0;

  // Sets the engine up on the calling thread, which becomes the loop's own
  // (io_uring: the ring's single issuer); Add* would do it on first use.
  // kUnavailable when the kernel refuses (a limit or memory ran out since
  // the probe). For starting several loops all or none.
  virtual Status Prepare() { return OkStatus(); }

  // Watches the connected socket `fd` (non-blocking) for input, output and
  // peer hang-up until Remove or Close. kUnavailable when the kernel refuses.
  virtual Status Add(int fd, Handler* handler) = 0;
  // The same for a socket whose non-blocking connect(2) is in progress:
  // EPOLLOUT when it is connected, EPOLLERR | EPOLLHUP when it failed
  // (SO_ERROR says why).
  virtual Status AddConnecting(int fd, Handler* handler) = 0;
  // Accepts on a listening socket; when several loops accept on the same
  // socket, a new connection goes to only one of them.
  virtual Status AddListener(int fd, Acceptor* acceptor) = 0;
  // Stops accepting on `fd` (the caller still owns it).
  virtual void RemoveListener(int fd, Acceptor* acceptor) = 0;
  // Stops watching `fd`; the caller still owns it. The handler gets no event
  // after this, not even one already pending in this round. With io_uring
  // what the engine received and Recv did not give is dropped, and a receive
  // still in the kernel may take bytes until its cancel lands: the caller
  // must not count on reading the socket itself afterwards (the edge only
  // closes its sockets). REQUIRES: `fd` is watched, with `handler`.
  virtual void Remove(int fd, Handler* handler) = 0;
  // Stops watching `fd` and closes it (with io_uring, once the bytes Send took
  // are out, or have failed). The handler gets no event after this.
  virtual void Close(int fd, Handler* handler) = 0;
  // Stops watching `fd` and closes it at once: what Send took and the peer
  // did not is dropped, and the peer gets a reset (SO_LINGER 0), not an end
  // that would pass a cut answer off as a whole one. For a peer given up on (a
  // write timeout, the end of a stop's grace). The handler gets no event after
  // this.
  virtual void Abort(int fd, Handler* handler) = 0;

  // As recv(2) on a watched socket: >0 bytes, 0 at the peer's end, -1 with
  // errno (EAGAIN: nothing now, an event follows when there is).
  virtual ssize_t Recv(int fd, char* buffer, size_t size) = 0;
  // As sendmsg(2) with MSG_NOSIGNAL on a watched socket: the bytes taken
  // (maybe fewer than offered), or -1 with errno (EAGAIN: none now, EPOLLOUT
  // follows when there is room).
  virtual ssize_t Send(int fd, const iovec* iov, int count) = 0;
  // shutdown(SHUT_WR) after the bytes already taken.
  virtual void ShutdownWrite(int fd) = 0;
  // Bytes the engine received on watched sockets and Recv has not given yet,
  // over all of them (epoll stages none; io_uring's bound a socket is
  // kStageCap in uring_loop.cc). For tests. Loop thread only.
  virtual size_t staged_bytes() const { return 0; }
  // Rounds run so far (each waits for events or for the next sweep): an idle
  // loop runs about one a sweep interval. For tests. Loop thread only.
  uint64_t rounds() const { return rounds_; }

  // Runs `task` on the loop's thread soon. Thread-safe.
  void Post(std::function<void()> task);

  // Runs `task` at the end of the current round of events (or of the next, when
  // called outside one): for freeing what an event handler still stands on.
  // Loop thread only.
  void Defer(std::function<void()> task) { deferred_.push_back(std::move(task)); }

  // `sweep` is called on the loop's thread about every kSweepInterval, between
  // rounds of events (for deadlines); it may do what a handler may. Before
  // Run() only.
  void SetSweep(std::function<void()> sweep) { sweep_ = std::move(sweep); }

  // Runs until Stop(). REQUIRES: called once, from the thread that made the
  // other calls (see above).
  virtual void Run() = 0;
  // Makes Run() return after the current round. With io_uring, which holds a
  // closed socket until its last bytes are out, Run() first lets them go out,
  // until `drain_until` at the latest; then it closes what is left with a
  // reset (see Abort). epoll holds none and returns at once. Thread-safe.
  void Stop(std::chrono::steady_clock::time_point drain_until);
  // Stop(now + kStopDrain).
  void Stop() { Stop(std::chrono::steady_clock::now() + kStopDrain); }
  static constexpr std::chrono::seconds kStopDrain{2};
  // With io_uring, which holds a closed socket's last bytes until they are
  // out: how long they may go without progress before the engine gives up on
  // them (a peer that stopped reading; one that reads slowly gets them however
  // long they take). (epoll holds none.) Before Run() only.
  void SetCloseGrace(std::chrono::steady_clock::duration grace) { close_grace_ = grace; }
  // Counts in *gauge the sockets Close()d that the engine still holds open
  // (io_uring, until their last bytes are out; epoll holds none), so that
  // they count against a cap on connections. Before Run() only; *gauge
  // outlives the loop and may be shared by several loops.
  void SetClosingGauge(std::atomic<size_t>* gauge) { closing_gauge_ = gauge; }

 protected:
  EventLoop();
  // Takes the wake-ups of Post() and Stop() off the wake descriptor and runs
  // the posted tasks.
  void RunPosted();
  void RunDeferred();
  bool stopping() const { return stop_.load(std::memory_order_acquire); }
  std::chrono::steady_clock::duration close_grace() const { return close_grace_; }
  // The Stop()'s drain deadline. REQUIRES: stopping().
  std::chrono::steady_clock::time_point drain_until() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(drain_until_.load(std::memory_order_relaxed)));
  }
  // Adds `delta` to the closing gauge, if any.
  void CountClosing(int delta) {
    if (closing_gauge_ != nullptr) closing_gauge_->fetch_add(static_cast<size_t>(delta));
  }
  // Makes close(fd) reset the connection (SO_LINGER 0) rather than end it
  // after the bytes the kernel still holds.
  static void ResetOnClose(int fd);
  // Calls the sweep hook when its time has come; the milliseconds until the
  // next one. Called once a round (it counts them).
  int SweepIfDue();

  const int wake_fd_;  // eventfd: Post() and Stop() wake the loop

 private:
  std::function<void()> sweep_;
  std::chrono::steady_clock::time_point next_sweep_;
  uint64_t rounds_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::chrono::steady_clock::rep> drain_until_{0};
  std::chrono::steady_clock::duration close_grace_ = std::chrono::seconds(5);
  std::atomic<size_t>* closing_gauge_ = nullptr;
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;  // GUARDED_BY(mu_)
  std::vector<std::function<void()>> deferred_;
};

}  // namespace skiff::edge
