#include "model/codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace skiff::model {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
namespace json = boost::json;

const Time kT1 = Time(1'795'335'377'123ms);  // 2026-11-22T08:16:17.123Z
const Time kT2 = kT1 + 90s;

AppSpec SampleSpec() {
  AppSpec s;
  s.name = "hello";
  s.run.command = {"python3", "-m", "http.server", "${PORT}"};
  s.env = {{"GREETING", "hi"}};
  s.domains = {"hello.localhost"};
  s.replicas = 2;
  s.resources = {250, 128 << 20};
  s.health.type = HealthType::kHttp;
  s.autoscale = Autoscale{.min = 2,
                          .max = 6,
                          .target_rps_per_replica = 300,
                          .max_p95_ms = 250,
                          .target_cpu = 70,
                          .target_memory = 90,
                          .scale_out_threshold = 5,
                          .scale_in_threshold = 40,
                          .window = std::chrono::minutes(2),
                          .cooldown_up = 10s,
                          .cooldown_down = 3min,
                          .max_step = 2,
                          .idle = 20min};
  s.regions["fra"].replicas = 3;
  return s;
}

App SampleApp() {
  App a;
  a.name = "hello";
  a.revision = 3;
  a.spec = SampleSpec();
  a.created_at = kT1;
  a.updated_at = kT2;
  a.deleting = true;
  a.restart_epoch = 4;
  a.autoscaled_replicas = 0;
  a.scaled_up_at = kT1;
  a.scaled_down_at = kT2;
  a.woken_at = kT1 + std::chrono::seconds(7);
  a.version = 1234;
  return a;
}

Deployment SampleDeployment() {
  Deployment d;
  d.app = "hello";
  d.revision = 3;
  d.spec = SampleSpec();
  d.state = DeploymentState::kRolledBack;
  d.created_at = kT1;
  d.updated_at = kT2;
  d.message = "crash loop: exited with 1";
  d.version = 77;
  return d;
}

Instance SampleInstance() {
  Instance i;
  i.id = "hello-3-ab12cd";
  i.app = "hello";
  i.revision = 3;
  i.node = "node-1";
  i.desired = DesiredState::kStop;
  i.state = InstanceState::kRunning;
  i.health = Health::kHealthy;
  i.address = "127.0.0.1:20001";
  i.port = 20001;
  i.restart_epoch = 2;
  i.restarts = 5;
  i.crash_count = 1;
  i.generation = 6;
  i.running_generation = 5;
  i.last_exit = 137;
  i.handle = "pid:123:start:456";
  i.message = "exited with 137";
  i.started_at = kT1;
  i.finished_at = kT2;
  i.restart_at = kT2 + 5s;
  i.created_at = kT1 - 1s;
  i.updated_at = kT2;
  i.version = 99;
  return i;
}

Node SampleNode() {
  Node n;
  n.id = "n-1";
  n.name = "box";
  n.address = "127.0.0.2";
  n.labels = {{"zone", "a"}, {"compute", ""}};
  n.capacity = {2000, 4294967296};
  n.allocated = {250, 128 << 20};
  n.status = NodeStatus::kDraining;
  n.last_heartbeat = kT1;
  n.region = "fra";
  n.drivers = {"process", "docker"};
  n.notes = "no cgroups: limits not enforced";
  n.version = 8;
  return n;
}

Event SampleEvent() {
  Event e;
  e.id = 42;
  e.time = kT1;
  e.app = "hello";
  e.kind = "deployment.created";
  e.message = "revision 3";
  e.details = {{"revision", "3"}};
  return e;
}

// Compares every field; the structs have no operator== of their own.
void ExpectEqual(const App& a, const App& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.revision, b.revision);
  EXPECT_EQ(a.spec, b.spec);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.deleting, b.deleting);
  EXPECT_EQ(a.restart_epoch, b.restart_epoch);
  EXPECT_EQ(a.autoscaled_replicas, b.autoscaled_replicas);
  EXPECT_EQ(a.scaled_up_at, b.scaled_up_at);
  EXPECT_EQ(a.scaled_down_at, b.scaled_down_at);
  EXPECT_EQ(a.woken_at, b.woken_at);
  EXPECT_EQ(a.version, b.version);
}

