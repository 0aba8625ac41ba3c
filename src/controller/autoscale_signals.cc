#include "controller/autoscale_signals.h"

namespace skiff::controller {

AutoscaleSignals SignalsFromWindow(const metrics::AppWindow& window, const model::AppSpec& spec) {
  AutoscaleSignals s;
  if (window.has_traffic) {
    s.rps = window.requests_per_second;
    if (window.requests > 0) s.p95_ms = window.p95_ms;
    s.in_flight = window.in_flight;
  }
  if (window.instances_sampled > 0) {
    if (spec.resources.cpu_millis > 0) {
      s.cpu_percent = 100.0 * window.mean_per_instance.cpu_millis /
                      static_cast<double>(spec.resources.cpu_millis);
    }
    if (spec.resources.memory_bytes > 0) {
      s.memory_percent = 100.0 * window.mean_per_instance.memory_bytes /
                         static_cast<double>(spec.resources.memory_bytes);
    }
  }
  s.last_request = window.last_request;
  s.observed_for = window.collected;
  return s;
}

}  // namespace skiff::controller
