// Would io_uring make the edge faster? A minimal HTTP/1.1 keep-alive reverse
// proxy with one proxying logic and three I/O engines, one thread each, so that
// only the engine differs between runs (bench/uring_probe.sh drives it):
//
//   epoll          the edge's way (src/edge/event_loop.cc, session_io.cc): every
//                  socket registered once, edge-triggered, both directions; one
//                  recv per readiness (a short read means drained), send/sendmsg
//                  at once, what the kernel does not take parked until EPOLLOUT.
//                  Four syscalls per request plus a share of epoll_wait.
//   uring          io_uring: a multishot recv per socket into a provided buffer
//                  ring (the bytes are copied into the connection's buffer and the
//                  ring buffer handed back at once), send/sendmsg SQEs, and one
//                  io_uring_submit_and_wait per round of completions, with
//                  SINGLE_ISSUER | DEFER_TASKRUN (| COOP_TASKRUN) where the kernel
//                  takes them. The syscalls per request fall with the batch size.
//   uring-oneshot  the same without provided buffers: a single-shot recv SQE
//                  straight into the connection's buffer, armed again after each
//                  completion (the fallback for kernels without buffer rings).
//
// The proxying: read a request head (up to \r\n\r\n; no bodies), add an
// X-Forwarded-For line, forward it on a pooled keep-alive upstream connection,
// read the response by Content-Length, send it back, pool the upstream again. A
// client's next request waits for the previous answer (pipelined bytes stay in
// its buffer). Upstream connections are opened with a blocking connect on first
// need (127.0.0.1: immediate; only the first 64 requests pay it).
//
//   bench_uring_probe --mode epoll|uring|uring-oneshot --listen PORT --origin HOST:PORT
//
// Runs until killed; prints on stderr what the engine could set up. Not a
// benchmark of its own, and not the edge: it has no routing, timeouts or limits.
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr size_t kBufferBytes = 16 * 1024;
constexpr char kForwardedFor[] = "X-Forwarded-For: 127.0.0.1\r\n\r\n";

constexpr char kUsage[] =
    "usage: bench_uring_probe --mode epoll|uring|uring-oneshot --listen PORT "
    "--origin HOST:PORT\n";

[[noreturn]] void Die(const char* what, int error) {
  std::fprintf(stderr, "uring_probe: %s: %s\n", what, std::strerror(error));
  std::exit(1);
}

// One socket: a client's or an upstream's, with the bytes read from it.
struct Conn {
  int fd = -1;
  bool upstream = false;
  std::unique_ptr<char[]> in = std::make_unique<char[]>(kBufferBytes);
  size_t begin = 0;
  size_t end = 0;
  Conn* peer = nullptr;     // the client's upstream / the upstream's client, during an exchange
  size_t head_bytes = 0;    // client: the request head being proxied (0: none)
  size_t response_len = 0;  // upstream: the whole response once its head is in (0: not yet)
  bool closed = false;      // hung up or failed: no more I/O, dropped when nothing refers to it
  bool sending = false;     // the engine may still read the bytes handed to Send

  // epoll engine: bytes the kernel did not take yet, and the edge's readiness flags.
  std::string pending;
  bool writable = true;

  // io_uring engine: the send in flight (its iovecs must live until its CQE),
  // and the operations whose CQEs are still due.
  iovec iov[2] = {};
  msghdr msg = {};
  int inflight = 0;
  bool recv_armed = false;
  bool dropping = false;
};

size_t FindHeadEnd(const Conn& c) {
  std::string_view data(c.in.get() + c.begin, c.end - c.begin);
  const size_t at = data.find("\r\n\r\n");
  return at == std::string_view::npos ? 0 : at + 4;
}

