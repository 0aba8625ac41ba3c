// The simulated cluster the scheduler and store benchmarks share: its shape,
// its nodes, its apps' specs, and the converged state a store would hold once
// every replica runs healthy.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "model/resources.h"
#include "store/store.h"

namespace skiff::bench {

struct Shape {
  int nodes = 5000;
  int apps = 1000;
  int replicas = 150;
};

inline std::vector<model::Node> MakeNodes(const Shape& shape) {
  std::vector<model::Node> nodes;
  nodes.reserve(static_cast<size_t>(shape.nodes));
  for (int i = 0; i < shape.nodes; ++i) {
    model::Node n;
    n.id = "node-" + std::to_string(i);
    n.name = n.id;
    n.status = model::NodeStatus::kReady;
    n.drivers = {"process"};
    n.capacity.cpu_millis = 32'000;
    n.capacity.memory_bytes = int64_t{128} << 30;
    n.labels = {{"zone", "z" + std::to_string(i % 5)}};
    nodes.push_back(std::move(n));
  }
  return nodes;
}

inline model::AppSpec MakeSpec(int app, const Shape& shape, model::PlacementStrategy strategy) {
  model::AppSpec spec;
  spec.name = "app-" + std::to_string(app);
  spec.run.command = {"serve"};
  spec.replicas = shape.replicas;
  spec.resources.cpu_millis = 100;
  spec.resources.memory_bytes = int64_t{128} << 20;
  spec.placement.strategy = strategy;
  if (app % 10 == 0) {
    model::Constraint c;
    c.key = "zone";
    c.op = model::ConstraintOp::kEquals;
    c.value = "z" + std::to_string(app % 5);
    spec.placement.constraints.push_back(c);
  }
  return spec;
}

// The converged cluster as the store would hold it: every app's one
// deployment healthy, every replica running and healthy on a node, as of `now`.
inline store::Snapshot ConvergedSnapshot(const Shape& shape, Time now) {
  store::Snapshot snapshot;
  snapshot.nodes = MakeNodes(shape);
  int node = 0;
  for (int a = 0; a < shape.apps; ++a) {
    model::App app;
    app.spec = MakeSpec(a, shape, model::PlacementStrategy::kSpread);
    app.spec.placement.constraints.clear();
    app.name = app.spec.name;
    app.revision = 1;
    model::Deployment d;
    d.app = app.name;
    d.revision = 1;
    d.spec = app.spec;
    d.state = model::DeploymentState::kHealthy;
    d.message = std::to_string(shape.replicas) + "/" + std::to_string(shape.replicas) + " healthy";
    d.healthy = shape.replicas;
    d.healthy_at = now;
    d.progressed_at = now;
    snapshot.deployments.push_back(d);
    for (int r = 0; r < shape.replicas; ++r) {
      model::Instance i;
      i.id = app.name + "-" + std::to_string(r);
      i.app = app.name;
      i.revision = 1;
      i.node = snapshot.nodes[static_cast<size_t>(node++ % shape.nodes)].id;
      i.desired = model::DesiredState::kRun;
      i.state = model::InstanceState::kRunning;
      i.health = model::Health::kHealthy;
      i.address = "10.0.0.1:" + std::to_string(20000 + r);
      i.created_at = now;
      i.healthy_since = now;
      snapshot.instances.push_back(std::move(i));
    }
    snapshot.apps.push_back(std::move(app));
  }
  return snapshot;
}

}  // namespace skiff::bench
