#include "scheduler/scheduler.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

constexpr int64_t kMi = 1 << 20;

model::Node MakeNode(std::string id, int64_t cpu = 0, int64_t memory = 0,
                     std::map<std::string, std::string> labels = {},
                     model::NodeStatus status = model::NodeStatus::kReady) {
  model::Node node;
  node.id = id;
  node.name = "name-" + id;
  node.labels = std::move(labels);
  node.capacity = {cpu, memory};
  node.status = status;
  return node;
}

// What each test instance reserves, by instance id (read by TestResourcesOf).
std::map<std::string, model::Resources>& Reservations() {
  static std::map<std::string, model::Resources> reservations;
  return reservations;
}

model::Instance MakeInstance(std::string app, std::string node, int64_t cpu = 0,
                             int64_t memory = 0) {
  static int next = 0;
  model::Instance instance;
  instance.id = fmt::format("{}-{}", app, ++next);
  instance.app = std::move(app);
  instance.node = std::move(node);
  Reservations()[instance.id] = {cpu, memory};
  return instance;
}

model::Resources TestResourcesOf(const model::Instance& instance) {
  return Reservations().at(instance.id);
}

model::Constraint Eq(std::string key, std::string value) {
  return {std::move(key), model::ConstraintOp::kEquals, std::move(value)};
}
model::Constraint Ne(std::string key, std::string value) {
  return {std::move(key), model::ConstraintOp::kNotEquals, std::move(value)};
}
model::Constraint Has(std::string key) {
  return {std::move(key), model::ConstraintOp::kExists, ""};
}

PlacementRequest Request(model::PlacementStrategy strategy, int count,
                         model::Resources resources = {},
                         std::vector<model::Constraint> constraints = {}) {
  PlacementRequest request;
  request.app = "web";
  request.resources = resources;
  request.placement.strategy = strategy;
  request.placement.constraints = std::move(constraints);
  request.count = count;
  return request;
}

struct StrategyCase {
  std::string name;
  std::vector<model::Node> nodes;
  std::vector<model::Instance> instances;
  PlacementRequest request;
  std::vector<std::string> want_nodes;
};

void PrintTo(const StrategyCase& c, std::ostream* os) { *os << c.name; }

class StrategyTest : public ::testing::TestWithParam<StrategyCase> {};

// Verify that each strategy picks the nodes it promises, with id tie-breaks.
TEST_P(StrategyTest, PlacesOnExpectedNodes) {
  const StrategyCase& c = GetParam();
  PlacementIndex index(ClusterSnapshot{c.nodes, c.instances}, TestResourcesOf);
  Plan plan = Place(index, c.request);
  EXPECT_THAT(plan.nodes, ElementsAreArray(c.want_nodes));
  EXPECT_EQ(plan.failure, "");
}

using S = model::PlacementStrategy;

INSTANTIATE_TEST_SUITE_P(
    Strategies, StrategyTest,
    ::testing::Values(
        StrategyCase{"SpreadEmptyClusterTieBreaksById",
                     {MakeNode("c"), MakeNode("a"), MakeNode("b")},
                     {},
                     Request(S::kSpread, 3),
                     {"a", "b", "c"}},
        StrategyCase{"SpreadAvoidsNodesRunningTheApp",
                     {MakeNode("a"), MakeNode("b"), MakeNode("c")},
                     {MakeInstance("web", "a"), MakeInstance("web", "b")},
                     Request(S::kSpread, 2),
                     {"c", "a"}},
        StrategyCase{"SpreadTieGoesToLeastLoaded",
                     {MakeNode("a", 1000, 0), MakeNode("b", 1000, 0)},
                     {MakeInstance("other", "a", 500)},
                     Request(S::kSpread, 1, {100, 0}),
                     {"b"}},
        StrategyCase{"SpreadIgnoresOtherAppsForCount",
                     {MakeNode("a"), MakeNode("b")},
                     {MakeInstance("other", "a"), MakeInstance("web", "b")},
                     Request(S::kSpread, 1),
                     {"a"}},
        StrategyCase{"BinpackFillsTheFullestNode",
                     {MakeNode("a", 1000, 0), MakeNode("b", 1000, 0), MakeNode("c", 1000, 0)},
                     {MakeInstance("other", "b", 600)},
                     Request(S::kBinpack, 3, {200, 0}),
                     {"b", "b", "a"}},
        StrategyCase{"BinpackUnlimitedNodesPackByInstanceCount",
                     {MakeNode("a"), MakeNode("b")},
                     {MakeInstance("other", "b")},
                     Request(S::kBinpack, 2),
                     {"b", "b"}},
        StrategyCase{"LeastLoadedPicksLowestFraction",
                     {MakeNode("a", 1000, 1024 * kMi), MakeNode("b", 4000, 1024 * kMi)},
                     {MakeInstance("other", "a", 500, 512 * kMi),
                      MakeInstance("other", "b", 500, 512 * kMi)},
                     Request(S::kLeastLoaded, 1, {100, 0}),
                     {"b"}},
        StrategyCase{"LeastLoadedAlternatesOnEqualNodes",
                     {MakeNode("a", 1000, 0), MakeNode("b", 1000, 0)},
                     {},
                     Request(S::kLeastLoaded, 4, {100, 0}),
                     {"a", "b", "a", "b"}},
        StrategyCase{"RoundRobinCyclesById",
                     {MakeNode("b"), MakeNode("a"), MakeNode("c")},
                     {},
                     Request(S::kRoundRobin, 4),
                     {"a", "b", "c", "a"}},
        StrategyCase{"RoundRobinSkipsNodesThatDoNotFit",
                     {MakeNode("a", 100, 0), MakeNode("b", 1000, 0), MakeNode("c", 1000, 0)},
                     {MakeInstance("other", "a", 100)},
                     Request(S::kRoundRobin, 3, {100, 0}),
                     {"b", "c", "b"}}),
    [](const auto& info) { return info.param.name; });

