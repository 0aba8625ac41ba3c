#include "controller/autoscale_loop.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "common/logging.h"
#include "common/quantity.h"

namespace skiff::controller {

AutoscaleLoop::AutoscaleLoop(store::Store* store, const Clock* clock, SignalsFn signals,
                             Options options)
    : store_(store), clock_(clock), signals_(std::move(signals)), options_(options) {}

AutoscaleLoop::~AutoscaleLoop() { Stop(); }

void AutoscaleLoop::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AutoscaleLoop::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AutoscaleLoop::Run() {
  while (true) {
    if (auto pass = RunOnce(); !pass) {
      SKIFF_LOG_WARN("autoscaler: cannot read the apps: {}", pass.error().message);
    }
    std::unique_lock lock(mu_);
    if (clock_->WaitFor(cv_, lock, options_.interval, [&] { return stopping_; })) return;
  }
}

Result<int> AutoscaleLoop::RunOnce() {
  SKIFF_ASSIGN_OR_RETURN(std::vector<model::App> apps, store_->ListApps());
  int scaled = 0;
  const Time now = clock_->Now();
  // Forget the warnings of apps that are gone, so the map does not grow all term.
  std::erase_if(short_window_warned_, [&](const auto& entry) {
    return std::none_of(apps.begin(), apps.end(),
                        [&](const model::App& app) { return app.name == entry.first; });
  });
  for (const model::App& app : apps) {
    if (app.deleting || !app.spec.autoscale) continue;
    WarnOfShortWindow(app, now);
    auto changed = Decide(app, now);
    if (!changed) {
      // kAborted: the app changed meanwhile; kFailedPrecondition: this
      // server no longer leads. Either way the next pass decides afresh.
      SKIFF_LOG_INFO("autoscaler: {}: decision not written: {}", app.name, changed.error().message);
      continue;
    }
    if (*changed) ++scaled;
  }
  return scaled;
}

void AutoscaleLoop::WarnOfShortWindow(const model::App& app, Time now) {
  const Duration window = app.spec.autoscale->window;
  if (options_.sample_interval <= Duration(0) || window >= options_.sample_interval) return;
  // Once per (app, window, sample interval), not per revision or term: the
  // API checked the window against the sample interval of the server that
  // took the apply, which may not be this one's (docs/autoscaling.md).
  const std::pair<Duration, Duration> key{window, options_.sample_interval};
  auto warned = short_window_warned_.find(app.name);
  if (warned != short_window_warned_.end() && warned->second == key) return;
  const std::string window_text = FormatDuration(window);
  const std::string interval_text = FormatDuration(options_.sample_interval);
  // An earlier term, or another leader, may have warned already.
  auto events = store_->ListEvents({.app = app.name});
  if (!events) {
    SKIFF_LOG_INFO("autoscaler: {}: cannot read events: {}", app.name, events.error().message);
    return;  // the next pass tries again
  }
  for (const model::Event& e : *events) {
    if (e.kind == "app.autoscale_warning" && e.details.contains("window") &&
        e.details.at("window") == window_text && e.details.contains("sample_interval") &&
        e.details.at("sample_interval") == interval_text) {
      short_window_warned_[app.name] = key;
      return;
    }
  }
  const std::string message = fmt::format(
      "autoscale.window: {} is shorter than the leader's sample interval {}: a window may "
      "hold no sample, and the count then holds (\"no data\"); set autoscale.window to at "
      "least {}",
      window_text, interval_text, interval_text);
  model::Event event;
  event.time = now;
  event.app = app.name;
  event.kind = "app.autoscale_warning";
  event.message = message;
  event.details["field"] = "autoscale.window";
  event.details["window"] = window_text;
  event.details["sample_interval"] = interval_text;
  store::Txn txn;
  txn.AddEvent(std::move(event));
  if (options_.fence_epoch != 0) txn.Fenced(options_.fence_epoch);
  if (auto written = store_->Commit(txn); !written) {
    // Not remembered: the next pass tries again.
    SKIFF_LOG_INFO("autoscaler: {}: warning not written: {}", app.name, written.error().message);
    return;
  }
  short_window_warned_[app.name] = key;
  SKIFF_LOG_WARN("{}: {}", app.name, message);
}

Result<AutoscaleLoop::Hold> AutoscaleLoop::RolloutHold(const model::App& app, Time now) const {
  auto deployment = store_->GetDeployment(app.name, app.revision);
  if (!deployment) {
    // Not written yet, or gone: no rollout of it to protect.
    if (deployment.error().code == ErrorCode::kNotFound) return Hold{};
    return tl::unexpected(deployment.error());
  }
  const model::Deployment& d = *deployment;
  const model::Autoscale& policy = *app.spec.autoscale;
  Hold hold;
  if (model::InRollout(d.state)) {
    hold.in = true;
    // A higher count adds a serving instance only in rolling mode: a canary
    // not promoted runs only its canaries, a blue-green set not switched to
    // serves nothing, so signals would keep asking for more up to max.
    const model::UpdateStrategy strategy = d.spec.update.strategy;
    hold.out = strategy == model::UpdateStrategy::kBlueGreen ||
               (strategy == model::UpdateStrategy::kCanary && !d.promoted);
    return hold;
  }
  // Settled (healthy, failed, rolled back, superseded): the window still
  // covers the rollout (held blue-green sets, surge), which dilutes the
  // signals; scale in only once a window and cooldown_down have passed.
  const Time settled = d.state == model::DeploymentState::kHealthy && d.healthy_at != Time{}
                           ? d.healthy_at
                           : d.updated_at;
  hold.in = now < settled + std::max(policy.window, policy.cooldown_down);
  return hold;
}

Result<bool> AutoscaleLoop::Decide(const model::App& app, Time now) {
  const model::Autoscale& policy = *app.spec.autoscale;
  const int current = model::DesiredReplicas(app);
  AutoscaleSignals signals = signals_(app, policy.window, now);
  // A wake is a request the edges may not have reported yet: the app is not
  // idle before `idle` has passed since it. (An app woken by an older
  // version, which did not record woken_at, has only scaled_up_at.)
  const Time woken = app.woken_at != Time{} ? app.woken_at : app.scaled_up_at;
  if (woken != Time{}) {
    if (signals.last_request) {
      signals.last_request = std::max(*signals.last_request, woken);
    } else {
      // None heard (a server just elected): idle only once it has watched
      // for `idle`, and `idle` has passed since the wake.
      signals.observed_for =
          std::min(signals.observed_for, std::chrono::duration_cast<Duration>(now - woken));
    }
  }
  AutoscaleState state;
  state.replicas = current;
  if (app.scaled_up_at != Time{}) state.last_scale_up = app.scaled_up_at;
  if (app.scaled_down_at != Time{}) state.last_scale_down = app.scaled_down_at;
  AutoscaleDecision decision = DecideReplicas(policy, signals, state, now);
  if (decision.replicas != current) {
    // A rollout in progress is not scaled in nor put to sleep: the planner
    // would stop instances it counts on (a canary's old set, a blue-green
    // set before its switch); nor scaled out where a higher count adds no
    // serving instance (RolloutHold). An app asleep always wakes. The app's
    // version, checked by the commit below, fences this read: a new
    // revision moves it. It holds without an event, as any hold.
    SKIFF_ASSIGN_OR_RETURN(Hold hold, RolloutHold(app, now));
    if (decision.replicas < current && hold.in) decision.replicas = current;
    if (decision.replicas > current && current > 0 && hold.out) decision.replicas = current;
  }
  // A hold still records the count when the stored one differs (the first
  // decision, or bounds changed since): later specs' replicas or bounds then
  // do not move it by surprise. No event: nothing was scaled.
  if (!decision.changed() && app.autoscaled_replicas == decision.replicas) return false;
  model::App next = app;
  next.autoscaled_replicas = decision.replicas;
  next.updated_at = now;
  store::Txn txn;
  if (decision.replicas > current) next.scaled_up_at = now;
  if (decision.replicas < current) next.scaled_down_at = now;
  // Against the version read: a wake recorded since (AppService::Wake writes
  // one on every ask) or a new revision makes this commit kAborted, and the
  // next pass decides on the app as it is now.
  txn.Put(next, app.version);
  if (decision.changed()) {
    model::Event event;
    event.time = now;
    event.app = app.name;
    event.kind = "app.autoscaled";
    event.message = AutoscaleMessage(decision);
    event.details["from"] = std::to_string(current);
    event.details["to"] = std::to_string(decision.replicas);
    txn.AddEvent(std::move(event));
  }
  if (options_.fence_epoch != 0) txn.Fenced(options_.fence_epoch);
  SKIFF_RETURN_IF_ERROR(store_->Commit(txn));
  if (decision.changed()) SKIFF_LOG_INFO("{}: {}", app.name, AutoscaleMessage(decision));
  return decision.changed();
}

}  // namespace skiff::controller
