#include "edge/uring_loop.h"

#ifdef SKIFF_HAVE_LIBURING

#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>

#include "common/check.h"
#include "common/logging.h"
#include "edge/buffers.h"

namespace skiff::edge {
namespace {

using Clock = std::chrono::steady_clock;

// What a CQE completes: the low three bits of its user_data (the rest is the
// Sock or Listener it belongs to, both aligned to 8).
enum Op : uint64_t { kIgnore = 0, kRecv = 1, kSend = 2, kConnect = 3, kAccept = 4, kWake = 5 };

// The provided buffer ring the multishot recvs fill: 256 buffers of 16 KiB.
constexpr unsigned kRingBuffers = 256;  // a power of two
constexpr unsigned kRingBufferBytes = 16 << 10;
constexpr int kBufferGroup = 0;
// Bytes received and not yet taken by the handler: a socket's recv is armed
// again only below half of this, and then takes one buffer at most, so a
// handler that stops reading stops the engine too with less than this staged
// (and the peer's sends block). A multishot recv takes what the socket holds
// in one pass (the kernel's receive buffer at most) before its cancel can
// land, so it is armed only with nothing staged after a recv that emptied the
// socket (see Sock::backlog): a peer that keeps ahead of its reader meets
// one-shot recvs alone; one that pauses and bursts may stage one pass over the
// cap, once, and no more until the handler has taken it.
constexpr size_t kStageCap = 64 << 10;
// Bytes Send took and the kernel did not yet, past which Send says EAGAIN.
constexpr size_t kSendCap = 128 << 10;

class UringLoop final : public EventLoop {
 public:
  explicit UringLoop(const UringLoopOptions& options) : options_(options) {}
  ~UringLoop() override;

  // Sets the ring up, and tears it down: NewUringLoop checks with them that
  // the kernel gives one; the loop's own is set up by the thread that first
  // uses the loop (its single issuer), which then runs it and tears it down
  // (see NewUringLoop).
  Status Init();
  void Teardown();
  // What the probe of the opcodes cannot tell: whether multishot accept (Linux
  // 5.19) and multishot recv (6.0) are there. Arms each once, on sockets of
  // its own, on the ring Init set up. REQUIRES: Init() succeeded, not running.
  Status CheckMultishot();
  // Sets the ring up on first use; kUnavailable when the kernel refuses it
  // now (NewUringLoop's check passed: memory or a limit ran out since).
  // REQUIRES: on the thread that set the ring up (its single issuer).
  Status EnsureRing() {
    if (!ring_ready_) {
      if (Status ready = Init(); !ready) {
        Teardown();
        return ready;
      }
      issuer_ = std::this_thread::get_id();
    }
    SKIFF_CHECK(std::this_thread::get_id() == issuer_);  // see event_loop.h
    return OkStatus();
  }

  IoEngine engine() const override { return IoEngine::kUring; }
  Status Prepare() override { return EnsureRing(); }
  Status Add(int fd, Handler* handler) override;
  Status AddConnecting(int fd, Handler* handler) override;
  Status AddListener(int fd, Acceptor* acceptor) override;
  void RemoveListener(int fd, Acceptor* acceptor) override;
  void Remove(int fd, Handler* /*handler*/) override { Detach(fd, /*close=*/false); }
  void Close(int fd, Handler* /*handler*/) override { Detach(fd, /*close=*/true); }
  void Abort(int fd, Handler* handler) override;
  ssize_t Recv(int fd, char* buffer, size_t size) override;
  ssize_t Send(int fd, const iovec* iov, int count) override;
  void ShutdownWrite(int fd) override;
  size_t staged_bytes() const override {
    size_t total = 0;
    for (const Sock* s : by_fd_) total += s != nullptr ? s->staged() : 0;
    return total;
  }
  void Run() override;