// The Content-Length of a response head; -1 when it has none.
long ContentLength(std::string_view head) {
  static constexpr std::string_view kName = "\ncontent-length:";
  for (size_t i = 0; i + kName.size() <= head.size(); ++i) {
    if (!std::equal(kName.begin(), kName.end(), head.begin() + i, [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      continue;
    }
    size_t at = i + kName.size();
    while (at < head.size() && head[at] == ' ') ++at;
    long value = -1;
    std::from_chars(head.data() + at, head.data() + head.size(), value);
    return value;
  }
  return -1;
}

void Compact(Conn* c) {
  if (c->begin == c->end) {
    c->begin = c->end = 0;
  } else if (c->begin > 0) {
    std::memmove(c->in.get(), c->in.get() + c->begin, c->end - c->begin);
    c->end -= c->begin;
    c->begin = 0;
  }
}

int Listen(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Die("bind", errno);
  if (listen(fd, 1024) != 0) Die("listen", errno);
  return fd;
}

// The proxying, common to every engine. An engine reads into Conn::in and calls
// OnData; it reports a send that went out whole with OnSendDone, one that failed
// with OnSendFailed, and a hang-up or read failure with OnHangUp. The logic asks
// it to Send, to Watch a new socket, to AbandonSend on a socket that hung up and
// to Drop one.
class Proxy {
 public:
  explicit Proxy(sockaddr_in origin) : origin_(origin) {}
  virtual ~Proxy() = default;
  virtual void Run(int listen_fd) = 0;

 protected:
  // Sends all of `iov` on `to`; OnSendDone(to) or OnSendFailed(to) follows
  // (maybe before it returns). The bytes must stay until then.
  virtual void Send(Conn* to, const iovec* iov, int count) = 0;
  virtual void Watch(Conn* c) = 0;
  // `c` hung up during a send: an engine that holds its own copy of the unsent
  // bytes drops it and clears c->sending; one that does not lets the send end.
  virtual void AbandonSend(Conn* c) = 0;
  // Stops all I/O on `c`, closes it and frees it once no operation refers to it.
  virtual void Drop(Conn* c) = 0;

  void Accepted(int fd) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Conn* c = new Conn;
    c->fd = fd;
    Watch(c);
  }

  void OnData(Conn* c) {
    if (!c->upstream) {
      StartExchange(c);
      return;
    }
    Conn* client = c->peer;
    if (client == nullptr) {  // an idle upstream does not talk
      OnHangUp(c);
      return;
    }
    if (c->response_len == 0) {
      const size_t head = FindHeadEnd(*c);
      if (head == 0) {
        if (c->end == kBufferBytes) OnHangUp(c);
        return;
      }
      const long length = ContentLength(std::string_view(c->in.get() + c->begin, head));
      if (length < 0 || head + static_cast<size_t>(length) > kBufferBytes) {
        OnHangUp(c);
        return;
      }
      c->response_len = head + static_cast<size_t>(length);
    }
    // (The request's send has always ended before its whole answer is in; the
    // check keeps the client's buffer from moving under it all the same.)
    if (!ResponseComplete(c) || c->sending) return;
    if (client->closed) {
      FinishExchange(client);
      return;
    }
    const iovec iov{c->in.get() + c->begin, c->response_len};
    Transmit(client, &iov, 1);
  }

  void OnSendDone(Conn* c) {
    c->sending = false;
    if (c->upstream) {
      if (!c->closed && ResponseComplete(c)) OnData(c);
      return;
    }
    if (c->peer != nullptr) FinishExchange(c);
  }

  void OnSendFailed(Conn* c) {
    OnHangUp(c);
    OnSendDone(c);
  }

  void OnHangUp(Conn* c) {
    if (c->closed) return;
    c->closed = true;
    if (c->sending) AbandonSend(c);
    if (!c->upstream) {
      // A response still due is read to its end so its upstream can be pooled.
      if (c->peer == nullptr) {
        Drop(c);
      } else if (!c->sending && ResponseComplete(c->peer)) {
        FinishExchange(c);
      }
      return;
    }
    idle_.erase(std::remove(idle_.begin(), idle_.end(), c), idle_.end());
    Conn* client = c->peer;
    if (client != nullptr && client->sending) return;  // its answer is read from c->in
    if (client != nullptr) {
      client->peer = nullptr;
      c->peer = nullptr;
      if (client->closed) {
        Drop(client);
      } else {
        OnHangUp(client);
      }
    }
    Drop(c);
  }

 private:
  static bool ResponseComplete(const Conn* up) {
    return up->response_len != 0 && up->end - up->begin >= up->response_len;
  }

  void Transmit(Conn* to, const iovec* iov, int count) {
    to->sending = true;
    Send(to, iov, count);
  }

  void StartExchange(Conn* client) {
    if (client->peer != nullptr || client->closed) return;
    const size_t head = FindHeadEnd(*client);
    if (head == 0) {
      if (client->end == kBufferBytes) OnHangUp(client);
      return;
    }
    Conn* up = TakeUpstream();
    if (up == nullptr) {
      OnHangUp(client);
      return;
    }
    client->head_bytes = head;
    client->peer = up;
    up->peer = client;
    // The head without its blank line, then one more header and the blank line.
    const iovec iov[2] = {{client->in.get() + client->begin, head - 2},
                          {const_cast<char*>(kForwardedFor), sizeof kForwardedFor - 1}};
    Transmit(up, iov, 2);
  }

  // The answer went out (or its client is gone): pools the upstream and starts
  // the client's next request.
  void FinishExchange(Conn* client) {
    Conn* up = client->peer;
    up->peer = nullptr;
    client->peer = nullptr;
    if (up->closed) {
      Drop(up);
    } else {
      up->begin += up->response_len;
      up->response_len = 0;
      Compact(up);
      idle_.push_back(up);
    }
    client->begin += client->head_bytes;
    client->head_bytes = 0;
    Compact(client);
    if (client->closed) {
      Drop(client);
      return;
    }
    StartExchange(client);  // a request the client pipelined
  }

  Conn* TakeUpstream() {
    if (!idle_.empty()) {
      Conn* up = idle_.back();
      idle_.pop_back();
      return up;
    }
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&origin_), sizeof origin_) != 0) {
      std::fprintf(stderr, "uring_probe: connect to the origin: %s\n", std::strerror(errno));
      if (fd >= 0) close(fd);
      return nullptr;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    Conn* up = new Conn;
    up->fd = fd;
    up->upstream = true;
    Watch(up);
    return up;
  }

  const sockaddr_in origin_;
  std::vector<Conn*> idle_;
};