void ExpectEqual(const Deployment& a, const Deployment& b) {
  EXPECT_EQ(a.app, b.app);
  EXPECT_EQ(a.revision, b.revision);
  EXPECT_EQ(a.spec, b.spec);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.version, b.version);
}

void ExpectEqual(const Instance& a, const Instance& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.app, b.app);
  EXPECT_EQ(a.revision, b.revision);
  EXPECT_EQ(a.node, b.node);
  EXPECT_EQ(a.desired, b.desired);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.health, b.health);
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.port, b.port);
  EXPECT_EQ(a.restart_epoch, b.restart_epoch);
  EXPECT_EQ(a.restarts, b.restarts);
  EXPECT_EQ(a.crash_count, b.crash_count);
  EXPECT_EQ(a.generation, b.generation);
  EXPECT_EQ(a.running_generation, b.running_generation);
  EXPECT_EQ(a.last_exit, b.last_exit);
  EXPECT_EQ(a.handle, b.handle);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.finished_at, b.finished_at);
  EXPECT_EQ(a.restart_at, b.restart_at);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.version, b.version);
}

void ExpectEqual(const Node& a, const Node& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.capacity, b.capacity);
  EXPECT_EQ(a.allocated, b.allocated);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.last_heartbeat, b.last_heartbeat);
  EXPECT_EQ(a.region, b.region);
  EXPECT_EQ(a.drivers, b.drivers);
  EXPECT_EQ(a.notes, b.notes);
  EXPECT_EQ(a.version, b.version);
}

void ExpectEqual(const Event& a, const Event& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.app, b.app);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.details, b.details);
}

// Round-trips through serialized text, as the store does.
json::value Reparse(const json::value& v) { return json::parse(json::serialize(v)); }

// Verify that an App survives ToJson -> text -> AppFromJson with every field.
TEST(CodecTest, AppRoundTrip) {
  for (const App& app :
       {SampleApp(),
        App{.name = "x",
        .spec = SpecFromJson(json::parse(R"({"name":"x","run":{"command":["y"]}})")).value()}}) {
    auto back = AppFromJson(Reparse(ToJson(app)));
    ASSERT_TRUE(back) << back.error().ToString();
    ExpectEqual(*back, app);
  }
}

// Verify that autoscale policies survive SpecToJson -> text -> SpecFromJson
// with every field, defaults and odd durations included.
TEST(CodecTest, AutoscaleRoundTrip) {
  const Autoscale policies[] = {
      Autoscale{},
      SampleSpec().autoscale.value(),
      Autoscale{.min = 0,
                .max = 1,
                .scale_out_threshold = 0,
                .scale_in_threshold = 100,
                .window = 1500ms,
                .cooldown_up = 0s,
                .cooldown_down = 0s,
                .max_step = 1,
                .scale_to_zero = true,
                .idle = 90s},
  };
  for (const Autoscale& policy : policies) {
    AppSpec spec = SampleSpec();
    spec.autoscale = policy;
    json::value j = Reparse(SpecToJson(spec));
    auto back = SpecFromJson(j);
    ASSERT_TRUE(back) << back.error().ToString() << "\n" << j;
    EXPECT_EQ(back->autoscale, policy) << j;
  }
}

// Verify that a Deployment survives the round trip with every field.
TEST(CodecTest, DeploymentRoundTrip) {
  auto back = DeploymentFromJson(Reparse(ToJson(SampleDeployment())));
  ASSERT_TRUE(back) << back.error().ToString();
  ExpectEqual(*back, SampleDeployment());
}

// Verify that an Instance survives the round trip, with last_exit set and unset.
TEST(CodecTest, InstanceRoundTrip) {
  Instance unset = SampleInstance();
  unset.last_exit.reset();
  unset.started_at = Time{};
  Instance zero_exit = SampleInstance();
  zero_exit.last_exit = 0;
  for (const Instance& i : {SampleInstance(), unset, zero_exit, Instance{}}) {
    auto back = InstanceFromJson(Reparse(ToJson(i)));
    ASSERT_TRUE(back) << back.error().ToString();
    ExpectEqual(*back, i);
  }
}

