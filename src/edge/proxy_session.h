// Session: one client connection of the edge and the requests it carries,
// one at a time (a pipelined request waits in the buffer for its turn). A
// state machine driven by readiness events of the client socket and of the
// upstream connection it holds (internal to the edge; see edge_proxy.h for
// what it answers when).
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "edge/edge_worker.h"
#include "edge/forwarding.h"
#include "edge/gzip.h"
#include "edge/http1.h"
#include "edge/tls/tls_connection.h"

namespace skiff::edge {

class Session final : public EventLoop::Handler {
 public:
  static constexpr size_t kBufferBytes = 48 << 10;  // a 32 KiB head and then some

  // `tls`: the connection came in on the TLS listener (its bytes go through
  // a TlsConnection).
  Session(EdgeProxy::Worker* worker, int fd, std::string client_ip, bool tls);
  ~Session() override;

  // Registers the socket and serves. Ends itself (Worker::SessionEnded) when done.
  void Start();
  void OnEvents(uint32_t events) override;
  void OnUpstreamEvents(uint32_t events);
  // Timeouts: called about every EventLoop::kSweepInterval.
  void Sweep(SteadyTime now);
  // The worker is stopping: close now when idle, else after this response.
  void BeginStop();
  // A new routing table came while the session holds its request for a
  // sleeping app: the request goes on when the app now has an instance.
  void Resume();
  // The stop grace is over: cut whatever is in flight (the client gets a
  // reset, and none of the bytes still waiting for it).
  void Abort();

  Session* prev = nullptr;  // the worker's intrusive list
  Session* next = nullptr;

 private:
  enum class Phase {
    kHead,      // reading a request head (or idle between requests)
    kHeld,      // the app sleeps: waiting for an instance, the client's socket unread
    kUpstream,  // connecting / sending the request / awaiting the response head
    kRelay,     // relaying the response body
    kTunnel,    // after 101: bytes both ways
    kLinger,    // answered and closing: reading what the client still sends
    kEnded,
  };
  enum class Source { kNone, kLength, kChunked, kUntilClose };

  // --- the request ---
  void ReadHead();
  void ReadHeads();
  void Dispatch(size_t head_length);
  void Attempt();
  // The request is admitted and counted: on to an instance (after a 100
  // Continue when the client waits for one).
  void Proceed();
  // Holds the request until the app it is for has an instance (Resume), or
  // refuses it past edge.wake_queue.
  void Hold();
  // The request is no longer held (once; before RecordEnd lets go of the route).
  void Unhold();
  // Before a retry: moves the request to the route of the newest routing
  // table (same app), so it never goes to an instance that left the routes
  // since it arrived (it may be drained and stopping). `tried_` follows by
  // instance. False (route_ kept) when the newest table has no route of the
  // same app for the request: the app was deleted or replaced.
  bool RefreshRoute();
  // Ends the current attempt's bookkeeping on its endpoint (once): a success
  // or failure of the instance, or neither (EndAttemptUnjudged) when the
  // attempt ended for reasons of the client's.
  void EndAttempt(bool failed);
  void EndAttemptUnjudged();
  void OnConnected();
  void SendRequest();
  void PumpRequestBody();
  bool RequestBodyDone() const;
  // --- the response ---
  void ReadResponse();
  void StartResponse();
  void RelayBody();
  // Sends the head (the first time) and what `bytes` holds of the body, as
  // the client's framing wants it; *consumed is what was taken of `bytes`.
  // `at_eof`: the instance closed (the end of a body that runs until close).
  // True when the body is complete.
  bool DeliverBody(std::string_view bytes, bool at_eof, size_t* consumed);
  void FinishExchange();
  // --- tunnel ---
  void PumpTunnel();
  // --- failures ---
  // The attempt failed before any response byte: an idempotent request may go
  // elsewhere, and after a stale kept connection any request the instance
  // `refused` (no connection, a failed write, a reset before any answer: it
  // never took it) goes again on a fresh one; otherwise answer `status`.
  void AttemptFailed(bool refused, int status, std::string message);
  void Refuse(int status, std::string message, bool close, int retry_after = 1);
  // Sends out_ (an answer of the edge's own, whole, with `status`) and goes on
  // with the next request, or lingers and closes when `close`.
  void Answer(int status, bool close);
  // Whose fault it was that an attempt is given up: the instance's (it counts
  // as a failure of the instance: ejection, latency), or nobody's (the
  // request or the client was at fault).
  enum class Blame { kInstance, kNobody };
  // The one way an attempt is given up once an instance has it: ends the
  // attempt's bookkeeping, lets go of the connection and answers `status`,
  // closing the client's connection (the request cannot be skipped).
  void GiveUp(Blame blame, int status, std::string message);
  void Linger();
  // Ends a connection with nothing owed to the client (idle, stopping, a
  // tunnel the instance ended), over TLS with close_notify first.
  void EndCleanly();
  // `abort`: EventLoop::Abort rather than Close (a client given up on).
  void End(bool abort = false);

