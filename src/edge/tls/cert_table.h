// CertTable: the certificates the edge serves, by the name a client asks for
// in its ClientHello (SNI). Built whole from RouteSet::certificates (with the
// routing table, and published with it) and never changed after, so a
// handshake reads it without a lock.
//
// A name finds its certificate by the exact name first, then by a wildcard
// one label deep ("a.web.com" -> "*.web.com"; never "web.com" or
// "a.b.web.com"), compared lowercase. A name with none gets nothing: the
// caller serves its own fallback, never another app's certificate.
//
// Thread-safety: immutable after Build; any thread.
#pragma once

#include <openssl/x509.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/x509.h"
#include "protocol/routes.h"

namespace skiff::edge::tls {

// One certificate ready to serve: the leaf, its key and its chain.
struct ServedCertificate {
  ServedCertificate() = default;
  ~ServedCertificate();
  ServedCertificate(const ServedCertificate&) = delete;
  ServedCertificate& operator=(const ServedCertificate&) = delete;

  crypto::X509Ptr leaf;
  crypto::PKeyPtr key;
  // The intermediates after the leaf, as OpenSSL takes them (owned; may be
  // null): made once, not per handshake.
  STACK_OF(X509) * chain = nullptr;
  std::string fingerprint;  // of the leaf (for logs and tests)
};

class CertTable {
 public:
  // Every certificate of `certificates` under each of its names. One whose
  // PEM does not parse or whose key does not match its leaf is left out
  // (logged): its names get the fallback rather than a broken handshake.
  // The first certificate listed for a name keeps it.
  static std::shared_ptr<const CertTable> Build(
      const std::vector<protocol::RouteCertificate>& certificates);

  // The certificate for `server_name` (any case, an optional trailing dot),
  // or null when none serves it.
  const ServedCertificate* Find(std::string_view server_name) const;

  size_t size() const { return certificates_.size(); }

 private:
  std::vector<std::shared_ptr<const ServedCertificate>> certificates_;
  std::map<std::string, const ServedCertificate*, std::less<>> by_name_;  // lowercase
};

}  // namespace skiff::edge::tls