// Verify that a Node survives the round trip with every field.
TEST(CodecTest, NodeRoundTrip) {
  for (const Node& n : {SampleNode(), Node{}}) {
    auto back = NodeFromJson(Reparse(ToJson(n)));
    ASSERT_TRUE(back) << back.error().ToString();
    ExpectEqual(*back, n);
  }
}

// Verify that an Event survives the round trip with every field.
TEST(CodecTest, EventRoundTrip) {
  for (const Event& e : {SampleEvent(), Event{}}) {
    auto back = EventFromJson(Reparse(ToJson(e)));
    ASSERT_TRUE(back) << back.error().ToString();
    ExpectEqual(*back, e);
  }
}

// Verify the app shape of DESIGN.md's API section.
TEST(CodecTest, AppShape) {
  json::value j = ToJson(SampleApp());
  EXPECT_EQ(j.at("name"), "hello");
  EXPECT_EQ(j.at("revision"), 3);
  EXPECT_EQ(j.at("spec"), SpecToJson(SampleSpec()));
  EXPECT_EQ(j.at("created_at"), "2026-11-22T08:16:17.123Z");
  EXPECT_EQ(j.at("version"), 1234);
}

// Verify the instance shape of DESIGN.md's API section.
TEST(CodecTest, InstanceShape) {
  json::value j = ToJson(SampleInstance());
  EXPECT_EQ(j.at("id"), "hello-3-ab12cd");
  EXPECT_EQ(j.at("app"), "hello");
  EXPECT_EQ(j.at("revision"), 3);
  EXPECT_EQ(j.at("node"), "node-1");
  EXPECT_EQ(j.at("state"), "running");
  EXPECT_EQ(j.at("health"), "healthy");
  EXPECT_EQ(j.at("desired"), "stop");
  EXPECT_EQ(j.at("address"), "127.0.0.1:20001");
  EXPECT_EQ(j.at("restarts"), 5);
  EXPECT_EQ(j.at("started_at"), "2026-11-22T08:16:17.123Z");
  EXPECT_EQ(j.at("last_exit"), 137);
  Instance fresh;
  json::value f = ToJson(fresh);
  EXPECT_TRUE(f.at("last_exit").is_null());
  EXPECT_EQ(f.at("started_at"), "");  // zero time
}

// Verify the node shape of DESIGN.md's API section (resources as plain numbers).
TEST(CodecTest, NodeShape) {
  json::value j = ToJson(SampleNode());
  EXPECT_EQ(j.at("id"), "n-1");
  EXPECT_EQ(j.at("name"), "box");
  EXPECT_EQ(j.at("address"), "127.0.0.2");
  EXPECT_EQ(j.at("status"), "draining");
  EXPECT_EQ(j.at("labels"), (json::object{{"compute", ""}, {"zone", "a"}}));
  EXPECT_EQ(j.at("capacity"), (json::object{{"cpu", 2000}, {"memory", 4294967296}}));
  EXPECT_EQ(j.at("allocated"), (json::object{{"cpu", 250}, {"memory", 134217728}}));
  EXPECT_EQ(j.at("region"), "fra");
}

// Verify the deployment shape of DESIGN.md's API section.
TEST(CodecTest, DeploymentShape) {
  json::value j = ToJson(SampleDeployment());
  EXPECT_EQ(j.at("revision"), 3);
  EXPECT_EQ(j.at("state"), "rolled_back");
  EXPECT_EQ(j.at("created_at"), "2026-11-22T08:16:17.123Z");
  EXPECT_EQ(j.at("message"), "crash loop: exited with 1");
}

// Verify the event shape.
TEST(CodecTest, EventShape) {
  json::value j = ToJson(SampleEvent());
  EXPECT_EQ(j.at("id"), 42);
  EXPECT_EQ(j.at("time"), "2026-11-22T08:16:17.123Z");
  EXPECT_EQ(j.at("kind"), "deployment.created");
  EXPECT_EQ(j.at("details"), (json::object{{"revision", "3"}}));
}

