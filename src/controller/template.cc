#include "controller/template.h"

namespace skiff::controller {

bool SameTemplate(const model::AppSpec& a, const model::AppSpec& b) {
  model::AppSpec x = a;
  model::AppSpec y = b;
  x.replicas = y.replicas = 0;
  x.autoscale = y.autoscale = std::nullopt;
  return x == y;
}

bool IsCurrent(const model::App& app, const model::Instance& instance) {
  return instance.app == app.name && instance.revision == app.revision &&
         instance.restart_epoch == app.restart_epoch &&
         instance.desired == model::DesiredState::kRun;
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
  for (const auto& i : instances) {
    if (!IsCurrent(app, i) || i.state != model::InstanceState::kRunning) continue;
    ++status.running;
    if (i.health == model::Health::kHealthy) ++status.healthy;
  }
  return status;
}

}  // namespace skiff::controller
