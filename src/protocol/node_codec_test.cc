#include "protocol/node_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/codec.h"

namespace skiff::protocol {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
namespace json = boost::json;

const Time kT1 = Time(1'795'335'377'123ms);  // 2026-11-22T08:16:17.123Z

// Through serialised text, as over the wire.
json::value Wire(const json::value& v) { return json::parse(json::serialize(v)); }

// Verify that a full report round-trips, field by field.
TEST(ControlPlaneCodecTest, FullReportRoundTrips) {
  InstanceReport r;
  r.instance_id = "hello-1";
  r.node_id = "node-a";
  r.generation = 3;
  r.state = model::InstanceState::kRunning;
  r.health = model::Health::kHealthy;
  r.address = "127.0.0.2:20001";
  r.port = 20001;
  r.handle = "pid:42";
  r.last_exit = 137;
  r.message = "started";
  r.started_at = kT1;
  r.finished_at = kT1 + 5s;
  auto back = InstanceReportFromJson(Wire(ToJson(r)));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->instance_id, r.instance_id);
  EXPECT_EQ(back->node_id, r.node_id);
  EXPECT_EQ(back->generation, 3);
  EXPECT_EQ(back->state, r.state);
  EXPECT_EQ(back->health, r.health);
  EXPECT_EQ(back->address, r.address);
  EXPECT_EQ(back->port, r.port);
  EXPECT_EQ(back->handle, r.handle);
  EXPECT_EQ(back->last_exit, r.last_exit);
  EXPECT_EQ(back->message, r.message);
  EXPECT_EQ(back->started_at, r.started_at);
  EXPECT_EQ(back->finished_at, r.finished_at);
}

// Verify that unset fields stay unset, and that bad fields are named.
TEST(ControlPlaneCodecTest, PartialAndBadReports) {
  InstanceReport r;
  r.instance_id = "hello-1";
  r.node_id = "node-a";
  r.health = model::Health::kUnhealthy;
  json::value v = ToJson(r);
  EXPECT_FALSE(v.as_object().contains("state"));
  auto back = InstanceReportFromJson(Wire(v));
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->state);
  EXPECT_FALSE(back->address);
  EXPECT_EQ(back->health, model::Health::kUnhealthy);

  auto bad = InstanceReportFromJson(json::parse(R"({"instance":"i","state":"dancing"})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().field, "state");
  auto no_id = InstanceReportFromJson(json::parse(R"({"port":"x"})"));
  ASSERT_FALSE(no_id);
  EXPECT_EQ(no_id.error().code, ErrorCode::kInvalidArgument);
  auto bad_port = InstanceReportFromJson(json::parse(R"({"instance":"i","port":"x"})"));
  ASSERT_FALSE(bad_port);
  EXPECT_THAT(bad_port.error().message, HasSubstr("port"));
}

// Verify that samples round-trip, and an instance-less sample is refused.
TEST(ControlPlaneCodecTest, SamplesRoundTrip) {
  std::vector<InstanceSample> samples{{"a-1", {kT1, 250, 64 << 20}}, {"b-2", {kT1, 0, 1}}};
  auto back = SamplesFromJson(Wire(SamplesToJson(samples)));
  ASSERT_TRUE(back) << back.error().ToString();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].instance_id, "a-1");
  EXPECT_EQ((*back)[0].sample.at, kT1);
  EXPECT_EQ((*back)[0].sample.cpu_millis, 250);
  EXPECT_EQ((*back)[0].sample.memory_bytes, 64 << 20);
  EXPECT_EQ((*back)[1].instance_id, "b-2");
  auto single = ResourceSampleFromJson(Wire(ToJson(samples[0].sample)));
  ASSERT_TRUE(single);
  EXPECT_EQ(single->cpu_millis, 250);
  EXPECT_FALSE(SamplesFromJson(json::parse(R"({"samples":[{"cpu_millis":1}]})")));
  EXPECT_FALSE(SamplesFromJson(json::parse(R"({"samples":3})")));
}

