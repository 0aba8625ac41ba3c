#include "controller/rollout.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/quantity.h"
#include "controller/backoff.h"
#include "controller/revision.h"
#include "controller/template.h"
#include "model/cannot_start.h"

namespace skiff::controller {

using model::DeploymentState;
using model::InRollout;
using model::Instance;
using model::InstanceState;
using model::Traffic;

bool IsServing(const Instance& instance) {
  return instance.state == InstanceState::kRunning && instance.health == model::Health::kHealthy;
}

bool IsAvailable(const Instance& instance, const model::AppSpec& spec, Time now) {
  if (!IsServing(instance)) return false;
  if (spec.health.type == model::HealthType::kNone || instance.healthy_since == Time{}) {
    return true;
  }
  return now - instance.healthy_since >= spec.update.min_healthy_time;
}

bool IsDead(InstanceState s) { return s == InstanceState::kFailed || s == InstanceState::kStopped; }

namespace {

std::string ExitText(const Instance& instance) {
  // A start that failed (a missing program, an image that cannot be pulled, a
  // failed build) has no exit code; its message says why.
  if (!instance.last_exit) {
    return instance.message.empty() ? "failed" : "failed: " + instance.message;
  }
  return fmt::format("exited with {}", *instance.last_exit);
}

// Why a current instance is not available: what a stalled rollout waited for.
std::string Waiting(const Instance& i, const model::AppSpec& spec, Time now) {
  auto with = [](const std::string& m) { return m.empty() ? std::string() : ": " + m; };
  if (i.node.empty()) return fmt::format("{} unplaced{}", i.id, with(i.message));
  if (IsDead(i.state)) return fmt::format("{} {}", i.id, ExitText(i));
  if (i.state != InstanceState::kRunning) return fmt::format("{} {}", i.id, ToString(i.state));
  if (i.health == model::Health::kUnhealthy)
    return fmt::format("{} unhealthy{}", i.id, with(i.message));
  if (i.health != model::Health::kHealthy) return fmt::format("{} not healthy yet", i.id);
  return fmt::format("{} healthy for only {} of {}", i.id,
                     FormatDuration(std::chrono::duration_cast<Duration>(now - i.healthy_since)),
                     FormatDuration(spec.update.min_healthy_time));
}

// One PlanRollout() call.
class Planner {
 public:
  explicit Planner(const RolloutInput& in)
      : in_(in), app_(*in.app), spec_(in.app->spec), update_(spec_.update), now_(in.now) {}
  RolloutPlan Run();

 private:
  enum class Mode { kRolling, kCanary, kBlueGreen };

  void Count();
  Mode PickMode() const;
  int Canaries() const { return std::min(std::max(0, update_.canary), target_); }
  bool CanariesReady() const;
  bool Complete() const;
  Time ProgressedAt() const;
  std::string Failure();
  bool FailedSince(const model::Deployment& d) const;
  bool Revert(const std::string& failure);
  void StopHeld();
  void MoveRolling(bool frozen);
  void MoveCanary(bool frozen);
  void MoveBlueGreen(bool frozen);
  void UpdateDeployment(const std::string& failure);
  void Supersede(bool turned_healthy);
  std::string ProgressMessage() const;

  void Wake(Time t) {
    if (t > now_) plan_.wake = std::min(plan_.wake, t);
  }
  void SetTrafficOf(const Instance& instance, Traffic traffic) {
    if (instance.traffic != traffic) {
      plan_.traffic.push_back(SetTraffic{instance.id, traffic, instance.version});
    }
  }
  void Stop(const Instance& instance) {
    plan_.stops.push_back({&instance, in_.stop_reason(instance)});
  }
  void Event(std::string kind, std::string message, std::map<std::string, std::string> details) {
    model::Event event;
    event.time = now_;
    event.app = app_.name;
    event.kind = std::move(kind);
    event.message = std::move(message);
    event.details = std::move(details);
    event.details["revision"] = std::to_string(app_.revision);
    plan_.deployment.push_back(EmitEvent{std::move(event)});
  }
  void Write(const model::Deployment& d, DeploymentState state, std::string message, int healthy,
             Time progressed_at, Time healthy_at, bool promoted) {
    if (state == d.state && message == d.message && healthy == d.healthy &&
        progressed_at == d.progressed_at && healthy_at == d.healthy_at && promoted == d.promoted) {
      return;
    }
    plan_.deployment.push_back(SetDeploymentState{d.app, d.revision, state, std::move(message),
                                                  d.version, healthy, progressed_at, healthy_at,
                                                  promoted});
  }

