#include "edge/proxy_session.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/logging.h"
#include "common/quantity.h"
#include "edge/admission.h"
#include "edge/balancer.h"
#include "net/http.h"
#include "net/request_head.h"

namespace skiff::edge {
namespace {

constexpr int kMaxAttempts = 3;
// After refusing a request the edge reads and drops what the client still
// sends, bounded by both, so that closing with unread bytes does not reset
// the connection before the client has read the answer.
constexpr size_t kMaxLingerBytes = 8 << 20;
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

Session::Session(EdgeProxy::Worker* worker, int fd, std::string client_ip, bool tls)
    : worker_(worker),
      shared_(worker->shared()),
      fd_(fd),
      client_ip_(std::move(client_ip)),
      tls_listener_(tls),
      buffer_(new char[kBufferBytes]) {
  head_.fields.reserve(32);
  response_.fields.reserve(32);
}

Session::~Session() {
  if (phase_ != Phase::kEnded) worker_->loop().Close(fd_, this);  // (the worker's end)
}

void Session::Start() {
  deadline_ = EdgeProxy::Worker::now() + shared_.options.idle_timeout;
  if (tls_listener_) {
    // The handshake gets the time a request head gets.
    deadline_ = EdgeProxy::Worker::now() + shared_.options.header_timeout;
    Result<std::unique_ptr<tls::TlsConnection>> tls = tls::TlsConnection::Create(
        *shared_.tls, worker_->table()->certificates_ptr(), &worker_->loop(), fd_);
    if (!tls) {
      SKIFF_LOG_WARN("edge: {}", tls.error().message);
      End();
      return;
    }
    tls_ = std::move(*tls);
  }
  if (!worker_->loop().Add(fd_, this)) End();
}

void Session::OnEvents(uint32_t events) {
  if (phase_ == Phase::kEnded) return;
  if (events & (EPOLLERR | EPOLLHUP)) {
    End();
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP)) readable_ = true;
  if (events & EPOLLRDHUP) peer_closed_ = true;
  if (events & EPOLLOUT) {
    writable_ = true;
    if (!FlushClient()) return;
  }
  switch (phase_) {
    case Phase::kHead:
      ReadHead();
      break;
    case Phase::kHeld:
      // Nothing is read while held (the body waits in the socket); a FIN is
      // a client that went away (as nginx takes it while it waits on an
      // upstream): a client that half-closes after its request is dropped too.
      if (peer_closed_) End();
      break;
    case Phase::kUpstream:
      if (!RequestBodyDone()) PumpRequestBody();
      break;
    case Phase::kRelay:
      if (!RequestBodyDone()) PumpRequestBody();  // an instance may answer before the body ends
      if (phase_ == Phase::kRelay) RelayBody();
      break;
    case Phase::kTunnel:
      PumpTunnel();
      break;
    case Phase::kLinger:
      Linger();
      break;
    case Phase::kEnded:
      break;
  }
}

// ---------------------------------------------------------------- request

void Session::ReadHead() {
  // Re-entered from a response finished within Dispatch: the loop below goes on.
  if (in_read_head_) return;
  in_read_head_ = true;
  ReadHeads();
  in_read_head_ = false;
}

void Session::ReadHeads() {
  const EdgeOptions& options = shared_.options;
  while (phase_ == Phase::kHead) {
    // A client that pipelines without reading its answers gets no more until
    // it does: what waits for it stays bounded (OnEvents resumes here).
    if (!pending_.empty()) return;
    if (begin_ < end_) {
      net::RequestHeadScan scan =
          net::ScanRequestHead(std::string_view(buffer_.get() + begin_, end_ - begin_));
      if (scan.state == net::RequestHeadScan::State::kComplete) {
        if (scan.length > options.max_head_bytes) {
          Refuse(431,
                 "request header exceeds " + std::to_string(options.max_head_bytes >> 10) + " KiB",
                 true);
          return;
        }
        Dispatch(scan.length);
        continue;
      }
      if (scan.state == net::RequestHeadScan::State::kBad) {
        Refuse(scan.status,
               scan.status == 400 ? "malformed HTTP request: " + scan.problem : scan.problem, true);
        return;
      }
      if (end_ - begin_ > options.max_head_bytes) {
        Refuse(431,
               "request header exceeds " + std::to_string(options.max_head_bytes >> 10) + " KiB",
               true);
        return;
      }
    }
    if (stopping_ && begin_ == end_) {
      EndCleanly();
      return;
    }
    if (!readable_) return;
    CompactBuffer();
    const bool first = begin_ == end_;
    const ssize_t n = ReadClient();
    if (n < 0) {
      End();
      return;
    }
    if (n == 0) return;
    if (first) deadline_ = EdgeProxy::Worker::now() + options.header_timeout;
  }
}

void Session::Dispatch(size_t head_length) {
  started_ = std::chrono::steady_clock::now();
  if (shared_.options.access_log != nullptr) started_wall_ = std::chrono::system_clock::now();
  const std::string_view bytes(buffer_.get() + begin_, end_ - begin_);
  problem_.clear();
  request_id_.clear();
  if (!http1::ParseRequestHead(bytes.substr(0, head_length), &head_, &problem_)) {
    Refuse(400, "malformed HTTP request: " + problem_, true);
    return;
  }
  shared_.EarnRetry();
  std::string_view id = ClientRequestId(head_);
  if (id.empty()) {
    request_id_ = NewRequestId();
  } else {
    request_id_.assign(id);
  }
  client_keep_alive_ = head_.keep_alive && !stopping_;
  is_head_ = head_.method == "HEAD";
  idempotent_ = IsIdempotent(head_.method);
  accept_encoding_.assign(FindField(head_.fields, "accept-encoding"));
  if (shared_.options.access_log != nullptr) {
    log_.assign(head_.method);
    log_host_ = log_.size();
    log_.append(head_.host);
    log_target_ = log_.size();
    log_.append(head_.target);
    log_agent_ = log_.size();
    log_.append(FindField(head_.fields, "user-agent"));
  }

  // Where the body is: whole in the buffer (the request can be sent again),
  // or still to come (streamed once the instance is connected).
  const size_t body_begin = begin_ + head_.length;
  request_body_ = Source::kNone;
  request_left_ = 0;
  request_bytes_ = 0;
  request_chunks_.Reset();
  if (head_.chunked) {
    request_body_ = Source::kChunked;
  } else if (head_.content_length && *head_.content_length > 0) {
    request_body_ = Source::kLength;
    request_left_ = *head_.content_length;
  }
  replayable_ = request_body_ == Source::kNone ||
                (request_body_ == Source::kLength && end_ - body_begin >= request_left_);
  body_end_ = replayable_ ? body_begin + request_left_ : body_begin;
  if (replayable_) request_bytes_ = request_left_;

  if (!tls_listener_ && AnswerPlain()) return;
  table_ = worker_->table();
  const Admission admission =
      Admit(head_, replayable_, *table_, [&](const Route& route, std::chrono::seconds* wait) {
        return shared_.limiter.Allow(route.app + '\n' + client_ip_, *route.policy.rate_limit,
                                     std::chrono::steady_clock::now(), wait);
      });
  route_ = admission.route;
  if (route_ == nullptr) {
    if (shared_.unrouted != nullptr) shared_.unrouted->Inc();
  } else {
    metrics_ = shared_.MetricsOf(*route_);
  }
  if (admission.refusal) {
    const Refusal& refusal = *admission.refusal;
    Refuse(refusal.status, refusal.message, refusal.close, refusal.retry_after);
    return;
  }
  const model::EdgePolicy& policy = route_->policy;
  const std::string& app = route_->app;
  if (tls_listener_ && policy.tls == model::EdgeTls::kOff) {
    // Not 404: the app exists, only not here (RFC 9110 15.5.20).
    Refuse(421, "app " + app + " is not served over HTTPS (edge.tls: off)", !replayable_);
    return;
  }
  if (!tls_listener_ && policy.https_redirect && shared_.tls_port != 0 &&
      policy.tls != model::EdgeTls::kOff) {
    const bool close = !replayable_ || stopping_ || !client_keep_alive_;
    out_.clear();
    const int status = AppendRedirect(head_, shared_.tls_port, request_id_, close, &out_);
    response_bytes_ = 0;
    Answer(status, close);
    return;
  }
  const int before = route_->state->in_flight.fetch_add(1, std::memory_order_relaxed);
  if (before >= policy.max_in_flight) {
    route_->state->in_flight.fetch_sub(1, std::memory_order_relaxed);
    Refuse(503,
           "app " + app + " has too many requests in flight (edge.max_in_flight " +
               std::to_string(policy.max_in_flight) + ")",
           !replayable_);
    return;
  }
  counted_in_flight_ = true;  // in the breaker's count and the in-flight gauge
  if (metrics_ != nullptr) metrics_->in_flight->Add(1);

  up_head_.clear();
  AppendUpstreamHead(head_, client_ip_, request_id_, tls_listener_, &up_head_);
  begin_ = body_begin;  // the head is consumed; its views are not used from here on
  upgrade_ = head_.upgrade;
  tried_.clear();
  failed_attempts_ = 0;
  stale_retried_ = false;
  if (admission.hold) {
    Hold();
    return;
  }
  Proceed();
}

void Session::Proceed() {
  // (After a hold, not before: the body is not asked for until it can go on.)
  if (head_.expect_continue && request_body_ != Source::kNone && begin_ == end_) {
    if (!SendClient(kContinue)) return;
  }
  Attempt();
}

void Session::Hold() {
  AppState& app = *route_->state;
  const int before = app.held.fetch_add(1, std::memory_order_acq_rel);
  if (before >= route_->policy.wake_queue) {
    app.held.fetch_sub(1, std::memory_order_acq_rel);
    if (metrics_ != nullptr) metrics_->wake_queue_full->Inc();
    const Refusal refusal = WakeQueueFull(*route_, replayable_);
    Refuse(refusal.status, refusal.message, refusal.close, refusal.retry_after);
    return;
  }
  held_ = true;
  if (metrics_ != nullptr) metrics_->held->Add(1);
  phase_ = Phase::kHeld;
  deadline_ = EdgeProxy::Worker::now() + route_->policy.wake_timeout;
  worker_->Hold(this);
  if (shared_.waker != nullptr) shared_.waker->Ask(route_->app, route_->state, before == 0);
}

void Session::Unhold() {
  if (!held_) return;
  held_ = false;
  route_->state->held.fetch_sub(1, std::memory_order_acq_rel);
  if (metrics_ != nullptr) metrics_->held->Add(-1);
  worker_->Unhold(this);
}

void Session::Resume() {
  if (phase_ != Phase::kHeld) return;
  // The same app in the newest table (it keeps its counts). When the app
  // is gone no wake comes for it: answered now, not after wake_timeout (and
  // the Waker stops asking once none is held).
  if (!RefreshRoute()) {
    Unhold();
    if (metrics_ != nullptr) metrics_->wake_app_gone->Inc();
    const Refusal refusal = WakeAppGone(*route_, head_, *worker_->table(), replayable_);
    Refuse(refusal.status, refusal.message, refusal.close, refusal.retry_after);
    return;
  }
  if (route_->routable() == 0) return;
  Unhold();
  Proceed();
}

void Session::Attempt() {
  const int pick = PickEndpoint(*route_, FastRandom(), EdgeProxy::Worker::now(), tried_);
  if (pick < 0) {
    Refuse(503, "app " + route_->app + " has no healthy instance now", !replayable_);
    return;
  }
  tried_.push_back(pick);
  endpoint_ = pick;
  const Endpoint& endpoint = route_->endpoints[pick];
  endpoint.state->Begin();
  endpoint.state->Open();
  open_endpoint_ = endpoint.state;
  attempt_open_ = true;
  attempt_started_ = EdgeProxy::Worker::now();
  // After a stale pooled connection, a new one: the others may be stale too.
  Result<Upstream*> upstream = worker_->TakeUpstream(endpoint.address, stale_retried_);
  if (!upstream) {
    AttemptFailed(/*refused=*/true, 502, upstream.error().message);
    return;
  }
  upstream_ = *upstream;
  upstream_->owner = this;
  phase_ = Phase::kUpstream;
  answered_ = false;
  if (upstream_->connecting) {
    deadline_ = attempt_started_ + route_->policy.connect_timeout;
    return;  // OnUpstreamEvents sees the connect complete
  }
  SendRequest();
}

bool Session::RefreshRoute() {
  std::shared_ptr<const RoutingTable> latest = worker_->table();
  if (latest == table_) return true;
  const std::string_view path =
      route_->path_prefix.empty() ? std::string_view("/") : std::string_view(route_->path_prefix);
  const Route* fresh = latest->Find(route_->host, path);
  // Only the same app with the same state (the breaker's count and the
  // metrics this request is counted in): tables built with the edge's
  // EdgeStates share it.
  if (fresh == nullptr || fresh->app != route_->app || fresh->state != route_->state) return false;
  std::vector<int> tried;
  for (int i : tried_) {
    const std::string& id = route_->endpoints[i].instance_id;
    for (int j = 0; j < static_cast<int>(fresh->endpoints.size()); ++j) {
      if (fresh->endpoints[j].instance_id == id) tried.push_back(j);
    }
  }
  table_ = std::move(latest);
  route_ = fresh;
  tried_ = std::move(tried);
  return true;
}

void Session::EndAttempt(bool failed) {
  if (!attempt_open_) return;
  attempt_open_ = false;
  const auto now = EdgeProxy::Worker::now();
  route_->endpoints[endpoint_].state->End(
      std::chrono::duration_cast<std::chrono::microseconds>(now - attempt_started_), failed, now);
}

void Session::EndAttemptUnjudged() {
  if (!attempt_open_) return;
  attempt_open_ = false;
  route_->endpoints[endpoint_].state->Cancel();
}

void Session::OnUpstreamEvents(uint32_t events) {
  if (phase_ == Phase::kEnded || upstream_ == nullptr) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) upstream_->readable = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) upstream_->peer_closed = true;
  if (events & EPOLLOUT) upstream_->writable = true;
  if (upstream_->connecting) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      int error = 0;
      socklen_t size = sizeof error;
      getsockopt(upstream_->fd, SOL_SOCKET, SO_ERROR, &error, &size);
      AttemptFailed(/*refused=*/true, 502,
                    std::string("cannot connect to ") + upstream_->address + ": " +
                        std::strerror(error != 0 ? error : ECONNREFUSED));
      return;
    }
    if (!(events & EPOLLOUT)) return;
    upstream_->connecting = false;
    SendRequest();
    return;
  }
  switch (phase_) {
    case Phase::kUpstream:
      if (!FlushUpstream()) return;
      if (!RequestBodyDone()) {
        PumpRequestBody();
        if (phase_ != Phase::kUpstream) return;
      }
      if (upstream_ != nullptr && upstream_->readable) ReadResponse();
      break;
    case Phase::kRelay:
      if (!FlushUpstream()) return;
      if (!RequestBodyDone()) PumpRequestBody();
      if (phase_ == Phase::kRelay) RelayBody();
      break;
    case Phase::kTunnel:
      if (!FlushUpstream()) return;
      PumpTunnel();
      break;
    default:
      break;
  }
}

