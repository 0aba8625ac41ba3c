// Benchmark: the scheduler and the reconciler on a simulated cluster, one
// thread, no I/O.
//
//   placements: 5,000 nodes (32 cores, 128 GiB, 5 zones), 1,000 apps x 150
//     replicas (100m / 128Mi each), placed one instance at a time as the
//     reconciler does for a new app's replicas; per strategy: placements a
//     second and the p99 time of one placement. Every 10th app carries the
//     constraint "zone == zN".
//   reconcile: one Compute() pass over the converged cluster (150,000
//     running instances): it must find nothing to do, in how long.
//
// Targets (issue "Many nodes"): >= 20,000 placements/s, p99 <= 200 us, a
// reconcile pass <= 100 ms. Prints figures; never fails on time (exit 1 only
// when something did not work at all).
//
//   bench_scheduler [--apps N] [--replicas N] [--nodes N]
#include "scheduler/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cluster_shape.h"
#include "controller/reconciler.h"
#include "percentile.h"

namespace {

using Clock = std::chrono::steady_clock;
using skiff::bench::MakeNodes;
using skiff::bench::MakeSpec;
using skiff::bench::Shape;
using skiff::model::PlacementStrategy;

struct PlacementFigures {
  double per_second = 0;
  double p99_us = 0;
  int unplaced = 0;
};

PlacementFigures MeasurePlacement(const Shape& shape, PlacementStrategy strategy) {
  const std::vector<skiff::model::Node> nodes = MakeNodes(shape);
  skiff::scheduler::PlacementIndex index(nodes);
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(shape.apps) * static_cast<size_t>(shape.replicas));
  PlacementFigures out;
  const auto start = Clock::now();
  for (int a = 0; a < shape.apps; ++a) {
    const skiff::model::AppSpec spec = MakeSpec(a, shape, strategy);
    skiff::scheduler::PlacementRequest request;
    request.app = spec.name;
    request.resources = spec.resources;
    request.placement = spec.placement;
    request.driver = "process";
    request.count = 1;
    for (int r = 0; r < shape.replicas; ++r) {
      const auto t0 = Clock::now();
      skiff::scheduler::Plan plan = skiff::scheduler::Place(index, request);
      index.Record(request, plan);
      request.round_robin_after = plan.round_robin_after;
      micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      if (plan.placed() != 1) ++out.unplaced;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  out.per_second = static_cast<double>(micros.size()) / seconds;
  out.p99_us = Percentile(micros, 0.99);
  return out;
}

// One reconcile pass over the converged cluster.
double MeasureReconcile(const Shape& shape, size_t* actions) {
  const skiff::Time now = skiff::Time(std::chrono::seconds(1'700'000'000));
  const skiff::store::Snapshot snapshot = skiff::bench::ConvergedSnapshot(shape, now);
  int next = 0;
  skiff::controller::ReconcilerConfig config{
      .new_id = [&](const std::string& app) { return app + "-new-" + std::to_string(next++); }};
  double best = 1e18;
  for (int run = 0; run < 3; ++run) {  // the best of three: a pass, not the allocator's warm-up
    const auto t0 = Clock::now();
    skiff::controller::Actions out = skiff::controller::Compute(snapshot, now, config);
    best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    *actions = out.size();
    if (run == 0) {
      for (size_t k = 0; k < std::min<size_t>(out.size(), 3); ++k) {
        std::printf("  unexpected: %s\n", skiff::controller::Describe(out[k]).c_str());
      }
    }
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  Shape shape;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--nodes") == 0) {
      shape.nodes = value;
    } else if (std::strcmp(argv[i], "--apps") == 0) {
      shape.apps = value;
    } else if (std::strcmp(argv[i], "--replicas") == 0) {
      shape.replicas = value;
    } else {
      std::fprintf(stderr, "usage: bench_scheduler [--nodes N] [--apps N] [--replicas N]\n");
      return 2;
    }
  }
  std::printf("scheduler: %d nodes, %d apps x %d replicas, one thread\n", shape.nodes, shape.apps,
              shape.replicas);
  std::printf("%-14s%16s%14s%12s\n", "strategy", "placements/s", "p99 us", "unplaced");
  bool ok = true;
  for (PlacementStrategy s : {PlacementStrategy::kSpread, PlacementStrategy::kBinpack,
                              PlacementStrategy::kLeastLoaded, PlacementStrategy::kRoundRobin}) {
    PlacementFigures f = MeasurePlacement(shape, s);
    std::printf("%-14s%16.0f%14.1f%12d\n", std::string(skiff::model::ToString(s)).c_str(),
                f.per_second, f.p99_us, f.unplaced);
    ok = ok && f.unplaced == 0;
  }
  std::printf("targets: >= 20000 placements/s, p99 <= 200 us\n\n");
  size_t actions = 0;
  const double ms = MeasureReconcile(shape, &actions);
  std::printf(
      "reconcile pass over %d instances (converged): %.1f ms, %zu actions (target <= 100 "
      "ms, 0 actions)\n",
      shape.apps * shape.replicas, ms, actions);
  ok = ok && actions == 0;
  return ok ? 0 : 1;
}
