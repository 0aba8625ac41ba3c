#include "acme/order_flow.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "acme/csr.h"
#include "acme/jws.h"
#include "common/check.h"
#include "crypto/x509.h"

namespace skiff::acme {
namespace {

// The states a poll waits out.
bool Unsettled(const std::string& status) { return status == "pending" || status == "processing"; }

// One order's run: the request, the clock and its deadline.
class Flow {
 public:
  Flow(AcmeDirectory& directory, const Clock& clock, const OrderRequest& request,
       const ProgressCallback& progress, std::stop_token stop)
      : directory_(directory),
        clock_(clock),
        request_(request),
        progress_(progress),
        stop_(std::move(stop)),
        deadline_(clock.MonotonicNow() + request.timeout) {}

  // Whether the order may take its next step (`next`, e.g. "finalizing"):
  // checked before each one, so a stop or the deadline is not noticed only
  // between polls.
  // Errors: kAborted on a stop; kDeadlineExceeded once the deadline passed.
  Status Check(std::string_view next) {
    if (stop_.stop_requested()) return Aborted("the order for " + request_.domain + " was stopped");
    if (clock_.MonotonicNow() >= deadline_) {
      return DeadlineExceeded("the order for " + request_.domain + " ran out of its " +
                              std::to_string(request_.timeout.count() / 1000) + " s before " +
                              std::string(next));
    }
    return OkStatus();
  }

  // The time left to the deadline.
  Duration Left() const {
    return std::chrono::duration_cast<Duration>(deadline_ - clock_.MonotonicNow());
  }

  // `account` bounded by the time left, once Check(next) allows the step.
  Result<AccountKey> Signer(const AccountKey& account, std::string_view next) {
    SKIFF_RETURN_IF_ERROR(Check(next));
    AccountKey signer = account;
    signer.timeout = Left();
    return signer;
  }

  // The seam's NewAccount takes no time bound; each exchange has the
  // directory's own.
  Result<Account> EnsureAccount() {
    SKIFF_RETURN_IF_ERROR(Check("the account"));
    if (!request_.account_url.empty()) {
      Result<Account> found = directory_.NewAccount(request_.account_key, request_.contact,
                                                    /*only_return_existing=*/true);
      if (found || found.error().code != ErrorCode::kNotFound) return found;
    }
    return directory_.NewAccount(request_.account_key, request_.contact,
                                 /*only_return_existing=*/false);
  }

  void Report(OrderStep step, std::string detail) {
    if (progress_) progress_(OrderProgress{step, request_.domain, std::move(detail)});
  }

  // Waits before poll number `poll` (from 0) of something still `status`:
  // poll_interval / 4, then / 2, then poll_interval, or the Retry-After when
  // longer (up to max_poll_interval): a Retry-After of 0 or a past date must
  // not make the polls spin.
  // Errors: kDeadlineExceeded when the order's deadline comes first, kAborted
  // on a stop.
  Status Pause(int poll, std::optional<Duration> retry_after, std::string_view what,
               const std::string& status) {
    const Duration least = request_.poll_interval / (poll >= 2 ? 1 : 4 >> poll);
    const Duration wait =
        retry_after ? std::clamp(*retry_after, least, std::max(least, request_.max_poll_interval))
                    : least;
    if (clock_.MonotonicNow() + wait > deadline_) {
      return DeadlineExceeded(std::string(what) + " for " + request_.domain + " is still " +
                              status + ", and its next poll would come after the order's " +
                              std::to_string(request_.timeout.count() / 1000) + " s");
    }
    std::mutex mu;
    std::condition_variable cv;
    std::stop_callback wake(stop_, [&] {
      std::lock_guard lock(mu);
      cv.notify_all();
    });
    std::unique_lock lock(mu);
    clock_.WaitFor(cv, lock, wait, [&] { return stop_.stop_requested(); });
    return Check("polling " + std::string(what));
  }

