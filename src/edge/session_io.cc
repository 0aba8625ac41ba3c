#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "edge/proxy_session.h"

// A session's socket I/O: writes that park what the kernel does not take, and
// reads into the request buffer.
namespace skiff::edge {
namespace {

// Appends what `iov` holds past its first `skip` bytes.
void AppendUnsent(const iovec* iov, int count, size_t skip, std::string* out) {
  for (int i = 0; i < count; ++i) {
    if (skip >= iov[i].iov_len) {
      skip -= iov[i].iov_len;
      continue;
    }
    out->append(static_cast<const char*>(iov[i].iov_base) + skip, iov[i].iov_len - skip);
    skip = 0;
  }
}

}  // namespace

// -------------------------------------------------------------------- I/O

bool Session::SendClient(const iovec* iov, int count) {
  if (tls_ != nullptr) {
    if (!tls_->Write(iov, count)) {
      End();
      return false;
    }
    return SendCiphertext();
  }
  return SendRaw(iov, count);
}

bool Session::SendCiphertext() {
  std::string& out = tls_->out();
  if (out.empty()) return true;
  const iovec v{out.data(), out.size()};
  const bool sent = SendRaw(&v, 1, &out);
  tls_->ClearOut();
  return sent;
}

bool Session::SendRaw(const iovec* iov, int count, std::string* owner) {
  if (!pending_.empty()) {
    AppendUnsent(iov, count, 0, &pending_);
    return true;
  }
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  ssize_t n = writable_ ? worker_->loop().Send(fd_, iov, count) : 0;
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      End();
      return false;
    }
    n = 0;
  }
  if (static_cast<size_t>(n) < total) {
    if (owner != nullptr) {  // its buffer becomes pending_: no second copy
      owner->erase(0, static_cast<size_t>(n));
      pending_.swap(*owner);
    } else {
      AppendUnsent(iov, count, static_cast<size_t>(n), &pending_);
    }
    writable_ = false;
    deadline_ = EdgeProxy::Worker::now() + shared_.options.write_timeout;
  }
  return true;
}

bool Session::FlushClient() {
  if (pending_.empty() || !writable_) return true;
  const iovec pending{pending_.data(), pending_.size()};
  const ssize_t n = worker_->loop().Send(fd_, &pending, 1);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      writable_ = false;
      return true;
    }
    End();
    return false;
  }
  pending_.erase(0, static_cast<size_t>(n));
  if (pending_.empty()) EmptyBuffer(&pending_);  // no burst's peak kept while idle
  if (!pending_.empty()) {
    // A client that reads slowly but steadily keeps its connection.
    writable_ = false;
    deadline_ = EdgeProxy::Worker::now() + shared_.options.write_timeout;
    return true;
  }
  if (phase_ == Phase::kLinger) {
    Linger();
    return phase_ != Phase::kEnded;
  }
  if (phase_ == Phase::kRelay) {
    deadline_ = EdgeProxy::Worker::now() + route_->policy.response_timeout;
  }
  return true;
}

bool Session::SendUpstream(const iovec* iov, int count) {
  if (!up_pending_.empty()) {
    AppendUnsent(iov, count, 0, &up_pending_);
    return true;
  }
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  ssize_t n = worker_->loop().Send(upstream_->fd, iov, count);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    n = 0;
  }
  if (static_cast<size_t>(n) < total) {
    AppendUnsent(iov, count, static_cast<size_t>(n), &up_pending_);
    upstream_->writable = false;
  }
  return true;
}

bool Session::FlushUpstream() {
  if (up_pending_.empty() || !upstream_->writable) return true;
  const iovec pending{up_pending_.data(), up_pending_.size()};
  const ssize_t n = worker_->loop().Send(upstream_->fd, &pending, 1);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      upstream_->writable = false;
      return true;
    }
    if (phase_ == Phase::kUpstream) {
      GiveUp(Blame::kInstance, 502, "app " + route_->app + ": the instance broke the connection");
    } else {
      End();
    }
    return false;
  }
  up_pending_.erase(0, static_cast<size_t>(n));
  if (!up_pending_.empty()) upstream_->writable = false;
  return true;
}

