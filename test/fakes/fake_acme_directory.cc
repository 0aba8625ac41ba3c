#include "fakes/fake_acme_directory.h"

#include <algorithm>

#include "acme/csr.h"
#include "acme/jws.h"
#include "common/check.h"
#include "crypto/domain_name.h"
#include "net/http_client.h"

namespace skiff::testing {
namespace {

constexpr std::string_view kBase = "https://fake-acme.test/";

acme::Problem MakeProblem(std::string_view type, std::string detail, int status) {
  acme::Problem p;
  p.type = "urn:ietf:params:acme:error:" + std::string(type);
  p.detail = std::move(detail);
  p.status = status;
  return p;
}

tl::unexpected<Error> Fail(std::string_view type, std::string detail, int status,
                           std::string_view what) {
  return tl::unexpected(acme::ProblemError(MakeProblem(type, std::move(detail), status), what));
}

}  // namespace

FakeAcmeDirectory::FakeAcmeDirectory(int http01_port) : http01_port_(http01_port) {
  ca_key_ = crypto::GenerateP256Key().value();
  crypto::CertificateRequest request;
  request.common_name = "Fake ACME root";
  request.is_ca = true;
  request.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
  request.not_after = request.not_before + std::chrono::hours(24 * 365);
  ca_ = crypto::IssueCertificate(request, ca_key_.get(), nullptr, ca_key_.get()).value();
}

FakeAcmeDirectory::~FakeAcmeDirectory() = default;

void FakeAcmeDirectory::SetValidator(Validator validator) {
  std::lock_guard lock(mu_);
  validator_ = std::move(validator);
}

void FakeAcmeDirectory::SetUnresolvable(const std::string& domain) {
  std::lock_guard lock(mu_);
  unresolvable_.insert(domain);
}

void FakeAcmeDirectory::SetProcessing(int polls, std::optional<Duration> retry_after) {
  std::lock_guard lock(mu_);
  processing_polls_ = polls;
  retry_after_ = retry_after;
}

void FakeAcmeDirectory::FailNext(const std::string& call, acme::Problem problem) {
  std::lock_guard lock(mu_);
  fail_next_[call] = std::move(problem);
}

std::string FakeAcmeDirectory::root_pem() const { return crypto::CertificatePem(ca_.get()); }

int FakeAcmeDirectory::calls(const std::string& call) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(call);
  return it == calls_.end() ? 0 : it->second;
}

int FakeAcmeDirectory::accounts() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(accounts_.size());
}

std::optional<Error> FakeAcmeDirectory::Enter(const std::string& call, std::string_view what) {
  ++calls_[call];
  auto it = fail_next_.find(call);
  if (it == fail_next_.end()) return std::nullopt;
  Error error = acme::ProblemError(it->second, what);
  fail_next_.erase(it);
  return error;
}

std::vector<std::optional<Duration>> FakeAcmeDirectory::timeouts() const {
  std::lock_guard lock(mu_);
  return timeouts_;
}

Status FakeAcmeDirectory::Owned(const acme::AccountKey& account, const std::string& owner,
                                const std::string& url) const {
  if (account.url != owner) {
    return tl::unexpected(acme::ProblemError(
        MakeProblem("unauthorized", "account " + account.url + " does not own " + url, 403), url));
  }
  return OkStatus();
}

Result<acme::Account> FakeAcmeDirectory::NewAccount(EVP_PKEY* key,
                                                    const std::vector<std::string>& contact,
                                                    bool only_return_existing) {
  (void)contact;
  SKIFF_ASSIGN_OR_RETURN(std::string thumbprint, acme::JwkThumbprint(key));
  std::lock_guard lock(mu_);
  // Each call's errors say what was being done in HttpAcmeDirectory's words.
  const std::string what =
      only_return_existing ? "looking up the ACME account" : "registering an ACME account";
  if (auto failed = Enter("new_account", what)) return tl::unexpected(*failed);
  auto it = accounts_.find(thumbprint);
  if (it == accounts_.end()) {
    if (only_return_existing) {
      return Fail("accountDoesNotExist",
                  "unable to find existing account for only-return-existing request", 400, what);
    }
    it = accounts_.emplace(thumbprint, std::string(kBase) + "acct/" + std::to_string(next_id_++))
             .first;
  }
  return acme::Account{it->second, "valid"};
}