  // Writes to the client; what the socket does not take waits in pending_.
  // False when the client is gone (the session then ends).
  bool SendClient(const iovec* iov, int count);
  bool SendClient(std::string_view bytes) {
    iovec v{const_cast<char*>(bytes.data()), bytes.size()};
    return SendClient(&v, 1);
  }
  bool FlushClient();
  // Hands bytes to the socket as they are (ciphertext over TLS), parking what
  // it does not take in pending_. False when the client is gone. When
  // `owner` is the one buffer `iov` points into, its unsent bytes are moved
  // into pending_ (its memory swapped in) rather than copied.
  bool SendRaw(const iovec* iov, int count, std::string* owner = nullptr);
  // Sends what the TLS connection wrote (handshake, records, alerts).
  bool SendCiphertext();
  // ReadClient over TLS.
  ssize_t ReadTls();
  // The plain listener's own answers before routing (ACME HTTP-01
  // challenges, the redirect to https): true when it answered.
  bool AnswerPlain();
  // The same toward the upstream.
  bool SendUpstream(const iovec* iov, int count);
  bool FlushUpstream();
  // Reads from the client into the buffer: >0 bytes, 0 nothing now, -1 closed.
  ssize_t ReadClient();
  void CompactBuffer();
  void ReleaseUpstream(bool reusable);
  void RecordEnd(int status);

  EdgeProxy::Worker* const worker_;
  EdgeProxy::Shared& shared_;
  const int fd_;
  const std::string client_ip_;
  const bool tls_listener_;
  std::unique_ptr<tls::TlsConnection> tls_;  // over TLS, once started
  bool handshake_done_ = false;              // over TLS: its deadline was made idle
  Phase phase_ = Phase::kHead;
  bool readable_ = false;  // edge-triggered readiness of the client socket
  bool writable_ = true;
  bool peer_closed_ = false;  // the client's FIN was seen (EPOLLRDHUP): read to the end
  bool stopping_ = false;
  SteadyTime deadline_;

  std::unique_ptr<char[]> buffer_;  // from the client
  size_t begin_ = 0;
  size_t end_ = 0;
  std::string pending_;     // to the client, not yet taken by the socket
  std::string up_pending_;  // to the upstream, not yet taken

  // The request in flight.
  http1::RequestHead head_;
  std::string problem_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::system_clock::time_point started_wall_;
  std::shared_ptr<const RoutingTable> table_;
  const Route* route_ = nullptr;
  const AppMetrics* metrics_ = nullptr;
  bool counted_in_flight_ = false;
  std::string request_id_;
  std::string up_head_;  // the head sent upstream (kept for a retry)
  Source request_body_ = Source::kNone;
  uint64_t request_left_ = 0;  // kLength: bytes still to forward
  http1::ChunkedDecoder request_chunks_;
  uint64_t request_bytes_ = 0;
  bool replayable_ = false;  // the whole request is still at hand
  size_t body_end_ = 0;      // with replayable_: where its body ends in buffer_
  bool request_sent_ = false;
  bool client_keep_alive_ = true;
  std::vector<int> tried_;
  int endpoint_ = -1;
  Upstream* upstream_ = nullptr;
  // The endpoint of the attempt, Open()ed until ReleaseUpstream.
  std::shared_ptr<EndpointState> open_endpoint_;
  SteadyTime attempt_started_;
  bool answered_ = false;  // response bytes went to the client
  bool attempt_open_ = false;
  bool stale_retried_ = false;
  int failed_attempts_ = 0;  // attempts of this request that failed (kMaxAttempts)
  bool is_head_ = false;
  bool idempotent_ = false;
  bool upgrade_ = false;
  bool in_read_head_ = false;
  // Counted in the route's AppState::held, the worker's list and
  // skiff_edge_held_requests{app}.
  bool held_ = false;
  std::string accept_encoding_;
  // For the access log: method, host, target and user agent, one after another.
  std::string log_;
  size_t log_host_ = 0;
  size_t log_target_ = 0;
  size_t log_agent_ = 0;

  // The response being relayed.
  http1::ResponseHead response_;
  int status_ = 0;
  Source response_body_ = Source::kNone;
  uint64_t response_left_ = 0;
  http1::ChunkedDecoder response_chunks_;
  ClientFraming framing_;
  bool verbatim_ = true;  // bytes pass as they are (no decoding or gzip)
  std::unique_ptr<GzipEncoder> gzip_;
  std::vector<std::string_view> pieces_;
  std::string out_;      // the head for the client
  std::string encoded_;  // a transformed piece of body, framed
  std::string zipped_;   // a gzipped piece of body
  bool head_sent_ = false;
  bool linger_shut_ = false;
  size_t linger_bytes_ = 0;
  uint64_t response_bytes_ = 0;
};

}  // namespace skiff::edge
