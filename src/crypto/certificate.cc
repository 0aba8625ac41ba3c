#include "crypto/certificate.h"

#include <openssl/asn1.h>
#include <openssl/x509v3.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/fmt/ranges.h>

#include <algorithm>
#include <ctime>

#include "common/quantity.h"
#include "crypto/domain_name.h"
#include "crypto/x509.h"

namespace skiff::crypto {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string NameEntry(X509_NAME* name, int nid) {
  const int at = X509_NAME_get_index_by_NID(name, nid, -1);
  if (at < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::vector<std::string> DnsNames(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_DNS) continue;
    const ASN1_STRING* dns = name->d.dNSName;
    out.push_back(Lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                         static_cast<size_t>(ASN1_STRING_length(dns)))));
  }
  GENERAL_NAMES_free(names);
  return out;
}

Result<Time> ToTime(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1)
    return InvalidArgument("a validity time does not parse", "cert");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// The error of a parse, with its field named.
tl::unexpected<Error> About(std::string field, const Error& error) {
  return InvalidArgument(error.message, std::move(field));
}

// "certificate 2 (CN=R3)", for messages about one certificate of a chain.
std::string Named(const std::vector<X509Ptr>& chain, size_t at) {
  const std::string cn = NameEntry(X509_get_subject_name(chain[at].get()), NID_commonName);
  return fmt::format("certificate {} ({})", at + 1, cn.empty() ? "no CN" : "CN=" + cn);
}

// The key must be the first certificate's: an edge serves the chain as given,
// the leaf first. Errors: kInvalidArgument, "key" when no certificate of the
// chain is the key's, "cert" naming where the key's is when it is not first.
Status CheckKeyIsTheLeafs(const std::vector<X509Ptr>& chain, EVP_PKEY* key) {
  for (size_t i = 0; i < chain.size(); ++i) {
    if (X509_check_private_key(chain[i].get(), key) != 1) continue;
    if (i == 0) return OkStatus();
    return InvalidArgument(
        fmt::format("the certificate for the key must come first (it is number {})", i + 1),
        "cert");
  }
  TakeOpensslErrors();
  return InvalidArgument("the key does not match the certificate", "key");
}

// Each certificate after the leaf must be the issuer of the one before it
// (named and signed by it) and valid now: a browser given a chain out of
// order, or an expired intermediate, refuses the site. The leaf's own
// validity is checked by the caller. Errors: kInvalidArgument, "cert",
// naming the certificate.
Status CheckIssuance(const std::vector<X509Ptr>& chain, Time now) {
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    X509* subject = chain[i].get();
    X509* issuer = chain[i + 1].get();
    if (X509_check_issued(issuer, subject) != X509_V_OK ||
        X509_verify(subject, X509_get0_pubkey(issuer)) != 1) {
      TakeOpensslErrors();
      return InvalidArgument(
          fmt::format("{} is not issued by {}: give the leaf first, then each issuer in order",
                      Named(chain, i), Named(chain, i + 1)),
          "cert");
    }
    SKIFF_ASSIGN_OR_RETURN(Time not_before, ToTime(X509_get0_notBefore(issuer)));
    SKIFF_ASSIGN_OR_RETURN(Time not_after, ToTime(X509_get0_notAfter(issuer)));
    if (not_after <= now) {
      return InvalidArgument(
          fmt::format("{} expired on {}", Named(chain, i + 1), FormatTime(not_after)), "cert");
    }
    if (not_before > now) {
      return InvalidArgument(
          fmt::format("{} is not valid before {}", Named(chain, i + 1), FormatTime(not_before)),
          "cert");
    }
  }
  return OkStatus();
}

}  // namespace

Result<std::string> NormaliseCertificateDomain(std::string_view domain) {
  std::string lower = Lower(domain);
  if (!IsDnsName(lower)) {
    return InvalidArgument(
        fmt::format("not a hostname or wildcard (\"{}\"); use e.g. web.com or *.web.com", domain),
        "domain");
  }
  return lower;
}

Result<CertificateInfo> ValidateCertificate(std::string_view chain_pem, std::string_view key_pem,
                                            std::string_view domain, Time now) {
  CertificateInfo info;
  SKIFF_ASSIGN_OR_RETURN(info.domain, NormaliseCertificateDomain(domain));
  // A combined file (chain and key) given as the chain: refused rather than
  // kept, since the chain is stored in clear.
  if (chain_pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    return InvalidArgument(
        "it holds a private key; give the certificate chain alone here and the key as key", "cert");
  }
  auto chain = ParseCertificateChainPem(chain_pem);
  if (!chain) return About("cert", chain.error());
  auto key = ParsePrivateKeyPem(key_pem);
  if (!key) return About("key", key.error());
  X509* leaf = chain->front().get();
  SKIFF_RETURN_IF_ERROR(CheckKeyIsTheLeafs(*chain, key->get()));
  SKIFF_RETURN_IF_ERROR(CheckIssuance(*chain, now));
  SKIFF_ASSIGN_OR_RETURN(info.not_before, ToTime(X509_get0_notBefore(leaf)));
  SKIFF_ASSIGN_OR_RETURN(info.not_after, ToTime(X509_get0_notAfter(leaf)));
  if (info.not_after <= now) {
    return InvalidArgument(fmt::format("expired on {}", FormatTime(info.not_after)), "cert");
  }
  if (info.not_before > now) {
    return InvalidArgument(fmt::format("not valid before {}", FormatTime(info.not_before)), "cert");
  }
  // Its keyUsage and extendedKeyUsage must allow a TLS server: a client
  // or CA-only certificate would fail every handshake. (CA:TRUE alone is no
  // reason to refuse: some private CAs issue such leaves.)
  if (X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) != 1) {
    TakeOpensslErrors();
    return InvalidArgument(
        "the certificate is not for TLS servers: its keyUsage or extendedKeyUsage leaves "
        "serverAuth out",
        "cert");
  }
  info.names = DnsNames(leaf);
  // A wildcard domain needs the wildcard itself; a name, itself or a wildcard over it.
  const bool covered = std::any_of(info.names.begin(), info.names.end(), [&](const std::string& n) {
    return info.domain.starts_with("*.") ? n == info.domain : DomainCovers(n, info.domain);
  });
  if (info.names.empty()) {
    return InvalidArgument(
        fmt::format("the certificate has no DNS subjectAltName; browsers ignore the CN; reissue "
                    "it with -addext subjectAltName=DNS:{}",
                    info.domain),
        "cert");
  }
  if (!covered) {
    return InvalidArgument(
        fmt::format("{} is not among the certificate's names ({})", info.domain,
                    info.names.empty() ? "none" : fmt::format("{}", fmt::join(info.names, ", "))),
        "domain");
  }
  X509_NAME* issuer = X509_get_issuer_name(leaf);
  const std::string cn = NameEntry(issuer, NID_commonName);
  const std::string org = NameEntry(issuer, NID_organizationName);
  info.issuer = cn.empty() || org.empty() ? cn + org : cn + ", " + org;
  info.fingerprint = CertificateFingerprint(leaf);
  for (const X509Ptr& cert : *chain) info.chain_pem += CertificatePem(cert.get());
  return info;
}

}  // namespace skiff::crypto
