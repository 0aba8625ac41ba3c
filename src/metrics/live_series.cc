#include "metrics/live_series.h"

#include <algorithm>

namespace skiff::metrics {
namespace {

uint64_t Grew(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

// One instance's samples over a span: their sum (for the mean), maximum and
// number.
struct InstanceSpan {
  ResourceFigures sum;
  ResourceFigures max;
  int samples = 0;

  void Add(const model::ResourceSample& s) {
    ForEachResourceField([&](const char*, auto sample_member, double ResourceFigures::*member) {
      const double v = static_cast<double>(s.*sample_member);
      sum.*member += v;
      max.*member = samples == 0 ? v : std::max(max.*member, v);
    });
    ++samples;
  }
  ResourceFigures Mean() const {
    ResourceFigures mean;
    if (samples == 0) return mean;
    ForEachResourceField([&](const char*, auto, double ResourceFigures::*member) {
      mean.*member = sum.*member / samples;
    });
    return mean;
  }
};

// The mean of the instances' means, and the maximum of their maxima.
void AcrossInstances(const std::map<std::string, InstanceSpan>& spans, ResourceFigures* mean,
                     ResourceFigures* max) {
  if (spans.empty()) return;
  bool first = true;
  for (const auto& [id, span] : spans) {
    const ResourceFigures m = span.Mean();
    ForEachResourceField([&](const char*, auto, double ResourceFigures::*member) {
      mean->*member += m.*member / static_cast<double>(spans.size());
      if (max != nullptr)
        max->*member = first ? span.max.*member : std::max(max->*member, span.max.*member);
    });
    first = false;
  }
}

}  // namespace

LiveSeries::LiveSeries(const Clock* clock, Duration keep) : clock_(clock), keep_(keep) {}

LiveSeries::AppState& LiveSeries::StateOf(const std::string& app, Time now) {
  auto [it, added] = apps_.try_emplace(app);
  if (added) it->second.first_seen = now;
  return it->second;
}

void LiveSeries::Trim(AppState& state, Time now) {
  const Time horizon = now - keep_;
  while (!state.traffic.empty() && state.traffic.front().at < horizon) state.traffic.pop_front();
  while (!state.samples.empty() && state.samples.front().at < horizon) state.samples.pop_front();
}

void LiveSeries::RecordTraffic(const std::string& edge, const TrafficSnapshot& snapshot) {
  const Time now = clock_->Now();
  std::lock_guard lock(mu_);
  auto [baseline, first] = baselines_.try_emplace(edge);
  for (const auto& [app, t] : snapshot.apps) {
    AppState& state = StateOf(app, now);
    Trim(state, now);
    // An edge's first report, or the first with this app: a baseline only.
    if (first) continue;
    auto before = baseline->second.apps.find(app);
    if (before == baseline->second.apps.end()) continue;
    const AppTraffic& p = before->second;
    // A counter that went down: the edge restarted, and all it counts is new.
    bool restarted = t.count < p.count;
    for (int c = 1; c <= 5; ++c) restarted = restarted || t.by_class[c] < p.by_class[c];
    static const AppTraffic kNothing;
    const AppTraffic& from = restarted ? kNothing : p;
    TrafficPoint point;
    point.at = now;
    point.edge = edge;
    uint64_t requests = 0;
    for (int c = 1; c <= 5; ++c) {
      point.by_class[c] = Grew(t.by_class[c], from.by_class[c]);
      requests += point.by_class[c];
    }
    point.bytes = Grew(t.bytes, from.bytes);
    point.in_flight = t.in_flight;
    point.latency = LatencyHistogram::Between(t.bounds, t.cumulative, t.count, from.bounds,
                                              from.cumulative, from.count);
    if (requests > 0) state.last_request = now;
    state.traffic.push_back(std::move(point));
  }
  baseline->second = snapshot;
  baseline->second.routes.reset();  // not needed here
}

void LiveSeries::ForgetEdge(const std::string& edge) {
  std::lock_guard lock(mu_);
  baselines_.erase(edge);
}

void LiveSeries::RecordSample(const std::string& app, const std::string& instance,
                              const model::ResourceSample& sample) {
  const Time now = clock_->Now();
  std::lock_guard lock(mu_);
  AppState& state = StateOf(app, now);
  Trim(state, now);
  state.samples.push_back(SamplePoint{.at = now, .instance = instance, .sample = sample});
}

AppWindow LiveSeries::WindowLocked(const AppState& state, Time now, Duration window) const {
  AppWindow w;
  w.now = now;
  w.window = window;
  w.last_request = state.last_request;
  w.collected = std::chrono::duration_cast<Duration>(now - state.first_seen);
  const Time from = now - window;
  LatencyHistogram latency;
  std::map<std::string, int64_t> in_flight;  // each edge's latest
  for (const TrafficPoint& p : state.traffic) {
    if (p.at < from || p.at > now) continue;
    w.has_traffic = true;
    for (int c = 1; c <= 5; ++c) w.requests += p.by_class[c];
    w.errors += p.by_class[5];
    latency.Merge(p.latency);
    in_flight[p.edge] = p.in_flight;
  }
  for (const auto& [edge, n] : in_flight) w.in_flight += n;
  const double seconds =
      std::chrono::duration<double>(std::min(window, std::max(w.collected, Duration(1)))).count();
  if (seconds > 0) {
    w.requests_per_second = static_cast<double>(w.requests) / seconds;
    w.errors_per_second = static_cast<double>(w.errors) / seconds;
  }
  w.p50_ms = latency.Quantile(0.50) * 1000;
  w.p95_ms = latency.Quantile(0.95) * 1000;
  w.p99_ms = latency.Quantile(0.99) * 1000;
  std::map<std::string, InstanceSpan> spans;
  for (const SamplePoint& s : state.samples) {
    if (s.at < from || s.at > now) continue;
    spans[s.instance].Add(s.sample);
  }
  w.instances_sampled = static_cast<int>(spans.size());
  AcrossInstances(spans, &w.mean_per_instance, nullptr);
  return w;
}

AppWindow LiveSeries::Window(const std::string& app, Duration window) const {
  const Time now = clock_->Now();
  std::lock_guard lock(mu_);
  auto it = apps_.find(app);
  if (it == apps_.end()) {
    AppWindow none;
    none.now = now;
    none.window = window;
    return none;
  }
  return WindowLocked(it->second, now, window);
}

LivePoint LiveSeries::Live(const std::string& app, Duration span) const {
  const Time now = clock_->Now();
  std::lock_guard lock(mu_);
  LivePoint out;
  auto it = apps_.find(app);
  if (it == apps_.end()) {
    out.app.now = now;
    out.app.window = span;
    return out;
  }
  out.app = WindowLocked(it->second, now, span);
  for (const SamplePoint& s : it->second.samples) {
    if (s.at >= now - span && s.at <= now) out.instances[s.instance] = {s.at, s.sample};
  }
  return out;
}

std::optional<AppRollup> LiveSeries::RollupLocked(const AppState& state, Time minute) {
  const Time end = minute + std::chrono::minutes(1);
  AppMinute m;
  m.minute = minute;
  std::map<std::string, int64_t> in_flight_max;  // per edge
  for (const TrafficPoint& p : state.traffic) {
    if (p.at < minute || p.at >= end) continue;
    m.has_traffic = true;
    for (int c = 1; c <= 5; ++c) m.by_class[c] += p.by_class[c];
    m.bytes += p.bytes;
    m.latency.Merge(p.latency);
    int64_t& most = in_flight_max[p.edge];
    most = std::max(most, p.in_flight);
  }
  for (const auto& [edge, n] : in_flight_max) m.in_flight_max += n;
  std::map<std::string, InstanceSpan> spans;
  for (const SamplePoint& s : state.samples) {
    if (s.at >= minute && s.at < end) spans[s.instance].Add(s.sample);
  }
  if (!m.has_traffic && spans.empty()) return std::nullopt;
  m.instances = static_cast<int>(spans.size());
  AcrossInstances(spans, &m.resources_mean, &m.resources_max);
  AppRollup r;
  r.app = std::move(m);
  for (const auto& [id, span] : spans) {
    r.instances.push_back(InstanceMinute{.minute = minute,
                                         .instance = id,
                                         .samples = span.samples,
                                         .mean = span.Mean(),
                                         .max = span.max});
  }
  return r;
}

std::map<std::string, AppRollup> LiveSeries::Rollup(Time minute) const {
  std::lock_guard lock(mu_);
  std::map<std::string, AppRollup> out;
  for (const auto& [app, state] : apps_) {
    if (auto r = RollupLocked(state, minute)) out.emplace(app, std::move(*r));
  }
  return out;
}

std::optional<AppRollup> LiveSeries::RollupOf(const std::string& app, Time minute) const {
  std::lock_guard lock(mu_);
  auto it = apps_.find(app);
  if (it == apps_.end()) return std::nullopt;
  return RollupLocked(it->second, minute);
}

Time LiveSeries::Horizon() const { return clock_->Now() - keep_; }

}  // namespace skiff::metrics