  // Polls `url` until it is no longer pending or processing.
  Result<Authorization> SettleAuthorization(const AccountKey& account, Authorization authz) {
    for (int poll = 0; Unsettled(authz.status); ++poll) {
      SKIFF_RETURN_IF_ERROR(Pause(poll, authz.retry_after, "the authorization", authz.status));
      SKIFF_ASSIGN_OR_RETURN(AccountKey signer, Signer(account, "reading the authorization"));
      SKIFF_ASSIGN_OR_RETURN(authz, directory_.GetAuthorization(signer, authz.url));
    }
    return authz;
  }

  // Polls the order while it is in one of `waiting` states.
  Result<Order> SettleOrder(const AccountKey& account, Order order,
                            std::initializer_list<std::string_view> waiting) {
    auto waits = [&](const std::string& status) {
      return std::find(waiting.begin(), waiting.end(), status) != waiting.end();
    };
    for (int poll = 0; waits(order.status); ++poll) {
      SKIFF_RETURN_IF_ERROR(Pause(poll, order.retry_after, "the order", order.status));
      SKIFF_ASSIGN_OR_RETURN(AccountKey signer, Signer(account, "reading the order"));
      SKIFF_ASSIGN_OR_RETURN(order, directory_.GetOrder(signer, order.url));
    }
    return order;
  }

  // Answers one authorization's http-01 challenge, through the publisher.
  Status Authorize(const AccountKey& account, const std::string& url,
                   const ChallengePublisher& publisher) {
    SKIFF_ASSIGN_OR_RETURN(AccountKey signer, Signer(account, "reading the authorization"));
    SKIFF_ASSIGN_OR_RETURN(Authorization authz, directory_.GetAuthorization(signer, url));
    if (authz.status == "valid") {
      Report(OrderStep::kValidated, authz.url + " (already valid)");
      return OkStatus();
    }
    const Challenge* http = authz.Find("http-01");
    if (http == nullptr) {
      return FailedPrecondition("the ACME server offers no http-01 challenge for " + authz.domain);
    }
    const Challenge challenge = *http;
    if (authz.status == "pending") {
      SKIFF_ASSIGN_OR_RETURN(std::string thumbprint, JwkThumbprint(account.key));
      const protocol::AcmeChallenge published{challenge.token,
                                              KeyAuthorization(challenge.token, thumbprint)};
      // Withdrawn however the authorization ends, a failed publish included
      // (some edges may serve it already); authz is reassigned below.
      struct Withdraw {
        const ChallengePublisher& publisher;
        const std::string domain;
        const std::string token;
        ~Withdraw() { publisher.withdraw(domain, token); }
      } withdraw{publisher, authz.domain, challenge.token};
      SKIFF_RETURN_IF_ERROR(Check("publishing the challenge"));
      SKIFF_RETURN_IF_ERROR(publisher.publish(authz.domain, published, Left(), stop_));
      Report(OrderStep::kChallengePublished, challenge.token);
      if (challenge.status == "pending") {
        SKIFF_ASSIGN_OR_RETURN(signer, Signer(account, "answering the challenge"));
        SKIFF_RETURN_IF_ERROR(directory_.RespondToChallenge(signer, challenge.url));
      }
      Report(OrderStep::kChallengeAccepted, challenge.url);
      SKIFF_ASSIGN_OR_RETURN(signer, Signer(account, "reading the authorization"));
      SKIFF_ASSIGN_OR_RETURN(authz, directory_.GetAuthorization(signer, authz.url));
      SKIFF_ASSIGN_OR_RETURN(authz, SettleAuthorization(account, std::move(authz)));
    }
    if (authz.status == "valid") {
      Report(OrderStep::kValidated, authz.url);
      return OkStatus();
    }
    // The challenge's error says why (RFC 8555 §7.1.6).
    for (const Challenge& c : authz.challenges) {
      if (c.error) return tl::unexpected(ProblemError(*c.error, "validating " + authz.domain));
    }
    return FailedPrecondition("the authorization for " + authz.domain + " is " + authz.status +
                              " and the ACME server says no more");
  }

