#include "cli/rollout.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <regex>
#include <vector>

#include "cli/json_fields.h"

namespace skiff::cli {
namespace json = boost::json;
namespace {

struct Counts {
  int64_t new_total = 0, new_healthy = 0;
  int64_t canary_total = 0, canary_healthy = 0;  // new instances taking the canary share
  int64_t new_held = 0;                          // new ones not routed yet (blue-green)
  int64_t old_serving = 0, old_held = 0;
};

Counts CountInstances(int64_t revision, const json::value& instances) {
  Counts c;
  for (const json::value& i : Array(instances, "instances")) {
    if (Str(i, "desired") != "run") continue;
    const bool healthy = Str(i, "health") == "healthy";
    const std::string traffic = Str(i, "traffic");
    if (Int(i, "revision") >= revision) {
      ++c.new_total;
      c.new_healthy += healthy;
      if (traffic == "canary") {
        ++c.canary_total;
        c.canary_healthy += healthy;
      }
      c.new_held += traffic == "hold";
    } else if (traffic == "hold") {
      ++c.old_held;
    } else {
      ++c.old_serving;
    }
  }
  return c;
}

// How many instances revision `revision` wants: the app's desired count
// while the app is at it (the autoscaler's, for an autoscaled app); else,
// autoscaled, what runs kept within the policy's bounds (as
// model::DesiredReplicas keeps the autoscaler's count: its spec's replicas
// are no longer what it runs); else the revision's replicas; before its
// deployment is listed, what runs.
int64_t DesiredOf(int64_t revision, const json::value& deployment, const json::value& app_view,
                  const Counts& c) {
  const json::value& status = Field(app_view, "status");
  if (Int(app_view, "revision") == revision && Field(status, "desired").is_number()) {
    return Int(status, "desired");
  }
  const json::value& spec = Field(deployment, "spec");
  if (const json::value& policy = Field(spec, "autoscale"); policy.is_object()) {
    const bool to_zero = Bool(policy, "scale_to_zero");
    const int64_t floor = to_zero ? 0 : std::max<int64_t>(0, Int(policy, "min"));
    return std::clamp<int64_t>(c.new_total, floor, std::max(floor, Int(policy, "max")));
  }
  return Field(spec, "replicas").is_number() ? Int(spec, "replicas") : c.new_total;
}

std::string Progress(std::string_view app, int64_t revision, const std::string& state,
                     const json::value& deployment, const Counts& c, int64_t desired) {
  const json::value& spec = Field(deployment, "spec");
  std::vector<std::string> parts;
  std::string fresh = fmt::format("new {}/{} healthy", c.new_healthy, desired);
  if (c.canary_total > 0) {
    fresh += fmt::format(" (canary, {}% of traffic)", Int(Field(spec, "update"), "canary_weight"));
  } else if (c.new_held > 0) {
    fresh += " (not routed until the switch)";
  }
  parts.push_back(std::move(fresh));
  if (c.old_serving > 0) parts.push_back(fmt::format("old {} serving", c.old_serving));
  if (c.old_held > 0) parts.push_back(fmt::format("old {} kept unrouted", c.old_held));
  std::string line =
      fmt::format("{}: revision {} {}: {}", app, revision, state, fmt::join(parts, ", "));
  std::string message = Str(deployment, "message");
  // A bare "1/2 healthy" repeats the counts; other messages say what it waits for.
  static const std::regex kCountsOnly(R"(\d+/\d+ healthy)");
  if ((state == "pending" || state == "progressing") && !message.empty() &&
      !std::regex_match(message, kCountsOnly)) {
    line += "; " + message;
  }
  return line;
}

bool AwaitsPromotion(std::string_view app, const std::string& state, const json::value& deployment,
                     const Counts& c, int64_t desired) {
  if (state != "progressing") return false;
  // The server's message names the command when it waits for it.
  if (Str(deployment, "message").find(fmt::format("skiff promote {}", app)) != std::string::npos) {
    return true;
  }
  const json::value& update = Field(Field(deployment, "spec"), "update");
  if (Str(update, "strategy") != "canary" || Bool(update, "auto_promote") ||
      Bool(deployment, "promoted")) {
    return false;
  }
  return c.canary_total > 0 && c.canary_healthy == c.canary_total &&
         c.canary_healthy >= std::min<int64_t>(Int(update, "canary"), desired);
}

const json::value* DeploymentOf(int64_t revision, const json::value& deployments) {
  for (const json::value& d : Array(deployments, "deployments")) {
    if (Int(d, "revision") == revision) return &d;
  }
  return nullptr;
}

}  // namespace

bool NeedsAppView(int64_t revision, const json::value& deployments) {
  const json::value* d = DeploymentOf(revision, deployments);
  return d != nullptr && Field(Field(*d, "spec"), "autoscale").is_object();
}

RolloutView ViewRollout(std::string_view app, int64_t revision, const json::value& deployments,
                        const json::value& instances, const json::value& app_view) {
  static const json::value kNone;
  const json::value* mine = &kNone;
  int64_t newest = 0;
  for (const json::value& d : Array(deployments, "deployments")) {
    int64_t r = Int(d, "revision");
    if (r == revision) mine = &d;
    newest = std::max(newest, r);
  }
  RolloutView view;
  view.state = mine->is_object() ? Str(*mine, "state") : "pending";
  const Counts counts = CountInstances(revision, instances);
  const int64_t desired = DesiredOf(revision, *mine, app_view, counts);
  view.progress = Progress(app, revision, view.state, *mine, counts, desired);
  view.awaiting_promotion = AwaitsPromotion(app, view.state, *mine, counts, desired);

  const std::string message = Str(*mine, "message");
  const std::string reason = message.empty() ? "" : ": " + message;
  const std::string& s = view.state;
  if (s == "healthy" || (s == "superseded" && !Str(*mine, "healthy_at").empty())) {
    view.outcome = RolloutOutcome::kHealthy;
    view.verdict = fmt::format("{}: revision {} is healthy", app, revision);
  } else if (s == "failed") {
    view.outcome = RolloutOutcome::kFailed;
    view.verdict = fmt::format(
        "{}: revision {} failed{}; see `skiff status {}` and `skiff logs {}`, and "
        "`skiff rollback {}` to go back",
        app, revision, reason, app, app, app);
  } else if (s == "rolled_back") {
    view.outcome = RolloutOutcome::kRolledBack;
    view.verdict = fmt::format("{}: revision {} rolled back{}", app, revision, reason);
    // The revert is itself a new revision: say which one runs now.
    if (newest > revision) view.verdict += fmt::format("; revision {} now runs", newest);
  } else if (s == "superseded" || newest > revision) {
    view.outcome = RolloutOutcome::kSuperseded;
    view.verdict = fmt::format(
        "{}: revision {} superseded by revision {} before it became healthy; "
        "`skiff status {}` shows where it stands",
        app, revision, std::max(newest, revision + 1), app);
  }
  return view;
}

int ExitCode(RolloutOutcome outcome) { return outcome == RolloutOutcome::kHealthy ? 0 : 1; }

std::string PromoteHint(std::string_view app) {
  return fmt::format(
      "{}: the canary is healthy and waits: `skiff promote {}` rolls out the rest, "
      "`skiff rollback {}` goes back (following until --timeout; Ctrl-C stops only the "
      "following)",
      app, app, app);
}

}  // namespace skiff::cli
