// Registry: counters, gauges, fixed-bucket histograms and summaries with labels, rendered
// in the Prometheus text exposition format 0.0.4 for GET /metrics.
//
// A metric family is registered once (name, help, label names) and hands out one
// series per tuple of label values. Families live as long as the registry, and
// series too unless removed (Family::Remove, RetainOnly: for families that
// mirror state kept elsewhere, whose series of things gone must disappear), so
// the pointers and references it returns stay valid; hot paths keep them
// instead of looking them up per request.
//
// Thread-safety: everything may be called from any thread. Updating a series is
// lock-free (counters, gauges) or takes a short per-series lock (histograms).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace skiff::metrics {

// Label values, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

class Counter {
 public:
  // REQUIRES: by >= 0 (a counter only goes up; a negative step is ignored).
  void Inc(double by = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // REQUIRES: bounds strictly increasing and finite (+Inf is implicit).
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then one more for +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  // A consistent copy: count == cumulative.back().
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // GUARDED_BY(mu_); per bucket, not cumulative; +Inf last
  double sum_ = 0;                // GUARDED_BY(mu_)
};

// A summary whose quantiles are computed elsewhere (over a window the owner
// chooses, e.g. the last report interval) and set whole, with the cumulative
// sum and count of what was observed, so it renders as a Prometheus summary
// (`quantile` label, `_sum`, `_count`) rather than a gauge posing as one.
class Summary {
 public:
  struct Snapshot {
    std::vector<std::pair<double, double>> quantiles;  // (q in [0, 1], value), in order of q
    double sum = 0;
    uint64_t count = 0;
  };
  // REQUIRES: the quantiles' q increase and lie in [0, 1] (checked).
  void Set(Snapshot snapshot);
  Snapshot Read() const;

 private:
  mutable std::mutex mu_;
  Snapshot value_;  // GUARDED_BY(mu_)
};

// The usual latency buckets, in seconds (those of the Prometheus client libraries).
std::vector<double> DefaultLatencyBuckets();

// One named metric and its series.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The series for these label values, created on first use.
  // REQUIRES: values.size() == the number of label names (checked).
  T& With(const LabelValues& values = {});

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Removes the series of these label values (none: nothing happens). A
  // reference With() returned for it dangles from then on: only for families
  // whose series nobody holds (those a collect hook refreshes).
  void Remove(const LabelValues& values);
  // Removes every series whose label values are not in `keep`, in one step
  // (a concurrent render sees the series before or after, never a gap).
  // The same caveat as Remove.
  void RetainOnly(const std::set<LabelValues>& keep);

  // Calls fn(values, series) for every series, ordered by label values.
  void ForEach(const std::function<void(const LabelValues&, const T&)>& fn) const;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<T>> series_;  // GUARDED_BY(mu_)
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;
using SummaryFamily = Family<Summary>;

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Register a family. REQUIRES (checked): a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)
  // not registered before, valid label names (not "le" for histograms, not
  // "quantile" for summaries).
  // The returned family lives as long as the registry.
  CounterFamily* AddCounter(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names = {});
  GaugeFamily* AddGauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names = {});
  HistogramFamily* AddHistogram(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names, std::vector<double> bounds);
  SummaryFamily* AddSummary(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names = {});

  // Registers a function run at the start of every Render(), to refresh gauges
  // that mirror state kept elsewhere (app counts, store revision). It runs on the
  // rendering thread and must not call Render().
  void AddCollectHook(std::function<void()> hook);

  // The text exposition (format 0.0.4) of every family, ordered by name.
  // Content-Type: kContentType.
  std::string Render() const;

  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Entry;
  void Insert(const std::string& name, std::unique_ptr<Entry> entry);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> families_;  // GUARDED_BY(mu_)
  std::vector<std::function<void()>> hooks_;                // GUARDED_BY(mu_)
  mutable std::mutex hooks_run_mu_;                         // held while hooks run
};

// Exposition helpers, exposed for tests.
// A sample value: "1", "0.25", "+Inf", "-Inf", "NaN" (shortest round-trip form).
std::string FormatValue(double v);
// Label value escaping: backslash, double quote and newline.
std::string EscapeLabelValue(const std::string& v);
// HELP text escaping: backslash and newline.
std::string EscapeHelp(const std::string& v);

// ---- implementation of the template ----

void CheckLabelCount(size_t expected, size_t got);

template <typename T>
T& Family<T>::With(const LabelValues& values) {
  CheckLabelCount(label_names_.size(), values.size());
  std::lock_guard lock(mu_);
  auto& slot = series_[values];
  if (!slot) slot = make_();
  return *slot;
}

template <typename T>
void Family<T>::Remove(const LabelValues& values) {
  std::lock_guard lock(mu_);
  series_.erase(values);
}

template <typename T>
void Family<T>::RetainOnly(const std::set<LabelValues>& keep) {
  std::lock_guard lock(mu_);
  std::erase_if(series_, [&](const auto& entry) { return keep.count(entry.first) == 0; });
}

template <typename T>
void Family<T>::ForEach(const std::function<void(const LabelValues&, const T&)>& fn) const {
  std::lock_guard lock(mu_);
  for (const auto& [values, series] : series_) fn(values, *series);
}

}  // namespace skiff::metrics
