#include "metrics/series.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/quantity.h"

namespace skiff::metrics {
namespace {

namespace json = boost::json;

// The step `t` falls in, or -1 outside the series.
int64_t StepIndex(const Series& s, Time t, size_t steps) {
  if (t < s.since || t >= s.until) return -1;
  const int64_t i = (t - s.since) / s.step;
  return i < static_cast<int64_t>(steps) ? i : -1;
}

void AddFigures(ResourceFigures* to, const ResourceFigures& from) {
  ForEachResourceField(
      [&](const char*, auto, double ResourceFigures::*member) { to->*member += from.*member; });
}

void DivideFigures(ResourceFigures* f, int n) {
  if (n <= 0) return;
  ForEachResourceField([&](const char*, auto, double ResourceFigures::*member) {
    f->*member /= static_cast<double>(n);
  });
}

void MaxFigures(ResourceFigures* to, const ResourceFigures& from, bool first) {
  ForEachResourceField([&](const char*, auto, double ResourceFigures::*member) {
    to->*member = first ? from.*member : std::max(to->*member, from.*member);
  });
}

json::value OrNull(bool present, double v) {
  return present ? json::value(v) : json::value(nullptr);
}

}  // namespace

Series Aggregate(const AppHistory& history, Time since, Time until, Duration step) {
  Series s;
  s.since = MinuteOf(since);
  s.until = until;
  s.step = step;
  const size_t steps = static_cast<size_t>((until - s.since + step - Duration(1)) / step);
  s.points.resize(steps);
  for (size_t i = 0; i < steps; ++i) s.points[i].time = s.since + step * static_cast<int64_t>(i);
  for (const AppMinute& m : history.minutes) {
    const int64_t i = StepIndex(s, m.minute, steps);
    if (i < 0) continue;
    SeriesPoint& p = s.points[static_cast<size_t>(i)];
    if (m.has_traffic) {
      ++p.traffic_minutes;
      p.traffic_seconds +=
          std::clamp(std::chrono::duration<double>(until - m.minute).count(), 1.0, 60.0);
      p.requests += m.requests();
      p.errors += m.by_class[5];
      p.bytes += m.bytes;
      p.latency.Merge(m.latency);
      p.in_flight_max = std::max(p.in_flight_max, m.in_flight_max);
    }
    if (m.instances > 0) {
      ++p.resource_minutes;
      p.instances = std::max(p.instances, m.instances);
      AddFigures(&p.resources_mean, m.resources_mean);
    }
  }
  for (SeriesPoint& p : s.points) DivideFigures(&p.resources_mean, p.resource_minutes);
  for (const auto& [id, minutes] : history.instances) {
    std::vector<InstanceSeriesPoint>& points = s.instances[id];
    points.resize(steps);
    for (size_t i = 0; i < steps; ++i) points[i].time = s.points[i].time;
    for (const InstanceMinute& m : minutes) {
      const int64_t i = StepIndex(s, m.minute, steps);
      if (i < 0 || m.samples == 0) continue;
      InstanceSeriesPoint& p = points[static_cast<size_t>(i)];
      AddFigures(&p.mean, m.mean);
      MaxFigures(&p.max, m.max, p.minutes == 0);
      ++p.minutes;
    }
    for (InstanceSeriesPoint& p : points) DivideFigures(&p.mean, p.minutes);
  }
  return s;
}

json::value ToJson(const std::string& app, const Series& series) {
  json::array points;
  for (const SeriesPoint& p : series.points) {
    const bool traffic = p.traffic_minutes > 0;
    // Rates over the minutes the app was reported in: a step cut short by
    // `until` (the minute going on) or by a server that started in it is not
    // diluted.
    const double seconds = p.traffic_seconds;
    const bool latency = traffic && p.latency.total() > 0;
    json::object o{
        {"time", FormatTime(p.time)},
        {"requests", traffic ? json::value(p.requests) : json::value(nullptr)},
        {"errors", traffic ? json::value(p.errors) : json::value(nullptr)},
        {"requests_per_second",
         OrNull(traffic, static_cast<double>(p.requests) / std::max(seconds, 1.0))},
        {"errors_per_second",
         OrNull(traffic, static_cast<double>(p.errors) / std::max(seconds, 1.0))},
        {"bytes_per_second",
         OrNull(traffic, static_cast<double>(p.bytes) / std::max(seconds, 1.0))},
        {"p50_ms", OrNull(latency, p.latency.Quantile(0.50) * 1000)},
        {"p95_ms", OrNull(latency, p.latency.Quantile(0.95) * 1000)},
        {"p99_ms", OrNull(latency, p.latency.Quantile(0.99) * 1000)},
        {"in_flight", traffic ? json::value(p.in_flight_max) : json::value(nullptr)},
    };
    const bool resources = p.resource_minutes > 0;
    ForEachResourceField([&](const char* name, auto, double ResourceFigures::*member) {
      o[name] = OrNull(resources, p.resources_mean.*member);
    });
    o["instances"] = resources ? json::value(p.instances) : json::value(nullptr);
    points.push_back(std::move(o));
  }
  json::object instances;
  for (const auto& [id, series_points] : series.instances) {
    json::array out;
    for (const InstanceSeriesPoint& p : series_points) {
      json::object o{{"time", FormatTime(p.time)}};
      ForEachResourceField([&](const char* name, auto, double ResourceFigures::*member) {
        o[name] = OrNull(p.minutes > 0, p.mean.*member);
        o[std::string(name) + "_max"] = OrNull(p.minutes > 0, p.max.*member);
      });
      out.push_back(std::move(o));
    }
    instances[id] = std::move(out);
  }
  return json::object{
      {"app", app},
      {"since", FormatTime(series.since)},
      {"until", FormatTime(series.until)},
      {"step", std::chrono::duration_cast<std::chrono::seconds>(series.step).count()},
      {"points", std::move(points)},
      {"instances", std::move(instances)},
  };
}

}  // namespace skiff::metrics
