// The few OpenSSL things every TLS part of Skiff needs: P-256 keys, X.509
// certificates made here (a server's CA and its server certificate, the
// edge's self-signed fallback, certificates in tests), and PEM in and out.
// Owners of OpenSSL objects are unique_ptrs, so an early return frees them.
//
// Thread-safety: free functions over values; OpenSSL 3 is thread-safe for them.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace skiff::crypto {

struct PKeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, PKeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// A new ECDSA P-256 key. Errors: kInternal (OpenSSL failed; its reason).
Result<PKeyPtr> GenerateP256Key();

// What IssueCertificate puts in a certificate.
struct CertificateRequest {
  std::string common_name;  // "" leaves the subject empty (the names say who it is)
  // subjectAltNames: DNS names ("web.com", "*.web.com") and IP addresses
  // ("127.0.0.1", "::1"), told apart by their syntax.
  std::vector<std::string> names;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  bool is_ca = false;  // basicConstraints CA:TRUE and keyCertSign, else a TLS server/client leaf
};

// A certificate for `subject_key` signed by `issuer_key` with `issuer` as its
// issuer name; with `issuer` null it is self-signed (issuer_key is then the
// subject's key). A random 128-bit serial; SHA-256 signature.
// Errors: kInvalidArgument for a name that is neither a DNS name nor an IP
// address, or not_after not after not_before; kInternal when OpenSSL fails.
Result<X509Ptr> IssueCertificate(const CertificateRequest& request, EVP_PKEY* subject_key,
                                 X509* issuer, EVP_PKEY* issuer_key);

// PEM text of a private key (PKCS#8, unencrypted) and of a certificate.
std::string PrivateKeyPem(EVP_PKEY* key);
std::string CertificatePem(X509* cert);

// The first private key / certificate in `pem`. An encrypted key is never
// prompted for. Errors: kInvalidArgument naming what was expected ("no PEM
// private key"), or saying that the key is encrypted and how to decrypt it.
Result<PKeyPtr> ParsePrivateKeyPem(std::string_view pem);
Result<X509Ptr> ParseCertificatePem(std::string_view pem);

// Every certificate in `pem`, in order (a leaf and its chain).
// Errors: kInvalidArgument when there is none or one does not parse.
Result<std::vector<X509Ptr>> ParseCertificateChainPem(std::string_view pem);

// The certificate in DER, and the lowercase hex SHA-256 of that DER (its
// fingerprint, as `openssl x509 -fingerprint -sha256` prints without colons).
std::string CertificateDer(X509* cert);
std::string CertificateFingerprint(X509* cert);

// OpenSSL's error queue as one line (and cleared), for messages: "" when empty.
std::string TakeOpensslErrors();

}  // namespace skiff::crypto
