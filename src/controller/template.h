// What makes an instance "current" for its app, shared by the reconciler and the
// status summary so both count the same way.
#pragma once

#include <vector>

#include "controller/app_service.h"
#include "model/resources.h"

namespace skiff::controller {

// Two specs run the same instances when they differ at most in how many of them
// there are (replicas, autoscale) or in how the edge serves them (domains,
// edge): such changes must not replace running instances.
bool SameTemplate(const model::AppSpec& a, const model::AppSpec& b);

// Whether the instance runs what the app asks for now: the app's restart epoch,
// and the app's revision or one whose spec is the SameTemplate (a scale makes a
// new revision but keeps the instances). `instance_spec` is the spec of the
// instance's revision; null when unknown (then only the app's revision counts).
bool RunsCurrentTemplate(const model::App& app, const model::Instance& instance,
                         const model::AppSpec* instance_spec);

// The status block of DESIGN.md's app shape: the current deployment's state and
// counts of desired / running / healthy current instances.
AppStatus Summarize(const model::App& app, const std::vector<model::Deployment>& deployments,
                    const std::vector<model::Instance>& instances);
// The same over pointers into a snapshot (the objects are not copied).
AppStatus Summarize(const model::App& app, const std::vector<const model::Deployment*>& deployments,
                    const std::vector<const model::Instance*>& instances);

}  // namespace skiff::controller