// ------------------------------------------------------------------- epoll

class EpollProxy final : public Proxy {
 public:
  using Proxy::Proxy;

  void Run(int listen_fd) override {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the listener
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, listen_fd, &ev) != 0) Die("epoll_ctl", errno);
    std::fprintf(stderr, "uring_probe: epoll, edge-triggered\n");
    epoll_event events[256];
    for (;;) {
      const int n = epoll_wait(epoll_, events, 256, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        Die("epoll_wait", errno);
      }
      for (int i = 0; i < n; ++i) {
        Conn* c = static_cast<Conn*>(events[i].data.ptr);
        if (c == nullptr) {
          AcceptAll(listen_fd);
          continue;
        }
        if (c->fd < 0) continue;  // dropped earlier in this round
        const uint32_t e = events[i].events;
        if ((e & EPOLLOUT) != 0 && !c->closed) {
          c->writable = true;
          Flush(c);
        }
        if ((e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && !c->closed) Read(c);
      }
      for (Conn* c : dead_) delete c;
      dead_.clear();
    }
  }

 private:
  void AcceptAll(int listen_fd) {
    for (;;) {
      const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      Accepted(fd);
    }
  }

  // As the edge's ReadClient: one recv, and a short read means drained.
  void Read(Conn* c) {
    for (;;) {
      const size_t room = kBufferBytes - c->end;
      if (room == 0) {
        OnHangUp(c);
        return;
      }
      const ssize_t n = recv(c->fd, c->in.get() + c->end, room, 0);
      if (n > 0) {
        c->end += static_cast<size_t>(n);
        OnData(c);
        if (static_cast<size_t>(n) < room || c->closed) return;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      OnHangUp(c);
      return;
    }
  }

  void Send(Conn* to, const iovec* iov, int count) override {
    size_t total = 0;
    for (int i = 0; i < count; ++i) total += iov[i].iov_len;
    ssize_t n = 0;
    if (to->writable && to->pending.empty()) {
      if (count == 1) {
        n = send(to->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
      } else {
        msghdr message{};
        message.msg_iov = const_cast<iovec*>(iov);
        message.msg_iovlen = static_cast<size_t>(count);
        n = sendmsg(to->fd, &message, MSG_NOSIGNAL);
      }
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          OnSendFailed(to);
          return;
        }
        n = 0;
      }
    }
    if (static_cast<size_t>(n) == total) {
      OnSendDone(to);
      return;
    }
    size_t skip = static_cast<size_t>(n);
    for (int i = 0; i < count; ++i) {
      if (skip >= iov[i].iov_len) {
        skip -= iov[i].iov_len;
        continue;
      }
      to->pending.append(static_cast<const char*>(iov[i].iov_base) + skip, iov[i].iov_len - skip);
      skip = 0;
    }
    to->writable = false;
  }

  void Flush(Conn* c) {
    if (c->pending.empty()) return;
    const ssize_t n = send(c->fd, c->pending.data(), c->pending.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->writable = false;
      } else {
        OnSendFailed(c);
      }
      return;
    }
    c->pending.erase(0, static_cast<size_t>(n));
    if (!c->pending.empty()) {
      c->writable = false;
      return;
    }
    OnSendDone(c);
  }

  // The unsent bytes are a copy here: nothing refers to the sender's buffer.
  void AbandonSend(Conn* c) override {
    c->pending.clear();
    c->sending = false;
  }

  void Watch(Conn* c) override {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &ev) != 0) Die("epoll_ctl", errno);
  }

  void Drop(Conn* c) override {
    c->closed = true;
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c->fd, nullptr);
    close(c->fd);
    c->fd = -1;
    dead_.push_back(c);  // events for it may still come in this round
  }

  int epoll_ = -1;
  std::vector<Conn*> dead_;
};

