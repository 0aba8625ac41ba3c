#include "acme/jws.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <boost/json/serialize.hpp>
#include <memory>

#include "acme/base64url.h"
#include "crypto/x509.h"

namespace skiff::acme {
namespace {

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
struct SigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

constexpr int kCoordinateBytes = 32;  // P-256

Status CheckP256(EVP_PKEY* key) {
  char group[64] = {};
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     nullptr) != 1 ||
      std::string_view(group) != "prime256v1") {
    crypto::TakeOpensslErrors();
    return InvalidArgument("an ACME account key must be an ECDSA P-256 key");
  }
  return OkStatus();
}

// `bn` as exactly `size` big-endian bytes.
std::string Fixed(const BIGNUM* bn, int size) {
  std::string out(static_cast<size_t>(size), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
  return out;
}

Result<std::string> Coordinate(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    return Internal(std::string("reading the key's ") + name + ": " + crypto::TakeOpensslErrors());
  }
  BnPtr bn(raw);
  return Base64UrlEncode(Fixed(bn.get(), kCoordinateBytes));
}

}  // namespace

Result<boost::json::object> Jwk(EVP_PKEY* key) {
  SKIFF_RETURN_IF_ERROR(CheckP256(key));
  SKIFF_ASSIGN_OR_RETURN(std::string x, Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X));
  SKIFF_ASSIGN_OR_RETURN(std::string y, Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y));
  // Members in lexicographic order: the thumbprint's canonical form is then
  // this object's serialization.
  return boost::json::object{{"crv", "P-256"}, {"kty", "EC"}, {"x", x}, {"y", y}};
}

Result<std::string> JwkThumbprint(EVP_PKEY* key) {
  SKIFF_ASSIGN_OR_RETURN(boost::json::object jwk, Jwk(key));
  const std::string canonical = boost::json::serialize(jwk);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), digest);
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof(digest)));
}

std::string KeyAuthorization(std::string_view token, std::string_view thumbprint) {
  std::string out(token);
  out += '.';
  out += thumbprint;
  return out;
}

Result<std::string> SignEs256(EVP_PKEY* key, std::string_view input) {
  SKIFF_RETURN_IF_ERROR(CheckP256(key));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t der_size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_size,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Internal("ES256 signing: " + crypto::TakeOpensslErrors());
  }
  std::string der(der_size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &der_size,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Internal("ES256 signing: " + crypto::TakeOpensslErrors());
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, SigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_size)));
  if (!sig) return Internal("ES256 signing: " + crypto::TakeOpensslErrors());
  return Fixed(ECDSA_SIG_get0_r(sig.get()), kCoordinateBytes) +
         Fixed(ECDSA_SIG_get0_s(sig.get()), kCoordinateBytes);
}

bool VerifyEs256(EVP_PKEY* key, std::string_view input, std::string_view signature) {
  if (!CheckP256(key) || signature.size() != 2 * kCoordinateBytes) return false;
  auto bytes = [&](size_t at) {
    return BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data() + at),
                     kCoordinateBytes, nullptr);
  };
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = bytes(0);
  BIGNUM* s = bytes(kCoordinateBytes);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    crypto::TakeOpensslErrors();
    return false;
  }
  unsigned char* der = nullptr;
  const int der_size = i2d_ECDSA_SIG(sig.get(), &der);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok =
      der_size > 0 && ctx &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_size),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  OPENSSL_free(der);
  crypto::TakeOpensslErrors();
  return ok;
}

Result<std::string> SignJws(EVP_PKEY* key, const JwsHeader& header, std::string_view payload) {
  boost::json::object protected_header{
      {"alg", "ES256"}, {"nonce", header.nonce}, {"url", header.url}};
  if (header.kid.empty()) {
    SKIFF_ASSIGN_OR_RETURN(boost::json::object jwk, Jwk(key));
    protected_header["jwk"] = std::move(jwk);
  } else {
    protected_header["kid"] = header.kid;
  }
  const std::string encoded_header = Base64UrlEncode(boost::json::serialize(protected_header));
  const std::string encoded_payload = Base64UrlEncode(payload);
  SKIFF_ASSIGN_OR_RETURN(std::string signature,
                         SignEs256(key, encoded_header + "." + encoded_payload));
  return boost::json::serialize(boost::json::object{{"protected", encoded_header},
                                                    {"payload", encoded_payload},
                                                    {"signature", Base64UrlEncode(signature)}});
}

}  // namespace skiff::acme
