#include "server/challenge_publisher.h"

#include <spdlog/fmt/fmt.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include "common/logging.h"

namespace skiff::server {

namespace {

// How often the edges' reports are looked at while a challenge waits.
constexpr Duration kLook = std::chrono::milliseconds(50);

}  // namespace

acme::ChallengePublisher MakeChallengePublisher(controller::AcmeChallengeStore* challenges,
                                                controller::DrainTracker::EdgesFn edges,
                                                std::function<std::string()> current_tag,
                                                const Clock* clock, int64_t fence_epoch,
                                                Duration wait) {
  acme::ChallengePublisher publisher;
  publisher.publish = [=](const std::string& domain, const protocol::AcmeChallenge& challenge,
                          Duration time_left, std::stop_token stop) -> Status {
    SKIFF_ASSIGN_OR_RETURN(int64_t revision, challenges->Publish(domain, challenge, fence_epoch));
    const Duration limit = std::min(wait, time_left);
    const MonoTime deadline = clock->MonotonicNow() + limit;
    std::mutex mu;
    std::condition_variable cv;
    for (;;) {
      std::string behind;
      std::string tag;  // read once a standalone edge needs it
      const std::map<std::string, metrics::EdgeRoutes> known = edges();
      // No edge at all could answer the validation: one that starts now
      // (a standalone edge before its first report) is waited for.
      if (known.empty()) behind = "(none)";
      for (const auto& [name, routes] : known) {
        if (routes.revision >= revision) continue;
        if (!routes.tag.empty()) {
          if (tag.empty()) tag = current_tag();
          if (routes.tag == tag) continue;
        }
        behind += (behind.empty() ? "" : ", ") + name;
      }
      if (behind.empty()) return OkStatus();
      if (stop.stop_requested()) {
        (void)challenges->Withdraw(challenge.token);
        return Aborted("the order for " + domain + " was stopped");
      }
      if (clock->MonotonicNow() >= deadline) {
        // Withdrawn here too, not only by the flow: a challenge no order
        // waits for must not stay in every edge's routes.
        (void)challenges->Withdraw(challenge.token);
        if (known.empty()) {
          return DeadlineExceeded(fmt::format(
              "no edge has reported to this server within {} ms, so no edge could answer the "
              "challenge for {}: run the server's own edge or a standalone `skiff edge`",
              limit.count(), domain));
        }
        return DeadlineExceeded(
            fmt::format("the edges did not take the challenge for {} within {} ms: {} still "
                        "route by older routes than revision {}",
                        domain, limit.count(), behind, revision));
      }
      std::unique_lock lock(mu);
      clock->WaitUntil(cv, lock, std::min(deadline, clock->MonotonicNow() + kLook),
                       [&] { return stop.stop_requested(); });
    }
  };
  publisher.withdraw = [challenges](const std::string& domain, const std::string& token) {
    // Called after a failed publish too: a challenge already gone is fine.
    if (Status gone = challenges->Withdraw(token);
        !gone && gone.error().code != ErrorCode::kNotFound) {
      SKIFF_LOG_WARN("certificates: the challenge for {} is not withdrawn: {}", domain,
                     gone.error().ToString());
    }
  };
  return publisher;
}

}  // namespace skiff::server
