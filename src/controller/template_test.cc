#include "controller/template.h"

#include <gtest/gtest.h>

namespace skiff::controller {
namespace {

// Verify that what does not change what an instance runs (replicas,
// autoscaling, domains, the edge's policy, the project) leaves the template
// the same, and that what does (the environment) does not.
TEST(TemplateTest, OnlyWhatInstancesRunCounts) {
  model::AppSpec a;
  a.name = "web";
  a.run.command = {"sleep", "1"};
  model::AppSpec b = a;
  b.replicas = 7;
  b.domains = {"web.test"};
  b.project = "shop";
  EXPECT_TRUE(SameTemplate(a, b));
  b.env["GREETING"] = "hi";
  EXPECT_FALSE(SameTemplate(a, b));
}

}  // namespace
}  // namespace skiff::controller
