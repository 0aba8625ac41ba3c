#include "api/instance_metrics.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "model/resources.h"

namespace skiff::api {

void AddInstanceMetrics(metrics::Registry* registry, store::SharedSnapshotCache* snapshots,
                        controller::NodeService* nodes) {
  const std::vector<std::string> labels = {"app", "instance_id", "node"};
  metrics::GaugeFamily* cpu = registry->AddGauge(
      "skiff_instance_cpu_millicores",
      "The instance's cpu use averaged over its node's last sample interval, in millicores "
      "(1000 = one core busy).",
      labels);
  metrics::GaugeFamily* working_set = registry->AddGauge(
      "skiff_instance_memory_working_set_bytes",
      "The instance's memory working set at its node's last sample: usage without inactive "
      "file pages (resident memory where it runs in no cgroup).",
      labels);
  metrics::GaugeFamily* limit = registry->AddGauge(
      "skiff_instance_memory_limit_bytes",
      "The memory limit the kernel enforces on the instance; 0 when none is.", labels);
  metrics::GaugeFamily* cpu_reserved = registry->AddGauge(
      "skiff_instance_cpu_reserved_millicores",
      "The cpu the instance's spec reserves (resources.cpu), in millicores; 0 when none.", labels);
  metrics::GaugeFamily* memory_reserved = registry->AddGauge(
      "skiff_instance_memory_reserved_bytes",
      "The memory the instance's spec reserves (resources.memory); 0 when none.", labels);
  metrics::CounterFamily* restarts = registry->AddCounter(
      "skiff_instance_restarts_total",
      "Times the instance's task was started again (after a crash, or `skiff restart` of "
      "its generation), while the instance is stored.",
      labels);
  registry->AddCollectHook([=] {
    struct InstanceRow {
      metrics::LabelValues labels;
      bool live = false;
      int restarts = 0;
    };
    auto rows = snapshots->Read([](const store::Snapshot& snapshot) {
      std::map<std::string, InstanceRow> out;
      for (const model::Instance& i : snapshot.instances) {
        out[i.id] = InstanceRow{{i.app, i.id, i.node}, model::IsLive(i.state), i.restarts};
      }
      return out;
    });
    // Unreadable state: the series keep their last values (skiff_store_up says so).
    if (!rows) return;
    const std::map<std::string, model::ResourceSample> samples = nodes->LatestSamples();
    std::set<metrics::LabelValues> sampled;
    std::set<metrics::LabelValues> stored;
    for (const auto& [id, row] : *rows) {
      stored.insert(row.labels);
      metrics::Counter& counter = restarts->With(row.labels);
      // Mirrors a count that only grows while the instance is stored.
      if (row.restarts > counter.Value()) counter.Inc(row.restarts - counter.Value());
      auto sample = samples.find(id);
      if (!row.live || sample == samples.end()) continue;
      const model::ResourceSample& s = sample->second;
      sampled.insert(row.labels);
      cpu->With(row.labels).Set(static_cast<double>(s.cpu_millis));
      working_set->With(row.labels).Set(static_cast<double>(s.memory_bytes));
      limit->With(row.labels).Set(static_cast<double>(s.memory_limit_bytes));
      cpu_reserved->With(row.labels).Set(static_cast<double>(s.cpu_reserved_millis));
      memory_reserved->With(row.labels).Set(static_cast<double>(s.memory_reserved_bytes));
    }
    restarts->RetainOnly(stored);
    for (metrics::GaugeFamily* family : {cpu, working_set, limit, cpu_reserved, memory_reserved}) {
      family->RetainOnly(sampled);
    }
  });
}

}  // namespace skiff::api