void Session::SendRequest() {
  iovec iov[2] = {{up_head_.data(), up_head_.size()}, {buffer_.get() + begin_, 0}};
  int count = 1;
  if (replayable_ && body_end_ > begin_) {
    iov[1].iov_len = body_end_ - begin_;
    count = 2;
  }
  up_pending_.clear();
  if (!SendUpstream(iov, count)) {
    // Nothing reached an instance that had closed the pooled connection.
    AttemptFailed(/*refused=*/true, 502, "the connection to " + upstream_->address + " broke");
    return;
  }
  if (replayable_) {
    request_left_ = 0;
  }
  deadline_ = EdgeProxy::Worker::now() + route_->policy.response_timeout;
  if (!RequestBodyDone()) {
    deadline_ = EdgeProxy::Worker::now() + shared_.options.body_timeout;
    PumpRequestBody();
    if (phase_ != Phase::kUpstream) return;
  }
  if (upstream_ != nullptr && upstream_->readable) ReadResponse();
}

bool Session::RequestBodyDone() const {
  switch (request_body_) {
    case Source::kLength:
      return request_left_ == 0;
    case Source::kChunked:
      return request_chunks_.done();
    default:
      return true;
  }
}

void Session::PumpRequestBody() {
  const model::EdgePolicy& policy = route_->policy;
  while (!RequestBodyDone()) {
    if (upstream_ == nullptr || upstream_->connecting || !up_pending_.empty()) return;
    if (begin_ < end_) {
      std::string_view avail(buffer_.get() + begin_, end_ - begin_);
      size_t take = 0;
      if (request_body_ == Source::kLength) {
        take = static_cast<size_t>(std::min<uint64_t>(avail.size(), request_left_));
        request_left_ -= take;
      } else {
        take = request_chunks_.Feed(avail);
        if (request_chunks_.bad()) {
          GiveUp(Blame::kNobody, 400,
                 "malformed chunked request body: " + request_chunks_.problem());
          return;
        }
        if (request_chunks_.payload_bytes() > static_cast<uint64_t>(policy.max_body)) {
          GiveUp(Blame::kNobody, 413,
                 "request body exceeds " + std::to_string(policy.max_body) + " bytes (app " +
                     route_->app + " edge.max_body)");
          return;
        }
      }
      iovec iov{buffer_.get() + begin_, take};
      begin_ += take;
      request_bytes_ += take;
      replayable_ = false;  // what went out is gone from the buffer
      if (!SendUpstream(&iov, 1)) {
        GiveUp(Blame::kInstance, 502, "app " + route_->app + ": the instance broke the connection");
        return;
      }
      deadline_ = EdgeProxy::Worker::now() + shared_.options.body_timeout;
      continue;
    }
    if (!readable_) return;
    CompactBuffer();
    const ssize_t n = ReadClient();
    if (n < 0) {
      End();  // the client left with its request half sent
      return;
    }
    if (n == 0) return;
  }
  deadline_ = EdgeProxy::Worker::now() + policy.response_timeout;
}

