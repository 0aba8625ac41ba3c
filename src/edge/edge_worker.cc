#include "edge/edge_worker.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/logging.h"
#include "edge/proxy_session.h"
#include "net/host_port.h"

namespace skiff::edge {
namespace {

// Past the connection cap: a short 503, best effort, never waiting on the client.
constexpr std::string_view kBusy =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    "Content-Length: 0\r\n\r\n";

std::string PeerIp(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, text, sizeof text);
  } else {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, text, sizeof text);
  }
  return text;
}

// "127.0.0.1:41000" or "[::1]:41000" -> a socket address.
bool ParseAddress(const std::string& address, sockaddr_storage* out, socklen_t* size) {
  auto parsed = net::ParseHostPort(address);
  if (!parsed || parsed->port == 0) return false;
  const std::string& host = parsed->host;
  const uint16_t port = parsed->port;
  *out = {};
  auto& v4 = reinterpret_cast<sockaddr_in&>(*out);
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    *size = sizeof v4;
    return true;
  }
  auto& v6 = reinterpret_cast<sockaddr_in6&>(*out);
  if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    *size = sizeof v6;
    return true;
  }
  return false;
}

}  // namespace

// ------------------------------------------------------------------ Upstream

Upstream::Upstream(EdgeProxy::Worker* w, int f, std::string a)
    : worker(w), fd(f), address(std::move(a)), buffer(new char[kBufferBytes]) {}

Upstream::~Upstream() {
  if (!closed) worker->loop().Close(fd, this);  // (the worker's end)
}

void Upstream::OnEvents(uint32_t events) {
  if (owner != nullptr) {
    owner->OnUpstreamEvents(events);
  } else {
    worker->OnIdleUpstreamEvent(this, events);
  }
}

// ------------------------------------------------------------------ Worker

class EdgeProxy::Worker::Listener final : public EventLoop::Acceptor {
 public:
  Listener(Worker* worker, bool tls) : worker_(worker), tls_(tls) {}
  void OnAccept(int fd, const sockaddr_storage& peer) override { worker_->Accept(fd, peer, tls_); }

 private:
  Worker* const worker_;
  const bool tls_;
};

EdgeProxy::Worker::Worker(Shared* shared, int listen_fd, int tls_listen_fd,
                          std::unique_ptr<EventLoop> loop)
    : shared_(shared),
      listen_fd_(listen_fd),
      tls_listen_fd_(tls_listen_fd),
      loop_(std::move(loop)),
      listener_(std::make_unique<Listener>(this, false)),
      tls_listener_(std::make_unique<Listener>(this, true)) {
  loop_->SetSweep([this] { Sweep(); });
}

EdgeProxy::Worker::~Worker() {
  while (sessions_ != nullptr) {
    Session* s = sessions_;
    sessions_ = s->next;
    delete s;
  }
  for (auto& [address, list] : idle_) {
    for (Upstream* u : list) delete u;
  }
}

void EdgeProxy::Worker::Run(std::promise<Status>* prepared, std::shared_future<bool> go) {
  Status ready = OkStatus();
  try {
    ready = loop_->Prepare();
  } catch (const std::exception& e) {  // (memory): the start fails, it does not hang
    ready = Unavailable(std::string("cannot set the edge's loop up: ") + e.what());
  }
  const bool ok = static_cast<bool>(ready);
  prepared->set_value(std::move(ready));  // (*prepared may be gone after this)
  if (!ok || !go.get()) return;
  Status added = loop_->AddListener(listen_fd_, listener_.get());
  if (added && tls_listen_fd_ >= 0) added = loop_->AddListener(tls_listen_fd_, tls_listener_.get());
  if (!added) {
    // (Prepare did what could fail: not expected.)
    SKIFF_LOG_ERROR("edge: cannot watch the listening socket: {}", added.error().message);
    return;
  }
  loop_->Run();
  FlushLog();
}

void EdgeProxy::Worker::Log(const AccessLogEntry& entry) {
  AppendAccessLogLine(entry, &log_buffer_);
  if (log_buffer_.size() >= (32 << 10)) FlushLog();
}

void EdgeProxy::Worker::FlushLog() {
  if (log_buffer_.empty()) return;
  shared_->options.access_log->Write(log_buffer_);
  log_buffer_.clear();
}

void EdgeProxy::Worker::Stop() {
  loop_->Post([this] {
    if (stopping_) return;
    stopping_ = true;
    stop_deadline_ = now() + shared_->options.stop_grace;
    loop_->RemoveListener(listen_fd_, listener_.get());
    if (tls_listen_fd_ >= 0) loop_->RemoveListener(tls_listen_fd_, tls_listener_.get());
    std::vector<Upstream*> idle;
    for (auto& [address, list] : idle_) idle.insert(idle.end(), list.begin(), list.end());
    for (Upstream* u : idle) Discard(u);  // (which edits idle_)
    for (Session* s = sessions_; s != nullptr;) {
      Session* next = s->next;  // BeginStop may end s
      s->BeginStop();
      s = next;
    }
    if (session_count_ == 0) loop_->Stop(stop_deadline_);
  });
}

const std::shared_ptr<const RoutingTable>& EdgeProxy::Worker::table() {
  const uint64_t version = shared_->table_version.load(std::memory_order_acquire);
  if (version != table_version_) {
    table_ = shared_->table();
    table_version_ = version;
  }
  return table_;
}