 private:
  // One watched socket. Freed (and, when the engine owns it, closed) only once
  // no operation refers to it: the kernel may still write into it or read
  // from it until the last CQE.
  struct alignas(8) Sock {
    int fd = -1;
    Handler* handler = nullptr;
    bool detached = false;  // Remove()d or Close()d: no more events
    bool owns_fd = false;   // Close()d: closed when the last operation ends
    bool forced = false;    // its last sends were given up on (close_grace())
    int inflight = 0;       // operations whose last CQE is due
    uint32_t ready = 0;     // events gathered this round
    bool in_ready = false;
    bool connecting = false;
    bool connect_armed = false;
    // When it was closed, then when its last send made progress.
    Clock::time_point closed_at{};
    // Receiving: bytes the kernel delivered and the handler has not taken.
    bool recv_armed = false;
    bool recv_multishot = false;  // the armed recv is multishot
    bool recv_cancelling = false;
    // The peer may have more queued than the handler takes: recvs take one
    // buffer each until one comes back short (the socket's queue emptied).
    // A new socket starts so: its peer may have sent a burst already.
    bool backlog = true;
    bool eof = false;
    int rx_error = 0;
    std::string in;
    size_t in_begin = 0;
    // Sending: `flight` is the send SQE's (stable until its CQE); `queue`
    // gathers what Send takes meanwhile, sent in one SQE next.
    std::string flight;
    size_t flight_done = 0;
    bool send_armed = false;
    std::string queue;
    bool in_dirty = false;
    bool want_out = false;  // Send said EAGAIN: EPOLLOUT when there is room
    bool shut_wanted = false;
    int tx_error = 0;

    size_t staged() const { return in.size() - in_begin; }
    size_t unsent() const { return flight.size() - flight_done + queue.size(); }
  };
  struct alignas(8) Listener {
    int fd;
    Acceptor* acceptor;
    bool removed = false;
    bool armed = false;
  };

  static uint64_t Tag(const void* p, Op op) { return reinterpret_cast<uint64_t>(p) | op; }

  // The next SQE. When the submission queue is full it hands the queue to
  // the kernel first. Should the kernel hold submissions back (-EBUSY, for
  // completions it could not post; kernels since about 5.12 keep them on an
  // overflow list instead and never do; -EAGAIN, short of memory), it takes
  // the posted completions off the ring (into completions_, handled in this
  // round) and tries again, for up to about 2 s; then a checked failure.
  io_uring_sqe* Sqe();
  // Moves the CQEs the kernel posted into completions_. The number moved.
  size_t TakeCompletions();
  Sock* Find(int fd) const {
    return fd >= 0 && static_cast<size_t>(fd) < by_fd_.size() ? by_fd_[fd] : nullptr;
  }
  Sock* NewSock(int fd, Handler* handler);
  void Detach(int fd, bool close);
  void MarkReady(Sock* s, uint32_t events);
  void MarkDirty(Sock* s);
  void ArmRecv(Sock* s);
  void CancelRecv(Sock* s);
  void SubmitSend(Sock* s);
  void FlushSends();
  void ArmAccept(Listener* l);
  void ArmWake();
  void ReturnBuffer(unsigned id);
  // Frees `s` when nothing refers to it any more.
  void MaybeRelease(Sock* s);
  void GiveUpClosing(Clock::time_point now);
  // Whether a Close()d socket is still open (its last operations are due).
  bool ClosingSockets() const;

  void Complete(io_uring_cqe* cqe);
  void OnRecv(Sock* s, int res, unsigned flags);
  void OnSend(Sock* s, int res);
  void OnConnect(Sock* s, int res);
  void OnAccept(Listener* l, int res, bool more);

  const UringLoopOptions options_;
  io_uring ring_{};
  bool ring_ready_ = false;
  std::thread::id issuer_;  // the thread that set the ring up
  unsigned setup_flags_ = 0;
  io_uring_buf_ring* buffer_ring_ = nullptr;
  std::unique_ptr<char[]> buffers_;
  unsigned buffers_returned_ = 0;
  bool woken_ = false;
  // Run() has begun and not returned: only then may SQEs be submitted (on
  // this thread, the ring's single issuer). Outside it, a closed socket is
  // closed when the loop goes.
  bool running_ = false;
  bool dispatching_ = false;

