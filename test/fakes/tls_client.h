// What tests of the edge's TLS use: a test CA that issues leaf certificates
// (crypto/x509.h), and a blocking TLS client over loopback (OpenSSL) that
// checks the server's chain against that CA. Header-only: a test that
// includes it links skiff_crypto (OpenSSL::SSL).
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crypto/x509.h"
#include "protocol/routes.h"

namespace skiff::testing {

// A CA made for one test, and certificates it issues.
class TestCa {
 public:
  TestCa() {
    key_ = std::move(*crypto::GenerateP256Key());
    crypto::CertificateRequest request;
    request.common_name = "skiff test ca";
    request.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
    request.not_after = request.not_before + std::chrono::hours(48);
    request.is_ca = true;
    cert_ = std::move(*crypto::IssueCertificate(request, key_.get(), nullptr, key_.get()));
  }
  std::string pem() const { return crypto::CertificatePem(cert_.get()); }

  // A leaf for `names` (its common name the first), as the routes carry it.
  protocol::RouteCertificate Issue(const std::vector<std::string>& names) const {
    crypto::PKeyPtr key = std::move(*crypto::GenerateP256Key());
    crypto::CertificateRequest request;
    request.common_name = names.front();
    request.names = names;
    request.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
    request.not_after = request.not_before + std::chrono::hours(24);
    crypto::X509Ptr leaf =
        std::move(*crypto::IssueCertificate(request, key.get(), cert_.get(), key_.get()));
    protocol::RouteCertificate out;
    out.domains = names;
    out.cert_pem = crypto::CertificatePem(leaf.get()) + pem();  // the leaf and its chain
    out.key_pem = crypto::PrivateKeyPem(key.get());
    return out;
  }

 private:
  crypto::PKeyPtr key_;
  crypto::X509Ptr cert_;
};

// One TLS connection to 127.0.0.1:port, blocking, with a 10 s timeout on
// every read so a test never hangs.
class TlsClient {
 public:
  struct Options {
    std::string sni;     // none when empty
    std::string ca_pem;  // verify the chain against it when set
    std::vector<std::string> alpn;
    SSL_SESSION* resume = nullptr;  // offer this session (not owned)
    int max_version = 0;            // TLS1_2_VERSION: at most TLS 1.2; 0: any
  };

  // Connects and handshakes. Errors: kUnavailable naming what failed.
  static Result<std::unique_ptr<TlsClient>> Connect(uint16_t port, const Options& options) {
    std::unique_ptr<TlsClient> c(new TlsClient());
    c->ctx_ = SSL_CTX_new(TLS_client_method());
    if (!options.ca_pem.empty()) {
      X509_STORE* store = SSL_CTX_get_cert_store(c->ctx_);
      X509_STORE_add_cert(store, crypto::ParseCertificatePem(options.ca_pem)->get());
      SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (options.max_version != 0) SSL_CTX_set_max_proto_version(c->ctx_, options.max_version);
    if (!options.alpn.empty()) {
      std::string wire;
      for (const std::string& p : options.alpn) {
        wire.push_back(static_cast<char>(p.size()));
        wire += p;
      }
      SSL_CTX_set_alpn_protos(c->ctx_, reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned>(wire.size()));
    }
    c->fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const timeval timeout{.tv_sec = 10, .tv_usec = 0};
    setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      return Unavailable("cannot connect");
    }
    c->ssl_ = SSL_new(c->ctx_);
    SSL_set_fd(c->ssl_, c->fd_);
    if (!options.sni.empty()) {
      SSL_set_tlsext_host_name(c->ssl_, options.sni.c_str());
      if (!options.ca_pem.empty()) SSL_set1_host(c->ssl_, options.sni.c_str());
    }
    if (options.resume != nullptr) SSL_set_session(c->ssl_, options.resume);
    if (SSL_connect(c->ssl_) != 1) {
      return Unavailable("handshake failed: " + crypto::TakeOpensslErrors());
    }
    return c;
  }

