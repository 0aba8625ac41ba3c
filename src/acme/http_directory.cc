#include "acme/http_directory.h"

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <utility>

#include "acme/base64url.h"
#include "acme/jws.h"
#include "acme/problem.h"

namespace skiff::acme {
namespace {

namespace json = boost::json;

bool Ok(const net::HttpResponse& response) {
  return response.status >= 200 && response.status < 300;
}

std::optional<Duration> RetryAfterOf(const net::HttpResponse& response) {
  return ParseRetryAfter(response.Header("Retry-After"), std::chrono::system_clock::now());
}

// `parsed` (an order or authorization) with the answer's Retry-After.
template <typename T>
Result<T> WithRetryAfter(Result<T> parsed, const net::HttpResponse& response) {
  if (parsed) parsed->retry_after = RetryAfterOf(response);
  return parsed;
}

// When a call must be done by: AccountKey::timeout from its start, on the
// steady clock the exchanges run on.
class Budget {
 public:
  explicit Budget(std::optional<Duration> timeout) {
    if (timeout) give_up_ = std::chrono::steady_clock::now() + *timeout;
  }
  // How long the next exchange may take: `cap`, or less when the budget
  // ends first.
  // Errors: kDeadlineExceeded once it has ended, `what` saying what was cut.
  Result<Duration> Next(Duration cap, std::string_view what) const {
    if (!give_up_) return cap;
    const auto left =
        std::chrono::duration_cast<Duration>(*give_up_ - std::chrono::steady_clock::now());
    if (left <= Duration::zero()) {
      return DeadlineExceeded(std::string(what) + ": out of the order's time");
    }
    return std::min(cap, left);
  }

 private:
  std::optional<std::chrono::steady_clock::time_point> give_up_;
};

}  // namespace

HttpAcmeDirectory::HttpAcmeDirectory(std::string directory_url, net::TlsTrust trust,
                                     Duration timeout)
    : directory_url_(std::move(directory_url)), trust_(std::move(trust)), timeout_(timeout) {}

HttpAcmeDirectory::~HttpAcmeDirectory() = default;

Result<net::HttpResponse> HttpAcmeDirectory::Exchange(std::string_view method,
                                                      const std::string& url, std::string_view body,
                                                      const net::HttpHeaders& headers,
                                                      Duration timeout) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->host().empty()) {
    return InvalidArgument("the ACME server sent a URL that does not parse: \"" + url + "\"");
  }
  // RFC 8555 §6.1: HTTPS only, unless the directory itself is plain (a
  // test's server).
  if (parsed->scheme() != "https" && !directory_url_.starts_with("http://")) {
    return InvalidArgument("the ACME server sent a URL that is not https: \"" + url + "\"");
  }
  const std::string origin =
      std::string(parsed->scheme()) + "://" + std::string(parsed->encoded_host_and_port());
  std::string target(parsed->encoded_target());
  if (target.empty()) target = "/";
  std::shared_ptr<net::HttpClient> client;
  {
    std::lock_guard lock(mu_);
    auto& kept = clients_[origin];
    if (!kept) kept = std::make_shared<net::HttpClient>(origin, trust_);
    client = kept;
  }
  return client->Do(method, target, body, headers, timeout);
}

Result<Directory> HttpAcmeDirectory::GetDirectory() {
  {
    std::lock_guard lock(mu_);
    if (directory_) return *directory_;
  }
  SKIFF_ASSIGN_OR_RETURN(net::HttpResponse response,
                         Exchange("GET", directory_url_, {}, {}, timeout_));
  if (!Ok(response)) {
    return tl::unexpected(ProblemError(ProblemFromResponse(response.status, response.body),
                                       "reading the ACME directory " + directory_url_));
  }
  SKIFF_ASSIGN_OR_RETURN(Directory directory, ParseDirectory(response.body));
  std::lock_guard lock(mu_);
  directory_ = directory;
  return directory;
}

Result<std::string> HttpAcmeDirectory::TakeNonce(Duration timeout) {
  {
    std::lock_guard lock(mu_);
    if (!nonce_.empty()) return std::exchange(nonce_, std::string());
  }
  SKIFF_ASSIGN_OR_RETURN(Directory directory, GetDirectory());
  SKIFF_ASSIGN_OR_RETURN(net::HttpResponse response,
                         Exchange("HEAD", directory.new_nonce, {}, {}, timeout));
  const std::string nonce(response.Header("Replay-Nonce"));
  if (!Ok(response) || nonce.empty()) {
    return Unavailable("the ACME server gave no nonce at " + directory.new_nonce + " (HTTP " +
                       std::to_string(response.status) + ")");
  }
  return nonce;
}

void HttpAcmeDirectory::KeepNonce(const net::HttpResponse& response) {
  std::string_view nonce = response.Header("Replay-Nonce");
  if (nonce.empty()) return;
  std::lock_guard lock(mu_);
  nonce_ = std::string(nonce);
}

