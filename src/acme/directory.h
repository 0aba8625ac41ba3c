// AcmeDirectory: the seam to an ACME server (RFC 8555 §7), one call per
// resource the HTTP-01 flow touches. HttpAcmeDirectory speaks to a real
// server (nonces, JWS, badNonce retries live there); FakeAcmeDirectory
// (test/fakes) keeps the resources in memory and validates for real. Both run
// acme_directory_contract_test.cc. The order flow (order_flow.h) runs over
// this interface and knows nothing of HTTP.
//
// Errors common to every call: a problem document from the server becomes
// ProblemError's error (its code by the ACME error type, its message with the
// server's detail); kUnavailable / kDeadlineExceeded when the server cannot
// be reached or is too slow; kInvalidArgument when it answers with something
// that is not the resource asked for.
//
// Thread-safety: implementations are thread-safe; calls block the calling
// thread.
#pragma once

#include <openssl/evp.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acme/objects.h"
#include "common/result.h"

namespace skiff::acme {

// Who signs a request: the account key and, once registered, its URL; and
// how long the caller can wait for this call.
struct AccountKey {
  EVP_PKEY* key = nullptr;  // not owned; a P-256 key
  std::string url;          // the account URL ("kid")
  // The time left to the caller (the order's deadline): a call taking longer,
  // badNonce retries included, fails with kDeadlineExceeded. Unset: each
  // exchange is bounded by the directory's own timeout only.
  std::optional<Duration> timeout;
};

class AcmeDirectory {
 public:
  virtual ~AcmeDirectory() = default;

  // newAccount for `key` with `contact` ("mailto:ops@example.com"), agreeing
  // to the terms of service. An account that exists for the key is returned
  // as it is. With `only_return_existing` nothing is created.
  // Errors: kNotFound (accountDoesNotExist) when `only_return_existing` and
  // the key has no account.
  virtual Result<Account> NewAccount(EVP_PKEY* key, const std::vector<std::string>& contact,
                                     bool only_return_existing) = 0;

  // newOrder for `domains` (DNS identifiers).
  // REQUIRES: `account.url` set (by NewAccount).
  virtual Result<Order> NewOrder(const AccountKey& account,
                                 const std::vector<std::string>& domains) = 0;

  // POST-as-GET of an order / authorization (their `url` is the one asked;
  // `retry_after` the answer's Retry-After).
  virtual Result<Order> GetOrder(const AccountKey& account, const std::string& url) = 0;
  virtual Result<Authorization> GetAuthorization(const AccountKey& account,
                                                 const std::string& url) = 0;

  // POSTs {} to a challenge: the client is ready for it to be validated.
  virtual Result<Challenge> RespondToChallenge(const AccountKey& account,
                                               const std::string& url) = 0;

  // Finalizes `order` with a CSR (DER).
  // Errors: kFailedPrecondition (orderNotReady) when its authorizations are
  // not all valid; kInvalidArgument (badCSR) when the CSR does not match it.
  virtual Result<Order> Finalize(const AccountKey& account, const Order& order,
                                 std::string_view csr_der) = 0;

  // The certificate chain at `url` (an order's `certificate`), PEM, leaf first.
  virtual Result<std::string> DownloadCertificate(const AccountKey& account,
                                                  const std::string& url) = 0;
};

}  // namespace skiff::acme