// --------------------------------------------------------------- failures

void Session::AttemptFailed(bool refused, int status, std::string message) {
  // A kept connection the instance had closed says nothing about the
  // instance: the request goes again on a fresh connection, once. An
  // idempotent one whatever happened; any other only when the instance
  // refused it outright (the write failed, or a reset came before any byte of
  // an answer), since then it never took it.
  const bool stale = upstream_ != nullptr && upstream_->reused && !stale_retried_;
  if (stale) {
    EndAttemptUnjudged();
  } else {
    EndAttempt(true);
  }
  ReleaseUpstream(false);
  if (stale && replayable_ && (idempotent_ || refused)) {
    stale_retried_ = true;
    tried_.pop_back();
    Attempt();
    return;
  }
  if (replayable_ && idempotent_) {
    ++failed_attempts_;
    RefreshRoute();
    const int left = route_->routable() - static_cast<int>(tried_.size());
    if (left > 0 && failed_attempts_ < kMaxAttempts && shared_.TakeRetry()) {
      Attempt();
      return;
    }
  }
  Refuse(status, "app " + route_->app + ": " + message, !replayable_);
}

void Session::GiveUp(Blame blame, int status, std::string message) {
  if (blame == Blame::kInstance) {
    EndAttempt(true);
  } else {
    EndAttemptUnjudged();
  }
  Refuse(status, std::move(message), true);  // lets go of the connection too
}