  // CQEs taken off the ring and not yet handled (copies: the ring's slots are
  // given back at once, so a handler's submissions cannot find it full).
  std::vector<io_uring_cqe> completions_;
  std::vector<Sock*> by_fd_;
  std::unordered_set<Sock*> closing_;  // detached, with operations in flight
  std::vector<Sock*> ready_;
  std::vector<Sock*> dirty_;  // with bytes queued and no send in flight
  std::vector<Sock*> dead_;   // freed at the end of the round
  std::vector<std::unique_ptr<Listener>> listeners_;
};

UringLoop::~UringLoop() {
  Teardown();                       // ends every operation in flight
  for (Sock* s : by_fd_) delete s;  // (Remove()d or never closed: not ours)
  for (Sock* s : closing_) {
    if (s->owns_fd) {
      close(s->fd);
      CountClosing(-1);
    }
    delete s;
  }
  for (Sock* s : dead_) delete s;
}

void UringLoop::Teardown() {
  completions_.clear();  // (of the ring that goes: never of the next one)
  if (ring_ready_) io_uring_queue_exit(&ring_);
  ring_ready_ = false;
  if (buffer_ring_ != nullptr) munmap(buffer_ring_, kRingBuffers * sizeof(io_uring_buf));
  buffer_ring_ = nullptr;
  buffers_.reset();
  buffers_returned_ = 0;
}

Status UringLoop::Init() {
  // The most helpful flags first; older kernels refuse some (EINVAL).
  const unsigned tries[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_COOP_TASKRUN,
      0,
  };
  int r = -EINVAL;
  for (unsigned flags : tries) {
    io_uring_params params{};
    params.flags = flags | IORING_SETUP_CQSIZE;
    params.cq_entries = options_.completion_depth;
    r = io_uring_queue_init_params(options_.queue_depth, &ring_, &params);
    if (r == 0) {
      setup_flags_ = flags;
      break;
    }
    if (r != -EINVAL) break;  // no io_uring at all, or refused: no flags help
  }
  if (r != 0) return Unavailable(std::string("io_uring_setup: ") + std::strerror(-r));
  ring_ready_ = true;
  // Run() waits with a timeout argument; without it liburing would queue a
  // timeout SQE a round (Linux 5.11).
  if ((ring_.features & IORING_FEAT_EXT_ARG) == 0) {
    return Unavailable("the kernel's io_uring has no IORING_FEAT_EXT_ARG (Linux 5.11)");
  }
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (probe == nullptr) return Unavailable("the kernel's io_uring cannot be probed (Linux 5.6)");
  const std::pair<int, const char*> needed[] = {
      {IORING_OP_ACCEPT, "accept"}, {IORING_OP_RECV, "recv"},           {IORING_OP_SEND, "send"},
      {IORING_OP_POLL_ADD, "poll"}, {IORING_OP_ASYNC_CANCEL, "cancel"},
  };
  for (const auto& [op, name] : needed) {
    if (!io_uring_opcode_supported(probe, op)) {
      io_uring_free_probe(probe);
      return Unavailable(std::string("the kernel's io_uring has no ") + name);
    }
  }
  io_uring_free_probe(probe);

  // liburing 2.3 has no io_uring_setup_buf_ring: map the ring and register it.
  void* ring = mmap(nullptr, kRingBuffers * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring == MAP_FAILED) return Unavailable(std::string("mmap: ") + std::strerror(errno));
  buffer_ring_ = static_cast<io_uring_buf_ring*>(ring);
  io_uring_buf_ring_init(buffer_ring_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(ring);
  reg.ring_entries = kRingBuffers;
  reg.bgid = kBufferGroup;
  if (const int e = io_uring_register_buf_ring(&ring_, &reg, 0); e != 0) {
    return Unavailable(
        std::string("io_uring cannot register a provided buffer ring (Linux 5.19): ") +
        std::strerror(-e));
  }
  // (Not zero-filled: the kernel writes each buffer before it is read.)
  buffers_ = std::make_unique_for_overwrite<char[]>(size_t{kRingBuffers} * kRingBufferBytes);
  for (unsigned i = 0; i < kRingBuffers; ++i) ReturnBuffer(i);
  io_uring_buf_ring_advance(buffer_ring_, static_cast<int>(buffers_returned_));
  buffers_returned_ = 0;
  return OkStatus();
}

Status UringLoop::CheckMultishot() {
  // A listener with a connection waiting, and a socket with a byte waiting:
  // each arm completes at once, with EINVAL where the kernel lacks it.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int pair[2] = {-1, -1};
  const auto cleanup = [&] {
    for (int fd : {listener, client, pair[0], pair[1]}) {
      if (fd >= 0) close(fd);
    }
  };
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (listener < 0 || client < 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0 ||
      bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size) != 0 ||
      connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      write(pair[1], "x", 1) != 1) {
    const std::string why = std::strerror(errno);
    cleanup();
    return Unavailable("cannot check io_uring's multishot operations: " + why);
  }
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_multishot_accept(sqe, listener, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, kAccept);
  sqe = Sqe();
  io_uring_prep_recv_multishot(sqe, pair[0], nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, kRecv);
  int due = 2;
  Status checked = OkStatus();
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (due > 0 && checked && Clock::now() < deadline) {
    __kernel_timespec timeout{.tv_sec = 0, .tv_nsec = 100000000};
    io_uring_cqe* cqe = nullptr;
    const int r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
    if (r < 0 && r != -ETIME && r != -EINTR) {
      checked = Unavailable(std::string("io_uring_enter: ") + std::strerror(-r));
      break;
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const uint64_t op = io_uring_cqe_get_data64(cqe);
      if (op != kAccept && op != kRecv) continue;
      --due;
      if (cqe->res == -EINVAL) {
        checked =
            Unavailable(op == kAccept ? "the kernel's io_uring has no multishot accept (Linux 5.19)"
                                      : "the kernel's io_uring has no multishot recv (Linux 6.0)");
      } else if (op == kAccept && cqe->res >= 0) {
        close(cqe->res);
      }
    }
    io_uring_cq_advance(&ring_, seen);
  }
  if (checked && due > 0) checked = Unavailable("io_uring's multishot operations did not complete");
  cleanup();
  return checked;
}

io_uring_sqe* UringLoop::Sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  for (int tries = 0; sqe == nullptr; ++tries) {  // the queue is full: hand it to the kernel
    const int r = io_uring_submit(&ring_);
    if (r < 0 && r != -EINTR && tries == 0) {
      SKIFF_LOG_WARN("edge: io_uring_submit: {}", std::strerror(-r));
    }
    sqe = io_uring_get_sqe(&ring_);
    if (sqe != nullptr) break;
    // Held back: take what it posted (and let it post more), then try again
    // soon, for about 2 s at most.
    if (TakeCompletions() == 0) io_uring_get_events(&ring_);
    TakeCompletions();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    SKIFF_CHECK(tries < 2000);  // the kernel takes nothing for 2 s: no way to go on
  }
  return sqe;
}

size_t UringLoop::TakeCompletions() {
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    completions_.push_back(*cqe);
    ++seen;
  }
  io_uring_cq_advance(&ring_, seen);
  return seen;
}

