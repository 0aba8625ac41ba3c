#include "crypto/authority.h"

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

}  // namespace skiff::crypto
