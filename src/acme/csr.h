// Certificate signing requests (PKCS#10) for ACME's finalize (RFC 8555 §7.4):
// the order's domains as subjectAltNames, signed by the certificate's own key
// (a fresh P-256 key per certificate, never the account key).
//
// Thread-safety: pure functions.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crypto/x509.h"

namespace skiff::acme {

// The DER of a CSR for `domains` (the first is also the subject's CN),
// SHA-256 signed by `key`.
// Errors: kInvalidArgument when `domains` is empty or a name is not a DNS
// name; kInternal when OpenSSL fails.
Result<std::string> MakeCsrDer(const std::vector<std::string>& domains, EVP_PKEY* key);

// What a CSR asks for, once its signature is checked.
struct CsrInfo {
  std::vector<std::string> dns_names;  // its subjectAltName DNS entries, in order
  crypto::PKeyPtr public_key;
};

// Errors: kInvalidArgument when `der` is not a CSR or its signature does not
// verify.
Result<CsrInfo> ParseCsrDer(std::string_view der);

}  // namespace skiff::acme
