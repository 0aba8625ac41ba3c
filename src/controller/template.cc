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
  // Nor who owns it: moving an app to another project replaces nothing.
  x.project = y.project = {};
  return x == y;
}

bool RunsCurrentTemplate(const model::App& app, const model::Instance& instance,
                         const model::AppSpec* instance_spec) {
  if (instance.app != app.name || instance.restart_epoch != app.restart_epoch) return false;
  if (instance.revision == app.revision) return true;
  return instance_spec != nullptr && SameTemplate(*instance_spec, app.spec);
}

namespace {

const model::Deployment& Deref(const model::Deployment& d) { return d; }
const model::Deployment& Deref(const model::Deployment* d) { return *d; }
const model::Instance& Deref(const model::Instance& i) { return i; }
const model::Instance& Deref(const model::Instance* i) { return *i; }

// Summarize over vectors of objects or of pointers to them.
template <typename Deployments, typename Instances>
AppStatus SummarizeOf(const model::App& app, const Deployments& deployments,
                      const Instances& instances) {
  AppStatus status;
  status.desired = model::DesiredReplicas(app);
  for (const auto& entry : deployments) {
    const model::Deployment& d = Deref(entry);
    if (d.app == app.name && d.revision == app.revision) {
      status.state = std::string(model::ToString(d.state));
    }
  }
  if (app.deleting) status.state = "deleting";
  // Asleep is what a user needs to know first: the deployment that ran last
  // may well have been healthy.
  if (model::IsSleeping(app)) status.state = "sleeping";
  auto spec_of = [&](const model::Instance& i) -> const model::AppSpec* {
    for (const auto& entry : deployments) {
      const model::Deployment& d = Deref(entry);
      if (d.app == i.app && d.revision == i.revision) return &d.spec;
    }
    return nullptr;
  };
  for (const auto& entry : instances) {
    const model::Instance& i = Deref(entry);
    if (i.desired != model::DesiredState::kRun || i.state != model::InstanceState::kRunning ||
        !RunsCurrentTemplate(app, i, spec_of(i))) {
      continue;
    }
    ++status.running;
    if (i.health == model::Health::kHealthy) ++status.healthy;
  }
  return status;
}

}  // namespace

AppStatus Summarize(const model::App& app, const std::vector<model::Deployment>& deployments,
                    const std::vector<model::Instance>& instances) {
  return SummarizeOf(app, deployments, instances);
}

AppStatus Summarize(const model::App& app, const std::vector<const model::Deployment*>& deployments,
                    const std::vector<const model::Instance*>& instances) {
  return SummarizeOf(app, deployments, instances);
}

}  // namespace skiff::controller
