// The autoscaler's signals (controller/autoscaler.h) from the leader's live
// metrics (metrics::LiveSeries::Window): what the edges and agents reported
// for an app over its policy's window.
#pragma once

#include "controller/autoscaler.h"
#include "metrics/live_series.h"
#include "model/spec.h"

namespace skiff::controller {

// Without an edge's report in the window there is no rps, p95 or idleness
// to judge (no data: hold); p95 without requests is left out (the rule
// counts it as met when the edges reported zero requests). cpu and memory
// are percent of the spec's reservation, from the instances sampled in the
// window (none: no data). The in-flight count keeps a busy app awake.
AutoscaleSignals SignalsFromWindow(const metrics::AppWindow& window, const model::AppSpec& spec);

}  // namespace skiff::controller
