// The HTTP-01 flow of one certificate (RFC 8555 §7.1's steps) over an
// AcmeDirectory: the account (kept key, looked up again on restart), a new
// order for one domain, its authorization's http-01 challenge published
// through the caller (the server puts it in RouteSet::challenges and waits
// until the edges serve it), validation polled with Retry-After, finalize with
// a CSR for a fresh P-256 key, the order polled until valid, the chain
// downloaded. Each step is reported as it happens.
//
// Thread-safety: ObtainCertificate blocks the calling thread; the callbacks
// run on it.
#pragma once

#include <openssl/evp.h>

#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "acme/directory.h"
#include "common/clock.h"
#include "common/result.h"
#include "protocol/routes.h"

namespace skiff::acme {

struct OrderRequest {
  std::string domain;
  EVP_PKEY* account_key = nullptr;   // not owned; P-256, kept by the caller across runs
  std::vector<std::string> contact;  // "mailto:ops@example.com"
  // The account URL an earlier run got, "" on the first: with one, the
  // account is looked up (onlyReturnExisting) rather than registered, and
  // registered again only when the server no longer knows it.
  std::string account_url;
  // Bounds the whole order, from the account to the download.
  Duration timeout = std::chrono::minutes(5);
  // How long to wait between polls (the first polls of each wait sooner: a
  // quarter of it, then a half, as validation and issuance often take well
  // under a second); a longer Retry-After is waited, up to max_poll_interval.
  Duration poll_interval = std::chrono::seconds(1);
  Duration max_poll_interval = std::chrono::seconds(30);
};

struct IssuedCertificate {
  std::string chain_pem;    // leaf first
  std::string key_pem;      // the certificate's private key (PKCS#8)
  std::string account_url;  // to keep for the next order
};

enum class OrderStep {
  kAccount,             // the account is registered or found
  kOrdered,             // the order is created
  kChallengePublished,  // the publisher says the edges answer the challenge
  kChallengeAccepted,   // the server was told to validate
  kValidated,           // the authorization is valid
  kFinalizing,          // the CSR is sent
  kIssued,              // the chain is downloaded
};
// "account", "ordered", ... (for events and the CLI).
std::string_view OrderStepName(OrderStep step);

struct OrderProgress {
  OrderStep step;
  std::string domain;
  std::string detail;  // what the step got: the account or order URL, the challenge token...
};
using ProgressCallback = std::function<void(const OrderProgress&)>;

// How the caller gets a challenge answered. `publish` returns once every
// edge serves `challenge` at /.well-known/acme-challenge/<token> for `domain`
// (its error ends the order with that error), within `timeout` (the time
// left to the order's deadline, on the flow's clock), or soon after a stop is
// requested on `stop` (kAborted); `withdraw` is called once the
// authorization is decided, whatever happened, and also after a failed
// `publish` (some edges may have taken it): it must accept a challenge that
// was never or only partly published.
struct ChallengePublisher {
  std::function<Status(const std::string& domain, const protocol::AcmeChallenge& challenge,
                       Duration timeout, std::stop_token stop)>
      publish;
  std::function<void(const std::string& domain, const std::string& token)> withdraw;
};

// Gets a certificate for `request.domain`.
// Errors: the directory's (problem documents keep the ACME server's words:
// a failed validation is the challenge's error, e.g. kPermissionDenied for
// unauthorized, kFailedPrecondition for connection or dns); kFailedPrecondition
// when the authorization offers no http-01 challenge, or an order or
// authorization turns invalid without saying why; kDeadlineExceeded when
// `request.timeout` passes, naming what was still awaited; kAborted when a
// stop is requested on `stop`; the publisher's error. A stop and the deadline
// are checked before every step and during each wait; each directory call
// gets the time left (AccountKey::timeout), the publisher too.
// REQUIRES: request.account_key is a P-256 key; publisher.publish and
// publisher.withdraw set.
Result<IssuedCertificate> ObtainCertificate(AcmeDirectory& directory, const Clock& clock,
                                            const OrderRequest& request,
                                            const ChallengePublisher& publisher,
                                            const ProgressCallback& progress,
                                            std::stop_token stop = {});

}  // namespace skiff::acme