Result<net::HttpResponse> HttpAcmeDirectory::Post(EVP_PKEY* key, const std::string& kid,
                                                  std::optional<Duration> timeout,
                                                  const std::string& url, std::string_view payload,
                                                  std::string_view what, net::HttpHeaders headers) {
  headers.emplace_back("Content-Type", "application/jose+json");
  const Budget budget(timeout);
  for (int attempt = 0;; ++attempt) {
    SKIFF_ASSIGN_OR_RETURN(Duration left, budget.Next(timeout_, what));
    SKIFF_ASSIGN_OR_RETURN(std::string nonce, TakeNonce(left));
    SKIFF_ASSIGN_OR_RETURN(std::string jws, SignJws(key, JwsHeader{url, nonce, kid}, payload));
    SKIFF_ASSIGN_OR_RETURN(left, budget.Next(timeout_, what));
    SKIFF_ASSIGN_OR_RETURN(net::HttpResponse response, Exchange("POST", url, jws, headers, left));
    KeepNonce(response);
    if (Ok(response)) return response;
    Problem problem = ProblemFromResponse(response.status, response.body);
    // RFC 8555 §6.5: a badNonce refusal carries a fresh nonce; try again with it.
    if (problem.ShortType() == "badNonce" && attempt < kBadNonceRetries) continue;
    Error error = ProblemError(problem, what);
    // A rate limit or an outage says when to come back (RFC 8555 §6.6).
    if (response.status == 429 || response.status == 503) {
      if (std::optional<Duration> after = RetryAfterOf(response)) {
        error.message += "; retry after " +
                         std::to_string(std::chrono::ceil<std::chrono::seconds>(*after).count()) +
                         " s";
      }
    }
    return tl::unexpected(std::move(error));
  }
}

Result<Account> HttpAcmeDirectory::NewAccount(EVP_PKEY* key,
                                              const std::vector<std::string>& contact,
                                              bool only_return_existing) {
  SKIFF_ASSIGN_OR_RETURN(Directory directory, GetDirectory());
  json::object payload;
  if (only_return_existing) {
    payload["onlyReturnExisting"] = true;
  } else {
    payload["termsOfServiceAgreed"] = true;
    json::array contacts;
    for (const std::string& c : contact) contacts.emplace_back(c);
    payload["contact"] = std::move(contacts);
  }
  SKIFF_ASSIGN_OR_RETURN(
      net::HttpResponse response,
      Post(key, "", std::nullopt, directory.new_account, json::serialize(payload),
           only_return_existing ? "looking up the ACME account" : "registering an ACME account"));
  const std::string url(response.Header("Location"));
  if (url.empty()) return InvalidArgument("the ACME server sent an account without its URL");
  return ParseAccount(response.body, url);
}

Result<Order> HttpAcmeDirectory::NewOrder(const AccountKey& account,
                                          const std::vector<std::string>& domains) {
  SKIFF_ASSIGN_OR_RETURN(Directory directory, GetDirectory());
  json::array identifiers;
  std::string names;
  for (const std::string& domain : domains) {
    identifiers.push_back(json::object{{"type", "dns"}, {"value", domain}});
    names += (names.empty() ? "" : ", ") + domain;
  }
  SKIFF_ASSIGN_OR_RETURN(
      net::HttpResponse response,
      Post(account.key, account.url, account.timeout, directory.new_order,
           json::serialize(json::object{{"identifiers", std::move(identifiers)}}),
           "new order for " + names));
  const std::string url(response.Header("Location"));
  if (url.empty()) return InvalidArgument("the ACME server sent an order without its URL");
  return WithRetryAfter(ParseOrder(response.body, url), response);
}

Result<Order> HttpAcmeDirectory::GetOrder(const AccountKey& account, const std::string& url) {
  SKIFF_ASSIGN_OR_RETURN(net::HttpResponse response, Post(account.key, account.url, account.timeout,
                                                          url, "", "reading the order " + url));
  return WithRetryAfter(ParseOrder(response.body, url), response);
}

Result<Authorization> HttpAcmeDirectory::GetAuthorization(const AccountKey& account,
                                                          const std::string& url) {
  SKIFF_ASSIGN_OR_RETURN(
      net::HttpResponse response,
      Post(account.key, account.url, account.timeout, url, "", "reading the authorization " + url));
  return WithRetryAfter(ParseAuthorization(response.body, url), response);
}

Result<Challenge> HttpAcmeDirectory::RespondToChallenge(const AccountKey& account,
                                                        const std::string& url) {
  SKIFF_ASSIGN_OR_RETURN(
      net::HttpResponse response,
      Post(account.key, account.url, account.timeout, url, "{}", "answering the challenge " + url));
  return ParseChallenge(response.body);
}

Result<Order> HttpAcmeDirectory::Finalize(const AccountKey& account, const Order& order,
                                          std::string_view csr_der) {
  SKIFF_ASSIGN_OR_RETURN(net::HttpResponse response,
                         Post(account.key, account.url, account.timeout, order.finalize,
                              json::serialize(json::object{{"csr", Base64UrlEncode(csr_der)}}),
                              "finalizing the order " + order.url));
  return WithRetryAfter(ParseOrder(response.body, order.url), response);
}

Result<std::string> HttpAcmeDirectory::DownloadCertificate(const AccountKey& account,
                                                           const std::string& url) {
  SKIFF_ASSIGN_OR_RETURN(
      net::HttpResponse response,
      Post(account.key, account.url, account.timeout, url, "", "downloading the certificate " + url,
           {{"Accept", "application/pem-certificate-chain"}}));
  return std::move(response.body);
}

}  // namespace skiff::acme
