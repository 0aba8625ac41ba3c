#include "orchestrator/swarm/service_spec.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "model/spec_parse.h"

namespace skiff::orchestrator::swarm {
namespace {

namespace json = boost::json;

model::AppSpec ServiceSpecTestApp(const std::string& yaml) {
  auto spec = model::ParseAppSpec(yaml, model::SpecFormat::kYaml);
  EXPECT_TRUE(spec) << spec.error().ToString();
  return spec ? *spec : model::AppSpec{};
}

// The value of `key` in the spec's ContainerSpec.Env ("" when missing).
std::string ServiceSpecTestEnv(const json::object& spec, const std::string& key) {
  for (const json::value& entry :
       spec.at("TaskTemplate").at("ContainerSpec").at("Env").as_array()) {
    const std::string_view text = entry.as_string();
    if (text.starts_with(key + "=")) return std::string(text.substr(key.size() + 1));
  }
  return "";
}

ServiceSpecOptions ServiceSpecTestOptions() {
  ServiceSpecOptions options;
  options.address_prefix = "127.40.3";
  return options;
}

// Verify the whole mapping of an image app: name and labels, image, env with
// the per-slot HOST template, args with ${VAR} filled in, hardening,
// resources as limits and reservations, constraints, host networking, the
// update order that never runs a slot's two tasks at once.
TEST(ServiceSpecForTest, MapsAnImageApp) {
  const model::AppSpec app = ServiceSpecTestApp(R"(
name: web
run: {image: "reg.example/web:1.2", args: ["--port", "${PORT}", "--app=${SKIFF_APP}"],
      network: host, read_only: true, user: "1000:1000", cap_add: [NET_BIND_SERVICE],
      workdir: /srv}
env: {GREETING: hi}
port: 9000
replicas: 3
resources: {cpu: 250m, memory: 128Mi}
placement: {strategy: spread, constraints: ["zone == a", "disk != hdd"]}
stop_grace: 7s
)");
  ServiceSpecOptions options = ServiceSpecTestOptions();
  options.owner = "c1";
  options.env = {{"DB_PASSWORD", "s3cret"}};
  auto spec = ServiceSpecFor(app, 4, options);
  ASSERT_TRUE(spec) << spec.error().ToString();
  const json::value want = json::parse(R"({
    "Name": "web",
    "Labels": {"skiff.app": "web", "skiff.revision": "4", "skiff.owner": "c1"},
    "TaskTemplate": {
      "ContainerSpec": {
        "Image": "reg.example/web:1.2",
        "Env": ["DB_PASSWORD=s3cret", "GREETING=hi", "HOST=127.40.3.{{.Task.Slot}}", "PORT=9000",
                "SKIFF_APP=web", "SKIFF_INSTANCE={{.Task.ID}}", "SKIFF_REVISION=4"],
        "Labels": {"skiff.app": "web", "skiff.revision": "4", "skiff.owner": "c1"},
        "ReadOnly": true,
        "CapabilityDrop": ["ALL"],
        "CapabilityAdd": ["NET_BIND_SERVICE"],
        "StopGracePeriod": 7000000000,
        "Args": ["--port", "9000", "--app=web"],
        "User": "1000:1000",
        "Dir": "/srv",
        "HealthCheck": {"Test": ["NONE"]}
      },
      "Resources": {
        "Limits": {"Pids": 1024, "NanoCPUs": 250000000, "MemoryBytes": 134217728},
        "Reservations": {"NanoCPUs": 250000000, "MemoryBytes": 134217728}
      },
      "RestartPolicy": {"Condition": "any", "Delay": 1000000000},
      "Placement": {"Constraints": ["node.labels.zone == a", "node.labels.disk != hdd"]},
      "Networks": [{"Target": "host"}],
      "LogDriver": {"Name": "json-file", "Options": {"max-size": "10m", "max-file": "2"}}
    },
    "Mode": {"Replicated": {"Replicas": 3}},
    "UpdateConfig": {"Parallelism": 1, "Order": "stop-first", "FailureAction": "pause",
                     "Monitor": 2000000000}
  })");
  EXPECT_EQ(json::value(*spec), want) << json::serialize(*spec);
}

// Verify the options: a given image (a built one), name, replicas; and no
// resources, args, user or constraints when the spec has none.
TEST(ServiceSpecForTest, OptionsAndDefaults) {
  const model::AppSpec app = ServiceSpecTestApp(
      "name: api\nrun: {build: {context: /src}, network: host}\nport: 8081\nreplicas: 2\n");
  ServiceSpecOptions options = ServiceSpecTestOptions();
  options.image = "skiff/api:7";
  options.name = "api-r7";
  options.replicas = 5;
  auto spec = ServiceSpecFor(app, 7, options);
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(spec->at("Name"), "api-r7");
  EXPECT_EQ(spec->at("Mode").at("Replicated").at("Replicas"), 5);
  const json::object& container = spec->at("TaskTemplate").at("ContainerSpec").as_object();
  EXPECT_EQ(container.at("Image"), "skiff/api:7");
  EXPECT_FALSE(container.contains("Args"));
  EXPECT_FALSE(container.contains("User"));
  EXPECT_EQ(container.at("ReadOnly"), false);
  EXPECT_EQ(ServiceSpecTestEnv(*spec, "PORT"), "8081");
  const json::object& resources = spec->at("TaskTemplate").at("Resources").as_object();
  EXPECT_EQ(resources.at("Limits"), (json::object{{"Pids", 1024}}));
  EXPECT_EQ(resources.at("Reservations"), json::object{});
  EXPECT_EQ(spec->at("TaskTemplate").at("Placement"), json::object{});
  EXPECT_FALSE(spec->at("Labels").as_object().contains(kLabelOwner));
}

// Verify that a user's value is never run as a Swarm template: "{{" becomes
// the template that prints it.
TEST(ServiceSpecForTest, EnvValuesAreLiteral) {
  EXPECT_EQ(EscapeTemplate("plain"), "plain");
  EXPECT_EQ(EscapeTemplate("{{.Node.Hostname}}"), "{{\"{{\"}}.Node.Hostname}}");
  EXPECT_EQ(EscapeTemplate("a{{{{b"), "a{{\"{{\"}}{{\"{{\"}}b");
  const model::AppSpec app = ServiceSpecTestApp(
      "name: t\nrun: {image: x, network: host}\nport: 80\nenv: {T: \"{{.Task.ID}}\"}\n");
  auto spec = ServiceSpecFor(app, 1, ServiceSpecTestOptions());
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(ServiceSpecTestEnv(*spec, "T"), "{{\"{{\"}}.Task.ID}}");
}

// Verify that what Swarm cannot run as written is refused with
// kInvalidArgument naming the field, and bad options too.
TEST(ServiceSpecForTest, RefusesWhatSwarmCannotRun) {
  struct Case {
    std::string yaml;
    std::string field;
    std::string says;
  };
  const std::string image = "run: {image: x, network: host}\nport: 80\n";
  const std::vector<Case> cases = {
      {"run: {command: [./server]}\n", "run.command", "--orchestrator skiff"},
      {"run: {build: {context: /src}, network: host}\nport: 80\n", "run.build", "pull"},
      {"run: {image: x}\nport: 80\n", "run.network", "run.network: host"},
      {"run: {image: x, network: host, args: [\"--bind=${HOST}\"]}\nport: 80\n", "run.args[0]",
       "${HOST}"},
      {"run: {image: x, network: host, args: [a, \"${SKIFF_INSTANCE}\"]}\nport: 80\n",
       "run.args[1]", "${SKIFF_INSTANCE}"},
      {image + "placement: {strategy: binpack}\n", "placement.strategy", "binpack"},
      {image + "placement: {strategy: round-robin}\n", "placement.strategy", "round-robin"},
      {image + "placement: {constraints: [\"zone == a\", gpu]}\n", "placement.constraints[1]",
       "gpu == VALUE"},
      {image + "placement: {constraints: [\"example.com/zone == a\"]}\n",
       "placement.constraints[0]", "'/'"},
      {image + "replicas: 255\n", "replicas", "0..254"},
      {image + "autoscale: {min: 1, max: 300, target_rps_per_replica: 50}\n", "autoscale.max",
       "254"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto spec =
        ServiceSpecFor(ServiceSpecTestApp("name: t\n" + c.yaml), 1, ServiceSpecTestOptions());
    ASSERT_FALSE(spec);
    EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(spec.error().field, c.field);
    EXPECT_NE(spec.error().message.find(c.says), std::string::npos) << spec.error().message;
  }
  for (const std::string prefix :
       {"", "127.1", "127.1.2.3", "10.0.0", "127.256.0", "127.a.1", "127.1.", "127..1", "127.-1.2",
        "127.+1.2", "127.01.2", "127.1.002", "0127.1.2", "127.0.0", "127. 1.2"}) {
    ServiceSpecOptions options = ServiceSpecTestOptions();
    options.address_prefix = prefix;
    auto spec = ServiceSpecFor(ServiceSpecTestApp("name: t\n" + image), 1, options);
    ASSERT_FALSE(spec) << prefix;
    EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument) << prefix;
    EXPECT_EQ(spec.error().field, "address_prefix") << prefix;
  }
}

// Verify that plainly written loopback prefixes pass, 127.0.x and 127.x.0
// among them (only 127.0.0 holds the machine's own 127.0.0.1).
TEST(ServiceSpecForTest, AcceptsLoopbackPrefixes) {
  for (const std::string prefix : {"127.0.1", "127.1.0", "127.255.255", "127.10.200"}) {
    ServiceSpecOptions options = ServiceSpecTestOptions();
    options.address_prefix = prefix;
    auto spec = ServiceSpecFor(
        ServiceSpecTestApp("name: t\nrun: {image: x, network: host}\nport: 80\n"), 1, options);
    EXPECT_TRUE(spec) << prefix << ": " << spec.error().ToString();
  }
}

// Verify that cpu past what an engine takes as int64 nanoCPUs is refused
// naming resources.cpu, not overflowed (validation refuses it too; this is
// for a spec that skipped it).
TEST(ServiceSpecForTest, RefusesCpuPastNanoCpus) {
  model::AppSpec app = ServiceSpecTestApp("name: t\nrun: {image: x, network: host}\nport: 80\n");
  app.resources.cpu_millis = INT64_MAX / 1'000'000 + 1;
  auto spec = ServiceSpecFor(app, 1, ServiceSpecTestOptions());
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(spec.error().field, "resources.cpu");
  app.resources.cpu_millis = INT64_MAX / 1'000'000;
  spec = ServiceSpecFor(app, 1, ServiceSpecTestOptions());
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(spec->at("TaskTemplate").at("Resources").at("Limits").at("NanoCPUs"),
            INT64_MAX / 1'000'000 * 1'000'000);
}

// Verify that a task's address is the prefix and its slot.
TEST(ServiceSpecForTest, TaskHostIsPrefixAndSlot) {
  EXPECT_EQ(TaskHost("127.40.3", 1), "127.40.3.1");
  EXPECT_EQ(TaskHost("127.0.9", 254), "127.0.9.254");
}

}  // namespace
}  // namespace skiff::orchestrator::swarm
