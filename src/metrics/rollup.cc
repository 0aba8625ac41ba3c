#include "metrics/rollup.h"

#include <boost/json.hpp>

namespace skiff::metrics {
namespace {

namespace json = boost::json;

constexpr const char* kRollupClasses[6] = {"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"};

json::object FiguresJson(const ResourceFigures& f) {
  json::object out;
  ForEachResourceField(
      [&](const char* name, auto, double ResourceFigures::*member) { out[name] = f.*member; });
  return out;
}

double RollupNumber(const json::value* v) {
  if (v == nullptr) return 0;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return 0;
}

uint64_t RollupCount(const json::value* v) {
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  return 0;
}

ResourceFigures FiguresFromJson(const json::value* v) {
  ResourceFigures out;
  const json::object* obj = v != nullptr ? v->if_object() : nullptr;
  if (obj == nullptr) return out;
  // A field this build does not know is ignored; one it knows and the row
  // lacks (an older server's) reads 0.
  ForEachResourceField([&](const char* name, auto, double ResourceFigures::*member) {
    out.*member = RollupNumber(obj->if_contains(name));
  });
  return out;
}

std::string EncodeApp(const AppMinute& m) {
  json::object requests;
  for (int c = 1; c <= 5; ++c) requests[kRollupClasses[c]] = m.by_class[c];
  return json::serialize(json::object{
      {"traffic", m.has_traffic},
      {"requests", std::move(requests)},
      {"bytes", m.bytes},
      {"latency",
       json::object{{"bounds", json::array(m.latency.bounds.begin(), m.latency.bounds.end())},
                    {"counts", json::array(m.latency.counts.begin(), m.latency.counts.end())}}},
      {"in_flight_max", m.in_flight_max},
      {"instances", m.instances},
      {"mean", FiguresJson(m.resources_mean)},
      {"max", FiguresJson(m.resources_max)},
  });
}

std::string EncodeInstance(const InstanceMinute& m) {
  return json::serialize(json::object{
      {"samples", m.samples}, {"mean", FiguresJson(m.mean)}, {"max", FiguresJson(m.max)}});
}

Result<json::object> DecodeObject(const std::string& data) {
  boost::system::error_code ec;
  json::value v = json::parse(data, ec);
  if (ec || !v.is_object()) return InvalidArgument("metrics row: not a JSON object");
  return std::move(v.as_object());
}

Result<AppMinute> DecodeApp(const store::MetricsRow& row) {
  SKIFF_ASSIGN_OR_RETURN(json::object o, DecodeObject(row.data));
  AppMinute m;
  m.minute = row.minute;
  if (const json::value* t = o.if_contains("traffic"); t != nullptr && t->is_bool()) {
    m.has_traffic = t->get_bool();
  }
  if (const json::value* r = o.if_contains("requests"); r != nullptr && r->is_object()) {
    for (int c = 1; c <= 5; ++c)
      m.by_class[c] = RollupCount(r->get_object().if_contains(kRollupClasses[c]));
  }
  m.bytes = RollupCount(o.if_contains("bytes"));
  if (const json::value* l = o.if_contains("latency"); l != nullptr && l->is_object()) {
    const json::value* b = l->get_object().if_contains("bounds");
    const json::value* c = l->get_object().if_contains("counts");
    if (b != nullptr && c != nullptr && b->is_array() && c->is_array()) {
      for (const json::value& x : b->get_array()) m.latency.bounds.push_back(RollupNumber(&x));
      for (const json::value& x : c->get_array()) m.latency.counts.push_back(RollupCount(&x));
    }
    if (m.latency.counts.size() != m.latency.bounds.size() + 1) m.latency = LatencyHistogram{};
  }
  m.in_flight_max = static_cast<int64_t>(RollupNumber(o.if_contains("in_flight_max")));
  m.instances = static_cast<int>(RollupNumber(o.if_contains("instances")));
  m.resources_mean = FiguresFromJson(o.if_contains("mean"));
  m.resources_max = FiguresFromJson(o.if_contains("max"));
  return m;
}

Result<InstanceMinute> DecodeInstance(const store::MetricsRow& row) {
  SKIFF_ASSIGN_OR_RETURN(json::object o, DecodeObject(row.data));
  InstanceMinute m;
  m.minute = row.minute;
  m.instance = row.instance;
  m.samples = static_cast<int>(RollupNumber(o.if_contains("samples")));
  m.mean = FiguresFromJson(o.if_contains("mean"));
  m.max = FiguresFromJson(o.if_contains("max"));
  return m;
}

}  // namespace

uint64_t AppMinute::requests() const {
  uint64_t n = 0;
  for (int c = 1; c <= 5; ++c) n += by_class[c];
  return n;
}

std::vector<store::MetricsRow> ToRows(const std::map<std::string, AppRollup>& rollups) {
  std::vector<store::MetricsRow> rows;
  for (const auto& [app, r] : rollups) {
    rows.push_back(store::MetricsRow{
        .app = app, .instance = "", .minute = r.app.minute, .data = EncodeApp(r.app)});
    for (const InstanceMinute& i : r.instances) {
      rows.push_back(store::MetricsRow{
          .app = app, .instance = i.instance, .minute = i.minute, .data = EncodeInstance(i)});
    }
  }
  return rows;
}

AppHistory FromRows(const std::vector<store::MetricsRow>& rows) {
  AppHistory out;
  for (const store::MetricsRow& row : rows) {
    if (row.instance.empty()) {
      auto m = DecodeApp(row);
      if (m) {
        out.minutes.push_back(std::move(*m));
      } else {
        ++out.skipped;
      }
    } else {
      auto m = DecodeInstance(row);
      if (m) {
        out.instances[row.instance].push_back(std::move(*m));
      } else {
        ++out.skipped;
      }
    }
  }
  return out;
}

Time MinuteOf(Time t) { return std::chrono::floor<std::chrono::minutes>(t); }

}  // namespace skiff::metrics
