// What `skiff apply`, `skiff rollback` and `skiff promote` print while they
// follow a rollout: one poll of an app's deployments and instances, read for
// revision N. Pure: no I/O, so every outcome is tested without a server.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace skiff::cli {

enum class RolloutOutcome {
  kWaiting,     // pending or progressing: poll again
  kHealthy,     // exit 0
  kFailed,      // exit 1
  kRolledBack,  // exit 1: reverted (auto_revert or `skiff rollback`)
  kSuperseded,  // exit 1: a newer revision replaced N before it became healthy
};

struct RolloutView {
  RolloutOutcome outcome = RolloutOutcome::kWaiting;
  std::string state;  // N's deployment state; "pending" until it is listed
  // "web: revision 4 progressing: new 2/4 healthy, old 2 serving; waiting for ..."
  // (the deployment's message, which says what the rollout waits for, is
  // appended while N is pending or progressing).
  std::string progress;
  // The closing line for a settled outcome ("web: revision 4 is healthy",
  // "web: revision 4 failed: crash loop ..."); empty while kWaiting.
  std::string verdict;
  // A canary rollout at its canary step waiting for `skiff promote`.
  bool awaiting_promotion = false;
};

// Reads revision `revision` of app `app` from the bodies of
// GET /v1/apps/{app}/deployments and GET /v1/apps/{app}/instances, and of
// GET /v1/apps/{app} (`app_view`, null when not asked: see NeedsAppView).
// Unknown or missing fields read as empty; bodies of another shape give a
// pending view.
//
// How many instances the revision wants is the app's status.desired while
// `app_view` is at `revision` (an autoscaled app runs the autoscaler's count,
// not its spec's replicas), else the revision's spec.replicas.
//
// New instances are those of revision >= N, old ones those of earlier
// revisions; only instances with desired "run" count. A revision that was
// healthy before being superseded counts as healthy (a healthy rollout is
// never reported as failed).
RolloutView ViewRollout(std::string_view app, int64_t revision,
                        const boost::json::value& deployments, const boost::json::value& instances,
                        const boost::json::value& app_view = nullptr);

// Whether ViewRollout needs the app's own view to read revision `revision`
// from `deployments` (GET /v1/apps/{app}/deployments): its spec has
// autoscale, so the count it wants is not in the spec.
bool NeedsAppView(int64_t revision, const boost::json::value& deployments);

// The process exit code for an outcome: 0 for kHealthy, else 1.
int ExitCode(RolloutOutcome outcome);

// The hint printed once when a rollout waits for promotion.
std::string PromoteHint(std::string_view app);

}  // namespace skiff::cli
