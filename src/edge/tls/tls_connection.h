// TlsConnection: the TLS side of one client connection of the edge. OpenSSL
// reads the socket through the loop's own Recv (a BIO over EventLoop::Recv,
// so both engines serve TLS alike, io_uring's staged bytes included) and
// writes ciphertext into out(), which the session sends as it sends plain
// bytes (its pending buffer, its write deadline, its close): OpenSSL's write
// never waits on the socket, so a write is never retried with moved bytes.
//
// The handshake runs inside the first Read()s (and its answers land in
// out()). Readiness: a handler drives Read while it is readable, as with
// recv(2); after a Read that gave bytes, more() says whether another may give
// more without a new event (OpenSSL may hold plaintext or ciphertext when the
// socket has nothing more, and then no event would come).
//
// Thread-safety: the loop's thread only (as the session that owns it).
#pragma once

#include <openssl/ssl.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <memory>
#include <string>

#include "common/result.h"
#include "edge/buffers.h"
#include "edge/event_loop.h"
#include "edge/tls/cert_table.h"
#include "edge/tls/tls_context.h"

namespace skiff::edge::tls {

class TlsConnection {
 public:
  // A server-side connection over `fd`, watched by `loop`. `certificates` is
  // what SNI picks from (the table current when the connection came).
  // REQUIRES: `context` and `loop` outlive it; `certificates` is not null.
  // Errors: kResourceExhausted when OpenSSL cannot make the connection.
  static Result<std::unique_ptr<TlsConnection>> Create(
      const TlsContext& context, std::shared_ptr<const CertTable> certificates, EventLoop* loop,
      int fd);
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // Plaintext into `buffer` (the handshake first): >0 bytes; 0 at the
  // client's end (close_notify, or the TCP end); -1 with errno EAGAIN when
  // nothing now (an event follows), EPROTO when TLS failed (a bad or refused
  // handshake, a forged record: the connection is done), or the socket's error.
  // Afterwards out() may hold bytes to send (handshake messages, an alert).
  ssize_t Read(char* buffer, size_t size);
  // Whether the handshake is over (a Read finished it).
  bool handshake_done() const { return SSL_is_init_finished(ssl_) == 1; }
  // Whether a Read may give bytes without a new event on the socket.
  bool more() const { return !drained_ || SSL_has_pending(ssl_) == 1; }
  // Encrypts the bytes of `iov` into out(). False when TLS failed (the
  // connection is done). REQUIRES: the handshake is over (a request was read).
  bool Write(const iovec* iov, int count);
  // Queues close_notify in out() (once).
  void Shutdown();

  // Ciphertext not yet handed to the socket; the caller sends it (it may
  // swap the bytes out) and then calls ClearOut.
  std::string& out() { return out_; }
  // Empties out(), giving a large one's memory back.
  void ClearOut() { EmptyBuffer(&out_); }
  const CertTable& certificates() const { return *certificates_; }
  // The negotiated version ("TLSv1.3"), and whether the session was resumed.
  const char* version() const { return SSL_get_version(ssl_); }
  bool resumed() const { return SSL_session_reused(ssl_) == 1; }

 private:
  TlsConnection(std::shared_ptr<const CertTable> certificates, EventLoop* loop, int fd);
  static int BioRead(BIO* bio, char* data, size_t size, size_t* got);
  static int BioWrite(BIO* bio, const char* data, size_t size, size_t* put);
  static long BioControl(BIO* bio, int command, long, void*);

  const std::shared_ptr<const CertTable> certificates_;
  EventLoop* const loop_;
  const int fd_;
  SSL* ssl_ = nullptr;
  std::string out_;
  std::string gather_;    // a response's pieces made one record
  bool drained_ = false;  // the last receive was short: the socket is empty
  bool shut_ = false;
  bool eof_ = false;  // a receive gave the TCP end
  int error_ = 0;     // errno of a failed receive
};

}  // namespace skiff::edge::tls