Result<acme::Order> FakeAcmeDirectory::NewOrder(const acme::AccountKey& account,
                                                const std::vector<std::string>& domains) {
  std::lock_guard lock(mu_);
  std::string what = "new order for ";
  for (size_t i = 0; i < domains.size(); ++i) what += (i == 0 ? "" : ", ") + domains[i];
  timeouts_.push_back(account.timeout);
  if (auto failed = Enter("new_order", what)) return tl::unexpected(*failed);
  if (domains.empty()) return Fail("malformed", "order includes no identifiers", 400, what);
  OrderState state;
  state.account = account.url;
  state.order.url = std::string(kBase) + "order/" + std::to_string(next_id_++);
  state.order.status = "pending";
  state.order.domains = domains;
  state.order.finalize = state.order.url + "/finalize";
  for (const std::string& domain : domains) {
    if (!crypto::IsDnsName(domain)) {
      return Fail("rejectedIdentifier", "invalid DNS name \"" + domain + "\"", 400, what);
    }
    AuthzState authz;
    authz.account = account.url;
    authz.authz.url = std::string(kBase) + "authz/" + std::to_string(next_id_++);
    authz.authz.domain = domain;
    authz.authz.status = "pending";
    acme::Challenge challenge;
    challenge.type = "http-01";
    challenge.url = std::string(kBase) + "chall/" + std::to_string(next_id_++);
    challenge.status = "pending";
    challenge.token = "token-" + std::to_string(next_id_++) + "_AbC-dEf";
    challenge_authz_[challenge.url] = authz.authz.url;
    authz.authz.challenges.push_back(challenge);
    state.order.authorizations.push_back(authz.authz.url);
    authzs_[authz.authz.url] = std::move(authz);
  }
  acme::Order order = state.order;
  orders_[order.url] = std::move(state);
  return order;
}

void FakeAcmeDirectory::RefreshOrder(OrderState& state) {
  if (state.order.status != "pending") return;
  bool all_valid = true;
  for (const std::string& url : state.order.authorizations) {
    const acme::Authorization& authz = authzs_.at(url).authz;
    if (authz.status == "invalid") {
      state.order.status = "invalid";
      state.order.error = authz.challenges.front().error;
      return;
    }
    all_valid = all_valid && authz.status == "valid";
  }
  if (all_valid) state.order.status = "ready";
}

Result<acme::Order> FakeAcmeDirectory::GetOrder(const acme::AccountKey& account,
                                                const std::string& url) {
  std::lock_guard lock(mu_);
  timeouts_.push_back(account.timeout);
  if (auto failed = Enter("get_order", "reading the order " + url)) return tl::unexpected(*failed);
  auto it = orders_.find(url);
  if (it == orders_.end()) return Fail("malformed", "no order " + url, 404, url);
  SKIFF_RETURN_IF_ERROR(Owned(account, it->second.account, url));
  OrderState& state = it->second;
  if (state.order.status == "processing" && --state.polls_left <= 0) {
    state.order.status = "valid";
  }
  RefreshOrder(state);
  acme::Order order = state.order;
  if (order.status == "processing") order.retry_after = retry_after_;
  return order;
}

Result<acme::Authorization> FakeAcmeDirectory::GetAuthorization(const acme::AccountKey& account,
                                                                const std::string& url) {
  std::lock_guard lock(mu_);
  timeouts_.push_back(account.timeout);
  if (auto failed = Enter("get_authorization", "reading the authorization " + url)) {
    return tl::unexpected(*failed);
  }
  auto it = authzs_.find(url);
  if (it == authzs_.end()) return Fail("malformed", "no authorization " + url, 404, url);
  SKIFF_RETURN_IF_ERROR(Owned(account, it->second.account, url));
  AuthzState& state = it->second;
  acme::Challenge& challenge = state.authz.challenges.front();
  if (challenge.status == "processing" && --state.polls_left <= 0) {
    challenge.status = challenge.error ? "invalid" : "valid";
    state.authz.status = challenge.status;
  }
  acme::Authorization authz = state.authz;
  if (challenge.status == "processing") authz.retry_after = retry_after_;
  return authz;
}

Result<std::string> FakeAcmeDirectory::ValidateHttp01(const std::string& domain,
                                                      const std::string& token) const {
  net::HttpClient client("http://127.0.0.1:" + std::to_string(http01_port_));
  SKIFF_ASSIGN_OR_RETURN(net::HttpResponse response,
                         client.Do("GET", "/.well-known/acme-challenge/" + token, {},
                                   {{"Host", domain}}, std::chrono::seconds(5)));
  if (response.status != 200) {
    return NotFound("the server at " + domain + " answered " + std::to_string(response.status));
  }
  return response.body;
}