void UringLoop::ReturnBuffer(unsigned id) {
  io_uring_buf_ring_add(buffer_ring_, buffers_.get() + size_t{id} * kRingBufferBytes,
                        kRingBufferBytes, static_cast<unsigned short>(id),
                        io_uring_buf_ring_mask(kRingBuffers), static_cast<int>(buffers_returned_));
  ++buffers_returned_;
}

UringLoop::Sock* UringLoop::NewSock(int fd, Handler* handler) {
  if (static_cast<size_t>(fd) >= by_fd_.size()) by_fd_.resize(static_cast<size_t>(fd) + 64);
  SKIFF_CHECK(by_fd_[fd] == nullptr);
  Sock* s = new Sock;
  s->fd = fd;
  s->handler = handler;
  by_fd_[fd] = s;
  return s;
}

Status UringLoop::Add(int fd, Handler* handler) {
  SKIFF_RETURN_IF_ERROR(EnsureRing());
  Sock* s = NewSock(fd, handler);
  ArmRecv(s);
  MarkReady(s, EPOLLOUT);  // as epoll: a connected socket starts writable
  return OkStatus();
}

Status UringLoop::AddConnecting(int fd, Handler* handler) {
  SKIFF_RETURN_IF_ERROR(EnsureRing());
  Sock* s = NewSock(fd, handler);
  s->connecting = true;
  s->connect_armed = true;
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_poll_add(sqe, fd, POLLOUT);
  io_uring_sqe_set_data64(sqe, Tag(s, kConnect));
  ++s->inflight;
  return OkStatus();
}

Status UringLoop::AddListener(int fd, Acceptor* acceptor) {
  SKIFF_RETURN_IF_ERROR(EnsureRing());
  listeners_.push_back(std::make_unique<Listener>(Listener{fd, acceptor}));
  ArmAccept(listeners_.back().get());
  return OkStatus();
}

void UringLoop::RemoveListener(int fd, Acceptor* acceptor) {
  for (auto& l : listeners_) {
    if (l->fd != fd || l->acceptor != acceptor || l->removed) continue;
    l->removed = true;
    // (After Run() the ring is gone, and its accept with it.)
    if (l->armed && ring_ready_) {
      io_uring_sqe* sqe = Sqe();
      io_uring_prep_cancel64(sqe, Tag(l.get(), kAccept), 0);
      io_uring_sqe_set_data64(sqe, kIgnore);
    }
  }
}

void UringLoop::ArmAccept(Listener* l) {
  // Accepts on one socket from several rings wake one of them each (the
  // kernel waits exclusively for accept, like EPOLLEXCLUSIVE).
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_multishot_accept(sqe, l->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, Tag(l, kAccept));
  l->armed = true;
}