  ~TlsClient() {
    if (ssl_ != nullptr) {
      // Ended cleanly (close_notify): else OpenSSL marks the session not
      // resumable.
      if (SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
  }

  bool Send(std::string_view bytes) {
    size_t put = 0;
    return bytes.empty() || SSL_write_ex(ssl_, bytes.data(), bytes.size(), &put) == 1;
  }
  // Each piece its own TLS record, all in one TCP segment (corked): the
  // server reads them in one receive.
  bool SendRecords(const std::vector<std::string>& pieces) {
    const int on = 1;
    const int off = 0;
    setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
    bool sent = true;
    for (const std::string& piece : pieces) sent = sent && Send(piece);
    setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    return sent;
  }
  // Up to `size` bytes as they come; "" at the end or on an error.
  std::string ReadSome(size_t size = 64 << 10) {
    std::string out(size, '\0');
    size_t got = 0;
    if (SSL_read_ex(ssl_, out.data(), size, &got) != 1) return "";
    out.resize(got);
    return out;
  }
  // Whether the server's next word is close_notify (not bytes, not a bare
  // TCP end).
  bool ReadsCloseNotify() {
    char byte;
    size_t got = 0;
    const int rc = SSL_read_ex(ssl_, &byte, 1, &got);
    return rc != 1 && SSL_get_error(ssl_, rc) == SSL_ERROR_ZERO_RETURN;
  }
  // One whole response: the head and a body framed by Content-Length or
  // chunked (ended by its last chunk), or none (HEAD-like, 1xx, 204, 304,
  // 301 with Content-Length: 0). The bytes as they came; "" when cut.
  std::string ReadResponse() {
    while (true) {
      const size_t head_end = buffer_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const std::string head = Lower(buffer_.substr(0, head_end + 4));
        size_t need = head_end + 4;
        bool complete = false;
        if (size_t cl = head.find("\r\ncontent-length:"); cl != std::string::npos) {
          need += std::stoul(head.substr(cl + 17));
          complete = buffer_.size() >= need;
        } else if (head.find("transfer-encoding: chunked") != std::string::npos) {
          const size_t last = buffer_.find("\r\n0\r\n\r\n", head_end);
          if (last != std::string::npos) {
            need = last + 7;
            complete = true;
          }
        } else {
          complete = true;  // no body
        }
        if (complete) {
          std::string response = buffer_.substr(0, need);
          buffer_.erase(0, need);
          return response;
        }
      }
      const std::string more = ReadSome();
      if (more.empty()) return "";
      buffer_ += more;
    }
  }
  // Sends `request` and reads its response.
  std::string Exchange(std::string_view request) { return Send(request) ? ReadResponse() : ""; }

  // The server certificate's subject common name.
  std::string PeerCommonName() const {
    X509* peer = SSL_get0_peer_certificate(ssl_);
    if (peer == nullptr) return "";
    char name[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name, sizeof name);
    return name;
  }
  // The SHA-256 fingerprint (hex) of the server's certificate; "" when none.
  std::string PeerFingerprint() const {
    X509* peer = SSL_get0_peer_certificate(ssl_);
    return peer == nullptr ? "" : crypto::CertificateFingerprint(peer);
  }
  std::string Alpn() const {
    const unsigned char* data = nullptr;
    unsigned int size = 0;
    SSL_get0_alpn_selected(ssl_, &data, &size);
    return std::string(reinterpret_cast<const char*>(data), size);
  }
  bool resumed() const { return SSL_session_reused(ssl_) == 1; }
  std::string version() const { return SSL_get_version(ssl_); }
  // The session to offer on a later connection (owned by the caller; read
  // something first: TLS 1.3 sends its tickets after the handshake).
  SSL_SESSION* TakeSession() { return SSL_get1_session(ssl_); }

 private:
  TlsClient() = default;
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace skiff::testing
