#include "crypto/authority.h"

#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include "crypto/x509.h"

namespace skiff::crypto {
namespace {

// Backdated so that a peer whose clock is a little behind accepts it.
constexpr std::chrono::hours kBackdate{1};

}  // namespace

Result<CertifiedKey> MakeAuthority(const std::string& common_name,
                                   std::chrono::system_clock::time_point now,
                                   std::chrono::hours lifetime) {
  SKIFF_ASSIGN_OR_RETURN(PKeyPtr key, GenerateP256Key());
  CertificateRequest request;
  request.common_name = common_name;
  request.not_before = now - kBackdate;
  request.not_after = now + lifetime;
  request.is_ca = true;
  SKIFF_ASSIGN_OR_RETURN(X509Ptr cert, IssueCertificate(request, key.get(), nullptr, key.get()));
  return CertifiedKey{CertificatePem(cert.get()), PrivateKeyPem(key.get())};
}

Result<CertifiedKey> IssueServerCertificate(const CertifiedKey& ca,
                                            const std::vector<std::string>& names,
                                            std::chrono::system_clock::time_point now,
                                            std::chrono::hours lifetime) {
  SKIFF_ASSIGN_OR_RETURN(X509Ptr ca_cert, ParseCertificatePem(ca.cert_pem));
  SKIFF_ASSIGN_OR_RETURN(PKeyPtr ca_key, ParsePrivateKeyPem(ca.key_pem));
  SKIFF_ASSIGN_OR_RETURN(PKeyPtr key, GenerateP256Key());
  CertificateRequest request;
  request.common_name = names.empty() ? "skiff" : names.front();
  request.names = names;
  request.not_before = now - kBackdate;
  request.not_after = now + lifetime;
  SKIFF_ASSIGN_OR_RETURN(X509Ptr cert,
                         IssueCertificate(request, key.get(), ca_cert.get(), ca_key.get()));
  return CertifiedKey{CertificatePem(cert.get()) + CertificatePem(ca_cert.get()),
                      PrivateKeyPem(key.get())};
}

bool ServerCertificateFits(const std::string& ca_cert_pem, const std::string& cert_pem,
                           const std::vector<std::string>& names,
                           std::chrono::system_clock::time_point now, std::chrono::hours min_left) {
  auto ca = ParseCertificatePem(ca_cert_pem);
  auto leaf = ParseCertificatePem(cert_pem);
  if (!ca || !leaf) return false;
  EVP_PKEY* ca_key = X509_get0_pubkey(ca->get());
  if (ca_key == nullptr || X509_verify(leaf->get(), ca_key) != 1) {
    TakeOpensslErrors();
    return false;
  }
  const time_t until = std::chrono::system_clock::to_time_t(now + min_left);
  if (X509_cmp_time(X509_get0_notAfter(leaf->get()), const_cast<time_t*>(&until)) <= 0) {
    return false;
  }
  for (const std::string& name : names) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(name, ec);
    const int fits = !ec ? X509_check_ip_asc(leaf->get(), name.c_str(), 0)
                         : X509_check_host(leaf->get(), name.c_str(), name.size(), 0, nullptr);
    if (fits != 1) return false;
  }
  return true;
}

}  // namespace skiff::crypto
