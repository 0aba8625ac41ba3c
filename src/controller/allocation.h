// What placed instances hold on their nodes: one rule for the scheduler's view
// (the reconciler) and for what the API shows as a node's `allocated`.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "model/resources.h"
#include "store/store.h"

namespace skiff::controller {

// Calls fn(instance, resources) for every instance that holds resources on its
// node: placed, and wanted or possibly still alive. The resources are those of
// the instance's revision (the app's current spec when that revision is gone).
void ForEachReservation(
    const store::Snapshot& snapshot,
    const std::function<void(const model::Instance&, const model::Resources&)>& fn);

// The sum of the reservations per node id.
std::map<std::string, model::Resources> AllocatedByNode(const store::Snapshot& snapshot);

}  // namespace skiff::controller
