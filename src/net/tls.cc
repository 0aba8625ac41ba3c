#include "net/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <fstream>
#include <sstream>

#include "crypto/x509.h"

namespace skiff::net {
namespace {

namespace ssl = boost::asio::ssl;

struct StoreFree {
  void operator()(X509_STORE* store) const { X509_STORE_free(store); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* ctx) const { X509_STORE_CTX_free(ctx); }
};

bool IsHexFingerprint(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) ||
        std::isupper(static_cast<unsigned char>(c)))
      return false;
  }
  return true;
}

bool IsIpAddress(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

// The options every Skiff TLS context shares: TLS 1.2 at least, no
// compression, no renegotiation.
void Harden(ssl::context& context) {
  SSL_CTX* native = context.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
}

}  // namespace

Result<TlsTrust> TlsTrust::FromCaFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return InvalidArgument("cannot read CA file " + path);
  std::stringstream text;
  text << file.rdbuf();
  TlsTrust trust;
  trust.ca_pem = text.str();
  if (auto chain = crypto::ParseCertificateChainPem(trust.ca_pem); !chain) {
    return InvalidArgument("CA file " + path + ": " + chain.error().message);
  }
  return trust;
}

Result<std::shared_ptr<ssl::context>> MakeClientTlsContext(const TlsTrust& trust) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  Harden(*context);
  if (!trust.ca_fingerprint.empty()) {
    if (!IsHexFingerprint(trust.ca_fingerprint)) {
      return InvalidArgument("CA fingerprint \"" + trust.ca_fingerprint +
                             "\" is not 64 lowercase hex digits (a SHA-256)");
    }
    // The handshake takes any chain; VerifyPinnedPeer checks it against the
    // pin before a byte of the request goes out.
    context->set_verify_mode(ssl::verify_none);
    return context;
  }
  context->set_verify_mode(ssl::verify_peer);
  if (trust.ca_pem.empty()) {
    boost::system::error_code ec;
    context->set_default_verify_paths(ec);
    if (ec) return Internal("cannot load the system's CA certificates: " + ec.message());
    return context;
  }
  SKIFF_ASSIGN_OR_RETURN(auto cas, crypto::ParseCertificateChainPem(trust.ca_pem));
  X509_STORE* store = SSL_CTX_get_cert_store(context->native_handle());
  for (auto& ca : cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) {
      return Internal("cannot add a CA certificate: " + crypto::TakeOpensslErrors());
    }
  }
  return context;
}

Result<std::shared_ptr<ssl::context>> MakeServerTlsContext(std::string_view cert_chain_pem,
                                                           std::string_view key_pem) {
  SKIFF_ASSIGN_OR_RETURN(auto chain, crypto::ParseCertificateChainPem(cert_chain_pem));
  SKIFF_ASSIGN_OR_RETURN(auto key, crypto::ParsePrivateKeyPem(key_pem));
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  Harden(*context);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_use_certificate(native, chain.front().get()) != 1 ||
      SSL_CTX_use_PrivateKey(native, key.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
    return InvalidArgument("server certificate and key do not go together: " +
                           crypto::TakeOpensslErrors());
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    // add1: the context takes its own reference.
    if (SSL_CTX_add1_chain_cert(native, chain[i].get()) != 1) {
      return Internal("cannot add a chain certificate: " + crypto::TakeOpensslErrors());
    }
  }
  return context;
}

Status SetPeerName(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (IsIpAddress(host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      return Internal("cannot set the peer's IP to verify: " + crypto::TakeOpensslErrors());
    }
    return OkStatus();
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1) {
    return Internal("cannot set the peer's name to verify: " + crypto::TakeOpensslErrors());
  }
  return OkStatus();
}

Status HandshakeVerifyError(SSL* ssl, const std::string& display) {
  const long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return OkStatus();
  return Unauthenticated(
      std::string(kCannotTrust) + display +
      ": its certificate does not verify: " + X509_verify_cert_error_string(result));
}

Status VerifyPinnedPeer(SSL* ssl, const TlsPeerCheck& check) {
  const std::string where = std::string(kCannotTrust) + check.display;
  X509* leaf = SSL_get0_peer_certificate(ssl);
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);  // on a client, the leaf included
  if (leaf == nullptr || chain == nullptr)
    return Unauthenticated(where + ": it sent no certificate");
  X509* pinned = nullptr;
  std::string sent;  // what the server sent above its leaf, for the message
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* cert = sk_X509_value(chain, i);
    if (X509_cmp(cert, leaf) == 0) continue;
    const std::string fingerprint = crypto::CertificateFingerprint(cert);
    if (fingerprint == check.ca_fingerprint && X509_check_ca(cert) >= 1) pinned = cert;
    sent = fingerprint;  // the last one: the top of the chain, its root
  }
  if (pinned == nullptr) {
    return Unauthenticated(where + ": it is not the server expected: its CA fingerprint is " +
                           (sent.empty() ? "unknown (it sent no CA certificate)" : sent) +
                           ", the join token (or " + "pinned fingerprint) expects " +
                           check.ca_fingerprint);
  }
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), pinned) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf, chain) != 1 ||
      X509_STORE_CTX_set_default(ctx.get(), "ssl_server") != 1) {
    return Internal("cannot set up the certificate check: " + crypto::TakeOpensslErrors());
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // The pinned CA is the anchor even when it is an intermediate.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  const int named = IsIpAddress(check.host)
                        ? X509_VERIFY_PARAM_set1_ip_asc(param, check.host.c_str())
                        : X509_VERIFY_PARAM_set1_host(param, check.host.c_str(), 0);
  if (named != 1) return Internal("cannot set the peer's name: " + crypto::TakeOpensslErrors());
  if (X509_verify_cert(ctx.get()) != 1) {
    return Unauthenticated(where + ": its certificate does not verify against the pinned CA: " +
                           X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
  return OkStatus();
}

}  // namespace skiff::net
