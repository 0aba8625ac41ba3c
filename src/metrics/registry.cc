#include "metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <variant>

#include "common/check.h"

namespace skiff::metrics {
namespace {

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

bool ValidMetricName(const std::string& name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsNameChar);
}

// Label names are metric names without ':', and "__" is reserved by Prometheus.
bool ValidLabelName(const std::string& name) {
  if (!ValidMetricName(name) || name.find(':') != std::string::npos) return false;
  return name.rfind("__", 0) != 0;
}

// `reserved`: the label the type's exposition adds itself ("le", "quantile"), if any.
void CheckLabelNames(const std::vector<std::string>& names, const char* reserved = nullptr) {
  for (size_t i = 0; i < names.size(); ++i) {
    SKIFF_CHECK(ValidLabelName(names[i]));
    SKIFF_CHECK(reserved == nullptr || names[i] != reserved);
    for (size_t j = 0; j < i; ++j) SKIFF_CHECK(names[i] != names[j]);
  }
}

// `{a="x",b="y"}`, with an optional extra label last (le for buckets, quantile for summaries); ""
// when none.
std::string LabelSet(const std::vector<std::string>& names, const LabelValues& values,
                     const std::string& extra_name = {}, const std::string& extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name + "=\"" + EscapeLabelValue(extra_value) + "\"";
  }
  out += '}';
  return out;
}

void Header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " " + EscapeHelp(help) + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

}  // namespace

void CheckLabelCount(size_t expected, size_t got) { SKIFF_CHECK(expected == got); }

void Counter::Inc(double by) {
  if (by < 0) return;
  value_.fetch_add(by, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    SKIFF_CHECK(std::isfinite(bounds_[i]));
    SKIFF_CHECK(i == 0 || bounds_[i - 1] < bounds_[i]);
  }
}

void Histogram::Observe(double v) {
  // Buckets are "less than or equal": v lands in the first bound >= v.
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  std::lock_guard lock(mu_);
  ++counts_[i];
  sum_ += v;
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard lock(mu_);
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_;
  return s;
}

void Summary::Set(Snapshot snapshot) {
  for (size_t i = 0; i < snapshot.quantiles.size(); ++i) {
    const double q = snapshot.quantiles[i].first;
    SKIFF_CHECK(q >= 0 && q <= 1);
    SKIFF_CHECK(i == 0 || snapshot.quantiles[i - 1].first < q);
  }
  std::lock_guard lock(mu_);
  value_ = std::move(snapshot);
}