void UringLoop::ArmWake() {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_poll_add(sqe, wake_fd_, POLLIN);
  io_uring_sqe_set_data64(sqe, kWake);
}

void UringLoop::Detach(int fd, bool close) {
  Sock* s = Find(fd);
  if (s == nullptr) {
    if (close) ::close(fd);
    return;
  }
  by_fd_[fd] = nullptr;
  s->handler = nullptr;
  s->detached = true;
  s->owns_fd = close;
  s->closed_at = Clock::now();
  closing_.insert(s);
  if (close) CountClosing(1);
  if (!running_) return;  // the destructor closes it
  CancelRecv(s);
  if (s->connect_armed) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel64(sqe, Tag(s, kConnect), 0);
    io_uring_sqe_set_data64(sqe, kIgnore);
  }
  if (!close && s->send_armed) {  // the caller takes the socket back: no more sends
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel64(sqe, Tag(s, kSend), 0);
    io_uring_sqe_set_data64(sqe, kIgnore);
  }
  if (!close) {  // nothing more is sent or shut down on it
    EmptyBuffer(&s->queue);
    s->shut_wanted = false;
  }
  MaybeRelease(s);
}

void UringLoop::Abort(int fd, Handler* /*handler*/) {
  ResetOnClose(fd);
  if (Sock* s = Find(fd); s != nullptr) {
    s->forced = true;  // nothing more goes out
    EmptyBuffer(&s->queue);
    s->shut_wanted = false;
    if (s->send_armed && running_) shutdown(fd, SHUT_RDWR);  // ends the send in flight
  }
  Detach(fd, /*close=*/true);
}

void UringLoop::MaybeRelease(Sock* s) {
  if (!s->detached || s->inflight > 0) return;
  if (s->owns_fd && !s->queue.empty() && s->tx_error == 0 && !s->forced) {
    MarkDirty(s);  // the last bytes go out first
    return;
  }
  if (closing_.erase(s) > 0 && s->owns_fd) CountClosing(-1);
  if (s->in_dirty) std::erase(dirty_, s);
  // (During the dispatch its entry stays, skipped: it is freed after the round.)
  if (s->in_ready && !dispatching_) std::erase(ready_, s);
  if (s->owns_fd) close(s->fd);
  s->fd = -1;
  dead_.push_back(s);
}

void UringLoop::MarkReady(Sock* s, uint32_t events) {
  if (s->detached) return;
  s->ready |= events;
  if (!s->in_ready) {
    s->in_ready = true;
    ready_.push_back(s);
  }
}

void UringLoop::MarkDirty(Sock* s) {
  if (!s->in_dirty) {
    s->in_dirty = true;
    dirty_.push_back(s);
  }
}

void UringLoop::ArmRecv(Sock* s) {
  if (s->recv_armed || s->detached || s->connecting || s->eof || s->rx_error != 0 ||
      s->staged() >= kStageCap / 2) {
    return;
  }
  io_uring_sqe* sqe = Sqe();
  s->recv_multishot = s->staged() == 0 && !s->backlog;
  if (s->recv_multishot) {
    io_uring_prep_recv_multishot(sqe, s->fd, nullptr, 0, 0);
  } else {  // one buffer from the ring
    io_uring_prep_recv(sqe, s->fd, nullptr, kRingBufferBytes, 0);
  }
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, Tag(s, kRecv));
  s->recv_armed = true;
  s->recv_cancelling = false;
  ++s->inflight;
}

void UringLoop::CancelRecv(Sock* s) {
  if (!s->recv_armed || s->recv_cancelling) return;
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_cancel64(sqe, Tag(s, kRecv), 0);
  io_uring_sqe_set_data64(sqe, kIgnore);
  s->recv_cancelling = true;
}

void UringLoop::SubmitSend(Sock* s) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_send(sqe, s->fd, s->flight.data() + s->flight_done,
                     s->flight.size() - s->flight_done, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, Tag(s, kSend));
  s->send_armed = true;
  ++s->inflight;
}

void UringLoop::FlushSends() {
  for (Sock* s : dirty_) {
    s->in_dirty = false;
    if (s->send_armed || s->queue.empty() || s->tx_error != 0) continue;
    s->flight.swap(s->queue);
    EmptyBuffer(&s->queue);
    s->flight_done = 0;
    SubmitSend(s);
  }
  dirty_.clear();
}