Result<acme::Challenge> FakeAcmeDirectory::RespondToChallenge(const acme::AccountKey& account,
                                                              const std::string& url) {
  std::string domain, token, owner;
  Validator validator;
  bool unresolvable = false;
  {
    std::lock_guard lock(mu_);
    timeouts_.push_back(account.timeout);
    if (auto failed = Enter("respond", "answering the challenge " + url)) {
      return tl::unexpected(*failed);
    }
    auto it = challenge_authz_.find(url);
    if (it == challenge_authz_.end()) return Fail("malformed", "no challenge " + url, 404, url);
    AuthzState& state = authzs_.at(it->second);
    SKIFF_RETURN_IF_ERROR(Owned(account, state.account, url));
    acme::Challenge& challenge = state.authz.challenges.front();
    if (challenge.status != "pending") return challenge;
    domain = state.authz.domain;
    token = challenge.token;
    owner = state.account;
    validator = validator_;
    unresolvable = unresolvable_.contains(domain);
  }
  // Validation runs outside the lock (it may be a real HTTP fetch).
  std::optional<acme::Problem> problem;
  if (unresolvable) {
    problem = MakeProblem("dns", "no A record for " + domain, 400);
  } else {
    Result<std::string> body = validator ? validator(domain, token) : ValidateHttp01(domain, token);
    SKIFF_ASSIGN_OR_RETURN(std::string thumbprint, acme::JwkThumbprint(account.key));
    const std::string expected = acme::KeyAuthorization(token, thumbprint);
    if (!body) {
      problem =
          MakeProblem(body.error().code == ErrorCode::kNotFound ? "unauthorized" : "connection",
                      body.error().message, 403);
    } else if (*body != expected) {
      problem = MakeProblem("unauthorized",
                            "the key authorization file from the server did not match: \"" +
                                body->substr(0, 100) + "\"",
                            403);
    }
  }
  std::lock_guard lock(mu_);
  AuthzState& state = authzs_.at(challenge_authz_.at(url));
  acme::Challenge& challenge = state.authz.challenges.front();
  challenge.error = problem;
  state.polls_left = processing_polls_;
  if (processing_polls_ > 0) {
    challenge.status = "processing";
  } else {
    challenge.status = problem ? "invalid" : "valid";
    state.authz.status = challenge.status;
  }
  return challenge;
}

Result<acme::Order> FakeAcmeDirectory::Finalize(const acme::AccountKey& account,
                                                const acme::Order& order,
                                                std::string_view csr_der) {
  std::lock_guard lock(mu_);
  const std::string what = "finalizing the order " + order.url;
  timeouts_.push_back(account.timeout);
  if (auto failed = Enter("finalize", what)) return tl::unexpected(*failed);
  auto it = orders_.find(order.url);
  if (it == orders_.end()) return Fail("malformed", "no order " + order.url, 404, what);
  SKIFF_RETURN_IF_ERROR(Owned(account, it->second.account, order.url));
  OrderState& state = it->second;
  RefreshOrder(state);
  if (state.order.status != "ready") {
    return Fail(
        "orderNotReady",
        "order's status (\"" + state.order.status + "\") is not acceptable for finalization", 403,
        what);
  }
  Result<acme::CsrInfo> csr = acme::ParseCsrDer(csr_der);
  if (!csr) return Fail("badCSR", csr.error().message, 400, what);
  std::vector<std::string> asked = csr->dns_names, ordered = state.order.domains;
  std::sort(asked.begin(), asked.end());
  std::sort(ordered.begin(), ordered.end());
  if (asked != ordered) {
    return Fail("badCSR", "the CSR's names differ from the order's identifiers", 400, what);
  }
  crypto::CertificateRequest request;
  // No CN, as the CSR has none: a name may be longer than a CN's 64 bytes.
  request.names = ordered;
  request.not_before = std::chrono::system_clock::now() - std::chrono::minutes(1);
  request.not_after = request.not_before + std::chrono::hours(24 * 90);
  SKIFF_ASSIGN_OR_RETURN(
      crypto::X509Ptr leaf,
      crypto::IssueCertificate(request, csr->public_key.get(), ca_.get(), ca_key_.get()));
  state.order.certificate = std::string(kBase) + "cert/" + std::to_string(next_id_++);
  certificates_[state.order.certificate] =
      crypto::CertificatePem(leaf.get()) + crypto::CertificatePem(ca_.get());
  state.polls_left = processing_polls_;
  state.order.status = processing_polls_ > 0 ? "processing" : "valid";
  acme::Order out = state.order;
  if (out.status == "processing") {
    out.retry_after = retry_after_;
  }
  return out;
}

Result<std::string> FakeAcmeDirectory::DownloadCertificate(const acme::AccountKey& account,
                                                           const std::string& url) {
  std::lock_guard lock(mu_);
  timeouts_.push_back(account.timeout);
  if (auto failed = Enter("download", "downloading the certificate " + url)) {
    return tl::unexpected(*failed);
  }
  auto it = certificates_.find(url);
  if (it == certificates_.end()) return Fail("malformed", "no certificate " + url, 404, url);
  return it->second;
}

}  // namespace skiff::testing
