#include "acme/csr.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "crypto/domain_name.h"

namespace skiff::acme {
namespace {

struct ReqFree {
  void operator()(X509_REQ* req) const { X509_REQ_free(req); }
};
using ReqPtr = std::unique_ptr<X509_REQ, ReqFree>;
struct ExtensionsFree {
  void operator()(STACK_OF(X509_EXTENSION) * exts) const {
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};

tl::unexpected<Error> OpensslFailed(std::string_view what) {
  return Internal("making a CSR: " + std::string(what) + ": " + crypto::TakeOpensslErrors());
}

}  // namespace

Result<std::string> MakeCsrDer(const std::vector<std::string>& domains, EVP_PKEY* key) {
  if (domains.empty()) return InvalidArgument("a CSR needs at least one domain");
  std::string sans;
  for (const std::string& domain : domains) {
    if (!crypto::IsDnsName(domain)) return InvalidArgument("\"" + domain + "\" is not a DNS name");
    sans += (sans.empty() ? "DNS:" : ",DNS:") + domain;
  }
  ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) return OpensslFailed("X509_REQ_new");
  // No subject: a CN holds at most 64 bytes and a DNS name up to 253, and
  // ACME servers take the names from the subjectAltName (RFC 8555 §7.4).
  if (X509_REQ_set_pubkey(req.get(), key) != 1) return OpensslFailed("public key");
  std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionsFree> exts(sk_X509_EXTENSION_new_null());
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, sans.c_str());
  if (!exts || san == nullptr) return OpensslFailed("subjectAltName");
  sk_X509_EXTENSION_push(exts.get(), san);
  if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) return OpensslFailed("extensions");
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) return OpensslFailed("signing");
  unsigned char* der = nullptr;
  const int size = i2d_X509_REQ(req.get(), &der);
  if (size <= 0) return OpensslFailed("DER");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return out;
}

Result<CsrInfo> ParseCsrDer(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req) {
    crypto::TakeOpensslErrors();
    return InvalidArgument("not a DER certificate signing request");
  }
  CsrInfo info;
  info.public_key.reset(X509_REQ_get_pubkey(req.get()));
  if (!info.public_key || X509_REQ_verify(req.get(), info.public_key.get()) != 1) {
    crypto::TakeOpensslErrors();
    return InvalidArgument("the CSR's signature does not verify");
  }
  std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionsFree> exts(
      X509_REQ_get_extensions(req.get()));
  std::unique_ptr<GENERAL_NAMES, NamesFree> names;
  if (exts) {
    names.reset(static_cast<GENERAL_NAMES*>(
        X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr)));
  }
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = name->d.dNSName;
    info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                static_cast<size_t>(ASN1_STRING_length(dns)));
  }
  crypto::TakeOpensslErrors();
  return info;
}

}  // namespace skiff::acme