Summary::Snapshot Summary::Read() const {
  std::lock_guard lock(mu_);
  return value_;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  SKIFF_CHECK(ec == std::errc());
  return std::string(buf, end);
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

struct Registry::Entry {
  std::variant<std::unique_ptr<CounterFamily>, std::unique_ptr<GaugeFamily>,
               std::unique_ptr<HistogramFamily>, std::unique_ptr<SummaryFamily>>
      family;
};

Registry::Registry() = default;
Registry::~Registry() = default;

void Registry::Insert(const std::string& name, std::unique_ptr<Entry> entry) {
  SKIFF_CHECK(ValidMetricName(name));
  std::lock_guard lock(mu_);
  SKIFF_CHECK(families_.count(name) == 0);
  families_[name] = std::move(entry);
}

CounterFamily* Registry::AddCounter(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names) {
  CheckLabelNames(label_names);
  auto family = std::make_unique<CounterFamily>(name, help, std::move(label_names),
                                                [] { return std::make_unique<Counter>(); });
  CounterFamily* raw = family.get();
  Insert(name, std::make_unique<Entry>(Entry{std::move(family)}));
  return raw;
}

GaugeFamily* Registry::AddGauge(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names) {
  CheckLabelNames(label_names);
  auto family = std::make_unique<GaugeFamily>(name, help, std::move(label_names),
                                              [] { return std::make_unique<Gauge>(); });
  GaugeFamily* raw = family.get();
  Insert(name, std::make_unique<Entry>(Entry{std::move(family)}));
  return raw;
}

HistogramFamily* Registry::AddHistogram(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  CheckLabelNames(label_names, "le");
  Histogram check(bounds);  // validates the bounds now, not at first use
  auto family = std::make_unique<HistogramFamily>(
      name, help, std::move(label_names), [bounds] { return std::make_unique<Histogram>(bounds); });
  HistogramFamily* raw = family.get();
  Insert(name, std::make_unique<Entry>(Entry{std::move(family)}));
  return raw;
}

SummaryFamily* Registry::AddSummary(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names) {
  CheckLabelNames(label_names, "quantile");
  auto family = std::make_unique<SummaryFamily>(name, help, std::move(label_names),
                                                [] { return std::make_unique<Summary>(); });
  SummaryFamily* raw = family.get();
  Insert(name, std::make_unique<Entry>(Entry{std::move(family)}));
  return raw;
}

void Registry::AddCollectHook(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::Render() const {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard lock(mu_);
    hooks = hooks_;
  }
  // Hooks update series through the families' own locks; running them without
  // the registry lock lets them register families lazily if they must. One
  // render's hooks at a time: a hook may drop series (Family::RetainOnly)
  // that another render's run of it still holds, or read and raise a counter.
  {
    std::lock_guard running(hooks_run_mu_);
    for (const auto& hook : hooks) hook();
  }

  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, entry] : families_) {
    if (auto* c = std::get_if<std::unique_ptr<CounterFamily>>(&entry->family)) {
      const CounterFamily& f = **c;
      Header(out, name, f.help(), "counter");
      f.ForEach([&](const LabelValues& values, const Counter& series) {
        out += name + LabelSet(f.label_names(), values) + " " + FormatValue(series.Value()) + "\n";
      });
    } else if (auto* g = std::get_if<std::unique_ptr<GaugeFamily>>(&entry->family)) {
      const GaugeFamily& f = **g;
      Header(out, name, f.help(), "gauge");
      f.ForEach([&](const LabelValues& values, const Gauge& series) {
        out += name + LabelSet(f.label_names(), values) + " " + FormatValue(series.Value()) + "\n";
      });
    } else if (auto* q = std::get_if<std::unique_ptr<SummaryFamily>>(&entry->family)) {
      const SummaryFamily& f = **q;
      Header(out, name, f.help(), "summary");
      f.ForEach([&](const LabelValues& values, const Summary& series) {
        Summary::Snapshot s = series.Read();
        for (const auto& [quantile, value] : s.quantiles) {
          out += name + LabelSet(f.label_names(), values, "quantile", FormatValue(quantile)) + " " +
                 FormatValue(value) + "\n";
        }
        std::string labels = LabelSet(f.label_names(), values);
        out += name + "_sum" + labels + " " + FormatValue(s.sum) + "\n";
        out += name + "_count" + labels + " " + std::to_string(s.count) + "\n";
      });
    } else {
      const HistogramFamily& f = *std::get<std::unique_ptr<HistogramFamily>>(entry->family);
      Header(out, name, f.help(), "histogram");
      f.ForEach([&](const LabelValues& values, const Histogram& series) {
        Histogram::Snapshot s = series.Read();
        for (size_t i = 0; i <= s.bounds.size(); ++i) {
          std::string le = i < s.bounds.size() ? FormatValue(s.bounds[i]) : "+Inf";
          out += name + "_bucket" + LabelSet(f.label_names(), values, "le", le) + " " +
                 std::to_string(s.cumulative[i]) + "\n";
        }
        std::string labels = LabelSet(f.label_names(), values);
        out += name + "_sum" + labels + " " + FormatValue(s.sum) + "\n";
        out += name + "_count" + labels + " " + std::to_string(s.count) + "\n";
      });
    }
  }
  return out;
}

}  // namespace skiff::metrics