// ----------------------------------------------------------------- io_uring

class UringProxy final : public Proxy {
 public:
  UringProxy(sockaddr_in origin, bool multishot) : Proxy(origin), multishot_(multishot) {}

  void Run(int listen_fd) override {
    SetUpRing();
    if (multishot_) SetUpBufferRing();
    ArmAccept(listen_fd);
    for (;;) {
      const int r = io_uring_submit_and_wait(&ring_, 1);
      if (r < 0 && r != -EINTR && r != -ETIME) Die("io_uring_submit_and_wait", -r);
      unsigned head;
      unsigned seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        Complete(cqe, listen_fd);
        ++seen;
      }
      io_uring_cq_advance(&ring_, seen);
      if (buffers_returned_ > 0) {
        io_uring_buf_ring_advance(buffer_ring_, buffers_returned_);
        buffers_returned_ = 0;
      }
      for (Conn* c : dead_) delete c;
      dead_.clear();
    }
  }

 private:
  enum Op : uint64_t { kAccept = 1, kRecv = 2, kSend = 3 };
  static constexpr unsigned kRingBuffers = 1024;  // a power of two
  static constexpr unsigned kRingBufferBytes = 4096;
  static constexpr int kBufferGroup = 0;

  static uint64_t Tag(Conn* c, Op op) { return reinterpret_cast<uint64_t>(c) | op; }

  void SetUpRing() {
    // The most helpful flags first; older kernels refuse some (EINVAL).
    const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int r = -EINVAL;
    unsigned flags = 0;
    for (unsigned f : tries) {
      io_uring_params params{};
      params.flags = f | IORING_SETUP_CQSIZE;
      params.cq_entries = 8192;
      r = io_uring_queue_init_params(1024, &ring_, &params);
      if (r == 0) {
        flags = f;
        break;
      }
    }
    if (r != 0) Die("io_uring_queue_init", -r);
    std::fprintf(stderr, "uring_probe: io_uring%s%s%s%s\n",
                 multishot_ ? ", multishot recv" : ", single-shot recv",
                 (flags & IORING_SETUP_SINGLE_ISSUER) != 0 ? ", SINGLE_ISSUER" : "",
                 (flags & IORING_SETUP_DEFER_TASKRUN) != 0 ? ", DEFER_TASKRUN" : "",
                 (flags & IORING_SETUP_COOP_TASKRUN) != 0 ? ", COOP_TASKRUN" : "");
  }

  // liburing 2.3 has no io_uring_setup_buf_ring: map the ring and register it.
  void SetUpBufferRing() {
    void* ring = mmap(nullptr, kRingBuffers * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring == MAP_FAILED) Die("mmap", errno);
    buffer_ring_ = static_cast<io_uring_buf_ring*>(ring);
    io_uring_buf_ring_init(buffer_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(ring);
    reg.ring_entries = kRingBuffers;
    reg.bgid = kBufferGroup;
    const int r = io_uring_register_buf_ring(&ring_, &reg, 0);
    if (r != 0) {
      std::fprintf(stderr, "uring_probe: no buffer ring (%s): single-shot recv\n",
                   std::strerror(-r));
      multishot_ = false;
      return;
    }
    buffers_ = std::make_unique<char[]>(size_t{kRingBuffers} * kRingBufferBytes);
    for (unsigned i = 0; i < kRingBuffers; ++i) ReturnBuffer(i);
    io_uring_buf_ring_advance(buffer_ring_, buffers_returned_);
    buffers_returned_ = 0;
  }

  // Hands buffer `id` back to the kernel at the next advance (end of the round).
  void ReturnBuffer(unsigned id) {
    io_uring_buf_ring_add(buffer_ring_, buffers_.get() + size_t{id} * kRingBufferBytes,
                          kRingBufferBytes, static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(kRingBuffers),
                          static_cast<int>(buffers_returned_));
    ++buffers_returned_;
  }

  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {  // the queue is full: hand it to the kernel now
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) Die("io_uring_get_sqe", EBUSY);
    }
    return sqe;
  }

  void ArmAccept(int listen_fd) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, kAccept);
  }

  void ArmRecv(Conn* c) {
    io_uring_sqe* sqe = Sqe();
    if (multishot_) {
      io_uring_prep_recv_multishot(sqe, c->fd, nullptr, 0, 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = kBufferGroup;
    } else {
      io_uring_prep_recv(sqe, c->fd, c->in.get() + c->end, kBufferBytes - c->end, 0);
    }
    io_uring_sqe_set_data64(sqe, Tag(c, kRecv));
    c->recv_armed = true;
    ++c->inflight;
  }

  void SubmitSend(Conn* c) {
    io_uring_sqe* sqe = Sqe();
    if (c->msg.msg_iovlen == 1) {
      io_uring_prep_send(sqe, c->fd, c->iov[0].iov_base, c->iov[0].iov_len, MSG_NOSIGNAL);
    } else {
      io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, Tag(c, kSend));
    ++c->inflight;
  }

  void Send(Conn* to, const iovec* iov, int count) override {
    std::copy(iov, iov + count, to->iov);
    to->msg = msghdr{};
    to->msg.msg_iov = to->iov;
    to->msg.msg_iovlen = static_cast<size_t>(count);
    SubmitSend(to);
  }

  void Watch(Conn* c) override { ArmRecv(c); }

  // The kernel may be reading the bytes: the send's CQE ends it.
  void AbandonSend(Conn*) override {}

  void Drop(Conn* c) override {
    c->closed = true;
    c->dropping = true;
    // Ends the armed recv (it completes with 0); the socket closes after its CQE.
    if (c->recv_armed) shutdown(c->fd, SHUT_RDWR);
    ReleaseIfDone(c);
  }

  void ReleaseIfDone(Conn* c) {
    if (!c->dropping || c->inflight > 0 || c->fd < 0) return;
    close(c->fd);
    c->fd = -1;
    dead_.push_back(c);
  }

  void Complete(io_uring_cqe* cqe, int listen_fd) {
    const uint64_t data = io_uring_cqe_get_data64(cqe);
    const Op op = static_cast<Op>(data & 7);
    Conn* c = reinterpret_cast<Conn*>(data & ~uint64_t{7});
    const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (op == kAccept) {
      if (cqe->res >= 0) Accepted(cqe->res);
      if (!more) ArmAccept(listen_fd);
      return;
    }
    if (op == kRecv) {
      Received(c, cqe->res, cqe->flags, more);
    } else {
      Sent(c, cqe->res);
    }
    ReleaseIfDone(c);
  }

  void Received(Conn* c, int res, unsigned flags, bool more) {
    if (multishot_) {
      if ((flags & IORING_CQE_F_BUFFER) != 0) {
        const unsigned id = flags >> IORING_CQE_BUFFER_SHIFT;
        if (res > 0 && !c->closed && static_cast<size_t>(res) <= kBufferBytes - c->end) {
          std::memcpy(c->in.get() + c->end, buffers_.get() + size_t{id} * kRingBufferBytes,
                      static_cast<size_t>(res));
          c->end += static_cast<size_t>(res);
        } else if (res > 0) {
          res = -ENOSPC;  // more than a request or response this probe proxies
        }
        ReturnBuffer(id);
      }
    } else {
      more = false;
      if (res > 0) c->end += static_cast<size_t>(res);
    }
    if (!more) {
      c->recv_armed = false;
      --c->inflight;
    }
    if (c->closed) return;
    if (res > 0) {
      OnData(c);
      if (!more && !c->closed) ArmRecv(c);
    } else if (res == -ENOBUFS) {
      if (!more) ArmRecv(c);  // the ring ran dry for a moment; it refills this round
    } else {
      OnHangUp(c);
    }
  }

  void Sent(Conn* c, int res) {
    --c->inflight;
    if (c->closed) {
      OnSendDone(c);
      return;
    }
    if (res < 0) {
      OnSendFailed(c);
      return;
    }
    // A short send: the rest goes in another SQE.
    size_t done = static_cast<size_t>(res);
    size_t first = 0;
    while (first < c->msg.msg_iovlen && done >= c->iov[first].iov_len) {
      done -= c->iov[first].iov_len;
      ++first;
    }
    if (first == c->msg.msg_iovlen) {
      OnSendDone(c);
      return;
    }
    std::copy(c->iov + first, c->iov + c->msg.msg_iovlen, c->iov);
    c->msg.msg_iovlen -= first;
    c->iov[0].iov_base = static_cast<char*>(c->iov[0].iov_base) + done;
    c->iov[0].iov_len -= done;
    SubmitSend(c);
  }

  bool multishot_;
  io_uring ring_{};
  io_uring_buf_ring* buffer_ring_ = nullptr;
  std::unique_ptr<char[]> buffers_;
  unsigned buffers_returned_ = 0;
  std::vector<Conn*> dead_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string mode;
  int port = 0;
  std::string origin;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--mode") {
      mode = argv[i + 1];
    } else if (flag == "--listen") {
      port = std::atoi(argv[i + 1]);
    } else if (flag == "--origin") {
      origin = argv[i + 1];
    }
  }
  const size_t colon = origin.rfind(':');
  sockaddr_in origin_addr{};
  origin_addr.sin_family = AF_INET;
  if (port <= 0 || colon == std::string::npos ||
      inet_pton(AF_INET, origin.substr(0, colon).c_str(), &origin_addr.sin_addr) != 1 ||
      (mode != "epoll" && mode != "uring" && mode != "uring-oneshot")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  origin_addr.sin_port = htons(static_cast<uint16_t>(std::atoi(origin.c_str() + colon + 1)));
  prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlives the script that started it
  signal(SIGPIPE, SIG_IGN);
  const int listen_fd = Listen(port);
  std::unique_ptr<Proxy> proxy;
  if (mode == "epoll") {
    proxy = std::make_unique<EpollProxy>(origin_addr);
  } else {
    proxy = std::make_unique<UringProxy>(origin_addr, mode == "uring");
  }
  proxy->Run(listen_fd);
}
