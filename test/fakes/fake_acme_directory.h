// FakeAcmeDirectory: an ACME server kept in memory behind the AcmeDirectory
// seam, for the order flow's tests and the directory contract. It reuses the
// real logic beside it: key authorizations from acme::JwkThumbprint, CSRs read
// with acme::ParseCsrDer, certificates issued by crypto::IssueCertificate
// under its own CA, problems turned into errors by acme::ProblemError. An
// http-01 challenge is validated for real by default: GET
// http://127.0.0.1:<http01_port>/.well-known/acme-challenge/<token> with the
// domain as Host, as Pebble does once its DNS points the domain at 127.0.0.1.
//
// Scriptable: how many polls an authorization or order stays "processing"
// and the Retry-After it sends meanwhile, a validator of the test's own, a
// problem for the next call of one kind, domains no DNS resolves.
//
// Thread-safety: thread-safe (one mutex); the validator runs without it.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "acme/directory.h"
#include "acme/problem.h"
#include "crypto/x509.h"

namespace skiff::testing {

class FakeAcmeDirectory final : public acme::AcmeDirectory {
 public:
  // Validates http-01 against 127.0.0.1:`http01_port`.
  explicit FakeAcmeDirectory(int http01_port);
  ~FakeAcmeDirectory() override;

  // What a validation fetched for `domain` and `token`: the body of a 200,
  // or the error (its message becomes the problem's detail; kNotFound as
  // "unauthorized", the others as "connection").
  using Validator =
      std::function<Result<std::string>(const std::string& domain, const std::string& token)>;
  void SetValidator(Validator validator);
  // Domains that do not resolve: their validation fails with a "dns" problem.
  void SetUnresolvable(const std::string& domain);
  // Authorizations stay "processing" for `polls` GETs after the challenge is
  // answered, and orders "processing" as long after finalize, each answer
  // carrying `retry_after` (unset: no header).
  void SetProcessing(int polls, std::optional<Duration> retry_after);
  // The next call of `call` ("new_account", "new_order", "get_authorization",
  // "get_order", "respond", "finalize", "download") fails with `problem`.
  void FailNext(const std::string& call, acme::Problem problem);

  // The CA the certificates chain to (PEM), and how many times each call
  // was made.
  std::string root_pem() const;
  int calls(const std::string& call) const;
  int accounts() const;
  // The AccountKey::timeout of each call that took an account, in order.
  std::vector<std::optional<Duration>> timeouts() const;

  // AcmeDirectory
  Result<acme::Account> NewAccount(EVP_PKEY* key, const std::vector<std::string>& contact,
                                   bool only_return_existing) override;
  Result<acme::Order> NewOrder(const acme::AccountKey& account,
                               const std::vector<std::string>& domains) override;
  Result<acme::Order> GetOrder(const acme::AccountKey& account, const std::string& url) override;
  Result<acme::Authorization> GetAuthorization(const acme::AccountKey& account,
                                               const std::string& url) override;
  Result<acme::Challenge> RespondToChallenge(const acme::AccountKey& account,
                                             const std::string& url) override;
  Result<acme::Order> Finalize(const acme::AccountKey& account, const acme::Order& order,
                               std::string_view csr_der) override;
  Result<std::string> DownloadCertificate(const acme::AccountKey& account,
                                          const std::string& url) override;

 private:
  struct AuthzState {
    acme::Authorization authz;
    std::string account;  // owner's URL
    int polls_left = 0;   // GETs still answered "processing"
  };
  struct OrderState {
    acme::Order order;
    std::string account;
    int polls_left = 0;
  };

  // Counts `call` and returns the problem scripted for it, if any.
  std::optional<Error> Enter(const std::string& call, std::string_view what);
  // kNotFound unless `account` owns `owner`.
  Status Owned(const acme::AccountKey& account, const std::string& owner,
               const std::string& url) const;
  Result<std::string> ValidateHttp01(const std::string& domain, const std::string& token) const;
  void RefreshOrder(OrderState& state);

  const int http01_port_;
  crypto::PKeyPtr ca_key_;
  crypto::X509Ptr ca_;
  mutable std::mutex mu_;
  Validator validator_;                                 // GUARDED_BY(mu_)
  std::set<std::string> unresolvable_;                  // GUARDED_BY(mu_)
  int processing_polls_ = 0;                            // GUARDED_BY(mu_)
  std::optional<Duration> retry_after_;                 // GUARDED_BY(mu_)
  std::map<std::string, acme::Problem> fail_next_;      // GUARDED_BY(mu_)
  std::map<std::string, int> calls_;                    // GUARDED_BY(mu_)
  std::map<std::string, std::string> accounts_;         // thumbprint -> URL; GUARDED_BY(mu_)
  std::map<std::string, AuthzState> authzs_;            // by URL; GUARDED_BY(mu_)
  std::map<std::string, OrderState> orders_;            // by URL; GUARDED_BY(mu_)
  std::map<std::string, std::string> challenge_authz_;  // challenge -> authz; GUARDED_BY(mu_)
  std::map<std::string, std::string> certificates_;     // URL -> chain; GUARDED_BY(mu_)
  std::vector<std::optional<Duration>> timeouts_;       // GUARDED_BY(mu_)
  int next_id_ = 1;                                     // GUARDED_BY(mu_)
};

}  // namespace skiff::testing
