// The per-instance series of GET /metrics: the latest resource sample the
// server holds of each live instance (cpu, working set, memory limit) and
// every stored instance's restarts, labelled {app, instance, node}. A collect
// hook refreshes them on each scrape; the series of instances gone (no longer
// stored, no longer running, no sample any more) are removed, so Prometheus
// sees them end rather than read stale figures.
#pragma once

#include "controller/node_service.h"
#include "metrics/registry.h"
#include "store/shared_snapshot_cache.h"

namespace skiff::api {

// Registers skiff_instance_cpu_millicores, skiff_instance_memory_working_set_bytes,
// skiff_instance_memory_limit_bytes, skiff_instance_memory_reserved_bytes,
// skiff_instance_cpu_reserved_millicores and skiff_instance_restarts_total.
// REQUIRES: all three outlive the registry's renders.
void AddInstanceMetrics(metrics::Registry* registry, store::SharedSnapshotCache* snapshots,
                        controller::NodeService* nodes);

}  // namespace skiff::api
