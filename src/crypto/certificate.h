// What a certificate given to Skiff (`skiff certs add`, or got by ACME) must
// be before it is kept and sent to the edges: a chain that parses, a key that
// parses and is the leaf's, a leaf still valid, and a leaf that names the
// domain it is for. The checks are made once, when it is given, so that a
// mistake is an answer to the one who made it (400 naming what is wrong), not
// a handshake failure at an edge later.
//
// Thread-safety: free functions over values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace skiff::crypto {

// What Skiff shows of a certificate (`skiff certs`).
struct CertificateInfo {
  std::string domain;              // lowercase, as validated
  std::vector<std::string> names;  // the leaf's DNS subjectAltNames, lowercase
  std::string issuer;              // the issuer's CN and O: "R3, Let's Encrypt"
  Time not_before;
  Time not_after;
  std::string fingerprint;  // the leaf's SHA-256, lowercase hex
  // The chain as parsed, re-encoded (one PEM block per certificate): what is
  // kept, so that nothing else the given text held (a key pasted with it,
  // comments) is stored in clear.
  std::string chain_pem;
};

// `domain` lowercased when it is a hostname ("web.com") or a wildcard of one
// label under one ("*.web.com"). Errors: kInvalidArgument, field "domain".
Result<std::string> NormaliseCertificateDomain(std::string_view domain);

// Checks `chain_pem` (the leaf first, then its chain) and `key_pem` for
// `domain` as of `now`. Errors, all kInvalidArgument with the field named
// (the message says the rest, without the field):
//   "domain" not a hostname or wildcard;
//   "cert"   it holds a private key (a combined file given as the chain);
//   "cert"   no certificate, or one that does not parse (which one);
//   "key"    no private key, or one that does not parse;
//   "key"    "the key does not match the certificate" (none of the chain's);
//   "cert"   the key's certificate is not first (naming where it is);
//   "cert"   a certificate not issued by the next one, or one after the leaf
//            expired or not yet valid (naming it: number and CN);
//   "cert"   the leaf expired (naming its not-after date) or not yet valid;
//   "cert"   the leaf is not for TLS servers (keyUsage, extendedKeyUsage);
//   "cert"   the leaf has no DNS subjectAltName (a CN alone, which browsers
//            ignore; saying how to reissue it);
//   "domain" not among the leaf's names (naming them).
Result<CertificateInfo> ValidateCertificate(std::string_view chain_pem, std::string_view key_pem,
                                            std::string_view domain, Time now);

}  // namespace skiff::crypto