ssize_t UringLoop::Recv(int fd, char* buffer, size_t size) {
  Sock* s = Find(fd);
  if (s == nullptr) {
    errno = EBADF;
    return -1;
  }
  if (s->staged() > 0) {
    const size_t n = std::min(size, s->staged());
    std::memcpy(buffer, s->in.data() + s->in_begin, n);
    s->in_begin += n;
    if (s->in_begin == s->in.size()) {
      EmptyBuffer(&s->in);
      s->in_begin = 0;
    } else if (s->in_begin >= kStageCap / 2) {
      s->in.erase(0, s->in_begin);
      s->in_begin = 0;
    }
    ArmRecv(s);  // when it had stopped at kStageCap / 2
    return static_cast<ssize_t>(n);
  }
  if (s->rx_error != 0) {
    errno = s->rx_error;
    return -1;
  }
  if (s->eof) return 0;
  errno = s->tx_error != 0 ? s->tx_error : EAGAIN;
  return -1;
}

ssize_t UringLoop::Send(int fd, const iovec* iov, int count) {
  Sock* s = Find(fd);
  if (s == nullptr) {
    errno = EBADF;
    return -1;
  }
  if (s->tx_error != 0 || s->shut_wanted) {
    errno = s->tx_error != 0 ? s->tx_error : EPIPE;
    return -1;
  }
  if (s->unsent() >= kSendCap) {
    s->want_out = true;
    errno = EAGAIN;
    return -1;
  }
  size_t total = 0;
  for (int i = 0; i < count; ++i) {
    s->queue.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    total += iov[i].iov_len;
  }
  if (!s->send_armed) MarkDirty(s);
  return static_cast<ssize_t>(total);
}

void UringLoop::ShutdownWrite(int fd) {
  Sock* s = Find(fd);
  if (s == nullptr || s->unsent() == 0) {
    shutdown(fd, SHUT_WR);
    return;
  }
  s->shut_wanted = true;  // OnSend shuts it once the bytes are out
}

void UringLoop::Complete(io_uring_cqe* cqe) {
  const uint64_t data = io_uring_cqe_get_data64(cqe);
  const Op op = static_cast<Op>(data & 7);
  void* p = reinterpret_cast<void*>(data & ~uint64_t{7});
  switch (op) {
    case kIgnore:
      return;
    case kWake:
      woken_ = true;
      return;
    case kAccept:
      OnAccept(static_cast<Listener*>(p), cqe->res, (cqe->flags & IORING_CQE_F_MORE) != 0);
      return;
    case kRecv:
      OnRecv(static_cast<Sock*>(p), cqe->res, cqe->flags);
      break;
    case kSend:
      OnSend(static_cast<Sock*>(p), cqe->res);
      break;
    case kConnect:
      OnConnect(static_cast<Sock*>(p), cqe->res);
      break;
    default:  // not ours (liburing's own, LIBURING_UDATA_TIMEOUT)
      return;
  }
  MaybeRelease(static_cast<Sock*>(p));
}

void UringLoop::OnAccept(Listener* l, int res, bool more) {
  if (!more) l->armed = false;
  if (l->removed) {
    if (res >= 0) close(res);
    if (!more) std::erase_if(listeners_, [l](const auto& each) { return each.get() == l; });
    return;
  }
  if (res >= 0) {
    sockaddr_storage peer{};
    socklen_t size = sizeof peer;
    getpeername(res, reinterpret_cast<sockaddr*>(&peer), &size);
    l->acceptor->OnAccept(res, peer);
  } else if (res == -EINVAL) {
    // Arming again would fail again at once, a busy loop: this loop accepts
    // no more (NewUringLoop's check makes this a kernel that changed its mind).
    SKIFF_LOG_ERROR("edge: io_uring refuses to accept on fd {}: {}; this thread accepts no more",
                    l->fd, std::strerror(-res));
    return;
  } else if (res != -EAGAIN && res != -ECONNABORTED && res != -EINTR) {
    SKIFF_LOG_WARN("edge: accept failed: {}", std::strerror(-res));
  }
  if (!more && !l->removed) ArmAccept(l);
}