// Verify that missing and null fields decode to the struct defaults.
TEST(CodecTest, MissingFieldsTakeDefaults) {
  auto i = InstanceFromJson(json::parse(R"({"id":"a","last_exit":null,"node":null})"));
  ASSERT_TRUE(i) << i.error().ToString();
  EXPECT_EQ(i->id, "a");
  EXPECT_EQ(i->generation, 1);
  EXPECT_EQ(i->state, InstanceState::kPending);
  EXPECT_FALSE(i->last_exit.has_value());
  auto n = NodeFromJson(json::parse(R"({"id":"n"})"));
  ASSERT_TRUE(n) << n.error().ToString();
  EXPECT_EQ(n->status, NodeStatus::kReady);
}

struct BadCase {
  std::string what;
  std::string json;
  std::string field;
};

// Verify that wrong types, unknown enum spellings and bad times name the field.
TEST(CodecTest, DecodeErrorsNameTheField) {
  const std::vector<BadCase> cases = {
      {"instance", R"({"revision":"3"})", "revision"},
      {"instance", R"({"state":"dancing"})", "state"},
      {"instance", R"({"health":1})", "health"},
      {"instance", R"({"desired":"maybe"})", "desired"},
      {"instance", R"({"restarts":1.5})", "restarts"},
      {"instance", R"({"restarts":4294967296})", "restarts"},
      {"instance", R"({"last_exit":"x"})", "last_exit"},
      {"instance", R"({"started_at":"yesterday"})", "started_at"},
      {"node", R"({"labels":{"a":1}})", "labels.a"},
      {"node", R"({"capacity":{"cpu":"2"}})", "capacity.cpu"},
      {"node", R"({"drivers":["process",3]})", "drivers[1]"},
      {"node", R"({"status":"gone"})", "status"},
      {"event", R"({"details":[]})", "details"},
      {"deployment", R"({"state":"done","spec":{"name":"a","run":{"command":["x"]}}})", "state"},
      {"deployment", R"({"app":"a"})", "spec"},
      {"app", R"({"name":"a","spec":{"name":"a","run":{"command":["x"]},"replicas":-1}})",
       "spec.replicas"},
      {"app", R"({"name":5,"spec":{"name":"a","run":{"command":["x"]}}})", "name"},
      {"app", R"({"name":"a","spec":{"name":"a","run":{"command":["x"]}},"deleting":"no"})",
       "deleting"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what + " " + c.json);
    json::value v = json::parse(c.json);
    Error error;
    if (c.what == "instance") error = InstanceFromJson(v).error();
    if (c.what == "node") error = NodeFromJson(v).error();
    if (c.what == "event") error = EventFromJson(v).error();
    if (c.what == "deployment") error = DeploymentFromJson(v).error();
    if (c.what == "app") error = AppFromJson(v).error();
    EXPECT_EQ(error.code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(error.field, c.field);
    // A spec's own errors keep their paths under a "spec: " prefix.
    std::string in_message = c.field.starts_with("spec.") ? "spec: " + c.field.substr(5) : c.field;
    EXPECT_THAT(error.message, HasSubstr(in_message + ": "));
  }
}

// Verify that a non-object document is rejected by every decoder.
TEST(CodecTest, NonObjectRejected) {
  json::value list = json::array{1, 2};
  EXPECT_EQ(AppFromJson(list).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(DeploymentFromJson(list).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(InstanceFromJson(list).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(NodeFromJson(nullptr).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(EventFromJson("x").error().code, ErrorCode::kInvalidArgument);
}

// Verify that decoders ignore fields they do not know (newer writers, API extras).
TEST(CodecTest, UnknownFieldsIgnored) {
  json::value j = ToJson(SampleNode());
  j.as_object()["future_field"] = "x";
  auto n = NodeFromJson(j);
  ASSERT_TRUE(n) << n.error().ToString();
  ExpectEqual(*n, SampleNode());
}

}  // namespace
}  // namespace skiff::model
