#include "controller/autoscaler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "common/quantity.h"

namespace skiff::controller {
namespace {

// Where one signal stands against its target.
enum class SignalLevel { kNoData, kAbove, kWithin, kBelow };

struct SignalReading {
  std::string_view name;  // as in reasons: "rps", "p95", "cpu", "memory"
  SignalLevel level = SignalLevel::kNoData;
  int wants = 0;     // the replicas it asks for (with data)
  std::string text;  // its value against its target: "cpu 85% > 70%"
};

// A measured value fit to decide on: NaN or a negative one is no data.
std::optional<double> UsableValue(std::optional<double> v) {
  if (!v || !std::isfinite(*v) || *v < 0) return std::nullopt;
  return v;
}

// The replicas for `x`, rounded up, forgiving floating-point noise
// (2 × 70 / 70 is 2, not 3).
int CeilReplicas(double x) {
  if (!(x > 0)) return 0;
  if (x >= std::numeric_limits<int>::max()) return std::numeric_limits<int>::max();
  return static_cast<int>(std::ceil(x - 1e-9));
}

// A number as people read it: whole from 10 up, else one decimal without a
// trailing ".0" ("1900", "12", "0.5", "3").
std::string HumanNumber(double x, int decimals) {
  std::string s = fmt::format("{:.{}f}", x, decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

// `value` and `target` as HumanNumber, with more decimals when they would read
// the same ("70.4% > 70%", never "70% > 70%").
std::pair<std::string, std::string> HumanNumbers(double value, double target) {
  int decimals = std::abs(value) >= 10 ? 0 : 1;
  for (;; ++decimals) {
    std::string v = HumanNumber(value, decimals);
    std::string t = HumanNumber(target, decimals);
    if (v != t || decimals >= 3) return {std::move(v), std::move(t)};
  }
}

// A duration as people read it: "12s", "90s", "2m30s", "10m", "1h30m".
std::string HumanDuration(Duration d) {
  const int64_t ms = d.count();
  if (ms % 1000 != 0) return FormatDuration(d);
  const int64_t s = ms / 1000;
  if (s < 120) return fmt::format("{}s", s);
  if (s < 7200)
    return s % 60 != 0 ? fmt::format("{}m{}s", s / 60, s % 60) : fmt::format("{}m", s / 60);
  const int64_t m = s / 60;
  return m % 60 != 0 ? fmt::format("{}h{}m", m / 60, m % 60) : fmt::format("{}h", m / 60);
}

// What is left of a cooldown started at `since`, or nullopt when it is over.
// Rounded up to whole seconds: "1s left" rather than "0s left".
std::optional<Duration> CooldownLeft(std::optional<Time> since, Duration cooldown, Time now) {
  if (!since) return std::nullopt;
  const auto left = *since + cooldown - now;
  if (left <= left.zero()) return std::nullopt;
  // A clock that went back leaves the whole cooldown, not more.
  return std::min<Duration>(std::chrono::ceil<std::chrono::seconds>(left), cooldown);
}

// Where `value` stands against `target` under the policy's hysteresis.
SignalLevel CompareToTarget(double value, double target, const model::Autoscale& policy) {
  const double out = std::clamp(policy.scale_out_threshold, 0, 100) / 100.0;
  const double in = std::clamp(policy.scale_in_threshold, 0, 100) / 100.0;
  if (value > target * (1 + out)) return SignalLevel::kAbove;
  if (value < target * (1 - in)) return SignalLevel::kBelow;
  return SignalLevel::kWithin;
}

// "85% > 70%", "950 of 1000", "120 < 1000": the value against its target
// with the relation that decided.
std::string AgainstTarget(SignalLevel level, double value, double target, std::string_view unit) {
  auto [v, t] = HumanNumbers(value, target);
  std::string_view relation = level == SignalLevel::kAbove   ? ">"
                              : level == SignalLevel::kBelow ? "<"
                                                             : "of";
  return fmt::format("{}{} {} {}{}", v, unit, relation, t, unit);
}

// Every configured signal against its target, for an app of `current` >= 1 replicas.
std::vector<SignalReading> ReadSignals(const model::Autoscale& policy,
                                       const AutoscaleSignals& signals, int current) {
  std::vector<SignalReading> out;
  const std::optional<double> rps = UsableValue(signals.rps);
  if (policy.target_rps_per_replica > 0) {
    SignalReading r{.name = "rps"};
    if (rps) {
      const double target = double{1} * current * policy.target_rps_per_replica;
      r.level = CompareToTarget(*rps, target, policy);
      r.wants = CeilReplicas(*rps / policy.target_rps_per_replica);
      r.text = fmt::format("rps {} ({} × {})", AgainstTarget(r.level, *rps, target, ""), current,
                           policy.target_rps_per_replica);
    }
    out.push_back(std::move(r));
  }
  if (policy.max_p95_ms > 0) {
    SignalReading r{.name = "p95"};
    if (auto p95 = UsableValue(signals.p95_ms)) {
      r.level = CompareToTarget(*p95, policy.max_p95_ms, policy);
      r.wants = CeilReplicas(current * *p95 / policy.max_p95_ms);
      r.text = fmt::format("p95 {}", AgainstTarget(r.level, *p95, policy.max_p95_ms, " ms"));
    } else if (rps && *rps == 0) {
      // The edges reported, and no request came: nothing was slow.
      r.level = SignalLevel::kBelow;
      r.text = "p95 none (no requests)";
    }
    out.push_back(std::move(r));
  }
  auto percent = [&](std::string_view name, int target, std::optional<double> value) {
    if (target <= 0) return;
    SignalReading r{.name = name};
    if (auto v = UsableValue(value)) {
      r.level = CompareToTarget(*v, target, policy);
      r.wants = CeilReplicas(current * *v / target);
      r.text = fmt::format("{} {}", name, AgainstTarget(r.level, *v, target, "%"));
    }
    out.push_back(std::move(r));
  };
  percent("cpu", policy.target_cpu, signals.cpu_percent);
  percent("memory", policy.target_memory, signals.memory_percent);
  return out;
}

// The texts of the readings at `level` (all with data when nullopt), joined.
std::string ReadingTexts(const std::vector<SignalReading>& readings,
                         std::optional<SignalLevel> level) {
  std::string out;
  for (const SignalReading& r : readings) {
    if (r.level == SignalLevel::kNoData || (level && r.level != *level)) continue;
    if (!out.empty()) out += ", ";
    out += r.text;
  }
  return out;
}

int MostWanted(const std::vector<SignalReading>& readings) {
  int most = 0;
  for (const SignalReading& r : readings) {
    if (r.level != SignalLevel::kNoData) most = std::max(most, r.wants);
  }
  return most;
}

}  // namespace

AutoscaleDecision DecideReplicas(const model::Autoscale& policy, const AutoscaleSignals& signals,
                                 const AutoscaleState& state, Time now) {
  const int current = state.replicas;
  auto to = [&](int replicas, std::string reason) {
    return AutoscaleDecision{current, replicas, std::move(reason)};
  };
  auto hold = [&](std::string reason) { return to(current, std::move(reason)); };

  // A policy changed under the app: its bounds win over any cooldown.
  if (current > policy.max) return to(policy.max, fmt::format("above max {}", policy.max));
  if (current < policy.min) return to(policy.min, fmt::format("below min {}", policy.min));
  if (current <= 0) return hold("asleep at 0: a request wakes it");

  const int step = std::max(policy.max_step, 1);
  // After any change, a scale in waits for cooldown_down: a count just raised
  // is not lowered before the load it was raised for could show.
  std::optional<Time> last_scale = state.last_scale_up;
  if (state.last_scale_down && (!last_scale || *state.last_scale_down > *last_scale)) {
    last_scale = state.last_scale_down;
  }
  const auto down_left = CooldownLeft(last_scale, policy.cooldown_down, now);

  if (policy.scale_to_zero && policy.min == 0) {
    // Idle is judged on what the edges said: without a report in the
    // window (an edge cut off from the control plane may still be serving)
    // or with requests in flight, the app stays up.
    const bool heard = UsableValue(signals.rps).has_value() && signals.in_flight <= 0;
    const bool idle = heard && (signals.last_request ? now - *signals.last_request >= policy.idle
                                                     : signals.observed_for >= policy.idle);
    if (idle) {
      std::string why = fmt::format("idle for {}", HumanDuration(policy.idle));
      if (down_left)
        return hold(fmt::format("cooldown_down: {} left; {}", HumanDuration(*down_left), why));
      return to(0, std::move(why));
    }
  }

  const std::vector<SignalReading> readings = ReadSignals(policy, signals, current);
  if (readings.empty()) {
    if (policy.scale_to_zero) {
      return hold(fmt::format("no signal configured: goes to 0 only when idle for {}",
                              HumanDuration(policy.idle)));
    }
    return hold("no signal configured");
  }
  const std::string over = fmt::format(" over {}", HumanDuration(policy.window));

  if (std::any_of(readings.begin(), readings.end(),
                  [](const SignalReading& r) { return r.level == SignalLevel::kAbove; })) {
    std::string why = ReadingTexts(readings, SignalLevel::kAbove) + over;
    if (current >= policy.max) return hold(fmt::format("at max {}; {}", policy.max, why));
    if (auto left = CooldownLeft(state.last_scale_up, policy.cooldown_up, now)) {
      return hold(fmt::format("cooldown_up: {} left; {}", HumanDuration(*left), why));
    }
    const int wanted = std::max(current + 1, MostWanted(readings));
    const int next = std::min({policy.max, current + step, wanted});
    if (next < wanted) {
      why += next == policy.max ? fmt::format(" (wants {}, max {})", wanted, policy.max)
                                : fmt::format(" (wants {}, max_step {})", wanted, step);
    }
    return to(next, std::move(why));
  }

  std::string no_data;
  for (const SignalReading& r : readings) {
    if (r.level != SignalLevel::kNoData) continue;
    no_data += no_data.empty() ? "" : ", ";
    no_data += r.name;
  }
  if (!no_data.empty()) return hold(fmt::format("no data for {}{}", no_data, over));

  if (std::all_of(readings.begin(), readings.end(),
                  [](const SignalReading& r) { return r.level == SignalLevel::kBelow; })) {
    std::string why =
        "every signal below target: " + ReadingTexts(readings, SignalLevel::kBelow) + over;
    // Only idleness goes to 0; signals go down to 1 at least.
    const int floor = std::max(policy.min, 1);
    if (current <= floor) {
      return hold(policy.min == 0 && policy.scale_to_zero
                      ? fmt::format("at 1 until idle for {}; {}", HumanDuration(policy.idle), why)
                      : fmt::format("at min {}; {}", floor, why));
    }
    if (down_left)
      return hold(fmt::format("cooldown_down: {} left; {}", HumanDuration(*down_left), why));
    const int wanted = std::max(floor, MostWanted(readings));
    const int next = std::max({floor, current - step, wanted});
    if (next >= current) return hold(fmt::format("still needs {}: {}", current, why));
    if (next > wanted) why += fmt::format(" (wants {}, max_step {})", wanted, step);
    return to(next, std::move(why));
  }

  return hold("within target: " + ReadingTexts(readings, std::nullopt) + over);
}

std::string AutoscaleMessage(const AutoscaleDecision& decision) {
  if (decision.changed()) {
    return fmt::format("autoscale: {} → {}: {}", decision.current, decision.replicas,
                       decision.reason);
  }
  return fmt::format("autoscale: holds {}: {}", decision.current, decision.reason);
}

}  // namespace skiff::controller
