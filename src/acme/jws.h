// JSON Web Signatures as ACME uses them (RFC 8555 §6.2): ES256 over a P-256
// account key (RFC 7518 §3.4: the signature is r||s, 64 bytes, not DER), the
// key as a JWK (RFC 7517) and its thumbprint (RFC 7638), and the key
// authorization an HTTP-01 challenge answers with (RFC 8555 §8.1).
//
// Thread-safety: pure functions; a key may be used from several threads at
// once (OpenSSL 3 signs with a const key).
#pragma once

#include <openssl/evp.h>

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace skiff::acme {

// {"crv":"P-256","kty":"EC","x":…,"y":…} of `key`'s public half.
// Errors: kInvalidArgument when `key` is not a P-256 EC key.
Result<boost::json::object> Jwk(EVP_PKEY* key);

// base64url(SHA-256(the JWK's members crv, kty, x, y in that order, no
// whitespace)) (RFC 7638 §3).
// Errors: as Jwk.
Result<std::string> JwkThumbprint(EVP_PKEY* key);

// token + "." + the account key's thumbprint: what an HTTP-01 challenge's
// /.well-known/acme-challenge/<token> must answer.
std::string KeyAuthorization(std::string_view token, std::string_view thumbprint);

// The ES256 signature of `input`: SHA-256, ECDSA, r and s as 32 big-endian
// bytes each.
// Errors: kInvalidArgument when `key` is not a P-256 key; kInternal when
// OpenSSL fails.
Result<std::string> SignEs256(EVP_PKEY* key, std::string_view input);

// Whether `signature` (r||s) is `key`'s ES256 signature of `input`. For tests
// and the fake ACME server, which check what the client signs.
bool VerifyEs256(EVP_PKEY* key, std::string_view input, std::string_view signature);

// What a request's protected header carries besides "alg".
struct JwsHeader {
  std::string url;    // the request's URL, exactly
  std::string nonce;  // a fresh Replay-Nonce
  // The account URL ("kid"); empty for newAccount, whose header carries the
  // key itself ("jwk") instead.
  std::string kid;
};

// The flattened JSON serialization (RFC 7515 §7.2.2) ACME posts:
// {"protected":…,"payload":…,"signature":…}. `payload` is the JSON text of
// the request, or "" for a POST-as-GET (an empty payload, RFC 8555 §6.3).
// Errors: as SignEs256.
Result<std::string> SignJws(EVP_PKEY* key, const JwsHeader& header, std::string_view payload);

}  // namespace skiff::acme