void UringLoop::OnRecv(Sock* s, int res, unsigned flags) {
  const bool more = (flags & IORING_CQE_F_MORE) != 0;
  if ((flags & IORING_CQE_F_BUFFER) != 0) {
    const unsigned id = flags >> IORING_CQE_BUFFER_SHIFT;
    if (res > 0 && !s->detached) {
      s->in.append(buffers_.get() + size_t{id} * kRingBufferBytes, static_cast<size_t>(res));
    }
    ReturnBuffer(id);
  }
  const bool multishot = s->recv_multishot;
  if (!more) {
    s->recv_armed = false;
    s->recv_multishot = false;
    s->recv_cancelling = false;
    --s->inflight;
  }
  if (s->detached) return;
  if (res > 0) {
    MarkReady(s, EPOLLIN);
    // A one-shot recv that filled its buffer may have left more queued.
    if (!multishot) s->backlog = static_cast<size_t>(res) == kRingBufferBytes;
    if (s->staged() >= kStageCap / 2) {
      // A multishot recv would take what the socket holds: one buffer at a
      // time from now on, once the handler has taken these.
      s->backlog = true;
      CancelRecv(s);
    } else if (!more && s->backlog) {
      ArmRecv(s);  // the next buffer; else the round's end arms it (Run)
    }
  } else if (res == 0) {
    s->eof = true;
    MarkReady(s, EPOLLIN | EPOLLRDHUP);
  } else if (res == -ENOBUFS) {
    if (!more) ArmRecv(s);  // the ring ran dry for a moment: refilled by the next submit
  } else if (res == -ECANCELED) {
    // Stopped for the bytes staged; the handler may have taken them meanwhile
    // (its Recv found the recv still armed): then it starts again now.
    ArmRecv(s);
  } else {
    s->rx_error = -res;
    MarkReady(s, EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP);
  }
}

void UringLoop::OnSend(Sock* s, int res) {
  --s->inflight;
  s->send_armed = false;
  if (res < 0) {
    s->tx_error = -res == ECANCELED ? EPIPE : -res;
    EmptyBuffer(&s->flight);
    EmptyBuffer(&s->queue);
    MarkReady(s, EPOLLERR | EPOLLHUP);
    return;
  }
  if (s->forced || (s->detached && !s->owns_fd)) {  // given up, or the caller's socket now
    EmptyBuffer(&s->flight);
    return;
  }
  s->flight_done += static_cast<size_t>(res);
  if (res > 0) s->closed_at = Clock::now();  // (for GiveUpClosing: the peer reads)
  if (s->flight_done < s->flight.size()) {
    SubmitSend(s);  // a short send: the rest in another SQE
  } else {
    EmptyBuffer(&s->flight);
    s->flight_done = 0;
    if (!s->queue.empty()) {
      MarkDirty(s);
    } else if (s->shut_wanted) {
      shutdown(s->fd, SHUT_WR);
    }
  }
  // (A short send may have made room too.)
  if (s->want_out && s->unsent() < kSendCap) {
    s->want_out = false;
    MarkReady(s, EPOLLOUT);
  }
}

void UringLoop::OnConnect(Sock* s, int res) {
  --s->inflight;
  s->connect_armed = false;
  if (s->detached) return;
  const auto mask = static_cast<unsigned>(res);
  if (res < 0 || (mask & (POLLERR | POLLHUP)) != 0) {
    MarkReady(s, EPOLLERR | EPOLLHUP);
    return;
  }
  s->connecting = false;
  ArmRecv(s);
  MarkReady(s, EPOLLOUT);
}

void UringLoop::GiveUpClosing(Clock::time_point now) {
  std::vector<Sock*> given_up;
  for (Sock* s : closing_) {
    if (s->forced || !s->owns_fd || now - s->closed_at < close_grace()) continue;
    // A peer that does not read keeps the last sends waiting: shutting the
    // socket down ends them (and any operation still armed) with an error.
    s->forced = true;
    EmptyBuffer(&s->queue);
    ResetOnClose(s->fd);
    shutdown(s->fd, SHUT_RDWR);
    given_up.push_back(s);
  }
  // One with nothing in flight (its bytes waited to be sent) goes now; the
  // others when their last CQE comes. (Not while walking closing_: this
  // erases from it.)
  for (Sock* s : given_up) MaybeRelease(s);
}

bool UringLoop::ClosingSockets() const {
  // A listener's accept too: until its last CQE the kernel holds the listening
  // socket open (and would accept on it) after its owner closed it.
  return std::any_of(closing_.begin(), closing_.end(), [](const Sock* s) { return s->owns_fd; }) ||
         std::any_of(listeners_.begin(), listeners_.end(),
                     [](const auto& l) { return l->removed && l->armed; });
}

