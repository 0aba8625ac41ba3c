#include "metrics/traffic.h"

#include <algorithm>
#include <boost/json.hpp>

namespace skiff::metrics {
namespace {

namespace json = boost::json;

constexpr const char* kClasses[6] = {"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"};

// The change of a cumulative counter, or the whole value when it went down
// (the edge restarted: its counters began again at 0).
uint64_t Delta(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

Result<uint64_t> Count(const json::object& obj, const char* key, const std::string& path) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr) return uint64_t{0};
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  return InvalidArgument(path + "." + key + ": not a count");
}

double Number(const json::value& v) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return -1;
}

}  // namespace

json::value ToJson(const TrafficSnapshot& snapshot) {
  json::object apps;
  for (const auto& [name, t] : snapshot.apps) {
    json::object requests;
    for (int c = 1; c <= 5; ++c) requests[kClasses[c]] = t.by_class[c];
    json::array bounds(t.bounds.begin(), t.bounds.end());
    json::array cumulative(t.cumulative.begin(), t.cumulative.end());
    apps[name] = json::object{{"requests", std::move(requests)},
                              {"bytes", t.bytes},
                              {"in_flight", t.in_flight},
                              {"latency", json::object{{"bounds", std::move(bounds)},
                                                       {"cumulative", std::move(cumulative)},
                                                       {"sum", t.sum},
                                                       {"count", t.count}}}};
  }
  json::object out{{"apps", std::move(apps)}};
  if (snapshot.routes) {
    const EdgeRoutes& r = *snapshot.routes;
    json::object leaving;
    for (const auto& [id, n] : r.leaving) leaving[id] = n;
    out["routes"] = json::object{{"revision", r.revision},
                                 {"tag", r.tag},
                                 {"leaving", std::move(leaving)},
                                 {"interval_ms", r.interval_ms}};
  }
  return out;
}

namespace {

Result<EdgeRoutes> RoutesFromJson(const json::value& value) {
  const json::object* obj = value.if_object();
  if (obj == nullptr) return InvalidArgument("routes: not an object");
  EdgeRoutes r;
  auto count = [&](const json::object& o, const char* key, const std::string& path,
                   int64_t* out) -> Status {
    auto n = Count(o, key, path);
    if (!n) return tl::unexpected(n.error());
    *out = static_cast<int64_t>(*n);
    return OkStatus();
  };
  SKIFF_RETURN_IF_ERROR(count(*obj, "revision", "routes", &r.revision));
  SKIFF_RETURN_IF_ERROR(count(*obj, "interval_ms", "routes", &r.interval_ms));
  if (const json::value* t = obj->if_contains("tag")) {
    if (!t->is_string()) return InvalidArgument("routes.tag: not a string");
    r.tag = std::string(t->get_string());
  }
  if (const json::value* l = obj->if_contains("leaving")) {
    const json::object* leaving = l->if_object();
    if (leaving == nullptr) return InvalidArgument("routes.leaving: not an object");
    for (const auto& entry : *leaving) {
      const std::string id(entry.key());
      SKIFF_RETURN_IF_ERROR(count(*leaving, id.c_str(), "routes.leaving", &r.leaving[id]));
    }
  }
  return r;
}

}  // namespace

