// FakeChallengeEdges: what the edges would serve at
// /.well-known/acme-challenge/<token>, for tests of the ACME order flow and
// the certificate orderer: an acme::ChallengePublisher that keeps what it is
// given, a FakeAcmeDirectory validator (or any HTTP server: Answer) that reads
// it, a log of the calls, and switches to make publishing or answering fail.
// Header-only.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "acme/order_flow.h"
#include "fakes/fake_acme_directory.h"

namespace skiff::testing {

class FakeChallengeEdges {
 public:
  acme::ChallengePublisher Publisher() {
    return acme::ChallengePublisher{
        [this](const std::string& domain, const protocol::AcmeChallenge& challenge,
               Duration timeout, std::stop_token) -> Status {
          std::function<void()> hook;
          {
            std::lock_guard lock(mu_);
            hook = on_publish_;
          }
          if (hook) hook();
          std::lock_guard lock(mu_);
          timeouts_.push_back(timeout);
          if (refuse_) return Unavailable("no edge took the challenge");
          served_[challenge.token] = challenge.key_authorization;
          log_.push_back("publish " + domain);
          return OkStatus();
        },
        [this](const std::string& domain, const std::string& token) {
          std::lock_guard lock(mu_);
          served_.erase(token);
          log_.push_back("withdraw " + domain);
        }};
  }

  // The key authorization served for `token`; nullopt for a 404 (none, or
  // SetBroken).
  std::optional<std::string> Answer(const std::string& token) {
    std::lock_guard lock(mu_);
    auto it = served_.find(token);
    if (broken_ || it == served_.end()) return std::nullopt;
    return it->second;
  }

  FakeAcmeDirectory::Validator Validator() {
    return [this](const std::string&, const std::string& token) -> Result<std::string> {
      std::optional<std::string> answer = Answer(token);
      if (!answer) return NotFound("the edge answered 404 for " + token);
      return *answer;
    };
  }

  // Every later publish fails (kUnavailable), as when no edge takes it.
  void Refuse() {
    std::lock_guard lock(mu_);
    refuse_ = true;
  }
  // While set, every challenge is answered with a 404.
  void SetBroken(bool broken) {
    std::lock_guard lock(mu_);
    broken_ = broken;
  }
  // Runs in each publish, before it takes the challenge.
  void OnPublish(std::function<void()> hook) {
    std::lock_guard lock(mu_);
    on_publish_ = std::move(hook);
  }

  // The timeout each publish was given, in order.
  std::vector<Duration> timeouts() {
    std::lock_guard lock(mu_);
    return timeouts_;
  }
  // "publish <domain>" and "withdraw <domain>", in order (a refused publish
  // is not logged).
  std::vector<std::string> log() {
    std::lock_guard lock(mu_);
    return log_;
  }
  // How many challenges are served now.
  size_t served() {
    std::lock_guard lock(mu_);
    return served_.size();
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> served_;  // GUARDED_BY(mu_): token → key authorization
  std::vector<std::string> log_;               // GUARDED_BY(mu_)
  std::vector<Duration> timeouts_;             // GUARDED_BY(mu_)
  bool refuse_ = false;                        // GUARDED_BY(mu_)
  bool broken_ = false;                        // GUARDED_BY(mu_)
  std::function<void()> on_publish_;           // GUARDED_BY(mu_)
};

}  // namespace skiff::testing