  const RolloutInput& in_;
  const model::App& app_;
  const model::AppSpec& spec_;
  const model::UpdatePolicy& update_;
  const Time now_;
  const model::Deployment* deployment_ = nullptr;  // app_.revision's
  int target_ = 0;
  int available_ = 0;                    // current instances available
  bool old_live_ = false;                // an old instance (not held) is placed and not dead
  std::vector<const Instance*> others_;  // old instances not held
  Mode mode_ = Mode::kRolling;
  bool promote_now_ = false;  // auto_promote in this pass
  bool switch_now_ = false;   // blue-green switch in this pass
  const Instance* looping_ = nullptr;
  std::string revert_blocked_;  // why the newest healthy revision cannot be gone back to
  RolloutPlan plan_;
};

RolloutPlan Planner::Run() {
  for (const model::Deployment* d : in_.deployments) {
    if (d->revision == app_.revision) deployment_ = d;
  }
  Count();
  mode_ = PickMode();
  if (mode_ == Mode::kCanary && update_.auto_promote && CanariesReady()) {
    promote_now_ = true;
    mode_ = Mode::kRolling;
  }
  if (mode_ == Mode::kBlueGreen && static_cast<int>(in_.current.size()) >= target_ &&
      available_ >= target_) {
    switch_now_ = true;
  }
  // A failing rollout moves nothing more: it goes back, or stays as it is.
  std::string failure = Failure();
  if (!failure.empty() && Revert(failure)) return std::move(plan_);
  const bool frozen = !failure.empty() ||
                      (deployment_ != nullptr && deployment_->state == DeploymentState::kFailed);
  StopHeld();
  switch (mode_) {
    case Mode::kRolling:
      MoveRolling(frozen);
      break;
    case Mode::kCanary:
      MoveCanary(frozen);
      break;
    case Mode::kBlueGreen:
      MoveBlueGreen(frozen);
      break;
  }
  UpdateDeployment(failure);
  return std::move(plan_);
}

void Planner::Count() {
  target_ = model::DesiredReplicas(app_);
  for (const Instance* instance : in_.current) {
    if (IsAvailable(*instance, spec_, now_)) {
      ++available_;
    } else if (IsServing(*instance)) {
      Wake(instance->healthy_since + update_.min_healthy_time);
    }
  }
  for (const Instance* instance : in_.old) {
    if (instance->traffic == Traffic::kHold) continue;
    others_.push_back(instance);
    // Running but failing its checks for a moment still counts: only an old
    // set that is gone lets a blue-green or canary rollout serve directly.
    old_live_ = old_live_ || (!instance->node.empty() && !IsDead(instance->state));
  }
}

// Canary and blue-green steps belong to a rollout in progress (or stalled in
// it); replacing instances of a settled deployment (a restart, a drained node)
// is rolling.
Planner::Mode Planner::PickMode() const {
  if (!old_live_ || deployment_ == nullptr || deployment_->state == DeploymentState::kHealthy) {
    return Mode::kRolling;
  }
  if (update_.strategy == model::UpdateStrategy::kBlueGreen) return Mode::kBlueGreen;
  // Current instances that are no canaries (a revert's or rollback's old set,
  // ones promoted under the revision before a scale) are past that stage.
  const bool all_canaries =
      std::all_of(in_.current.begin(), in_.current.end(),
                  [](const Instance* instance) { return instance->traffic == Traffic::kCanary; });
  if (update_.strategy == model::UpdateStrategy::kCanary && !deployment_->promoted &&
      Canaries() > 0 && all_canaries) {
    return Mode::kCanary;
  }
  return Mode::kRolling;
}

bool Planner::CanariesReady() const {
  return static_cast<int>(in_.current.size()) >= Canaries() && available_ >= Canaries();
}

// Whether the deployment is healthy after this pass: everything current is
// available and nothing old serves (blue-green: at the switch).
bool Planner::Complete() const {
  if (available_ < target_) return false;
  if (mode_ == Mode::kBlueGreen) return switch_now_;
  if (mode_ == Mode::kCanary) return false;
  return !in_.any_old_left;
}

// The deployment's progressed_at once this pass counted. Growth is progress;
// so is a loss, from which the deadline counts anew: one that stopped counting
// while it did not apply (all up, canaries waiting for a human) would fail a
// rollout at the first crash.
Time Planner::ProgressedAt() const {
  if (deployment_ == nullptr) return Time{};
  if (deployment_->state == DeploymentState::kProgressing &&
      (available_ != deployment_->healthy || deployment_->progressed_at == Time{} ||
       promote_now_)) {
    return now_;
  }
  return deployment_->progressed_at;
}

// Why the deployment fails in this pass; empty when it does not.
std::string Planner::Failure() {
  if (deployment_ == nullptr || Complete()) return "";
  const DeploymentState state = deployment_->state;
  // Only a rollout fails: a crash loop after it finished shows on the instance,
  // and a failed one stays failed (no flapping between failed and healthy).
  if (!InRollout(state)) return "";
  for (const Instance* instance : in_.current) {
    // A count that stays high after the instance recovered (it ends only with
    // a long run) is history, not a crash loop now.
    // A start that can never succeed (a failed build) is not retried into a loop.
    if (model::CannotStart(*instance)) {
      looping_ = instance;
      return fmt::format("instance {} {}", instance->id, instance->message);
    }
    if (IsCrashLoop(instance->crash_count) && !IsAvailable(*instance, spec_, now_)) {
      looping_ = instance;
      return fmt::format("crash loop: instance {} {} ({} failures in a row)", instance->id,
                         ExitText(*instance), instance->crash_count);
    }
  }
  if (state != DeploymentState::kProgressing) return "";
  // The new set is all up (old ones are still stopping), or canaries wait for a human.
  if (available_ >= target_) return "";
  if (mode_ == Mode::kCanary && CanariesReady()) return "";
  const Time since = ProgressedAt();
  if (now_ - since < update_.healthy_deadline) {
    Wake(since + update_.healthy_deadline);
    return "";
  }
  std::string message = fmt::format("no progress for {}: {}/{} healthy",
                                    FormatDuration(update_.healthy_deadline), available_, target_);
  int listed = 0;
  for (const Instance* instance : in_.current) {
    if (IsAvailable(*instance, spec_, now_)) continue;
    if (++listed > 3) {
      message += "; ...";
      break;
    }
    message += "; " + Waiting(*instance, spec_, now_);
  }
  return message;
}

// Whether a deployment after `d` and before the current one ran d's template
// and failed.
bool Planner::FailedSince(const model::Deployment& d) const {
  return std::any_of(in_.deployments.begin(), in_.deployments.end(), [&](const auto* later) {
    return later->revision > d.revision && later->revision < app_.revision &&
           (later->state == DeploymentState::kFailed ||
            later->state == DeploymentState::kRolledBack) &&
           SameTemplate(later->spec, d.spec);
  });
}

// auto_revert: a rollout that fails goes back to the newest earlier revision
// that was ever healthy. Returns whether it does.
bool Planner::Revert(const std::string& failure) {
  const model::Deployment& d = *deployment_;
  if (!update_.auto_revert || !InRollout(d.state)) return false;
  const model::Deployment* target = nullptr;
  int64_t blocked = 0;
  for (const model::Deployment* other : in_.deployments) {
    if (other->revision >= app_.revision || !WasHealthy(*other)) continue;
    // Going back to the instances that fail now (a revision differing only in
    // replicas), or to ones that failed since (a revert that failed too), would
    // loop.
    if (SameTemplate(other->spec, spec_) || FailedSince(*other)) continue;
    if (in_.revert_blocked) {
      if (std::string why = in_.revert_blocked(other->spec); !why.empty()) {
        if (other->revision > blocked) {
          blocked = other->revision;
          revert_blocked_ = fmt::format("cannot go back to revision {}: {}", blocked, why);
        }
        continue;
      }
    }
    if (target == nullptr || other->revision > target->revision) target = other;
  }
  if (target == nullptr) return false;
  const int64_t next = app_.revision + 1;
  std::map<std::string, std::string> details;
  if (looping_ != nullptr) details["instance"] = looping_->id;
  Write(d, DeploymentState::kRolledBack,
        fmt::format("{}; rolled back to revision {} (as revision {})", failure, target->revision,
                    next),
        available_, ProgressedAt(), d.healthy_at, d.promoted);
  plan_.deployment.push_back(RevertApp{app_.name, target->revision, app_.revision,
                                       fmt::format("auto revert to revision {}: revision {} failed",
                                                   target->revision, app_.revision),
                                       app_.version});
  Event("deployment.failed", fmt::format("revision {} failed: {}", app_.revision, failure),
        details);
  details["to_revision"] = std::to_string(target->revision);
  Event("deployment.rolled_back",
        fmt::format("revision {} rolled back to revision {} (as revision {}): {}", app_.revision,
                    target->revision, next, failure),
        details);
  return true;
}

// Old instances held out of traffic (a blue-green set switched away from) stay
// for keep_old after the newest deployment that turned healthy did, then go.
void Planner::StopHeld() {
  // From the newest switch, which a later revision (a scale) does not restart.
  Time healthy_at;
  for (const model::Deployment* d : in_.deployments)
    healthy_at = std::max(healthy_at, d->healthy_at);
  for (const Instance* instance : in_.old) {
    if (instance->traffic != Traffic::kHold) continue;
    if (healthy_at == Time{} || now_ >= healthy_at + update_.keep_old) {
      Stop(*instance);
    } else {
      Wake(healthy_at + update_.keep_old);
    }
  }
}

// Old instances go as long as availability stays at replicas - max_unavailable
// (unavailable ones cost nothing and always go); up to replicas current ones
// come, and while old ones remain no more than replicas + max_surge in all.
void Planner::MoveRolling(bool frozen) {
  for (const Instance* instance : in_.current) SetTrafficOf(*instance, Traffic::kServe);
  const int current = static_cast<int>(in_.current.size());
  if (others_.empty()) {
    plan_.create = std::max(0, target_ - current);
    return;
  }
  const int min_available = std::max(0, target_ - std::max(0, update_.max_unavailable));
  int available = available_;
  for (const Instance* instance : others_) available += IsServing(*instance);
  // A failed rollout keeps the older revisions' instances serving; its own
  // revision's old ones (a restart, a draining node) are still replaced.
  int left = 0;
  std::vector<const Instance*> old;
  for (const Instance* instance : others_) {
    if (frozen && instance->revision != app_.revision) {
      ++left;
    } else {
      old.push_back(instance);
    }
  }
  if (old.empty()) return;
  std::stable_sort(old.begin(), old.end(), [&](const Instance* a, const Instance* b) {
    int ca = StopCost(*a), cb = StopCost(*b);
    if (ca != cb) return ca < cb;
    if (a->revision != b->revision) return a->revision < b->revision;
    if (a->created_at != b->created_at) return a->created_at < b->created_at;
    return a->id < b->id;
  });
  for (const Instance* instance : old) {
    bool counts = IsServing(*instance);
    if (counts && available - 1 < min_available) {
      ++left;
      continue;
    }
    available -= counts;
    Stop(*instance);
  }
  int want = target_ - current;
  if (left > 0) {
    // More surge than replicas changes nothing (and would overflow below).
    int surge = std::min(std::max(0, update_.max_surge), target_);
    // Without surge or unavailability a rollout could never move; allow one extra.
    if (surge == 0 && update_.max_unavailable <= 0) surge = 1;
    want = std::min(want, target_ + surge - current - left);
  }
  plan_.create = std::max(0, want);
}

// Canaries come up beside the old set, which stays whole until the promotion.
void Planner::MoveCanary(bool frozen) {
  plan_.create_traffic = Traffic::kCanary;
  if (frozen) return;
  // Canaries replaced meanwhile (a restart, a draining node, a newer canary
  // revision) take no share beside the current ones while the old set serves
  // the rest (else they are what serves).
  const bool old_set_serves = std::any_of(others_.begin(), others_.end(), [](const Instance* i) {
    return i->traffic != Traffic::kCanary && IsServing(*i);
  });
  for (const Instance* instance : others_) {
    if (old_set_serves && instance->traffic == Traffic::kCanary) Stop(*instance);
  }
  plan_.create = std::max(0, Canaries() - static_cast<int>(in_.current.size()));
}

// The whole new set comes up held; once all of it is available the traffic
// switches in one pass (one transaction) and the old set is held, then stopped.
void Planner::MoveBlueGreen(bool frozen) {
  if (!switch_now_) {
    plan_.create_traffic = Traffic::kHold;
    if (!frozen) plan_.create = std::max(0, target_ - static_cast<int>(in_.current.size()));
    return;
  }
  for (const Instance* instance : in_.current) SetTrafficOf(*instance, Traffic::kServe);
  for (const Instance* instance : others_) {
    SetTrafficOf(*instance, Traffic::kHold);
    if (update_.keep_old <= Duration(0)) {
      Stop(*instance);
    } else {
      Wake(now_ + update_.keep_old);
    }
  }
}

std::string Planner::ProgressMessage() const {
  if (mode_ == Mode::kCanary) {
    return fmt::format(
        "canary: {}/{} healthy, taking {}% of traffic; {}", available_, Canaries(),
        update_.canary_weight,
        update_.auto_promote
            ? fmt::format("promoted once healthy for {}", FormatDuration(update_.min_healthy_time))
            : fmt::format("waiting for `skiff promote {}`", app_.name));
  }
  if (mode_ == Mode::kBlueGreen) {
    return fmt::format("blue-green: {}/{} of the new set healthy; the old set serves until all are",
                       available_, target_);
  }
  return fmt::format("{}/{} healthy", available_, target_);
}

void Planner::UpdateDeployment(const std::string& failure) {
  if (deployment_ == nullptr) return;
  const model::Deployment& d = *deployment_;
  DeploymentState state = d.state;
  std::string message = d.message;
  int healthy = InRollout(d.state) ? available_ : d.healthy;
  Time progressed_at = ProgressedAt();
  Time healthy_at = d.healthy_at;
  const bool promoted = d.promoted || promote_now_;
  if (Complete()) {
    // Also the way out of kFailed: a failed revision that became fully healthy
    // (the crash loop ended) is healthy again. Nothing else moves it back, so
    // a crash-looping deployment does not flap between failed and progressing.
    state = DeploymentState::kHealthy;
    message = fmt::format("{}/{} healthy", available_, target_);
    healthy = available_;
    if (healthy_at == Time{} || d.state != DeploymentState::kHealthy) healthy_at = now_;
  } else if (!failure.empty()) {
    state = DeploymentState::kFailed;
    message = failure;
    const bool had_earlier = std::any_of(in_.deployments.begin(), in_.deployments.end(),
                                         [&](const auto* o) { return o->revision < d.revision; });
    if (!revert_blocked_.empty()) {
      message += "; " + revert_blocked_;
    } else if (update_.auto_revert && InRollout(d.state) && had_earlier) {
      message += "; no earlier healthy revision to go back to";
    }
  } else if (state == DeploymentState::kFailed || state == DeploymentState::kHealthy) {
    // Settled: a finished rollout stays healthy when an instance later crashes
    // (the instances show it); a failed one keeps its first message (no write
    // per further crash) and waits for full health.
  } else if (!in_.current.empty() || plan_.create > 0) {
    state = DeploymentState::kProgressing;
    message = ProgressMessage();
    if (d.state != DeploymentState::kProgressing) progressed_at = now_;
  }
  Write(d, state, message, healthy, progressed_at, healthy_at, promoted);

  std::map<std::string, std::string> details;
  if (promote_now_) {
    Event("deployment.promoted",
          fmt::format("revision {} promoted automatically: {} canar{} healthy for {}; the rollout "
                      "continues",
                      app_.revision, Canaries(), Canaries() == 1 ? "y" : "ies",
                      FormatDuration(update_.min_healthy_time)),
          details);
  }
  if (state == d.state) {
    Supersede(false);
    return;
  }
  if (state == DeploymentState::kProgressing) {
    Event("deployment.progressing",
          fmt::format("revision {} is rolling out ({}): {}", app_.revision,
                      model::ToString(update_.strategy), message),
          details);
  } else if (state == DeploymentState::kFailed) {
    if (looping_ != nullptr) details["instance"] = looping_->id;
    Event("deployment.failed", fmt::format("revision {} failed: {}", app_.revision, message),
          details);
  } else if (state == DeploymentState::kHealthy) {
    Event("deployment.healthy", fmt::format("revision {} is healthy: {}", app_.revision, message),
          details);
  }
  Supersede(state == DeploymentState::kHealthy);
}

// Older deployments still in progress give way at once; older healthy ones
// once this one is healthy.
void Planner::Supersede(bool turned_healthy) {
  std::vector<const model::Deployment*> older;
  for (const model::Deployment* d : in_.deployments) {
    if (d->revision >= app_.revision) continue;
    if (InRollout(d->state) || (turned_healthy && d->state == DeploymentState::kHealthy)) {
      older.push_back(d);
    }
  }
  std::sort(older.begin(), older.end(), [](const model::Deployment* a, const model::Deployment* b) {
    return a->revision < b->revision;
  });
  for (const model::Deployment* d : older) {
    // One superseded before any pass saw it has no progressed_at yet; stamp it,
    // or WasHealthy() would take it for a healthy one from before the planner.
    Time progressed_at = d->progressed_at;
    if (InRollout(d->state) && progressed_at == Time{}) progressed_at = now_;
    Write(*d, DeploymentState::kSuperseded, fmt::format("superseded by revision {}", app_.revision),
          d->healthy, progressed_at, d->healthy_at, d->promoted);
  }
}

}  // namespace

int StopCost(const Instance& instance) {
  if (instance.node.empty()) return 0;
  if (IsDead(instance.state)) return 1;
  return IsServing(instance) ? 3 : 2;
}

RolloutPlan PlanRollout(const RolloutInput& input) { return Planner(input).Run(); }

}  // namespace skiff::controller