void Session::Refuse(int status, std::string message, bool close, int retry_after) {
  // Once the instance's answer is on its way there is no answering again: the
  // client can only be told by the connection ending.
  if (phase_ == Phase::kRelay || phase_ == Phase::kTunnel) {
    End();
    return;
  }
  close = close || stopping_ || !client_keep_alive_;
  if (request_id_.empty()) request_id_ = NewRequestId();
  out_.clear();
  AppendRefusal(status, message, request_id_, retry_after, close, &out_);
  response_bytes_ = message.size() + 1;
  Answer(status, close);
}

void Session::Answer(int status, bool close) {
  if (upstream_ != nullptr) ReleaseUpstream(false);
  status_ = status;
  RecordEnd(status);
  if (!SendClient(out_)) return;
  if (close) {
    Linger();
    return;
  }
  begin_ = body_end_;  // a kept connection's request was whole in the buffer
  phase_ = Phase::kHead;
  if (pending_.empty()) {  // else the write deadline SendClient set stands
    deadline_ = EdgeProxy::Worker::now() +
                (begin_ < end_ ? shared_.options.header_timeout : shared_.options.idle_timeout);
    ReadHead();
  }
}

bool Session::AnswerPlain() {
  constexpr std::string_view kChallenges = "/.well-known/acme-challenge/";
  const std::string_view target = head_.target;
  if (!target.starts_with(kChallenges) || (head_.method != "GET" && head_.method != "HEAD")) {
    return false;
  }
  // For any host, before routing: the ACME server asks for a domain no app
  // may serve yet. A token the table does not know is routed as any request,
  // so an app validating its own certificates (tls: off, its own certbot)
  // still gets its challenges.
  std::string_view token = target.substr(kChallenges.size());
  token = token.substr(0, token.find('?'));
  const std::string* key_authorization = worker_->table()->Challenge(token);
  if (key_authorization == nullptr) return false;
  if (request_id_.empty()) request_id_ = NewRequestId();
  const bool close = !replayable_ || stopping_ || !client_keep_alive_;
  out_.clear();
  AppendOwnAnswer(200, *key_authorization, {}, request_id_, close, &out_);
  if (is_head_) out_.resize(out_.size() - key_authorization->size());
  response_bytes_ = key_authorization->size();
  Answer(200, close);
  return true;
}

