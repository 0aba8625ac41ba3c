#include "controller/report_merge.h"

#include <fmt/format.h>

#include "common/check.h"
#include "controller/backoff.h"

namespace skiff::controller {
namespace {

model::Event InstanceEvent(Time now, const model::Instance& i, std::string kind,
                           std::string message) {
  model::Event e;
  e.time = now;
  e.app = i.app;
  e.kind = std::move(kind);
  e.message = std::move(message);
  e.details = {{"instance", i.id}, {"node", i.node}, {"revision", std::to_string(i.revision)}};
  return e;
}

}  // namespace

Result<MergedReport> MergeReport(const model::Instance& stored, const protocol::InstanceReport& r,
                                 Time now) {
  SKIFF_CHECK(r.instance_id == stored.id);
  if (stored.node != r.node_id) {
    return FailedPrecondition(
        fmt::format("instance {} is not placed on node {}", r.instance_id, r.node_id));
  }
  MergedReport out;
  out.instance = stored;
  if (r.generation < stored.generation) return out;  // stale
  out.applied = true;

  using model::InstanceState;
  model::Instance& i = out.instance;
  const InstanceState old_state = i.state;
  const model::Health old_health = i.health;
  if (r.address) i.address = *r.address;
  if (r.port) i.port = *r.port;
  if (r.handle) i.handle = *r.handle;
  if (r.message) i.message = *r.message;
  if (r.started_at) i.started_at = *r.started_at;
  if (r.finished_at) i.finished_at = *r.finished_at;
  if (r.last_exit) i.last_exit = *r.last_exit;
  if (r.generation > i.running_generation) i.running_generation = r.generation;
  if (r.state) i.state = *r.state;
  if (r.health) i.health = *r.health;
  i.updated_at = now;

  if (i.state != old_state) {
    switch (i.state) {
      case InstanceState::kRunning:
        out.events.push_back(
            InstanceEvent(now, i, "instance.started",
                          fmt::format("{} started on {} at {}", i.id, i.node, i.address)));
        break;
      case InstanceState::kFailed:
        // A run that lasted kCrashCountResetAfter was no crash loop: this failure
        // starts a new count (and a short backoff). Health passing is no proof
        // of that, since an app may pass a probe and then die a second later.
        if (i.started_at != Time{} && i.finished_at - i.started_at >= kCrashCountResetAfter) {
          i.crash_count = 1;
        } else {
          ++i.crash_count;
        }
        i.health = model::Health::kUnknown;
        out.events.push_back(
            InstanceEvent(now, i, "instance.failed",
                          fmt::format("{} {}", i.id, i.message.empty() ? "failed" : i.message)));
        break;
      case InstanceState::kStopped:
        i.health = model::Health::kUnknown;
        out.events.push_back(
            InstanceEvent(now, i, "instance.stopped", fmt::format("{} stopped", i.id)));
        break;
      default:
        break;
    }
  }
  // The rollout planner counts an instance only once it stayed healthy for
  // update.min_healthy_time, from here.
  if (i.health != model::Health::kHealthy) {
    i.healthy_since = Time{};
  } else if (old_health != model::Health::kHealthy) {
    i.healthy_since = now;
  }
  if (i.health != old_health && r.health) {
    if (i.health == model::Health::kHealthy) {
      out.events.push_back(
          InstanceEvent(now, i, "instance.healthy", fmt::format("{} is healthy", i.id)));
    } else if (i.health == model::Health::kUnhealthy) {
      out.events.push_back(InstanceEvent(
          now, i, "instance.unhealthy",
          fmt::format("{} is unhealthy{}", i.id, r.message ? ": " + *r.message : std::string())));
    }
  }
  return out;
}

}  // namespace skiff::controller
