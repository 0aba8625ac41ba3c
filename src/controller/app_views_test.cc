#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controller/app_service.h"
#include "store/store.h"
#include "store/store_test_objects.h"

namespace skiff::controller {
namespace {

using store::testing::MakeApp;
using store::testing::MakeDeployment;
using store::testing::MakeInstance;

model::Instance Running(const std::string& id, const std::string& app, int64_t revision,
                        model::Health health) {
  model::Instance i = MakeInstance(id, app, "n1");
  i.revision = revision;
  i.state = model::InstanceState::kRunning;
  i.health = health;
  return i;
}

// Verify each app's summary from one snapshot: the current deployment's state,
// desired replicas (none once deleting), and the running and healthy instances
// that run the app's current template (of its revision, or of an older one
// with the same template), never another app's; apps come by name whatever the
// snapshot's order, and an instance of an app that is gone counts nowhere.
TEST(ListAppViewsTest, SummarisesEveryAppFromOneSnapshot) {
  store::Snapshot snapshot;
  model::App web = MakeApp("web", 2);
  web.spec.replicas = 3;
  model::App api = MakeApp("api", 1);
  api.deleting = true;
  model::App idle = MakeApp("idle", 1);
  snapshot.apps = {web, idle, api};

  model::Deployment web1 = MakeDeployment("web", 1);  // the same template as web2
  web1.state = model::DeploymentState::kSuperseded;
  model::Deployment web2 = MakeDeployment("web", 2);
  web2.state = model::DeploymentState::kProgressing;
  model::Deployment api1 = MakeDeployment("api", 1);
  api1.state = model::DeploymentState::kHealthy;
  model::Deployment idle1 = MakeDeployment("idle", 1);
  idle1.state = model::DeploymentState::kFailed;
  model::Deployment other_template = MakeDeployment("web", 3);
  other_template.spec.run.command = {"sleep", "7"};
  snapshot.deployments = {web1, web2, other_template, api1, idle1};

  model::Instance stopped = Running("web-stopped", "web", 2, model::Health::kHealthy);
  stopped.state = model::InstanceState::kStopped;
  model::Instance unwanted = Running("web-unwanted", "web", 2, model::Health::kHealthy);
  unwanted.desired = model::DesiredState::kStop;
  model::Instance old_epoch = Running("web-old-epoch", "web", 2, model::Health::kHealthy);
  old_epoch.restart_epoch = 5;
  snapshot.instances = {
      Running("web-a", "web", 2, model::Health::kHealthy),
      Running("web-b", "web", 1, model::Health::kHealthy),    // older revision, same template
      Running("web-c", "web", 2, model::Health::kUnhealthy),  // runs, not healthy
      Running("web-d", "web", 3, model::Health::kHealthy),    // another template
      stopped,
      unwanted,
      old_epoch,
      Running("api-a", "api", 1, model::Health::kHealthy),
      Running("gone-a", "gone", 1, model::Health::kHealthy),
  };

  struct Want {
    std::string name;
    std::string state;
    int desired;
    int running;
    int healthy;
  };
  const std::vector<Want> want = {
      {"api", "deleting", 0, 1, 1},
      {"idle", "failed", 2, 0, 0},
      {"web", "progressing", 3, 3, 2},
  };
  const std::vector<AppView> views = ListAppViews(snapshot);
  ASSERT_EQ(views.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(views[i].app.name, want[i].name);
    EXPECT_EQ(views[i].status.state, want[i].state);
    EXPECT_EQ(views[i].status.desired, want[i].desired);
    EXPECT_EQ(views[i].status.running, want[i].running);
    EXPECT_EQ(views[i].status.healthy, want[i].healthy);
  }
}

}  // namespace
}  // namespace skiff::controller
