// TLS for Skiff's own HTTP: whom a client trusts (a CA bundle, a pinned CA
// fingerprint from a join token, or the system's roots) and the OpenSSL
// contexts HttpClient and HttpServer use. TLS 1.2 and 1.3 only.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace skiff::net {

// Whom an https:// client trusts. At most one of the two fields is set;
// neither means the system's roots.
struct TlsTrust {
  // PEM certificates of the CAs to trust (a bundle: `--ca FILE`,
  // `--acme-ca-cert FILE`).
  std::string ca_pem;
  // The lowercase hex SHA-256 of a CA certificate's DER
  // (crypto::CertificateFingerprint), as a join token carries it: the server
  // must send that CA in its chain, and it must have signed the leaf.
  std::string ca_fingerprint;

  // Trust the CAs in the PEM file at `path`.
  // Errors: kInvalidArgument naming the file when it cannot be read or holds
  // no certificate.
  static Result<TlsTrust> FromCaFile(const std::string& path);
};

// A client context for `trust`: peer verification on, TLS 1.2 at least.
// Errors: kInvalidArgument when `ca_pem` does not parse or `ca_fingerprint` is
// not 64 hex digits; kInternal when OpenSSL fails.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientTlsContext(const TlsTrust& trust);

// A server context presenting `cert_chain_pem` (the leaf first, then the CAs
// to send along) with `key_pem`, TLS 1.2 at least.
// Errors: kInvalidArgument when either does not parse or the key is not the
// leaf's.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    std::string_view cert_chain_pem, std::string_view key_pem);

// What an https:// connection checks once its handshake is done, before any
// request goes out. Thread-compatible: a value per connection.
struct TlsPeerCheck {
  std::string display;         // "10.0.0.1:7443", for messages
  std::string host;            // the name or IP the leaf must cover
  std::string ca_fingerprint;  // empty: OpenSSL's verification in the handshake decided
};

// The message prefix of every error saying a server could not be trusted
// (NeverSent recognises it: nothing was sent).
inline constexpr std::string_view kCannotTrust = "cannot trust the server at ";

// Pinned trust: `ssl`'s peer chain must hold a CA whose fingerprint is
// `check.ca_fingerprint` and which (possibly through intermediates in the
// chain) signed a leaf valid now for `check.host`.
// Errors: kUnauthenticated starting with kCannotTrust, saying which CA the
// server sent and which one was expected, or why the chain fails.
Status VerifyPinnedPeer(SSL* ssl, const TlsPeerCheck& check);

// Sets SNI (for a name) and the name or IP the leaf must match on `ssl`.
// Errors: kInternal when OpenSSL refuses them.
Status SetPeerName(SSL* ssl, const std::string& host);

// After a failed handshake: the kUnauthenticated error (starting with
// kCannotTrust) when OpenSSL's verification of the server's chain is what
// failed, saying why; OK when the handshake failed for another reason.
Status HandshakeVerifyError(SSL* ssl, const std::string& display);

}  // namespace skiff::net
