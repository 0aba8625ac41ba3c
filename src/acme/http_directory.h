// HttpAcmeDirectory: AcmeDirectory over HTTPS to a real ACME server (Let's
// Encrypt, Pebble). Every request but the directory and newNonce is a JWS
// POST (POST-as-GET for reads) signed with the account key; it keeps the
// last Replay-Nonce the server gave for the next request, fetches one (HEAD
// newNonce) when it has none, and retries a request the server refused with
// badNonce with the nonce that refusal carried. A refusal with 429 or 503
// and a Retry-After ends its error's message with "; retry after N s".
//
// Thread-safety: thread-safe; calls block the calling thread. Requests of
// several threads may race for the kept nonce; a loser is refused with
// badNonce and retried.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "acme/directory.h"
#include "net/http_client.h"
#include "net/tls.h"

namespace skiff::acme {

class HttpAcmeDirectory final : public AcmeDirectory {
 public:
  // How many times a request refused with badNonce is sent again.
  static constexpr int kBadNonceRetries = 5;

  // `directory_url` is the server's directory ("https://acme-v02.../directory");
  // its servers are trusted as `trust` says (`--acme-ca-cert`, or the
  // system's roots). `timeout` bounds each HTTP exchange (and a call's
  // AccountKey::timeout, when set, the whole call).
  explicit HttpAcmeDirectory(std::string directory_url, net::TlsTrust trust = {},
                             Duration timeout = std::chrono::seconds(30));
  ~HttpAcmeDirectory() override;

  // The directory, fetched at the first call and kept.
  // Errors: as every call's (see AcmeDirectory).
  Result<Directory> GetDirectory();

  // AcmeDirectory
  Result<Account> NewAccount(EVP_PKEY* key, const std::vector<std::string>& contact,
                             bool only_return_existing) override;
  Result<Order> NewOrder(const AccountKey& account,
                         const std::vector<std::string>& domains) override;
  Result<Order> GetOrder(const AccountKey& account, const std::string& url) override;
  Result<Authorization> GetAuthorization(const AccountKey& account,
                                         const std::string& url) override;
  Result<Challenge> RespondToChallenge(const AccountKey& account, const std::string& url) override;
  Result<Order> Finalize(const AccountKey& account, const Order& order,
                         std::string_view csr_der) override;
  Result<std::string> DownloadCertificate(const AccountKey& account,
                                          const std::string& url) override;

 private:
  // One exchange with the absolute `url`, within `timeout`.
  // Errors: kInvalidArgument for a URL that does not parse, or is not https
  // while the directory is.
  Result<net::HttpResponse> Exchange(std::string_view method, const std::string& url,
                                     std::string_view body, const net::HttpHeaders& headers,
                                     Duration timeout);
  // A JWS POST of `payload` to `url` ("" = POST-as-GET), signed by `key` with
  // `kid` (empty: the jwk), badNonce retries included within `timeout` (unset:
  // each exchange within the directory's own). A non-2xx answer is its
  // problem's error, `what` saying what was being done.
  Result<net::HttpResponse> Post(EVP_PKEY* key, const std::string& kid,
                                 std::optional<Duration> timeout, const std::string& url,
                                 std::string_view payload, std::string_view what,
                                 net::HttpHeaders headers = {});
  Result<std::string> TakeNonce(Duration timeout);
  void KeepNonce(const net::HttpResponse& response);

  const std::string directory_url_;
  const net::TlsTrust trust_;
  const Duration timeout_;
  std::mutex mu_;
  std::optional<Directory> directory_;                               // GUARDED_BY(mu_)
  std::string nonce_;                                                // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<net::HttpClient>> clients_;  // by origin; GUARDED_BY(mu_)
};

}  // namespace skiff::acme
