// A small certificate authority over x509.h: the CA a Skiff server makes on
// its first start, and the server certificates it signs for its API (tests
// make theirs the same way). Everything is PEM text, as it is kept on disk.
//
// Thread-safety: free functions over values.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"

namespace skiff::crypto {

// A certificate with its private key, both PEM. For a server certificate
// `cert_pem` is the chain a TLS server sends: the leaf, then its CA.
struct CertifiedKey {
  std::string cert_pem;
  std::string key_pem;
};

// A new self-signed CA (P-256, CA:TRUE) named `common_name`, valid from an
// hour before `now` (clocks differ) for `lifetime`.
// Errors: kInternal when OpenSSL fails.
Result<CertifiedKey> MakeAuthority(const std::string& common_name,
                                   std::chrono::system_clock::time_point now,
                                   std::chrono::hours lifetime);

// A TLS server leaf (P-256) for `names` (DNS names and IPs) signed by `ca`,
// valid from an hour before `now` for `lifetime`; cert_pem is the leaf
// followed by the CA's certificate.
// Errors: kInvalidArgument when `ca` does not parse or a name is neither a DNS
// name nor an IP; kInternal when OpenSSL fails.
Result<CertifiedKey> IssueServerCertificate(const CertifiedKey& ca,
                                            const std::vector<std::string>& names,
                                            std::chrono::system_clock::time_point now,
                                            std::chrono::hours lifetime);

}  // namespace skiff::crypto
