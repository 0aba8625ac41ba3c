#include "edge/tls/tls_connection.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <cerrno>
#include <mutex>

namespace skiff::edge::tls {
namespace {

// A record carries at most 16 KiB: pieces up to that are gathered into one.
constexpr size_t kGatherBytes = 16 << 10;

int BioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* LoopBioMethod(int (*read)(BIO*, char*, size_t, size_t*),
                          int (*write)(BIO*, const char*, size_t, size_t*),
                          long (*control)(BIO*, int, long, void*)) {
  static BIO_METHOD* method = [&] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "skiff edge loop");
    if (m != nullptr) {
      BIO_meth_set_read_ex(m, read);
      BIO_meth_set_write_ex(m, write);
      BIO_meth_set_ctrl(m, control);
      BIO_meth_set_create(m, BioCreate);
    }
    return m;
  }();
  return method;
}

}  // namespace

TlsConnection::TlsConnection(std::shared_ptr<const CertTable> certificates, EventLoop* loop, int fd)
    : certificates_(std::move(certificates)), loop_(loop), fd_(fd) {}

TlsConnection::~TlsConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // (frees the BIO too)
}

Result<std::unique_ptr<TlsConnection>> TlsConnection::Create(
    const TlsContext& context, std::shared_ptr<const CertTable> certificates, EventLoop* loop,
    int fd) {
  std::unique_ptr<TlsConnection> c(new TlsConnection(std::move(certificates), loop, fd));
  BIO_METHOD* method = LoopBioMethod(BioRead, BioWrite, BioControl);
  c->ssl_ = SSL_new(context.ctx());
  BIO* bio = method != nullptr && c->ssl_ != nullptr ? BIO_new(method) : nullptr;
  if (bio == nullptr) {
    return ResourceExhausted("cannot make a TLS connection: " + crypto::TakeOpensslErrors());
  }
  BIO_set_data(bio, c.get());
  SSL_set_bio(c->ssl_, bio, bio);  // (one reference taken for both directions)
  SSL_set_app_data(c->ssl_, c.get());
  SSL_set_accept_state(c->ssl_);
  return c;
}

int TlsConnection::BioRead(BIO* bio, char* data, size_t size, size_t* got) {
  auto* self = static_cast<TlsConnection*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const ssize_t n = self->loop_->Recv(self->fd_, data, size);
  if (n > 0) {
    *got = static_cast<size_t>(n);
    self->drained_ = static_cast<size_t>(n) < size;
    return 1;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    self->drained_ = true;
    BIO_set_retry_read(bio);
  } else if (n < 0) {
    self->error_ = errno;
  } else {
    self->eof_ = true;  // BIO_CTRL_EOF says so
  }
  return 0;
}

long TlsConnection::BioControl(BIO* bio, int command, long, void*) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;  // (out() is flushed by its owner)
    case BIO_CTRL_EOF:
      // What OpenSSL asks when a read gave nothing: with
      // SSL_OP_IGNORE_UNEXPECTED_EOF a TCP end without close_notify is then
      // an end (Read gives 0), not an error.
      return static_cast<TlsConnection*>(BIO_get_data(bio))->eof_ ? 1 : 0;
    default:
      return 0;
  }
}

int TlsConnection::BioWrite(BIO* bio, const char* data, size_t size, size_t* put) {
  static_cast<TlsConnection*>(BIO_get_data(bio))->out_.append(data, size);
  *put = size;
  return 1;
}

ssize_t TlsConnection::Read(char* buffer, size_t size) {
  ERR_clear_error();  // SSL_get_error reads the thread's queue
  size_t got = 0;
  const int rc = SSL_read_ex(ssl_, buffer, size, &got);
  if (rc == 1) return static_cast<ssize_t>(got);
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    case SSL_ERROR_SYSCALL:
      errno = error_ != 0 ? error_ : EPROTO;
      return -1;
    default:
      ERR_clear_error();
      errno = EPROTO;
      return -1;
  }
}

bool TlsConnection::Write(const iovec* iov, int count) {
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  ERR_clear_error();
  size_t put = 0;
  if (count > 1 && total <= kGatherBytes) {
    gather_.clear();
    for (int i = 0; i < count; ++i) {
      gather_.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    }
    const bool written = SSL_write_ex(ssl_, gather_.data(), gather_.size(), &put) == 1;
    EmptyBuffer(&gather_);
    return written;
  }
  for (int i = 0; i < count; ++i) {
    if (iov[i].iov_len == 0) continue;
    if (SSL_write_ex(ssl_, iov[i].iov_base, iov[i].iov_len, &put) != 1) return false;
  }
  return true;
}

void TlsConnection::Shutdown() {
  if (shut_) return;
  shut_ = true;
  ERR_clear_error();
  if (SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace skiff::edge::tls