// Verify that a sample's limit and reservations round-trip, and that an older
// agent's sample without them reads them as 0 (none).
TEST(ControlPlaneCodecTest, SampleLimitsRoundTripAndMayBeAbsent) {
  model::ResourceSample full{.at = kT1,
                             .cpu_millis = 120,
                             .memory_bytes = 10 << 20,
                             .memory_limit_bytes = 128 << 20,
                             .cpu_reserved_millis = 250,
                             .memory_reserved_bytes = 128 << 20};
  auto back = ResourceSampleFromJson(Wire(ToJson(full)));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, full);

  auto old = SamplesFromJson(json::parse(
      R"({"samples":[{"instance":"a-1","at":"2026-01-02T03:04:05Z","cpu_millis":7,"memory_bytes":9}]})"));
  ASSERT_TRUE(old) << old.error().ToString();
  ASSERT_EQ(old->size(), 1u);
  EXPECT_EQ((*old)[0].sample.cpu_millis, 7);
  EXPECT_EQ((*old)[0].sample.memory_bytes, 9);
  EXPECT_EQ((*old)[0].sample.memory_limit_bytes, 0);
  EXPECT_EQ((*old)[0].sample.cpu_reserved_millis, 0);
  EXPECT_EQ((*old)[0].sample.memory_reserved_bytes, 0);

  auto bad = ResourceSampleFromJson(json::parse(R"({"memory_limit_bytes":"lots"})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad.error().message, HasSubstr("memory_limit_bytes"));
}

// Verify that assignments round-trip with their instances and specs.
TEST(ControlPlaneCodecTest, AssignmentsRoundTrip) {
  Assignments a;
  a.revision = 42;
  model::Instance i;
  i.id = "hello-1";
  i.app = "hello";
  i.revision = 2;
  i.node = "node-a";
  i.generation = 3;
  i.port = 20001;
  i.created_at = kT1;
  a.instances.push_back(i);
  model::AppSpec spec;
  spec.name = "hello";
  spec.run.command = {"sleep", "100"};
  spec.replicas = 2;
  a.specs["hello/2"] = spec;
  auto back = AssignmentsFromJson(Wire(ToJson(a)));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->revision, 42);
  ASSERT_EQ(back->instances.size(), 1u);
  EXPECT_EQ(json::serialize(model::ToJson(back->instances[0])), json::serialize(model::ToJson(i)));
  ASSERT_EQ(back->specs.count("hello/2"), 1u);
  EXPECT_EQ(json::serialize(model::SpecToJson(back->specs.at("hello/2"))),
            json::serialize(model::SpecToJson(spec)));
  EXPECT_FALSE(AssignmentsFromJson(json::parse(R"({"instances":{}})")));
}

// Verify that the secrets' values and the specs' secret versions cross the
// wire, and that a malformed secrets member names where, not the value.
TEST(ControlPlaneCodecTest, AssignmentsCarrySecrets) {
  Assignments a;
  model::AppSpec spec;
  spec.name = "hello";
  spec.run.command = {"sleep", "100"};
  spec.secret_versions = {{"API_KEY", 3}};
  a.specs["hello/2"] = spec;
  a.secrets = {{"hello", {{"API_KEY", "v\"al\nue"}}}};
  auto back = AssignmentsFromJson(Wire(ToJson(a)));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->secrets, a.secrets);
  EXPECT_EQ(back->specs.at("hello/2").secret_versions, spec.secret_versions);
  auto bad = AssignmentsFromJson(json::parse(R"({"secrets":{"hello":{"K":5}}})"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("secrets.hello.K"), std::string::npos);
  // None: no member at all, as before secrets.
  EXPECT_FALSE(ToJson(Assignments{}).as_object().contains("secrets"));
}

// Verify that an agent reads assignments from a server one version newer:
// unknown fields at the top, in an instance and in a spec (an edge policy
// field it does not know, as edge.drain_timeout once was) are ignored, and a
// report or samples from a newer agent are read too; a known field of the
// wrong type still fails, named by its path.
TEST(ControlPlaneCodecTest, UnknownFieldsIgnored) {
  Assignments a;
  a.revision = 9;
  model::Instance i;
  i.id = "hello-1";
  i.app = "hello";
  i.revision = 2;
  a.instances.push_back(i);
  model::AppSpec spec;
  spec.name = "hello";
  spec.run.command = {"sleep", "100"};
  a.specs["hello/2"] = spec;
  json::value newer = ToJson(a);
  json::object& o = newer.as_object();
  o["leases"] = json::array{1, 2};
  o["instances"].as_array()[0].as_object()["volume"] = "data";
  json::object& sent = o["specs"].as_object()["hello/2"].as_object();
  sent["volumes"] = json::array{};
  sent["edge"].as_object()["retry_budget"] = 0.2;
  auto back = AssignmentsFromJson(Wire(newer));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->revision, 9);
  ASSERT_EQ(back->instances.size(), 1u);
  EXPECT_EQ(back->instances[0].id, "hello-1");
  EXPECT_EQ(back->specs.at("hello/2"), spec);

  sent["edge"].as_object()["max_in_flight"] = "many";
  auto wrong = AssignmentsFromJson(Wire(newer));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(wrong.error().field, "specs.hello/2.edge.max_in_flight");
  o["instances"].as_array()[0].as_object()["generation"] = "x";
  EXPECT_EQ(AssignmentsFromJson(Wire(newer)).error().field, "instances[0].generation");

  auto report = InstanceReportFromJson(
      json::parse(R"({"instance":"hello-1","state":"running","cgroup":"/x","oom":{"n":1}})"));
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->state, model::InstanceState::kRunning);
  auto samples = SamplesFromJson(
      json::parse(R"({"samples":[{"instance":"a","cpu_millis":3,"io_bytes":5}],"node_load":0.5})"));
  ASSERT_TRUE(samples) << samples.error().ToString();
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_EQ((*samples)[0].sample.cpu_millis, 3);
}

}  // namespace
}  // namespace skiff::protocol