  Result<IssuedCertificate> Run(const ChallengePublisher& publisher) {
    SKIFF_ASSIGN_OR_RETURN(Account registered, EnsureAccount());
    const AccountKey account{request_.account_key, registered.url};
    Report(OrderStep::kAccount, account.url);
    SKIFF_ASSIGN_OR_RETURN(AccountKey signer, Signer(account, "the new order"));
    SKIFF_ASSIGN_OR_RETURN(Order order, directory_.NewOrder(signer, {request_.domain}));
    Report(OrderStep::kOrdered, order.url);
    for (const std::string& url : order.authorizations) {
      SKIFF_RETURN_IF_ERROR(Authorize(account, url, publisher));
    }
    // The order as it is now that its authorizations are decided.
    SKIFF_ASSIGN_OR_RETURN(signer, Signer(account, "reading the order"));
    SKIFF_ASSIGN_OR_RETURN(order, directory_.GetOrder(signer, order.url));
    SKIFF_ASSIGN_OR_RETURN(order, SettleOrder(account, std::move(order), {"pending"}));
    if (order.status == "ready") {
      SKIFF_ASSIGN_OR_RETURN(crypto::PKeyPtr key, crypto::GenerateP256Key());
      SKIFF_ASSIGN_OR_RETURN(std::string csr, MakeCsrDer({request_.domain}, key.get()));
      key_pem_ = crypto::PrivateKeyPem(key.get());
      SKIFF_ASSIGN_OR_RETURN(signer, Signer(account, "finalizing"));
      SKIFF_ASSIGN_OR_RETURN(order, directory_.Finalize(signer, order, csr));
      Report(OrderStep::kFinalizing, order.url);
      SKIFF_ASSIGN_OR_RETURN(order,
                             SettleOrder(account, std::move(order), {"processing", "ready"}));
    }
    if (order.status != "valid" || order.certificate.empty() || key_pem_.empty()) {
      if (order.error)
        return tl::unexpected(ProblemError(*order.error, "order for " + request_.domain));
      return FailedPrecondition("the order for " + request_.domain + " is " + order.status +
                                " and the ACME server says no more");
    }
    SKIFF_ASSIGN_OR_RETURN(signer, Signer(account, "downloading the certificate"));
    SKIFF_ASSIGN_OR_RETURN(std::string chain,
                           directory_.DownloadCertificate(signer, order.certificate));
    SKIFF_RETURN_IF_ERROR(crypto::ParseCertificateChainPem(chain));
    Report(OrderStep::kIssued, order.certificate);
    return IssuedCertificate{std::move(chain), key_pem_, account.url};
  }

 private:
  AcmeDirectory& directory_;
  const Clock& clock_;
  const OrderRequest& request_;
  const ProgressCallback& progress_;
  std::stop_token stop_;
  const MonoTime deadline_;
  std::string key_pem_;
};

}  // namespace

std::string_view OrderStepName(OrderStep step) {
  switch (step) {
    case OrderStep::kAccount:
      return "account";
    case OrderStep::kOrdered:
      return "ordered";
    case OrderStep::kChallengePublished:
      return "challenge_published";
    case OrderStep::kChallengeAccepted:
      return "challenge_accepted";
    case OrderStep::kValidated:
      return "validated";
    case OrderStep::kFinalizing:
      return "finalizing";
    case OrderStep::kIssued:
      return "issued";
  }
  return "unknown";
}

Result<IssuedCertificate> ObtainCertificate(AcmeDirectory& directory, const Clock& clock,
                                            const OrderRequest& request,
                                            const ChallengePublisher& publisher,
                                            const ProgressCallback& progress,
                                            std::stop_token stop) {
  SKIFF_CHECK(publisher.publish && publisher.withdraw);
  Flow flow(directory, clock, request, progress, std::move(stop));
  return flow.Run(publisher);
}

}  // namespace skiff::acme
