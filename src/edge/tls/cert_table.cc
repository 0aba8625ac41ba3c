#include "edge/tls/cert_table.h"

#include <openssl/x509.h>

#include <algorithm>
#include <cctype>

#include "common/logging.h"

namespace skiff::edge::tls {
namespace {

std::string Lowercase(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Result<std::shared_ptr<const ServedCertificate>> Load(const protocol::RouteCertificate& c) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<crypto::X509Ptr> chain,
                         crypto::ParseCertificateChainPem(c.cert_pem));
  SKIFF_ASSIGN_OR_RETURN(crypto::PKeyPtr key, crypto::ParsePrivateKeyPem(c.key_pem));
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    crypto::TakeOpensslErrors();
    return InvalidArgument("the key does not match the certificate");
  }
  auto served = std::make_shared<ServedCertificate>();
  served->fingerprint = crypto::CertificateFingerprint(chain.front().get());
  served->leaf = std::move(chain.front());
  served->key = std::move(key);
  if (chain.size() > 1) {
    served->chain = sk_X509_new_null();
    for (size_t i = 1; i < chain.size(); ++i) {
      if (served->chain == nullptr || sk_X509_push(served->chain, chain[i].get()) == 0) {
        return Internal("cannot hold a certificate chain: " + crypto::TakeOpensslErrors());
      }
      chain[i].release();  // the stack owns it now
    }
  }
  return std::shared_ptr<const ServedCertificate>(std::move(served));
}

}  // namespace

ServedCertificate::~ServedCertificate() {
  if (chain != nullptr) sk_X509_pop_free(chain, X509_free);
}

std::shared_ptr<const CertTable> CertTable::Build(
    const std::vector<protocol::RouteCertificate>& certificates) {
  auto table = std::make_shared<CertTable>();
  for (const protocol::RouteCertificate& c : certificates) {
    Result<std::shared_ptr<const ServedCertificate>> served = Load(c);
    if (!served) {
      SKIFF_LOG_WARN("edge: the certificate for {} is not served: {}",
                     c.domains.empty() ? std::string("(no domain)") : c.domains.front(),
                     served.error().message);
      continue;
    }
    table->certificates_.push_back(*served);
    for (const std::string& domain : c.domains) {
      table->by_name_.emplace(Lowercase(domain), served->get());
    }
  }
  return table;
}

const ServedCertificate* CertTable::Find(std::string_view server_name) const {
  if (by_name_.empty() || server_name.empty()) return nullptr;
  const std::string name = Lowercase(server_name);
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  const size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return nullptr;
  const std::string wildcard = "*" + name.substr(dot);
  if (auto it = by_name_.find(wildcard); it != by_name_.end()) return it->second;
  return nullptr;
}

}  // namespace skiff::edge::tls