Result<TrafficSnapshot> TrafficFromJson(const json::value& doc) {
  const json::object* root = doc.if_object();
  const json::value* apps = root != nullptr ? root->if_contains("apps") : nullptr;
  if (apps == nullptr || !apps->is_object()) {
    return InvalidArgument("apps: required, an object of app name to traffic");
  }
  TrafficSnapshot out;
  for (const auto& [key, value] : apps->get_object()) {
    const std::string path = "apps." + std::string(key);
    const json::object* app = value.if_object();
    if (app == nullptr) return InvalidArgument(path + ": not an object");
    AppTraffic t;
    if (const json::value* r = app->if_contains("requests")) {
      if (!r->is_object()) return InvalidArgument(path + ".requests: not an object");
      for (int c = 1; c <= 5; ++c) {
        auto n = Count(r->get_object(), kClasses[c], path + ".requests");
        if (!n) return tl::unexpected(n.error());
        t.by_class[c] = *n;
      }
    }
    auto bytes = Count(*app, "bytes", path);
    if (!bytes) return tl::unexpected(bytes.error());
    t.bytes = *bytes;
    if (const json::value* f = app->if_contains("in_flight")) {
      if (!f->is_int64() && !f->is_uint64())
        return InvalidArgument(path + ".in_flight: not an integer");
      t.in_flight = f->is_int64() ? f->get_int64() : static_cast<int64_t>(f->get_uint64());
    }
    if (const json::value* l = app->if_contains("latency")) {
      const json::object* latency = l->if_object();
      if (latency == nullptr) return InvalidArgument(path + ".latency: not an object");
      const json::value* b = latency->if_contains("bounds");
      const json::value* c = latency->if_contains("cumulative");
      if (b == nullptr || c == nullptr || !b->is_array() || !c->is_array() ||
          b->get_array().size() != c->get_array().size()) {
        return InvalidArgument(path + ".latency: bounds and cumulative must be arrays of one size");
      }
      double last = -1;
      uint64_t last_count = 0;
      for (size_t i = 0; i < b->get_array().size(); ++i) {
        const double bound = Number(b->get_array()[i]);
        const json::value& cv = c->get_array()[i];
        if (bound <= last) return InvalidArgument(path + ".latency.bounds: must increase");
        if (!cv.is_uint64() && !(cv.is_int64() && cv.get_int64() >= 0)) {
          return InvalidArgument(path + ".latency.cumulative: not counts");
        }
        const uint64_t n = cv.is_uint64() ? cv.get_uint64() : static_cast<uint64_t>(cv.get_int64());
        if (n < last_count) return InvalidArgument(path + ".latency.cumulative: must not decrease");
        t.bounds.push_back(bound);
        t.cumulative.push_back(n);
        last = bound;
        last_count = n;
      }
      auto count = Count(*latency, "count", path + ".latency");
      if (!count) return tl::unexpected(count.error());
      t.count = *count;
      if (t.count < last_count) return InvalidArgument(path + ".latency.count: below its buckets");
      if (const json::value* s = latency->if_contains("sum")) t.sum = std::max(0.0, Number(*s));
    }
    out.apps.emplace(std::string(key), std::move(t));
  }
  if (const json::value* routes = root->if_contains("routes")) {
    auto parsed = RoutesFromJson(*routes);
    if (!parsed) return tl::unexpected(parsed.error());
    out.routes = std::move(*parsed);
  }
  return out;
}

void TrafficBook::Record(const std::string& edge, TrafficSnapshot snapshot, Time at) {
  if (listener_) listener_(edge, &snapshot);
  std::lock_guard lock(mu_);
  Reports& r = edges_[edge];
  for (const auto& [app, t] : snapshot.apps) {
    auto before = r.latest.apps.find(app);
    const bool fresh = before == r.latest.apps.end() || t.count < before->second.count;
    LatencyTotal& total = latency_[app];
    total.count += fresh ? t.count : t.count - before->second.count;
    total.sum += fresh ? t.sum : std::max(0.0, t.sum - before->second.sum);
  }
  if (r.latest_at != Time{}) {
    r.previous = std::move(r.latest);
    r.previous_at = r.latest_at;
    r.has_previous = true;
  }
  r.latest = std::move(snapshot);
  r.latest_at = at;
}

