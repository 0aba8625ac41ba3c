// HealthTracker: the health state machine of one running instance, as a pure
// value fed with probe results and their times. It decides; the agent probes
// and reports.
//
// Rules (DESIGN.md, spec.health): failures inside `grace` after the start do
// not count; `healthy_threshold` consecutive successes make it healthy,
// `unhealthy_threshold` consecutive failures make it unhealthy; a transition
// (including the first determination from unknown) is reported once.
//
// Thread-safety: none; one owner.
#pragma once

#include <optional>
#include <string>

#include "common/clock.h"
#include "model/resources.h"
#include "model/spec.h"

namespace skiff::agent {

struct HealthTransition {
  model::Health health = model::Health::kUnknown;
  std::string message;  // the probe's words: "GET / returned 503", "GET / returned 200"
};

class HealthTracker {
 public:
  // `started_at` is when the task started; the grace period counts from it.
  HealthTracker(const model::HealthCheck& check, Time started_at);

  // Feeds one probe result observed at `at`. Returns the new health when it
  // changed, std::nullopt otherwise.
  std::optional<HealthTransition> Observe(Time at, bool ok, const std::string& message);

  model::Health health() const { return health_; }

 private:
  model::HealthCheck check_;
  Time started_at_;
  model::Health health_ = model::Health::kUnknown;
  int successes_ = 0;  // consecutive
  int failures_ = 0;   // consecutive, outside the grace period
};

}  // namespace skiff::agent