void Session::Linger() {
  if (phase_ != Phase::kLinger) {
    phase_ = Phase::kLinger;
    linger_shut_ = false;
    linger_bytes_ = 0;
    deadline_ = EdgeProxy::Worker::now() + shared_.options.write_timeout;
  }
  if (!pending_.empty()) return;  // FlushClient calls again once it is out
  if (!linger_shut_) {
    if (tls_ != nullptr) {
      tls_->Shutdown();  // close_notify: the answer ended where it says
      if (!tls_->out().empty()) {
        if (!SendCiphertext()) return;
        if (!pending_.empty()) return;  // FlushClient calls again once it is out
      }
    }
    worker_->loop().ShutdownWrite(fd_);
    linger_shut_ = true;
    deadline_ = EdgeProxy::Worker::now() + kLingerTime;
  }
  while (readable_) {
    begin_ = end_ = 0;
    const ssize_t n = ReadClient();
    if (n < 0) {
      End();
      return;
    }
    linger_bytes_ += static_cast<size_t>(n);
    if (linger_bytes_ > kMaxLingerBytes) {
      End();
      return;
    }
  }
}

void Session::Sweep(SteadyTime now) {
  if (phase_ == Phase::kEnded || now < deadline_) return;
  switch (phase_) {
    case Phase::kHeld: {
      Unhold();
      if (metrics_ != nullptr) metrics_->wake_timeouts->Inc();
      const Refusal refusal = WakeTimedOut(*route_, replayable_);
      Refuse(refusal.status, refusal.message, refusal.close, refusal.retry_after);
      break;
    }
    case Phase::kHead:
      if (begin_ < end_) {
        Refuse(408,
               "request head not received within " + FormatDuration(shared_.options.header_timeout),
               true);
      } else {
        EndCleanly();  // idle for idle_timeout
      }
      break;
    case Phase::kUpstream:
      if (upstream_ != nullptr && upstream_->connecting) {
        AttemptFailed(/*refused=*/true, 504,
                      "no connection to " + upstream_->address + " within " +
                          FormatDuration(route_->policy.connect_timeout));
      } else if (!up_pending_.empty()) {
        GiveUp(Blame::kInstance, 504, "app " + route_->app + " stopped reading the request body");
      } else if (!RequestBodyDone()) {
        GiveUp(Blame::kNobody, 408, "request body not received in time");
      } else {
        GiveUp(Blame::kInstance, 504,
               "app " + route_->app + " did not answer within " +
                   FormatDuration(route_->policy.response_timeout));
      }
      break;
    case Phase::kLinger:
      End();  // (its answer was taken whole: its last bytes may still go out)
      break;
    default:
      // A client that took nothing of what waits for it for write_timeout is
      // cut at once: the engine does not hold those bytes for it any longer.
      End(/*abort=*/!pending_.empty());
      break;
  }
}

void Session::BeginStop() {
  stopping_ = true;
  if (phase_ == Phase::kHead && begin_ == end_ && pending_.empty()) EndCleanly();
}

void Session::EndCleanly() {
  // Over TLS the end is said with close_notify: a bare TCP end may be a cut
  // the client cannot tell from a complete exchange. Best effort: what the
  // socket does not take now is not waited for.
  if (tls_ != nullptr && pending_.empty()) {
    tls_->Shutdown();
    if (!SendCiphertext()) return;  // (it ended the session)
  }
  End();
}

void Session::Abort() { End(/*abort=*/true); }

void Session::End(bool abort) {
  if (phase_ == Phase::kEnded) return;
  // The attempt first: RecordEnd lets go of the route it points into.
  Unhold();
  EndAttemptUnjudged();
  ReleaseUpstream(false);
  if (route_ != nullptr) RecordEnd(answered_ ? status_ : 499);
  phase_ = Phase::kEnded;
  if (abort) {
    worker_->loop().Abort(fd_, this);
  } else {
    worker_->loop().Close(fd_, this);
  }
  worker_->SessionEnded(this);
}

}  // namespace skiff::edge