std::map<std::string, AppRates> TrafficBook::Rates(Time now) const {
  struct Sum {
    AppRates rates;
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;
    uint64_t count = 0;
  };
  std::map<std::string, Sum> sums;
  std::lock_guard lock(mu_);
  for (const auto& [edge, r] : edges_) {
    if (now - r.latest_at > kStaleAfter) continue;
    const double seconds =
        r.has_previous ? std::chrono::duration<double>(r.latest_at - r.previous_at).count() : 0;
    for (const auto& [app, t] : r.latest.apps) {
      Sum& s = sums[app];
      s.rates.in_flight += t.in_flight;
      ++s.rates.edges;
      if (seconds <= 0) continue;
      auto before = r.previous.apps.find(app);
      static const AppTraffic kNone;
      const AppTraffic& p = before != r.previous.apps.end() ? before->second : kNone;
      uint64_t requests = 0;
      for (int c = 1; c <= 5; ++c) requests += Delta(t.by_class[c], p.by_class[c]);
      s.rates.requests_per_second += static_cast<double>(requests) / seconds;
      s.rates.errors_per_second +=
          static_cast<double>(Delta(t.by_class[5], p.by_class[5])) / seconds;
      s.rates.bytes_per_second += static_cast<double>(Delta(t.bytes, p.bytes)) / seconds;
      // Histograms add up when their bounds agree (every Skiff edge uses the same).
      if (s.bounds.empty()) {
        s.bounds = t.bounds;
        s.cumulative.assign(t.bounds.size(), 0);
      }
      if (s.bounds != t.bounds) continue;
      const bool restarted = t.count < p.count || p.bounds != t.bounds;
      for (size_t i = 0; i < t.cumulative.size(); ++i) {
        s.cumulative[i] += restarted ? t.cumulative[i] : t.cumulative[i] - p.cumulative[i];
      }
      s.count += restarted ? t.count : t.count - p.count;
    }
  }
  std::map<std::string, AppRates> out;
  for (auto& [app, s] : sums) {
    s.rates.p50 = HistogramQuantile(0.50, s.bounds, s.cumulative, s.count);
    s.rates.p95 = HistogramQuantile(0.95, s.bounds, s.cumulative, s.count);
    s.rates.p99 = HistogramQuantile(0.99, s.bounds, s.cumulative, s.count);
    out.emplace(app, s.rates);
  }
  return out;
}

std::map<std::string, LatencyTotal> TrafficBook::LatencyTotals() const {
  std::lock_guard lock(mu_);
  return latency_;
}

void TrafficBook::Forget(const std::string& edge) {
  if (listener_) listener_(edge, nullptr);
  std::lock_guard lock(mu_);
  edges_.erase(edge);
}

std::vector<std::string> TrafficBook::Edges(Time now) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [edge, r] : edges_) {
    if (now - r.latest_at <= kStaleAfter) out.push_back(edge);
  }
  return out;
}

std::map<std::string, EdgeRoutes> TrafficBook::Routes(Time now) const {
  std::lock_guard lock(mu_);
  std::map<std::string, EdgeRoutes> out;
  for (const auto& [edge, r] : edges_) {
    if (!r.latest.routes) continue;
    const auto interval =
        std::chrono::milliseconds(std::max<int64_t>(r.latest.routes->interval_ms, 1));
    if (now - r.latest_at <= 3 * interval) out.emplace(edge, *r.latest.routes);
  }
  return out;
}

double HistogramQuantile(double q, const std::vector<double>& bounds,
                         const std::vector<uint64_t>& cumulative, uint64_t count) {
  if (count == 0 || bounds.empty()) return 0;
  const double rank = q * static_cast<double>(count);
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (static_cast<double>(cumulative[i]) >= rank) {
      const double lower = i == 0 ? 0 : bounds[i - 1];
      const double below = i == 0 ? 0 : static_cast<double>(cumulative[i - 1]);
      const double in_bucket = static_cast<double>(cumulative[i]) - below;
      if (in_bucket <= 0) return bounds[i];
      return lower + (bounds[i] - lower) * (rank - below) / in_bucket;
    }
  }
  return bounds.back();
}

}  // namespace skiff::metrics
