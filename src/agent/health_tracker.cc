#include "agent/health_tracker.h"

#include <algorithm>

namespace skiff::agent {

HealthTracker::HealthTracker(const model::HealthCheck& check, Time started_at)
    : check_(check), started_at_(started_at) {}

std::optional<HealthTransition> HealthTracker::Observe(Time at, bool ok,
                                                       const std::string& message) {
  if (ok) {
    failures_ = 0;
    ++successes_;
    if (health_ != model::Health::kHealthy && successes_ >= std::max(1, check_.healthy_threshold)) {
      health_ = model::Health::kHealthy;
      return HealthTransition{health_, message};
    }
    return std::nullopt;
  }
  successes_ = 0;
  // A slow starter is not punished for refusing connections while it boots.
  if (at < started_at_ + check_.grace) return std::nullopt;
  ++failures_;
  if (health_ != model::Health::kUnhealthy &&
      failures_ >= std::max(1, check_.unhealthy_threshold)) {
    health_ = model::Health::kUnhealthy;
    return HealthTransition{health_, message};
  }
  return std::nullopt;
}

}  // namespace skiff::agent
