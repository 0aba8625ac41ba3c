#include "crypto/x509.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/check.h"
#include "common/ids.h"
#include "crypto/domain_name.h"

namespace skiff::crypto {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr ReadBio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

tl::unexpected<Error> OpensslFailed(std::string_view what) {
  std::string reasons = TakeOpensslErrors();
  return Internal(std::string(what) + (reasons.empty() ? "" : ": " + reasons));
}

bool IsIpAddress(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// Adds extension `nid` = `value` (OpenSSL's config syntax) to `cert`.
Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return OpensslFailed("certificate extension " + value);
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return OpensslFailed("certificate extension " + value);
  return OkStatus();
}

}  // namespace

std::string TakeOpensslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

Result<PKeyPtr> GenerateP256Key() {
  PKeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpensslFailed("generating a P-256 key");
  return key;
}

Result<X509Ptr> IssueCertificate(const CertificateRequest& request, EVP_PKEY* subject_key,
                                 X509* issuer, EVP_PKEY* issuer_key) {
  if (request.not_after <= request.not_before) {
    return InvalidArgument("a certificate's not_after must be after its not_before");
  }
  std::string sans;
  for (const std::string& name : request.names) {
    if (!sans.empty()) sans += ",";
    if (IsIpAddress(name)) {
      sans += "IP:" + name;
    } else if (IsDnsName(name)) {
      sans += "DNS:" + name;
    } else {
      return InvalidArgument("\"" + name + "\" is neither a DNS name nor an IP address");
    }
  }
  X509Ptr cert(X509_new());
  if (!cert) return OpensslFailed("X509_new");
  X509_set_version(cert.get(), 2);
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) return OpensslFailed("RAND_bytes");
  serial_bytes[0] &= 0x7f;  // a positive INTEGER
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  auto seconds = [](std::chrono::system_clock::time_point t) {
    return static_cast<time_t>(
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  };
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), seconds(request.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), seconds(request.not_after));
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!request.common_name.empty()) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(request.common_name.c_str()),
                               -1, -1, 0);
  }
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  if (X509_set_pubkey(cert.get(), subject_key) != 1) return OpensslFailed("X509_set_pubkey");
  X509* issuer_cert = issuer != nullptr ? issuer : cert.get();
  if (request.is_ca) {
    SKIFF_RETURN_IF_ERROR(
        AddExtension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE"));
    SKIFF_RETURN_IF_ERROR(
        AddExtension(cert.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign"));
  } else {
    SKIFF_RETURN_IF_ERROR(
        AddExtension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:FALSE"));
    SKIFF_RETURN_IF_ERROR(
        AddExtension(cert.get(), issuer_cert, NID_key_usage, "critical,digitalSignature"));
    SKIFF_RETURN_IF_ERROR(
        AddExtension(cert.get(), issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth"));
  }
  SKIFF_RETURN_IF_ERROR(AddExtension(cert.get(), issuer_cert, NID_subject_key_identifier, "hash"));
  if (issuer != nullptr) {
    SKIFF_RETURN_IF_ERROR(
        AddExtension(cert.get(), issuer_cert, NID_authority_key_identifier, "keyid:always"));
  }
  if (!sans.empty()) {
    SKIFF_RETURN_IF_ERROR(AddExtension(cert.get(), issuer_cert, NID_subject_alt_name, sans));
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return OpensslFailed("X509_sign");
  return cert;
}

std::string PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  SKIFF_CHECK(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  return BioText(bio.get());
}

std::string CertificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  SKIFF_CHECK(PEM_write_bio_X509(bio.get(), cert) == 1);
  return BioText(bio.get());
}

Result<PKeyPtr> ParsePrivateKeyPem(std::string_view pem) {
  BioPtr bio = ReadBio(pem);
  // Without a callback OpenSSL asks for an encrypted key's passphrase on the
  // terminal, which would stall a server (or the CLI) on a prompt: this one
  // notes that a passphrase was wanted and gives none.
  bool encrypted = false;
  const auto no_passphrase = [](char*, int, int, void* asked) {
    *static_cast<bool*>(asked) = true;
    return -1;
  };
  PKeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, &encrypted));
  if (!key) {
    TakeOpensslErrors();
    if (encrypted) {
      return InvalidArgument(
          "the key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem) and "
          "give the plain key");
    }
    return InvalidArgument("no PEM private key (\"-----BEGIN PRIVATE KEY-----\") could be read");
  }
  return key;
}

Result<X509Ptr> ParseCertificatePem(std::string_view pem) {
  BioPtr bio = ReadBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    TakeOpensslErrors();
    return InvalidArgument("no PEM certificate (\"-----BEGIN CERTIFICATE-----\") could be read");
  }
  return cert;
}

Result<std::vector<X509Ptr>> ParseCertificateChainPem(std::string_view pem) {
  std::vector<X509Ptr> chain;
  BioPtr bio = ReadBio(pem);
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    chain.push_back(std::move(cert));
  }
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end =
      ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  TakeOpensslErrors();
  if (chain.empty()) {
    return InvalidArgument("no PEM certificate (\"-----BEGIN CERTIFICATE-----\") could be read");
  }
  if (!clean_end) {
    return InvalidArgument("certificate " + std::to_string(chain.size() + 1) +
                           " of the chain does not parse as PEM");
  }
  return chain;
}

std::string CertificateDer(X509* cert) {
  unsigned char* der = nullptr;
  const int size = i2d_X509(cert, &der);
  SKIFF_CHECK(size > 0);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return out;
}

std::string CertificateFingerprint(X509* cert) { return Sha256Hex(CertificateDer(cert)); }

}  // namespace skiff::crypto
