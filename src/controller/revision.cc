#include "controller/revision.h"

#include <algorithm>

#include "controller/template.h"

namespace skiff::controller {

bool WasHealthy(const model::Deployment& d) {
  if (d.healthy_at != Time{} || d.state == model::DeploymentState::kHealthy) return true;
  return d.state == model::DeploymentState::kSuperseded && d.progressed_at == Time{};
}

RollbackWrites MakeRollback(const model::App& app, const model::Deployment& target, Time now,
                            std::string message) {
  RollbackWrites out;
  out.app = app;
  out.app.revision = app.revision + 1;
  out.app.spec = target.spec;
  // The project says who owns the app, not how it runs: a rollback restores
  // the old revision's settings, never its owner (a deployer of the current
  // project could otherwise move the app into one it has no role in).
  out.app.spec.project = app.spec.project;
  // Secrets keep only their current values (auth/secrets.h): the revision
  // runs them, so it names their current versions, not the target's.
  out.app.spec.secret_versions = app.spec.secret_versions;
  out.app.updated_at = now;
  // As an apply: a new template reaching an app asleep wakes it (its
  // rollout is judged on instances that run), and without a policy the
  // spec's replicas count again.
  if (model::IsSleeping(app) && !SameTemplate(app.spec, out.app.spec) &&
      model::IsSleeping(out.app)) {
    out.app.autoscaled_replicas = std::max(1, out.app.spec.autoscale->min);
    out.app.woken_at = now;
  }
  if (!out.app.spec.autoscale) out.app.autoscaled_replicas.reset();
  model::Deployment& d = out.deployment;
  d.app = app.name;
  d.revision = out.app.revision;
  d.spec = out.app.spec;
  d.created_at = now;
  d.updated_at = now;
  d.message = std::move(message);
  return out;
}

}  // namespace skiff::controller