// Verify that the round-robin cursor resumes after the node chosen last, and wraps.
TEST(RoundRobinTest, ResumesAfterCursor) {
  PlacementIndex index(ClusterSnapshot{{MakeNode("a"), MakeNode("b"), MakeNode("c")}, {}},
                       TestResourcesOf);
  PlacementRequest request = Request(S::kRoundRobin, 2);
  request.round_robin_after = "b";
  Plan plan = Place(index, request);
  EXPECT_THAT(plan.nodes, ElementsAre("c", "a"));
  EXPECT_EQ(plan.round_robin_after, "a");
  request.round_robin_after = "zzz";  // a node that left: continue from the start
  EXPECT_THAT(Place(index, request).nodes, ElementsAre("a", "b"));
}

struct ConstraintCase {
  std::string name;
  model::Constraint constraint;
  std::vector<std::string> want_nodes;  // every node that matches, in id order
};

void PrintTo(const ConstraintCase& c, std::ostream* os) { *os << c.name; }

class ConstraintTest : public ::testing::TestWithParam<ConstraintCase> {};

// Verify that each constraint kind and built-in attribute selects the right nodes.
TEST_P(ConstraintTest, SelectsMatchingNodes) {
  const ConstraintCase& c = GetParam();
  model::Node a = MakeNode("a", 0, 0, {{"zone", "x"}, {"gpu", ""}});
  model::Node b = MakeNode("b", 0, 0, {{"zone", "y"}});
  model::Node d = MakeNode("d", 0, 0, {{"region", "label-region"}});
  b.region = "fra";
  PlacementIndex index(ClusterSnapshot{{a, b, d}, {}}, TestResourcesOf);
  PlacementRequest request =
      Request(S::kRoundRobin, static_cast<int>(c.want_nodes.size()), {}, {c.constraint});
  Plan plan = Place(index, request);
  EXPECT_THAT(plan.nodes, ElementsAreArray(c.want_nodes));
  EXPECT_EQ(plan.failure, "");
  for (const model::Node& node : {a, b, d}) {
    bool want = std::find(c.want_nodes.begin(), c.want_nodes.end(), node.id) != c.want_nodes.end();
    EXPECT_EQ(Matches(node, c.constraint), want) << node.id;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Constraints, ConstraintTest,
    ::testing::Values(ConstraintCase{"LabelEquals", Eq("zone", "x"), {"a"}},
                      ConstraintCase{"LabelNotEquals", Ne("zone", "x"), {"b", "d"}},
                      ConstraintCase{"LabelExists", Has("zone"), {"a", "b"}},
                      ConstraintCase{"EmptyLabelValueExists", Has("gpu"), {"a"}},
                      ConstraintCase{"NodeIdEquals", Eq("node.id", "b"), {"b"}},
                      ConstraintCase{"NodeNameEquals", Eq("node.name", "name-d"), {"d"}},
                      ConstraintCase{"NodeNameNotEquals", Ne("node.name", "name-a"), {"b", "d"}},
                      ConstraintCase{"RegionBuiltIn", Eq("region", "fra"), {"b"}},
                      ConstraintCase{
                          "RegionFallsBackToLabel", Eq("region", "label-region"), {"d"}}),
    [](const auto& info) { return info.param.name; });

struct FailureCase {
  std::string name;
  std::vector<model::Node> nodes;
  std::vector<model::Instance> instances;
  PlacementRequest request;
  std::vector<std::string> want_nodes;
  std::string want_failure;
};

void PrintTo(const FailureCase& c, std::ostream* os) { *os << c.name; }

class FailureTest : public ::testing::TestWithParam<FailureCase> {};

// Verify that unplaceable instances get an aggregated reason naming what failed.
TEST_P(FailureTest, ExplainsWhyNothingFits) {
  const FailureCase& c = GetParam();
  PlacementIndex index(ClusterSnapshot{c.nodes, c.instances}, TestResourcesOf);
  Plan plan = Place(index, c.request);
  EXPECT_THAT(plan.nodes, ElementsAreArray(c.want_nodes));
  EXPECT_EQ(plan.failure, c.want_failure);
}

INSTANTIATE_TEST_SUITE_P(
    Failures, FailureTest,
    ::testing::Values(
        FailureCase{"NoNodes",
                    {},
                    {},
                    Request(S::kSpread, 1),
                    {""},
                    "no node fits: no nodes in the cluster"},
        FailureCase{"Mixed",
                    {MakeNode("a", 0, 0, {{"zone", "b"}}), MakeNode("b", 0, 0, {{"zone", "c"}}),
                     MakeNode("c"), MakeNode("d", 0, 128 * kMi, {{"zone", "a"}}),
                     MakeNode("e", 0, 0, {{"zone", "a"}}, model::NodeStatus::kDraining)},
                    {MakeInstance("other", "d", 0, 64 * kMi)},
                    Request(S::kSpread, 1, {0, 128 * kMi}, {Eq("zone", "a")}),
                    {""},
                    "no node fits: 3 nodes filtered by constraint zone == a, 1 node out of "
                    "memory (needs 128Mi, 64Mi free), 1 node draining"},
        FailureCase{"FirstFailingConstraintCounts",
                    {MakeNode("a", 0, 0, {{"zone", "a"}}), MakeNode("b")},
                    {},
                    Request(S::kSpread, 1, {}, {Has("zone"), Ne("zone", "a")}),
                    {""},
                    "no node fits: 1 node filtered by constraint zone, 1 node filtered by "
                    "constraint zone != a"},
        FailureCase{"DriverMissing",
                    {[] {
                       model::Node n = MakeNode("a");
                       n.drivers = {"process"};
                       return n;
                     }(),
                     [] {
                       model::Node n = MakeNode("b");
                       n.drivers = {"process", "docker"};
                       n.status = model::NodeStatus::kDraining;
                       return n;
                     }()},
                    {},
                    [] {
                      PlacementRequest r = Request(S::kSpread, 1);
                      r.driver = "docker";
                      return r;
                    }(),
                    {""},
                    "no node fits: 1 node without the docker driver, 1 node draining"},
        FailureCase{"DownAndDraining",
                    {MakeNode("a", 0, 0, {}, model::NodeStatus::kDown),
                     MakeNode("b", 0, 0, {}, model::NodeStatus::kDown),
                     MakeNode("c", 0, 0, {}, model::NodeStatus::kDraining)},
                    {},
                    Request(S::kBinpack, 1),
                    {""},
                    "no node fits: 1 node draining, 2 nodes down"},
        FailureCase{"CpuExhaustedAfterSomePlacements",
                    {MakeNode("a", 1000, 0), MakeNode("b", 1500, 0)},
                    {},
                    Request(S::kSpread, 6, {500, 0}),
                    {"b", "a", "b", "a", "b", ""},
                    "no node fits: 2 nodes out of cpu (needs 500m, at most 0 free)"},
        FailureCase{"CpuCountedBeforeMemory",
                    {MakeNode("a", 100, kMi), MakeNode("b", 2000, kMi)},
                    {},
                    Request(S::kLeastLoaded, 1, {1000, 2 * kMi}),
                    {""},
                    "no node fits: 1 node out of cpu (needs 1, 100m free), 1 node out of "
                    "memory (needs 2Mi, 1Mi free)"},
        FailureCase{"RoundRobinFailureToo",
                    {MakeNode("a", 0, kMi)},
                    {},
                    Request(S::kRoundRobin, 2, {0, kMi}),
                    {"a", ""},
                    "no node fits: 1 node out of memory (needs 1Mi, 0 free)"}),
    [](const auto& info) { return info.param.name; });

// Verify that resources fit exactly at capacity and that capacity 0 means unlimited.
TEST(ResourcesTest, ExactFitAndUnlimited) {
  PlacementIndex index(ClusterSnapshot{{MakeNode("a", 1000, 256 * kMi), MakeNode("b", 0, 0)},
                                       {MakeInstance("other", "a", 500, 128 * kMi)}},
                       TestResourcesOf);
  Plan plan = Place(index, Request(S::kBinpack, 3, {500, 128 * kMi}));
  // a fits exactly one more (to capacity); then only the unlimited b.
  EXPECT_THAT(plan.nodes, ElementsAre("a", "b", "b"));
  EXPECT_EQ(plan.placed(), 3);
}

// Verify that Record makes placements visible to later requests, and ignores unknown nodes.
TEST(PlacementIndexTest, RecordAccountsPlacements) {
  PlacementIndex index(ClusterSnapshot{{MakeNode("a", 1000, 0), MakeNode("b", 1000, 0)},
                                       {MakeInstance("web", "a", 100)}},
                       TestResourcesOf);
  EXPECT_EQ(index.Allocated("a"), (model::Resources{100, 0}));
  PlacementRequest request = Request(S::kSpread, 1, {300, 0});
  Plan plan = Place(index, request);
  ASSERT_THAT(plan.nodes, ElementsAre("b"));
  index.Record(request, plan);
  index.Record(request, Plan{{"gone"}, "", ""});
  EXPECT_EQ(index.Allocated("b"), (model::Resources{300, 0}));
  EXPECT_EQ(index.Allocated("gone"), (model::Resources{}));
  // Both nodes now hold one "web": the tie goes to the less loaded a.
  EXPECT_THAT(Place(index, request).nodes, ElementsAre("a"));
}

// Verify that instances on unknown nodes or unplaced do not count, and count 0 plans nothing.
TEST(PlacementIndexTest, IgnoresUnplacedAndUnknownNodes) {
  PlacementIndex index(
      ClusterSnapshot{{MakeNode("a", 1000, 0)},
                      {MakeInstance("web", "", 900), MakeInstance("web", "x", 900)}},
      TestResourcesOf);
  EXPECT_EQ(index.Allocated("a"), (model::Resources{}));
  Plan plan = Place(index, Request(S::kSpread, 0));
  EXPECT_TRUE(plan.nodes.empty());
  EXPECT_EQ(plan.failure, "");
}

// Verify that the per-constraint match cache keeps different constraints apart.
TEST(PlacementIndexTest, ConstraintCacheDistinguishesConstraints) {
  PlacementIndex index(
      ClusterSnapshot{{MakeNode("a", 0, 0, {{"zone", "a"}}), MakeNode("b", 0, 0, {{"zone", "b"}})},
                      {}},
      TestResourcesOf);
  for (int round = 0; round < 2; ++round) {
    EXPECT_THAT(Place(index, Request(S::kSpread, 1, {}, {Eq("zone", "a")})).nodes,
                ElementsAre("a"));
    EXPECT_THAT(Place(index, Request(S::kSpread, 1, {}, {Eq("zone", "b")})).nodes,
                ElementsAre("b"));
    EXPECT_THAT(Place(index, Request(S::kSpread, 1, {}, {Ne("zone", "a")})).nodes,
                ElementsAre("b"));
  }
}

// Verify that constraints print in the spec's spelling.
TEST(FormatConstraintTest, SpecSpelling) {
  EXPECT_EQ(FormatConstraint(Eq("zone", "a")), "zone == a");
  EXPECT_EQ(FormatConstraint(Ne("zone", "b")), "zone != b");
  EXPECT_EQ(FormatConstraint(Has("compute")), "compute");
}

// Verify that a large cluster places many instances, spreading evenly.
TEST(ScaleTest, SpreadsEvenlyOverManyNodes) {
  std::vector<model::Node> nodes;
  for (int i = 0; i < 500; ++i) nodes.push_back(MakeNode(fmt::format("n{:04}", i), 4000, 0));
  PlacementIndex index(ClusterSnapshot{nodes, {}}, TestResourcesOf);
  PlacementRequest request = Request(S::kSpread, 1000, {100, 0});
  Plan plan = Place(index, request);
  ASSERT_EQ(plan.placed(), 1000);
  index.Record(request, plan);
  for (const model::Node& node : nodes) {
    EXPECT_EQ(index.Allocated(node.id).cpu_millis, 200) << node.id;
  }
}

}  // namespace
}  // namespace skiff::scheduler
