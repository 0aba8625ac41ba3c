#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "edge/proxy_session.h"

// The response half of a session: reading the instance's answer, relaying its
// body as the client's framing wants it (verbatim, re-chunked, decoded or
// gzipped), and the tunnel after a 101.
namespace skiff::edge {
namespace {

// Appends a chunk of the chunked coding: its size in hex, the data, CRLF.
void AppendChunk(std::string_view data, std::string* out) {
  if (data.empty()) return;
  char hex[20];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, data.size(), 16);
  out->append(hex, end);
  out->append("\r\n");
  out->append(data);
  out->append("\r\n");
}

}  // namespace

// --------------------------------------------------------------- response

void Session::ReadResponse() {
  while (phase_ == Phase::kUpstream) {
    if (upstream_->buffered() > 0) {
      const http1::ParseState state = http1::ParseResponseHead(
          upstream_->data(), shared_.options.max_head_bytes, &response_, &problem_);
      if (state == http1::ParseState::kBad) {
        GiveUp(Blame::kInstance, 502,
               "app " + route_->app + " answered with a malformed response: " + problem_);
        return;
      }
      if (state == http1::ParseState::kComplete) {
        if (response_.status < 200 && response_.status != 101) {
          upstream_->Consume(response_.length);  // 100 Continue, 103 Early Hints: not passed on
          continue;
        }
        StartResponse();
        return;
      }
    }
    if (!upstream_->readable) return;
    if (upstream_->end == Upstream::kBufferBytes) {
      std::memmove(upstream_->buffer.get(), upstream_->buffer.get() + upstream_->begin,
                   upstream_->buffered());
      upstream_->end -= upstream_->begin;
      upstream_->begin = 0;
    }
    const size_t room = Upstream::kBufferBytes - upstream_->end;
    const ssize_t n =
        worker_->loop().Recv(upstream_->fd, upstream_->buffer.get() + upstream_->end, room);
    if (n > 0) {
      upstream_->end += static_cast<size_t>(n);
      // A short read drained the socket; after the peer's FIN no event
      // will come again, so keep reading until recv says 0.
      if (static_cast<size_t>(n) < room && !upstream_->peer_closed) upstream_->readable = false;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      upstream_->readable = false;
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    // Closed (or reset) before a whole head: lost when nothing came at all.
    if (upstream_->buffered() == 0) {
      // A reset before any answer is a kept connection the instance had
      // closed (its kernel refused the request); a close may follow a request
      // it took.
      const bool reset = n < 0 && (errno == ECONNRESET || errno == EPIPE);
      AttemptFailed(reset, 502,
                    reset ? "the instance reset the connection without answering"
                          : "the instance closed the connection without answering");
    } else {
      GiveUp(Blame::kInstance, 502,
             "app " + route_->app + ": the instance closed the connection mid-answer");
    }
    return;
  }
}

void Session::StartResponse() {
  status_ = response_.status;
  EndAttempt(status_ >= 500);
  if (replayable_) begin_ = body_end_;  // the request's body is done with
  answered_ = true;
  framing_ = ClientFraming{};
  gzip_.reset();
  response_bytes_ = 0;
  head_sent_ = false;
  out_.clear();
  const bool client_10 = head_.minor_version == 0;
  if (status_ == 101) {
    if (!upgrade_) {
      Refuse(502, "app " + route_->app + " switched protocols unasked", true);
      return;
    }
    framing_.body = ClientFraming::Body::kNone;
    framing_.upgrade = true;
    AppendClientHead(response_, framing_, request_id_, &out_,
                     tls_listener_ ? std::string_view(route_->hsts_field) : std::string_view());
    upstream_->Consume(response_.length);
    phase_ = Phase::kTunnel;
    deadline_ = EdgeProxy::Worker::now() + shared_.options.tunnel_idle_timeout;
    if (!SendClient(out_)) return;
    head_sent_ = true;
    PumpTunnel();
    return;
  }
  if (!http1::ResponseHasBody(is_head_ ? "HEAD" : "GET", status_)) {
    response_body_ = Source::kNone;
  } else if (response_.chunked) {
    response_body_ = Source::kChunked;
    response_chunks_.Reset();
  } else if (response_.content_length) {
    response_body_ = Source::kLength;
    response_left_ = *response_.content_length;
  } else {
    response_body_ = Source::kUntilClose;
  }
  if (response_body_ != Source::kNone && !accept_encoding_.empty()) {
    GzipDecisionInput in;
    in.method = is_head_ ? "HEAD" : "GET";
    in.accept_encoding = accept_encoding_;
    in.status = status_;
    in.content_type = FindField(response_.fields, "content-type");
    in.content_encoding = FindField(response_.fields, "content-encoding");
    in.cache_control = FindField(response_.fields, "cache-control");
    in.has_length = response_.content_length.has_value();
    in.length = response_.content_length.value_or(0);
    framing_.gzip = ShouldGzip(in);
  }
  if (framing_.gzip) gzip_ = std::make_unique<GzipEncoder>();
  using Body = ClientFraming::Body;
  if (response_body_ == Source::kNone) {
    framing_.body = Body::kNone;
  } else if (response_body_ == Source::kLength && !framing_.gzip) {
    framing_.body = Body::kLength;
  } else {
    framing_.body = client_10 ? Body::kClose : Body::kChunked;
  }
  verbatim_ =
      !framing_.gzip && (response_body_ == Source::kNone || response_body_ == Source::kLength ||
                         (response_body_ == Source::kChunked && !client_10) ||
                         (response_body_ == Source::kUntilClose && client_10));
  framing_.close = !client_keep_alive_ || stopping_ || framing_.body == Body::kClose ||
                   !RequestBodyDone() || !up_pending_.empty();
  framing_.keep_alive_10 = client_10 && !framing_.close;
  AppendClientHead(response_, framing_, request_id_, &out_,
                   tls_listener_ ? std::string_view(route_->hsts_field) : std::string_view());
  upstream_->Consume(response_.length);
  phase_ = Phase::kRelay;
  deadline_ = EdgeProxy::Worker::now() + route_->policy.response_timeout;
  RelayBody();
}

void Session::RelayBody() {
  while (phase_ == Phase::kRelay) {
    if (!pending_.empty()) return;  // the client is behind: OnEvents resumes
    if (upstream_->buffered() > 0 || !head_sent_ || response_body_ == Source::kNone) {
      size_t consumed = 0;
      const bool done = DeliverBody(upstream_->data(), false, &consumed);
      if (phase_ != Phase::kRelay) return;
      upstream_->Consume(consumed);
      if (done) {
        FinishExchange();
        return;
      }
      if (upstream_->buffered() > 0) continue;  // the client is behind (pending_)
    }
    if (!upstream_->readable) return;
    const ssize_t n =
        worker_->loop().Recv(upstream_->fd, upstream_->buffer.get(), Upstream::kBufferBytes);
    if (n > 0) {
      upstream_->begin = 0;
      upstream_->end = static_cast<size_t>(n);
      if (static_cast<size_t>(n) < Upstream::kBufferBytes && !upstream_->peer_closed) {
        upstream_->readable = false;
      }
      deadline_ = EdgeProxy::Worker::now() + route_->policy.response_timeout;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      upstream_->readable = false;
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && response_body_ == Source::kUntilClose) {
      size_t ignored = 0;
      DeliverBody({}, true, &ignored);  // the end of a body that runs until close
      if (phase_ == Phase::kRelay) FinishExchange();
      return;
    }
    // Cut short: the client cannot be told otherwise than by closing.
    End();
    return;
  }
}

bool Session::DeliverBody(std::string_view bytes, bool at_eof, size_t* consumed) {
  iovec iov[2];
  int count = 0;
  if (!head_sent_) iov[count++] = {out_.data(), out_.size()};
  bool done = false;
  size_t take = 0;
  pieces_.clear();
  switch (response_body_) {
    case Source::kNone:
      done = true;
      break;
    case Source::kLength:
      take = static_cast<size_t>(std::min<uint64_t>(bytes.size(), response_left_));
      response_left_ -= take;
      done = response_left_ == 0;
      if (!verbatim_) pieces_.push_back(bytes.substr(0, take));
      break;
    case Source::kChunked:
      take = response_chunks_.Feed(bytes, verbatim_ ? nullptr : &pieces_);
      if (response_chunks_.bad()) {
        End();  // a broken body cannot be passed on, nor repaired
        return false;
      }
      done = response_chunks_.done();
      break;
    case Source::kUntilClose:
      take = bytes.size();
      done = at_eof;
      if (!verbatim_) pieces_.push_back(bytes);
      break;
  }
  *consumed = take;
  if (verbatim_) {
    if (take > 0) iov[count++] = {const_cast<char*>(bytes.data()), take};
    response_bytes_ += take;
  } else {
    encoded_.clear();
    std::string* payload = &encoded_;
    if (gzip_) {
      zipped_.clear();
      for (std::string_view piece : pieces_) gzip_->Compress(piece, &zipped_);
      if (done) gzip_->Finish(&zipped_);
      if (framing_.body == ClientFraming::Body::kChunked) {
        AppendChunk(zipped_, &encoded_);
      } else {
        payload = &zipped_;
      }
    } else if (framing_.body == ClientFraming::Body::kChunked) {
      for (std::string_view piece : pieces_) AppendChunk(piece, &encoded_);
    } else {
      for (std::string_view piece : pieces_) encoded_.append(piece);
    }
    if (done && framing_.body == ClientFraming::Body::kChunked) encoded_.append("0\r\n\r\n");
    if (!payload->empty()) iov[count++] = {payload->data(), payload->size()};
    // Body bytes as the client's decoder sees them: the chunk framing aside.
    if (gzip_) {
      response_bytes_ += zipped_.size();
    } else {
      for (std::string_view piece : pieces_) response_bytes_ += piece.size();
    }
  }
  if (count > 0 && !SendClient(iov, count)) return false;
  head_sent_ = true;
  return done;
}

void Session::FinishExchange() {
  // Reused only when both messages are whole on the wire: nothing of the
  // request left to send, nothing of the instance's left to read.
  const bool reusable = response_body_ != Source::kUntilClose && !response_.close &&
                        upstream_->buffered() == 0 && !upstream_->readable && RequestBodyDone() &&
                        up_pending_.empty() && !upgrade_;
  ReleaseUpstream(reusable);
  RecordEnd(status_);
  // A client that half-closed after pipelining is still answered: what it
  // sent before its FIN is read and served in turn, and the session ends
  // when the reading reaches the end.
  if (framing_.close || stopping_) {
    Linger();
    return;
  }
  phase_ = Phase::kHead;
  if (pending_.empty()) {  // else the write deadline SendClient set stands
    deadline_ = EdgeProxy::Worker::now() +
                (begin_ < end_ ? shared_.options.header_timeout : shared_.options.idle_timeout);
    ReadHead();
  }
}

// ----------------------------------------------------------------- tunnel

void Session::PumpTunnel() {
  bool progress = true;
  while (progress && phase_ == Phase::kTunnel) {
    progress = false;
    if (up_pending_.empty()) {
      if (begin_ < end_) {
        iovec iov{buffer_.get() + begin_, end_ - begin_};
        begin_ = end_ = 0;
        if (!SendUpstream(&iov, 1)) {
          End();
          return;
        }
        progress = true;
      } else if (readable_) {
        const ssize_t n = ReadClient();
        if (n < 0) {
          End();
          return;
        }
        progress = n > 0;
      }
    }
    if (pending_.empty() && upstream_ != nullptr) {
      if (upstream_->buffered() > 0) {
        if (!SendClient(upstream_->data())) return;
        upstream_->Consume(upstream_->buffered());
        progress = true;
      } else if (upstream_->readable) {
        const ssize_t n =
            worker_->loop().Recv(upstream_->fd, upstream_->buffer.get(), Upstream::kBufferBytes);
        if (n > 0) {
          upstream_->begin = 0;
          upstream_->end = static_cast<size_t>(n);
          progress = true;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          upstream_->readable = false;
        } else if (!(n < 0 && errno == EINTR)) {
          EndCleanly();  // the instance closed its side: the tunnel is over
          return;
        }
      }
    }
    if (progress) deadline_ = EdgeProxy::Worker::now() + shared_.options.tunnel_idle_timeout;
  }
}

}  // namespace skiff::edge