void UringLoop::Run() {
  if (Status ready = EnsureRing(); !ready) {
    // (The edge's workers add their listener first, which says why.)
    SKIFF_LOG_ERROR("edge: io_uring: {}", ready.error().message);
    return;
  }
  running_ = true;
  ArmWake();
  for (;;) {
    // Whatever Send took goes out, and closed sockets close, before the loop
    // ends, until the Stop()'s deadline (a peer that reads nothing).
    if (stopping() && (!ClosingSockets() || Clock::now() >= drain_until())) break;
    int wait_ms = SweepIfDue();
    GiveUpClosing(Clock::now());
    FlushSends();
    // Sockets added before the round, or CQEs a submission took off the ring
    // after the last round's were handled (see Sqe).
    if (!ready_.empty() || !completions_.empty()) wait_ms = 0;
    if (stopping()) wait_ms = std::min(wait_ms, 50);
    __kernel_timespec timeout{};
    timeout.tv_sec = wait_ms / 1000;
    timeout.tv_nsec = static_cast<long long>(wait_ms % 1000) * 1000000;
    io_uring_cqe* first = nullptr;
    const int r = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &timeout, nullptr);
    if (r == -EBADR) {
      // The kernel dropped completions (no memory for its overflow list):
      // their operations never end, so their sockets stay open (and count
      // against the connection cap) until the edge restarts.
      SKIFF_LOG_ERROR("edge: io_uring lost completions (the kernel ran out of memory)");
    } else {
      SKIFF_CHECK(r >= 0 || r == -ETIME || r == -EINTR || r == -EAGAIN || r == -EBUSY);
    }

    // By index, on a copy: a handler's submission may take more CQEs off the
    // ring (see Sqe), appending to completions_.
    TakeCompletions();
    for (size_t i = 0; i < completions_.size(); ++i) {
      io_uring_cqe cqe = completions_[i];
      Complete(&cqe);
    }
    completions_.clear();
    if (buffers_returned_ > 0) {
      io_uring_buf_ring_advance(buffer_ring_, static_cast<int>(buffers_returned_));
      buffers_returned_ = 0;
    }
    // One call per socket a round, with all it had: as epoll reports it.
    dispatching_ = true;
    for (size_t i = 0; i < ready_.size(); ++i) {
      Sock* s = ready_[i];
      const uint32_t events = s->ready;
      s->ready = 0;
      s->in_ready = false;
      if (!s->detached && events != 0) s->handler->OnEvents(events);
      // A handler that left bytes staged is not keeping up: a multishot recv
      // would go on taking what the peer sends (see Sock::backlog).
      if (s->detached) continue;
      if (s->recv_multishot && s->staged() > 0) {
        s->backlog = true;
        CancelRecv(s);
      }
      // A short one-shot recv emptied the socket's queue: the handler has
      // taken the bytes (a multishot recv now) or left some (one buffer).
      ArmRecv(s);
    }
    ready_.clear();
    dispatching_ = false;
    if (woken_) {
      woken_ = false;
      RunPosted();
      ArmWake();
    }
    RunDeferred();
    for (Sock* s : dead_) delete s;
    dead_.clear();
  }
  running_ = false;
  // Connections accepted in completions not handled (taken off the ring by a
  // submission in the last round) are nobody's: close them.
  for (const io_uring_cqe& cqe : completions_) {
    if ((io_uring_cqe_get_data64(&cqe) & 7) == kAccept && cqe.res >= 0) close(cqe.res);
  }
  // What the drain did not get out is cut: the peers see a reset, not an end.
  for (Sock* s : closing_) {
    if (s->owns_fd && s->unsent() > 0) ResetOnClose(s->fd);
  }
  Teardown();  // on this thread (see Init)
}

}  // namespace

Result<std::unique_ptr<EventLoop>> NewUringLoop(const UringLoopOptions& options) {
  auto loop = std::make_unique<UringLoop>(options);
  // The kernel's teardown of a ring signals every thread that set one up or
  // used it (task work that interrupts a blocking syscall: EINTR where a
  // socket has a timeout), some time after. So the check runs on a thread of
  // its own, and a loop's ring is set up, used and torn down by the loop's
  // own thread alone.
  Status probed;
  std::thread([&] {
    probed = loop->Init();
    if (probed) probed = loop->CheckMultishot();
    loop->Teardown();
  }).join();
  SKIFF_RETURN_IF_ERROR(probed);
  return std::unique_ptr<EventLoop>(std::move(loop));
}

}  // namespace skiff::edge

#else  // !SKIFF_HAVE_LIBURING

namespace skiff::edge {

Result<std::unique_ptr<EventLoop>> NewUringLoop(const UringLoopOptions& /*options*/) {
  return Unavailable("this skiff was built without liburing (scripts/setup.sh installs it)");
}

}  // namespace skiff::edge

#endif
