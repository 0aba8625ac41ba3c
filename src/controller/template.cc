#include "controller/template.h"

namespace skiff::controller {

bool SameTemplate(const model::AppSpec& a, const model::AppSpec& b) {
  model::AppSpec x = a;
  model::AppSpec y = b;
  x.replicas = y.replicas = 0;
  x.autoscale = y.autoscale = std::nullopt;
  // Where the edge serves an app and how are no part of what its instances run.
  x.domains = y.domains = {};
  x.edge = y.edge = {};
  return x == y;
}

bool RunsCurrentTemplate(const model::App& app, const model::Instance& instance,
                         const model::AppSpec* instance_spec) {
  if (instance.app != app.name || instance.restart_epoch != app.restart_epoch) return false;
  if (instance.revision == app.revision) return true;
  return instance_spec != nullptr && SameTemplate(*instance_spec, app.spec);
}

AppStatus Summarize(const model::App& app, const std::vector<model::Deployment>& deployments,
                    const std::vector<model::Instance>& instances) {
  AppStatus status;
  status.desired = app.deleting ? 0 : app.spec.replicas;
  for (const auto& d : deployments) {
    if (d.app == app.name && d.revision == app.revision) {
      status.state = std::string(model::ToString(d.state));
    }
  }
  if (app.deleting) status.state = "deleting";
  auto spec_of = [&](const model::Instance& i) -> const model::AppSpec* {
    for (const auto& d : deployments) {
      if (d.app == i.app && d.revision == i.revision) return &d.spec;
    }
    return nullptr;
  };
  for (const auto& i : instances) {
    if (i.desired != model::DesiredState::kRun || i.state != model::InstanceState::kRunning ||
        !RunsCurrentTemplate(app, i, spec_of(i))) {
      continue;
    }
    ++status.running;
    if (i.health == model::Health::kHealthy) ++status.healthy;
  }
  return status;
}

}  // namespace skiff::controller
