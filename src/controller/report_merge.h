// How an agent's report on an instance changes the stored instance, and which
// of its transitions become events: a pure function, so that NodeService (the
// control plane) and the tests' FakeControlPlane merge reports the same way.
#pragma once

#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "model/resources.h"
#include "protocol/node.h"

namespace skiff::controller {

struct MergedReport {
  // False when the report is for an older generation than the stored one (the
  // agent acted on a start the controller has since replaced): it is ignored,
  // `instance` is the stored one unchanged and there are no events.
  bool applied = false;
  model::Instance instance;
  std::vector<model::Event> events;  // in order, each stamped `now`
};

// Merges `report` into `stored` as of `now`: the report's set fields replace
// the stored ones; running_generation rises to the report's generation;
// updated_at becomes now. A change of state to running, failed or stopped is an
// event ("instance.started", "instance.failed", "instance.stopped"); failed and
// stopped clear the health, and failed counts a crash (or starts a new count
// after a run of kCrashCountResetAfter). A reported change of health to healthy
// or unhealthy is an event too, and healthy_since is stamped when the health
// turns healthy and cleared while it is not.
// Errors: kFailedPrecondition when the report's node is not the instance's.
// REQUIRES: report.instance_id == stored.id.
Result<MergedReport> MergeReport(const model::Instance& stored,
                                 const protocol::InstanceReport& report, Time now);

}  // namespace skiff::controller
