// The autoscaler's policy: a pure function from an app's autoscale policy
// (model::Autoscale), what was measured over the policy's window and when the
// app last scaled, to the replica count it should be set to and why. The loop
// that gathers the signals, calls it and writes the count is elsewhere;
// docs/autoscaling.md tells the rule with a worked example.
//
// The rule, in the order it is applied:
//  1. A count outside [min, max] is brought inside ("below min 2").
//  2. At 0 the app is asleep and stays so: waking is done on a request, by
//     the edge and the loop, not here.
//  3. With scale_to_zero (and min 0), no request for `idle` goes to 0
//     ("idle for 10m"), after cooldown_down.
//  4. Out when ANY configured signal is above its target by more than
//     scale_out_threshold percent: to the most any signal asks for (at least
//     one more), at most max_step more and at most max; not within
//     cooldown_up of the last scale out.
//  5. A configured signal without data holds the count ("no data for cpu"):
//     nothing may scale in on what was not measured. A p95 without data
//     while the edges reported zero requests is not missing: nothing was
//     slow, so it counts as below its target.
//  6. In when EVERY configured signal is below its target by more than
//     scale_in_threshold percent: to the most any signal asks for, at most
//     max_step fewer, never under min nor under 1 (only idleness goes to 0);
//     not within cooldown_down of the last scale, up or down.
//  7. Otherwise the count holds.
// A signal asks for, as Kubernetes' HPA: rps ceil(rps / target_rps_per_replica);
// p95 ceil(replicas × p95 / max_p95_ms); cpu and memory
// ceil(replicas × percent / target).
#pragma once

#include <optional>
#include <string>

#include "common/clock.h"
#include "model/spec.h"

namespace skiff::controller {

// What was measured for one app, averaged over its policy's window.
struct AutoscaleSignals {
  // Requests a second, summed over the edges; nullopt: no edge reported in
  // the window (no data, unlike 0: edges reported and there were no requests).
  std::optional<double> rps;
  // The app's p95 latency at the edges, from their merged histograms, in ms;
  // nullopt when there is no data (no request answered in the window).
  std::optional<double> p95_ms;
  // Mean over the app's instances, in percent of the instance's reservation
  // (resources.cpu, resources.memory); nullopt: no samples in the window.
  std::optional<double> cpu_percent;
  std::optional<double> memory_percent;
  // The wall time of the app's last request any edge saw; nullopt: none since
  // the server started collecting.
  std::optional<Time> last_request;
  // How long the server has been collecting for the app: without a request
  // seen, it is idle only once this is at least the policy's `idle`.
  Duration observed_for{0};
  // Requests in flight at the edges at the window's end: an app serving a
  // long request (a stream, a long poll) is not idle.
  int64_t in_flight = 0;
};

// Where the app stands.
struct AutoscaleState {
  int replicas = 0;  // the count it is set to run (its spec's replicas), not how many run
  std::optional<Time> last_scale_up;    // the last change that raised the count
  std::optional<Time> last_scale_down;  // the last change that lowered it
};

struct AutoscaleDecision {
  int current = 0;   // AutoscaleState::replicas it was decided from
  int replicas = 0;  // the count to set; == current when it holds
  // Why, for people: "p95 310 ms > 250 ms over 60s", "cooldown_up: 12s left;
  // …", "no data for cpu over 60s". AutoscaleMessage adds the counts.
  std::string reason;
  bool changed() const { return replicas != current; }
  friend bool operator==(const AutoscaleDecision&, const AutoscaleDecision&) = default;
};

// The decision for one app at `now` (wall time, as the signals' times). Pure:
// same values in, same decision out. Robust to a policy that validation would
// refuse (a stored one from an older version): no signal at all holds,
// max_step < 1 counts as 1, thresholds are clamped to 0-100.
AutoscaleDecision DecideReplicas(const model::Autoscale& policy, const AutoscaleSignals& signals,
                                 const AutoscaleState& state, Time now);

// The one wording of a decision for events and logs:
//   "autoscale: 2 → 4: p95 310 ms > 250 ms over 60s"
//   "autoscale: holds 4: cooldown_up: 12s left; rps 1900 > 1000 (2 × 500) over 60s"
std::string AutoscaleMessage(const AutoscaleDecision& decision);

}  // namespace skiff::controller