ssize_t Session::ReadClient() {
  // (Once close_notify is sent, what the client still sends is only drained.)
  if (tls_ != nullptr && !linger_shut_) return ReadTls();
  const size_t room = kBufferBytes - end_;
  if (room == 0) return 0;
  const ssize_t n = worker_->loop().Recv(fd_, buffer_.get() + end_, room);
  if (n > 0) {
    end_ += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < room && !peer_closed_) readable_ = false;
    return n;
  }
  if (n == 0) return -1;
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    readable_ = false;
    return 0;
  }
  return -1;
}

ssize_t Session::ReadTls() {
  const size_t room = kBufferBytes - end_;
  if (room == 0) return 0;
  const ssize_t n = tls_->Read(buffer_.get() + end_, room);
  const int error = errno;
  // Handshake messages, or an alert before the end: best effort.
  if (!SendCiphertext()) return -1;
  if (!handshake_done_ && phase_ == Phase::kHead && tls_->handshake_done()) {
    // The handshake had the head's time; a kept connection's wait is idle time
    // (the first bytes of a request start the head's time again).
    handshake_done_ = true;
    if (begin_ == end_) deadline_ = EdgeProxy::Worker::now() + shared_.options.idle_timeout;
  }
  if (n > 0) {
    end_ += static_cast<size_t>(n);
    // OpenSSL may hold the rest of what came: no event would say so.
    if (!tls_->more() && !peer_closed_) readable_ = false;
    return n;
  }
  if (n < 0 && error == EAGAIN) {
    readable_ = false;
    return 0;
  }
  return -1;
}

void Session::CompactBuffer() {
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (begin_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    body_end_ = body_end_ > begin_ ? body_end_ - begin_ : 0;
    begin_ = 0;
  }
}

void Session::ReleaseUpstream(bool reusable) {
  if (open_endpoint_) {
    open_endpoint_->Close();
    open_endpoint_.reset();
  }
  if (upstream_ == nullptr) return;
  Upstream* upstream = upstream_;
  upstream_ = nullptr;
  up_pending_.clear();
  upstream->owner = nullptr;
  if (reusable) {
    worker_->GiveBack(upstream);
  } else {
    worker_->Discard(upstream);
  }
}

void Session::RecordEnd(int status) {
  if (metrics_ != nullptr) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    metrics_->by_class[std::clamp(status / 100, 1, 5)]->Inc();
    metrics_->bytes->Inc(static_cast<double>(response_bytes_));
    metrics_->duration->Observe(seconds);
    if (counted_in_flight_) metrics_->in_flight->Add(-1);
  }
  if (counted_in_flight_) {
    route_->state->in_flight.fetch_sub(1, std::memory_order_relaxed);
    counted_in_flight_ = false;
  }
  if (shared_.options.access_log != nullptr && !log_.empty()) {
    AccessLogEntry entry;
    entry.time = started_wall_;
    entry.client = client_ip_;
    entry.method = std::string_view(log_).substr(0, log_host_);
    entry.host = std::string_view(log_).substr(log_host_, log_target_ - log_host_);
    entry.target = std::string_view(log_).substr(log_target_, log_agent_ - log_target_);
    entry.user_agent = std::string_view(log_).substr(log_agent_);
    entry.app = route_ != nullptr ? std::string_view(route_->app) : std::string_view();
    entry.upstream = route_ != nullptr && endpoint_ >= 0
                         ? std::string_view(route_->endpoints[endpoint_].address)
                         : std::string_view();
    entry.status = status;
    entry.request_bytes = request_bytes_;
    entry.response_bytes = response_bytes_;
    entry.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started_);
    entry.request_id = request_id_;
    worker_->Log(entry);
  }
  log_.clear();
  route_ = nullptr;
  metrics_ = nullptr;
  endpoint_ = -1;
  table_.reset();
}

}  // namespace skiff::edge