void EdgeProxy::Worker::Accept(int fd, const sockaddr_storage& peer, bool tls) {
  if (stopping_ || shared_->connections.load(std::memory_order_relaxed) +
                           shared_->closing.load(std::memory_order_relaxed) >=
                       shared_->options.max_connections) {
    // Past the cap (or stopping): the short answer, straight from the
    // socket's fresh buffer, never waiting on the client.
    if (!stopping_ && !tls) {  // (a TLS client could not read it)
      [[maybe_unused]] ssize_t n = send(fd, kBusy.data(), kBusy.size(), MSG_NOSIGNAL);
    }
    close(fd);
    return;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  shared_->connections.fetch_add(1, std::memory_order_relaxed);
  auto* session = new Session(this, fd, PeerIp(peer), tls);
  session->next = sessions_;
  if (sessions_ != nullptr) sessions_->prev = session;
  sessions_ = session;
  ++session_count_;
  session->Start();
}

void EdgeProxy::Worker::SessionEnded(Session* session) {
  if (session->prev != nullptr) session->prev->next = session->next;
  if (session->next != nullptr) session->next->prev = session->prev;
  if (sessions_ == session) sessions_ = session->next;
  session->prev = session->next = nullptr;
  --session_count_;
  shared_->connections.fetch_sub(1, std::memory_order_relaxed);
  loop_->Defer([session] { delete session; });
  if (stopping_ && session_count_ == 0) loop_->Stop(stop_deadline_);
}

void EdgeProxy::Worker::Hold(Session* session) {
  held_.push_back(session);
  shared_->held.fetch_add(1, std::memory_order_acq_rel);
}

void EdgeProxy::Worker::Unhold(Session* session) {
  auto it = std::find(held_.begin(), held_.end(), session);
  if (it == held_.end()) return;
  held_.erase(it);
  shared_->held.fetch_sub(1, std::memory_order_acq_rel);
}

void EdgeProxy::Worker::ResumeHeld() {
  if (held_.empty()) return;
  // A copy: a resumed session leaves held_, and may end or hold again. The
  // sessions are freed only at the end of the round (SessionEnded).
  const std::vector<Session*> held(held_.begin(), held_.end());
  for (Session* s : held) s->Resume();
}

Result<Upstream*> EdgeProxy::Worker::TakeUpstream(const std::string& address, bool fresh) {
  if (auto it = idle_.find(address); !fresh && it != idle_.end() && !it->second.empty()) {
    Upstream* upstream = it->second.back();
    it->second.pop_back();
    return upstream;
  }
  sockaddr_storage target{};
  socklen_t size = 0;
  if (!ParseAddress(address, &target, &size)) {
    return InvalidArgument("instance address \"" + address + "\" is not ip:port");
  }
  const int fd = socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable(std::string("no socket: ") + std::strerror(errno));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&target), size);
  if (rc != 0 && errno != EINPROGRESS) {
    const int error = errno;
    close(fd);
    return Unavailable("cannot connect to " + address + ": " + std::strerror(error));
  }
  auto* upstream = new Upstream(this, fd, address);
  upstream->connecting = rc != 0;
  upstream->writable = rc == 0;
  if (Status added = rc == 0 ? loop_->Add(fd, upstream) : loop_->AddConnecting(fd, upstream);
      !added) {
    delete upstream;
    return tl::unexpected(added.error());
  }
  return upstream;
}

void EdgeProxy::Worker::GiveBack(Upstream* upstream) {
  // An instance that left the routes (it is being stopped) keeps no idle
  // connection: closing it tells the instance its work here is done.
  if (stopping_ || !table()->Routes(upstream->address)) {
    Discard(upstream);
    return;
  }
  std::vector<Upstream*>& list = idle_[upstream->address];
  if (list.size() >= shared_->options.max_idle_per_upstream) {
    Discard(upstream);
    return;
  }
  upstream->reused = true;
  upstream->idle_since = now();
  list.push_back(upstream);
}

void EdgeProxy::Worker::Discard(Upstream* upstream) {
  if (upstream->owner == nullptr) {
    if (auto it = idle_.find(upstream->address); it != idle_.end()) {
      std::erase(it->second, upstream);
      if (it->second.empty()) idle_.erase(it);
    }
  }
  upstream->closed = true;
  loop_->Close(upstream->fd, upstream);
  loop_->Defer([upstream] { delete upstream; });
}

void EdgeProxy::Worker::OnIdleUpstreamEvent(Upstream* upstream, uint32_t events) {
  // Writable is the normal state of an idle connection; anything else means
  // the instance closed it (or sent what no request asked for).
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) Discard(upstream);
}

void EdgeProxy::Worker::Sweep() {
  FlushLog();
  ResumeHeld();  // (a table that came between the post and the hold)
  const SteadyTime t = now();
  for (Session* s = sessions_; s != nullptr;) {
    Session* next = s->next;  // Sweep may end s
    if (stopping_ && t >= stop_deadline_) {
      s->Abort();
    } else {
      s->Sweep(t);
    }
    s = next;
  }
  const auto oldest = t - shared_->options.upstream_idle_timeout;
  const RoutingTable& routes = *table();
  std::vector<Upstream*> old;
  for (auto& [address, list] : idle_) {
    const bool routed = routes.Routes(address);
    for (Upstream* u : list) {
      if (u->idle_since < oldest || !routed) old.push_back(u);
    }
  }
  for (Upstream* u : old) Discard(u);
}

}  // namespace skiff::edge
