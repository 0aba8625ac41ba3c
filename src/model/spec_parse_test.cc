#include "model/spec_parse.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "model/codec.h"

namespace skiff::model {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
namespace json = boost::json;

// The full example of DESIGN.md, verbatim.
constexpr std::string_view kDesignSpec = R"(
name: hello
run:                                  # exactly one of command / image
  command: ["python3", "-m", "http.server", "${PORT}", "--bind", "${HOST}"]
  # image: registry.example/hello:1.4 # with args: [...]
env: {GREETING: hi}
port: 8080                            # the port an image listens on; a process gets $PORT
domains: [hello.localhost]
replicas: 2
resources: {cpu: 250m, memory: 128Mi}
health: {type: http, path: /, interval: 2s, timeout: 1s,
         healthy_threshold: 1, unhealthy_threshold: 3, grace: 5s}   # type: http | tcp | none
placement: {strategy: spread, constraints: ["zone == a", "compute"]}
  # strategy: spread | binpack | least-loaded | round-robin
update: {strategy: rolling, max_surge: 1, max_unavailable: 0,
         min_healthy_time: 2s, healthy_deadline: 60s, auto_revert: true}
  # strategy: rolling | blue-green | canary
autoscale: {min: 1, max: 10, target_cpu: 70, target_rps_per_replica: 200,
            max_p95_ms: 300, cooldown_up: 30s, cooldown_down: 120s, scale_to_zero: false}
regions: {fra: {replicas: 2}, was: {replicas: 4, env: {FEATURE: on}}}
)";

AppSpec DesignSpec() {
  AppSpec s;
  s.name = "hello";
  s.run.command = {"python3", "-m", "http.server", "${PORT}", "--bind", "${HOST}"};
  s.env = {{"GREETING", "hi"}};
  s.port = 8080;
  s.domains = {"hello.localhost"};
  s.replicas = 2;
  s.resources = {250, 128 << 20};
  s.health.type = HealthType::kHttp;
  s.health.path = "/";
  s.health.interval = 2s;
  s.health.timeout = 1s;
  s.health.healthy_threshold = 1;
  s.health.unhealthy_threshold = 3;
  s.health.grace = 5s;
  s.placement.strategy = PlacementStrategy::kSpread;
  s.placement.constraints = {{"zone", ConstraintOp::kEquals, "a"},
                             {"compute", ConstraintOp::kExists, ""}};
  s.update = UpdatePolicy{UpdateStrategy::kRolling, 1, 0, 2s, 60s, true};
  s.autoscale = Autoscale{.min = 1,
                          .max = 10,
                          .target_rps_per_replica = 200,
                          .max_p95_ms = 300,
                          .target_cpu = 70,
                          .cooldown_up = 30s,
                          .cooldown_down = 120s};
  s.regions["fra"].replicas = 2;
  s.regions["was"].replicas = 4;
  s.regions["was"].env = {{"FEATURE", "on"}};
  return s;
}

Result<AppSpec> Yaml(std::string_view text) { return ParseAppSpec(text, SpecFormat::kYaml); }

// A minimal valid YAML spec plus `extra` lines (a later `run:` replaces the default).
std::string Minimal(std::string_view extra) {
  std::string run =
      extra.find("run:") == std::string_view::npos ? "run: {command: [./server]}\n" : "";
  return "name: web\n" + run + std::string(extra);
}

// Verify that the full spec of DESIGN.md parses to exactly the values it states.
TEST(SpecParseTest, DesignExampleParses) {
  auto spec = Yaml(kDesignSpec);
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(*spec, DesignSpec());
}

// Verify that the JSON form of the design example parses to the same spec.
TEST(SpecParseTest, JsonEqualsYaml) {
  std::string text = boost::json::serialize(SpecToJson(DesignSpec()));
  auto spec = ParseAppSpec(text, SpecFormat::kJson);
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(*spec, DesignSpec());
}

// Verify that a spec with only name and run gets every default of spec.h.
TEST(SpecParseTest, DefaultsApply) {
  auto spec = Yaml(Minimal(""));
  ASSERT_TRUE(spec) << spec.error().ToString();
  AppSpec expected;
  expected.name = "web";
  expected.run.command = {"./server"};
  EXPECT_EQ(*spec, expected);
  EXPECT_EQ(spec->health.type, HealthType::kTcp);
  EXPECT_EQ(spec->stop_grace, 10s);
  EXPECT_FALSE(spec->autoscale.has_value());
}

// Verify that SpecFromJson(SpecToJson(s)) == s for the defaults, the design
// example and an image app, and that canonical JSON is a fixed point.
TEST(SpecParseTest, CanonicalRoundTrip) {
  AppSpec image;
  image.name = "api";
  image.run.image = "registry.example/api:2";
  image.run.args = {"--verbose"};
  image.port = 9000;
  image.resources = {1500, 1000};
  image.health.type = HealthType::kNone;
  image.update.strategy = UpdateStrategy::kBlueGreen;
  image.placement.strategy = PlacementStrategy::kLeastLoaded;
  image.placement.constraints = {{"disk", ConstraintOp::kNotEquals, "hdd"}};
  image.stop_grace = 1500ms;
  image.autoscale = Autoscale{.min = 0,
                              .max = 3,
                              .target_rps_per_replica = 50,
                              .target_memory = 80,
                              .scale_out_threshold = 0,
                              .scale_in_threshold = 50,
                              .window = 90s,
                              .cooldown_up = 1s,
                              .cooldown_down = 1h,
                              .max_step = 2,
                              .scale_to_zero = true,
                              .idle = 30min};
  image.regions["ams"] = RegionOverride{};
  AppSpec minimal;
  minimal.name = "m";
  minimal.run.command = {"x"};
  for (const AppSpec& s : {minimal, DesignSpec(), image}) {
    boost::json::value canonical = SpecToJson(s);
    auto back = SpecFromJson(canonical);
    ASSERT_TRUE(back) << back.error().ToString() << "\n" << canonical;
    EXPECT_EQ(*back, s) << canonical;
    EXPECT_EQ(SpecToJson(*back), canonical);
  }
}

// Verify the canonical spellings SpecToJson writes.
TEST(SpecParseTest, CanonicalForm) {
  boost::json::value j = SpecToJson(DesignSpec());
  EXPECT_EQ(j.at("resources").at("cpu"), "250m");
  EXPECT_EQ(j.at("resources").at("memory"), "128Mi");
  EXPECT_EQ(j.at("health").at("interval"), "2s");
  EXPECT_EQ(j.at("health").at("type"), "http");
  EXPECT_EQ(j.at("update").at("healthy_deadline"), "1m");
  EXPECT_EQ(j.at("stop_grace"), "10s");
  EXPECT_EQ(j.at("placement").at("constraints").at(0), "zone == a");
  EXPECT_EQ(j.at("placement").at("constraints").at(1), "compute");
  EXPECT_EQ(j.at("regions").at("fra").at("replicas"), 2);
  AppSpec no_autoscale = DesignSpec();
  no_autoscale.autoscale.reset();
  EXPECT_FALSE(SpecToJson(no_autoscale).as_object().contains("autoscale"));
}

// Verify that examples/hello.yaml is a valid spec with the documented values.
TEST(SpecParseTest, HelloExampleParses) {
  std::string source = __FILE__;  // .../src/model/spec_parse_test.cc
  std::string root = source.substr(0, source.rfind("/src/model/"));
  std::ifstream in(root + "/examples/hello.yaml");
  ASSERT_TRUE(in) << "cannot open examples/hello.yaml under " << root;
  std::stringstream text;
  text << in.rdbuf();
  auto spec = Yaml(text.str());
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(spec->name, "hello");
  EXPECT_EQ(spec->run.command, (std::vector<std::string>{"python3", "-m", "http.server", "${PORT}",
                                                         "--bind", "${HOST}"}));
  EXPECT_EQ(spec->domains, std::vector<std::string>{"hello.localhost"});
  EXPECT_EQ(spec->replicas, 2);
  EXPECT_EQ(spec->health.type, HealthType::kHttp);
  EXPECT_EQ(spec->health.path, "/");
}

struct ValidCase {
  std::string yaml;  // appended to Minimal()
  std::function<void(const AppSpec&)> check;
};

// Verify accepted spellings: numeric quantities, YAML scalars kept as text, normalisation.
TEST(SpecParseTest, ValidVariants) {
  const ValidCase cases[] = {
      {"resources: {cpu: 0.5, memory: 1048576}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.resources, (Resources{500, 1 << 20}));
       }},
      {"resources: {cpu: 2, memory: 512M}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.resources, (Resources{2000, 512'000'000}));
       }},
      {"resources: {cpu: \"1.5\"}",
       [](const AppSpec& s) { EXPECT_EQ(s.resources.cpu_millis, 1500); }},
      {"edge: {lb: round-robin}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.edge.lb, LoadBalancer::kRoundRobin);
         EXPECT_FALSE(s.edge.rate_limit.has_value());
         EXPECT_EQ(s.edge.max_in_flight, 1000);
         EXPECT_EQ(s.edge.max_body, 10 << 20);
         EXPECT_EQ(s.edge.tls, EdgeTls::kAuto);
         EXPECT_FALSE(s.edge.https_redirect);
         EXPECT_FALSE(s.edge.hsts.has_value());
         EXPECT_EQ(s.edge.wake_queue, 100);
         EXPECT_EQ(s.edge.wake_timeout, std::chrono::seconds(30));
       }},
      {"edge: {wake_queue: 5, wake_timeout: 2m}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.edge.wake_queue, 5);
         EXPECT_EQ(s.edge.wake_timeout, std::chrono::minutes(2));
       }},
      {"edge: {tls: off, https_redirect: true, hsts: 24h}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.edge.tls, EdgeTls::kOff);
         EXPECT_TRUE(s.edge.https_redirect);
         EXPECT_EQ(s.edge.hsts, std::chrono::hours(24));
       }},
      {"edge: {tls: manual}", [](const AppSpec& s) { EXPECT_EQ(s.edge.tls, EdgeTls::kManual); }},
      {"edge: {rate_limit: {average: 100, burst: 200}, max_in_flight: 5, max_body: 1Mi}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.edge.rate_limit, (RateLimit{100, 200}));
         EXPECT_EQ(s.edge.max_in_flight, 5);
         EXPECT_EQ(s.edge.max_body, 1 << 20);
       }},
      {"edge: {timeouts: {connect: 250ms, response: 5m}}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.edge.connect_timeout, std::chrono::milliseconds(250));
         EXPECT_EQ(s.edge.response_timeout, std::chrono::minutes(5));
       }},
      {"edge: {rate_limit: {average: 7}}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.edge.rate_limit, (RateLimit{7, 7}));
       }},
      {"run: {command: [./server], workdir: /srv/web}",
       [](const AppSpec& s) { EXPECT_EQ(s.run.workdir, "/srv/web"); }},
      // A path without a type means an http check; an explicit type wins.
      {"health: {path: /ready}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.health.type, HealthType::kHttp);
         EXPECT_EQ(s.health.path, "/ready");
       }},
      {"health: {type: tcp, path: /ready}",
       [](const AppSpec& s) { EXPECT_EQ(s.health.type, HealthType::kTcp); }},
      {"env: {A: on, B: yes, C: 1.10, D: 007, E: true, F: '', G: 0x1F}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.env, (std::map<std::string, std::string>{{"A", "on"},
                                                              {"B", "yes"},
                                                              {"C", "1.10"},
                                                              {"D", "007"},
                                                              {"E", "true"},
                                                              {"F", ""},
                                                              {"G", "0x1F"}}));
       }},
      {"regions: {fra: {env: {X: 10}}, ams: }",
       [](const AppSpec& s) {
         EXPECT_EQ(s.regions.at("fra").env.at("X"), "10");
         EXPECT_FALSE(s.regions.at("fra").replicas.has_value());
         EXPECT_EQ(s.regions.at("ams"), RegionOverride{});
       }},
      {"domains: [Example.COM, example.com/api, a-b.example.org/v1/x]",
       [](const AppSpec& s) {
         EXPECT_EQ(s.domains, (std::vector<std::string>{"example.com", "example.com/api",
                                                        "a-b.example.org/v1/x"}));
       }},
      {"placement: {strategy: round-robin, constraints: [\"zone==a\", \"disk != hdd\", "
       "\"node.kubernetes.io/role\"]}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.placement.strategy, PlacementStrategy::kRoundRobin);
         EXPECT_EQ(
             s.placement.constraints,
             (std::vector<Constraint>{{"zone", ConstraintOp::kEquals, "a"},
                                      {"disk", ConstraintOp::kNotEquals, "hdd"},
                                      {"node.kubernetes.io/role", ConstraintOp::kExists, ""}}));
       }},
      {"update: {strategy: canary, max_surge: 0, max_unavailable: 1}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.update.strategy, UpdateStrategy::kCanary);
         EXPECT_EQ(s.update.max_surge, 0);
         EXPECT_EQ(s.update.max_unavailable, 1);
         EXPECT_EQ(s.update.canary, 1);
         EXPECT_EQ(s.update.canary_weight, 10);
         EXPECT_FALSE(s.update.auto_promote);
       }},
      {"update: {strategy: canary, canary: 2, canary_weight: 25, auto_promote: true}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.update.canary, 2);
         EXPECT_EQ(s.update.canary_weight, 25);
         EXPECT_TRUE(s.update.auto_promote);
       }},
      {"update: {strategy: blue-green, keep_old: 30s}\nedge: {drain_timeout: 2s}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.update.strategy, UpdateStrategy::kBlueGreen);
         EXPECT_EQ(s.update.keep_old, 30s);
         EXPECT_EQ(s.edge.drain_timeout, 2s);
       }},
      {"autoscale: {min: 0, max: 2, scale_to_zero: true}",
       [](const AppSpec& s) {
         ASSERT_TRUE(s.autoscale);
         EXPECT_EQ(s.autoscale->min, 0);
         EXPECT_EQ(s.autoscale->cooldown_down, 120s);
       }},
      {"autoscale: {target_rps_per_replica: 100}",
       [](const AppSpec& s) {
         ASSERT_TRUE(s.autoscale);
         EXPECT_EQ(*s.autoscale, (Autoscale{.target_rps_per_replica = 100}));
         EXPECT_EQ(s.autoscale->min, 1);
         EXPECT_EQ(s.autoscale->max, 10);
         EXPECT_EQ(s.autoscale->scale_out_threshold, 10);
         EXPECT_EQ(s.autoscale->scale_in_threshold, 20);
         EXPECT_EQ(s.autoscale->window, 60s);
         EXPECT_EQ(s.autoscale->cooldown_up, 30s);
         EXPECT_EQ(s.autoscale->cooldown_down, 120s);
         EXPECT_EQ(s.autoscale->max_step, 4);
         EXPECT_FALSE(s.autoscale->scale_to_zero);
         EXPECT_EQ(s.autoscale->idle, 10min);
       }},
      // Without a min of its own, a scale_to_zero policy's min is 0.
      {"autoscale: {scale_to_zero: true, max_p95_ms: 250, idle: 30s}",
       [](const AppSpec& s) {
         ASSERT_TRUE(s.autoscale);
         EXPECT_EQ(s.autoscale->min, 0);
         EXPECT_TRUE(s.autoscale->scale_to_zero);
         EXPECT_EQ(s.autoscale->idle, 30s);
       }},
      {"resources: {cpu: 500m, memory: 256Mi}\n"
       "autoscale: {min: 2, max: 2, target_cpu: 70, target_memory: 150, scale_out_threshold: 0,\n"
       "            scale_in_threshold: 100, window: 1h, max_step: 1, cooldown_up: 0,\n"
       "            cooldown_down: 0}",
       [](const AppSpec& s) {
         ASSERT_TRUE(s.autoscale);
         EXPECT_EQ(*s.autoscale, (Autoscale{.min = 2,
                                            .max = 2,
                                            .target_cpu = 70,
                                            .target_memory = 150,
                                            .scale_out_threshold = 0,
                                            .scale_in_threshold = 100,
                                            .window = 1h,
                                            .cooldown_up = 0s,
                                            .cooldown_down = 0s,
                                            .max_step = 1}));
       }},
      {"autoscale: {target_rps_per_replica: 5, window: 1s}",
       [](const AppSpec& s) { EXPECT_EQ(s.autoscale->window, 1s); }},
      {"stop_grace: 1m30s\nhealth: {grace: 0, interval: 500ms, timeout: 500ms}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.stop_grace, 90s);
         EXPECT_EQ(s.health.grace, 0ms);
         EXPECT_EQ(s.health.timeout, 500ms);
       }},
      {"replicas: 0\nport: 65535\nenv:\nhealth: {type: none}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.replicas, 0);
         EXPECT_EQ(s.port, 65535);
         EXPECT_TRUE(s.env.empty());
         EXPECT_EQ(s.health.type, HealthType::kNone);
       }},
      {"replicas: !!int \"3\"", [](const AppSpec& s) { EXPECT_EQ(s.replicas, 3); }},
      {"run: {command: [sleep, 1.50, true, 8000]}",
       [](const AppSpec& s) {
         EXPECT_EQ(s.run.command, (std::vector<std::string>{"sleep", "1.50", "true", "8000"}));
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto spec = Yaml(Minimal(c.yaml + "\n"));
    ASSERT_TRUE(spec) << spec.error().ToString();
    c.check(*spec);
  }
}

// Verify that an image app with args and a port parses.
TEST(SpecParseTest, ImageApp) {
  auto spec = Yaml(
      "name: api\nrun: {image: 'registry.example/api:1.4', args: [--port, '80']}\n"
      "port: 80\n");
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(spec->run.image, "registry.example/api:1.4");
  EXPECT_EQ(spec->run.args, (std::vector<std::string>{"--port", "80"}));
  EXPECT_TRUE(spec->run.command.empty());
  EXPECT_EQ(spec->port, 80);
}

struct InvalidCase {
  std::string yaml;    // the whole document
  std::string field;   // the expected Error::field
  std::string reason;  // a substring of the message
};

std::string M(std::string_view extra) { return Minimal(extra); }

// Each case fails with kInvalidArgument, its field and its reason.
template <size_t N>
void ExpectInvalid(const InvalidCase (&cases)[N]) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto spec = Yaml(c.yaml);
    ASSERT_FALSE(spec);
    EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(spec.error().field, c.field);
    EXPECT_THAT(spec.error().message, HasSubstr(c.reason));
  }
}

// Verify that each invalid spec fails with kInvalidArgument naming the exact field.
TEST(SpecParseTest, InvalidCases) {
  const InvalidCase cases[] = {
      {M("replicas: -1"), "replicas", "replicas: must be >= 0 (got -1)"},
      {M("replicas: 1.5"), "replicas", "must be an integer (got 1.5)"},
      {M("replicas: 1e20"), "replicas", "must be an integer (got 1e+20)"},
      {M("replicas: 99999999999"), "replicas", "must be <= 2147483647 (got 99999999999)"},
      {M("resources: {cpu: \"99999999999999999999\"}"), "resources.cpu", "not a cpu quantity"},
      {M("resources: {cpu: 1e300}"), "resources.cpu", "not a cpu quantity"},
      // Engines take cpu as int64 nanoCPUs: a million times the millis.
      {M("resources: {cpu: 9223372036855m}"), "resources.cpu", "too large"},
      {M("replicas: two"), "replicas", "must be an integer, not a string"},
      {M("health: {interval: 2 seconds}"), "health.interval",
       "health.interval: not a duration (\"2 seconds\"); use e.g. 500ms, 2s, 5m, 1h"},
      {M("health: {interval: 5}"), "health.interval", "not a duration (5)"},
      {M("health: {interval: 1s, timeout: 2s}"), "health.timeout", "must be <= interval (2s > 1s)"},
      {M("health: {interval: 0}"), "health.interval", "must be > 0"},
      {M("health: {type: udp}"), "health.type", "must be one of http, tcp, none"},
      {M("health: {path: healthz}"), "health.path", "must start with '/'"},
      {M("health: {healthy_threshold: 0}"), "health.healthy_threshold", "must be >= 1 (got 0)"},
      {M("health: {unhealthy_threshold: 0}"), "health.unhealthy_threshold", "must be >= 1"},
      {M("health: {intervl: 2s}"), "health.intervl",
       "health.intervl: unknown field; did you mean \"interval\"?"},
      {M("health: 3"), "health", "must be an object, not a number"},
      {"name: web\nrun: {}\n", "run", "run: exactly one of command, image"},
      {"name: web\nrun: {command: [x], image: y}\n", "run", "exactly one of command, image"},
      {"name: web\n", "run", "required"},
      {"run: {command: [x]}\n", "name", "name: required"},
      {"name: Web\nrun: {command: [x]}\n", "name", "must be a DNS label"},
      {"name: 1web\nrun: {command: [x]}\n", "name", "must be a DNS label"},
      {"name: web-\nrun: {command: [x]}\n", "name", "must be a DNS label"},
      {"name: web\nrun: {command: [x, '']}\n", "run.command[1]", "must not be empty"},
      {"name: web\nrun: {command: [x, [y]]}\n", "run.command[1]", "must be a string"},
      {"name: web\nrun: {command: []}\n", "run.command", "must not be empty"},
      {"name: web\nrun: {command: ./server}\n", "run.command", "must be a list of strings"},
      {"name: web\nrun: {command: [x], args: [y]}\n", "run.args", "only allowed with image"},
      {"name: web\nrun: {command: [x], user: app}\n", "run.user",
       "only allowed with image or build"},
      {"name: web\nrun: {image: x, build: {context: /src}}\nport: 80\n", "run",
       "exactly one of command, image, build"},
      {"name: web\nrun: {build: {}}\nport: 80\n", "run.build", "exactly one of context, git"},
      {"name: web\nrun: {build: {context: src}}\nport: 80\n", "run.build.context",
       "must be an absolute path (got \"src\")"},
      {"name: web\nrun: {build: {context: /src, ref: main}}\nport: 80\n", "run.build.ref",
       "only allowed with git"},
      {"name: web\nrun: {build: {git: /r, dockerfile: ../x}}\nport: 80\n", "run.build.dockerfile",
       "must be a path inside the context"},
      {"name: web\nrun: {image: x, network: overlay}\nport: 80\n", "run.network",
       "must be bridge or host (got \"overlay\")"},
      {"name: web\nrun: {image: x, cap_add: [CAP_NET_ADMIN]}\nport: 80\n", "run.cap_add[0]",
       "not a capability name"},
      {"name: web\nrun: {image: x, cap_add: [ALL]}\nport: 80\n", "run.cap_add[0]",
       "not a capability name"},
      {"name: web\nrun: {image: x, read_only: yes please}\nport: 80\n", "run.read_only",
       "must be true or false"},
      {"name: web\nrun: {image: x}\n", "port", "required for an image app"},
      {M("edge: {lb: random}"), "edge.lb",
       "must be one of p2c, least-request, round-robin (got \"random\")"},
      {M("edge: {lbb: p2c}"), "edge.lbb", "edge.lbb: unknown field"},
      {M("edge: {rate_limit: {burst: 5}}"), "edge.rate_limit.average", "required"},
      {M("edge: {rate_limit: {average: 0}}"), "edge.rate_limit.average", "must be >= 1"},
      {M("edge: {max_in_flight: 0}"), "edge.max_in_flight", "must be >= 1"},
      {M("edge: {max_body: 1Gi}"), "edge.max_body", "must be between 1 and 256Mi"},
      {M("edge: {max_body: lots}"), "edge.max_body", "not a size"},
      {M("edge: {timeouts: {connect: 0}}"), "edge.timeouts.connect", "must be more than 0"},
      {M("edge: {timeouts: {response: 2h}}"), "edge.timeouts.response", "at most 1h"},
      {M("edge: {timeouts: {read: 1s}}"), "edge.timeouts.read", "unknown field"},
      {"name: web\nrun: {command: [x], workdir: srv}\n", "run.workdir",
       "must be an absolute path (got \"srv\")"},
      {"name: web\nrun: {image: 'x:1'}\n", "port", "required for an image app"},
      {"name: web\nrun: {image: 'x:1'}\nport: \"80\"\n", "port", "must be an integer"},
      {M("port: 0"), "port", "must be between 1 and 65535 (got 0)"},
      {M("port: 70000"), "port", "must be between 1 and 65535 (got 70000)"},
      {M("resources: {cpu: 2 cores}"), "resources.cpu", "not a cpu quantity"},
      {M("resources: {cpu: -1}"), "resources.cpu", "not a cpu quantity (-1)"},
      {M("resources: {memory: 128MB}"), "resources.memory", "not a memory quantity"},
      {M("resources: {memory: -5}"), "resources.memory", "not a memory quantity (-5)"},
      {M("resources: {mem: 1Gi}"), "resources.mem", "did you mean \"memory\"?"},
      {M("placement: {strategy: random}"), "placement.strategy", "must be one of spread"},
      {M("placement: {constraints: [\"zone = a\"]}"), "placement.constraints[0]",
       "not a constraint (\"zone = a\")"},
      {M("placement: {constraints: [\"zone == \"]}"), "placement.constraints[0]",
       "not a constraint"},
      {M("update: {strategy: recreate}"), "update.strategy", "must be one of rolling"},
      {M("update: {max_surge: 0, max_unavailable: 0}"), "update",
       "max_surge and max_unavailable cannot both be 0"},
      {M("update: {max_surge: -1}"), "update.max_surge", "must be >= 0 (got -1)"},
      {M("update: {auto_revert: yes}"), "update.auto_revert", "must be true or false"},
      {M("update: {canary: 0}"), "update.canary", "must be >= 1 (got 0)"},
      {M("update: {canary_weight: 101}"), "update.canary_weight", "must be a percentage"},
      {M("update: {keep_old: soon}"), "update.keep_old", "not a duration"},
      {M("edge: {drain_timeout: 2h}"), "edge.drain_timeout", "must be at most 1h"},
      {M("edge: {tls: on}"), "edge.tls", "must be one of auto, manual, off (got \"on\")"},
      {M("edge: {https_redirect: yes}"), "edge.https_redirect", "must be true or false"},
      {M("edge: {hsts: forever}"), "edge.hsts", "not a duration"},
      {M("edge: {hsts: 500ms}"), "edge.hsts", "must be between 1s and 17520h"},
      {M("edge: {wake_queue: 0}"), "edge.wake_queue", "must be >= 1 (got 0)"},
      {M("edge: {wake_timeout: 500ms}"), "edge.wake_timeout",
       "must be between 1s and 10m (got 500ms)"},
      {M("edge: {wake_timeout: 1h}"), "edge.wake_timeout", "must be between 1s and 10m (got 1h)"},
      {M("edge: {wake_timeout: soon}"), "edge.wake_timeout", "not a duration"},
      {M("autoscale: {min: 5, max: 2}"), "autoscale.min", "must be <= max (5 > 2)"},
      {M("autoscale: {min: 0}"), "autoscale.min", "may be 0 only with scale_to_zero"},
      {M("autoscale: {min: -1}"), "autoscale.min", "must be >= 0 (got -1)"},
      {M("autoscale: {target_cpu: -5}"), "autoscale.target_cpu", "must be >= 0"},
      {M("domains: [\"bad_host.com\"]"), "domains[0]", "not a hostname"},
      {M("domains: [\"-a.com\"]"), "domains[0]", "not a hostname"},
      {M("domains: [\"a..com\"]"), "domains[0]", "not a hostname"},
      {M("domains: [\"a.com:8080\"]"), "domains[0]", "not a hostname"},
      {M("domains: [\"a.com/\"]"), "domains[0]", "not a path prefix"},
      {M("domains: [a.com, A.com]"), "domains[1]", "duplicate domain \"a.com\""},
      {M("domains: a.com"), "domains", "must be a list of strings"},
      {M("env: {1X: a}"), "env.1X", "not a valid variable name"},
      {M("env: {A-B: a}"), "env.A-B", "not a valid variable name"},
      {M("env: {A: [1]}"), "env.A", "must be a string"},
      {M("env: [A]"), "env", "must be an object"},
      {M("regions: {fra: {replicas: -2}}"), "regions.fra.replicas", "must be >= 0 (got -2)"},
      {M("regions: {fra: {replica: 2}}"), "regions.fra.replica", "did you mean \"replicas\"?"},
      {M("regions: {FRA: {}}"), "regions.FRA", "region name must be a DNS label"},
      {M("regions: {fra: {env: {9: x}}}"), "regions.fra.env.9", "not a valid variable name"},
      {M("stop_grace: forever"), "stop_grace", "not a duration (\"forever\")"},
      {M("replica: 2"), "replica", "unknown field; did you mean \"replicas\"?"},
      {M("completely_different: 1"), "completely_different", "unknown field"},
      {"- a\n- b\n", "", "must be an object, not a list"},
  };
  ExpectInvalid(cases);
}

// A minimal spec with `autoscale: {<fields>}` and the lines of `extra` before it.
std::string SpecParseAutoscale(std::string_view fields, std::string_view extra = "") {
  return M(fmt::format("{}autoscale: {{{}}}\n", extra, fields));
}

// Verify that each invalid autoscale policy fails with kInvalidArgument naming
// the exact field, and that its reason says what to do.
TEST(SpecParseTest, AutoscaleInvalidCases) {
  const auto A = [](std::string_view fields, std::string_view extra = "") {
    return SpecParseAutoscale(fields, extra);
  };
  const InvalidCase cases[] = {
      {A("min: 5, max: 2, target_cpu: 70", "resources: {cpu: 1}\n"), "autoscale.min",
       "autoscale.min: must be <= max (5 > 2)"},
      {A("min: -1, target_rps_per_replica: 10"), "autoscale.min", "must be >= 0 (got -1)"},
      {A("max: 0, target_rps_per_replica: 10"), "autoscale.max", "must be >= 1 (got 0)"},
      {A("min: 0, target_rps_per_replica: 10"), "autoscale.min",
       "may be 0 only with scale_to_zero: true"},
      {A("min: 2, scale_to_zero: true, target_rps_per_replica: 10"), "autoscale.scale_to_zero",
       "autoscale.scale_to_zero: needs min: 0 (got min: 2): remove min, or scale_to_zero"},
      {A("min: 1, max: 3"), "autoscale",
       "autoscale: nothing to scale on: set at least one of target_rps_per_replica, max_p95_ms, "
       "target_cpu, target_memory (or scale_to_zero: true)"},
      {A("target_cpu: 0, max_p95_ms: 0"), "autoscale", "nothing to scale on"},
      {A("target_cpu: 70"), "autoscale.target_cpu",
       "autoscale.target_cpu: is a percent of the cpu reservation, and there is none: set "
       "resources.cpu (e.g. 250m), or use another signal"},
      {A("target_cpu: 70", "resources: {cpu: 0, memory: 1Gi}\n"), "autoscale.target_cpu",
       "set resources.cpu"},
      {A("target_memory: 70", "resources: {cpu: 250m}\n"), "autoscale.target_memory",
       "set resources.memory (e.g. 128Mi)"},
      {A("target_rps_per_replica: -1"), "autoscale.target_rps_per_replica",
       "must be >= 0 (got -1)"},
      {A("max_p95_ms: 2.5"), "autoscale.max_p95_ms", "must be an integer (got 2.5)"},
      {A("target_memory: high", "resources: {memory: 1Gi}\n"), "autoscale.target_memory",
       "must be an integer, not a string"},
      {A("target_rps_per_replica: 10, scale_out_threshold: 101"), "autoscale.scale_out_threshold",
       "must be a percentage of the target, 0 to 100 (got 101)"},
      {A("target_rps_per_replica: 10, scale_in_threshold: -1"), "autoscale.scale_in_threshold",
       "must be a percentage of the target, 0 to 100 (got -1)"},
      {A("target_rps_per_replica: 10, window: 500ms"), "autoscale.window",
       "autoscale.window: must be between 1s and 1h (got 500ms)"},
      {A("target_rps_per_replica: 10, window: 0"), "autoscale.window", "(got 0s)"},
      {A("target_rps_per_replica: 10, window: 2h"), "autoscale.window", "(got 2h)"},
      {A("target_rps_per_replica: 10, window: 60"), "autoscale.window", "not a duration (60)"},
      {A("target_rps_per_replica: 10, cooldown_up: -5s"), "autoscale.cooldown_up",
       "not a duration (\"-5s\")"},
      {A("target_rps_per_replica: 10, cooldown_down: -1m"), "autoscale.cooldown_down",
       "not a duration"},
      {A("scale_to_zero: true, idle: -10m"), "autoscale.idle", "not a duration"},
      {A("scale_to_zero: true, idle: 0"), "autoscale.idle", "must be at least 1s (got 0s)"},
      {A("target_rps_per_replica: 10, max_step: 0"), "autoscale.max_step",
       "must be between 1 and 10000 (got 0)"},
      {A("target_rps_per_replica: 10, scale_to_zero: yes"), "autoscale.scale_to_zero",
       "must be true or false"},
      {A("target_rps_per_replca: 10"), "autoscale.target_rps_per_replca",
       "autoscale.target_rps_per_replca: unknown field; did you mean "
       "\"target_rps_per_replica\"?"},
      {A("target_rps_per_replica: 10, cooldown: 1m"), "autoscale.cooldown",
       "did you mean \"cooldown_up\"?"},
      {A("target_rps_per_replica: 10, windw: 1m"), "autoscale.windw", "did you mean \"window\"?"},
      {A("target_rps_per_replica: 10, p95: 300"), "autoscale.p95", "autoscale.p95: unknown field"},
      {M("autoscale: 3"), "autoscale", "must be an object, not a number"},
  };
  ExpectInvalid(cases);
}

// Verify that a signal with a bad value, or a reservation with a bad value, is
// reported once: not again as a missing signal or a missing reservation.
TEST(SpecParseTest, AutoscaleReportsEachProblemOnce) {
  auto bad_target = Yaml(SpecParseAutoscale("target_cpu: -5"));
  ASSERT_FALSE(bad_target);
  EXPECT_EQ(bad_target.error().message, "autoscale.target_cpu: must be >= 0 (got -5)");
  auto bad_cpu = Yaml(SpecParseAutoscale("target_cpu: 70", "resources: {cpu: lots}\n"));
  ASSERT_FALSE(bad_cpu);
  EXPECT_EQ(bad_cpu.error().field, "resources.cpu");
  EXPECT_EQ(bad_cpu.error().message,
            "resources.cpu: not a cpu quantity (\"lots\"); use e.g. 250m or 0.5");
}

// Verify that the rules older specs did not follow (a signal, a reservation for
// target_cpu / target_memory, min 0 with scale_to_zero) hold for a user's
// spec but not for one read back from the store, which must still decode.
TEST(SpecParseTest, AutoscaleStoredSpecsOfOlderVersionsReadBack) {
  for (std::string_view autoscale :
       {R"({"min":1,"max":3})", R"({"target_cpu":70,"target_memory":50})",
        R"({"min":2,"max":3,"scale_to_zero":true})"}) {
    SCOPED_TRACE(autoscale);
    json::value stored = json::parse(R"({"name":"web","run":{"command":["x"]}})");
    stored.as_object()["autoscale"] = json::parse(autoscale);
    auto read = SpecFromJson(stored);
    ASSERT_TRUE(read) << read.error().ToString();
    ASSERT_TRUE(read->autoscale);
    auto strict = ParseAppSpecJson(stored);
    ASSERT_FALSE(strict);
    EXPECT_EQ(strict.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(strict.error().field, ::testing::StartsWith("autoscale"));
  }
}

// Verify that a policy round-trips through the canonical JSON with every
// field, and that the canonical form of a user's policy is a valid spec again.
TEST(SpecParseTest, AutoscaleCanonicalForm) {
  auto spec = Yaml(SpecParseAutoscale(
      "min: 2, max: 8, target_rps_per_replica: 500, max_p95_ms: 250, target_cpu: 70, "
      "target_memory: 80, scale_out_threshold: 5, scale_in_threshold: 30, window: 2m, "
      "cooldown_up: 15s, cooldown_down: 5m, max_step: 3",
      "resources: {cpu: 500m, memory: 256Mi}\n"));
  ASSERT_TRUE(spec) << spec.error().ToString();
  json::value canonical = SpecToJson(*spec);
  EXPECT_EQ(canonical.at("autoscale"), json::parse(R"({"min":2,"max":8,
      "target_rps_per_replica":500,"max_p95_ms":250,"target_cpu":70,"target_memory":80,
      "scale_out_threshold":5,"scale_in_threshold":30,"window":"2m","cooldown_up":"15s",
      "cooldown_down":"5m","max_step":3,"scale_to_zero":false,"idle":"10m"})"));
  auto again = ParseAppSpecJson(canonical);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, *spec);
}

// Verify that CheckAutoscaleWindow refuses a window shorter than the server's
// sample interval, naming autoscale.window, and accepts one as long.
TEST(SpecParseTest, AutoscaleWindowAgainstSampleInterval) {
  EXPECT_TRUE(CheckAutoscaleWindow(Autoscale{.window = 5s}, 5s));
  EXPECT_TRUE(CheckAutoscaleWindow(Autoscale{}, 5s));
  auto status = CheckAutoscaleWindow(Autoscale{.window = 2s}, 5s);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.error().field, "autoscale.window");
  EXPECT_EQ(status.error().message,
            "autoscale.window: must be at least the server's sample interval, 5s (got 2s): a "
            "shorter window would hold no sample");
}

// Verify that an unknown field far from every known name gets no suggestion.
TEST(SpecParseTest, NoSuggestionWhenFar) {
  auto spec = Yaml(M("xyz: 1"));
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().message, "xyz: unknown field");
}

// Verify that all problems are reported together, in document order, joined by "; ".
TEST(SpecParseTest, MultipleErrorsReportedTogether) {
  auto spec = Yaml("name: web\nrun: {}\nreplicas: -1\nhealth: {intervl: 2s, timeout: x}\n");
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(spec.error().field, "run");
  EXPECT_EQ(spec.error().message,
            "run: exactly one of command, image, build; "
            "replicas: must be >= 0 (got -1); "
            "health.intervl: unknown field; did you mean \"interval\"?; "
            "health.timeout: not a duration (\"x\"); use e.g. 500ms, 2s, 5m, 1h, 90d");
}

// Verify that a quoted YAML number is a string, rejected like a JSON string.
TEST(SpecParseTest, QuotedNumbersAreStringsInBothFormats) {
  auto yaml = Yaml(M("replicas: \"2\""));
  auto json =
      ParseAppSpec(R"({"name":"web","run":{"command":["x"]},"replicas":"2"})", SpecFormat::kJson);
  ASSERT_FALSE(yaml);
  ASSERT_FALSE(json);
  EXPECT_EQ(yaml.error().field, "replicas");
  EXPECT_EQ(json.error().field, "replicas");
  EXPECT_EQ(yaml.error().message, json.error().message);
}

// Verify that JSON env values must be strings (JSON has no "text as written").
TEST(SpecParseTest, JsonEnvValuesMustBeStrings) {
  auto spec =
      ParseAppSpec(R"({"name":"web","run":{"command":["x"]},"env":{"N":5}})", SpecFormat::kJson);
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().field, "env.N");
}

// Verify that syntax errors give kInvalidArgument with the line and column.
TEST(SpecParseTest, SyntaxErrorsHavePosition) {
  auto yaml = Yaml("name: web\nrun: {command: [x]\n");
  ASSERT_FALSE(yaml);
  EXPECT_EQ(yaml.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(yaml.error().message, HasSubstr("invalid YAML at line "));

  auto json = ParseAppSpec("{\"name\": \"web\",\n  \"run\": }", SpecFormat::kJson);
  ASSERT_FALSE(json);
  EXPECT_EQ(json.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(json.error().message, HasSubstr("invalid JSON at line 2, column 10"));

  auto trailing = ParseAppSpec("{} x", SpecFormat::kJson);
  ASSERT_FALSE(trailing);
  EXPECT_EQ(trailing.error().code, ErrorCode::kInvalidArgument);
}

// Verify that a duplicate YAML key is rejected rather than silently resolved.
TEST(SpecParseTest, DuplicateYamlKey) {
  auto spec = Yaml(M("replicas: 1\nreplicas: 2\n"));
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(spec.error().field, "replicas");
  EXPECT_THAT(spec.error().message, HasSubstr("duplicate key"));
}

// Verify that an empty document is reported as not an object.
TEST(SpecParseTest, EmptyDocument) {
  auto spec = Yaml("");
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(spec.error().message, HasSubstr("must be an object, not null"));
}

// Verify ValidateName's DNS-label rule and the field it reports.
TEST(SpecParseTest, ValidateName) {
  for (const std::string& good :
       std::vector<std::string>{"a", "hello", "web-2", "a1", std::string(63, 'a')}) {
    EXPECT_TRUE(ValidateName(good)) << good;
  }
  for (const std::string& bad : std::vector<std::string>{"", "Hello", "2web", "web-", "-web",
                                                         "we_b", "we.b", std::string(64, 'a')}) {
    auto status = ValidateName(bad, "regions.x");
    ASSERT_FALSE(status) << bad;
    EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(status.error().field, "regions.x");
    EXPECT_THAT(status.error().message, HasSubstr("regions.x: must be a DNS label"));
  }
}

// Verify that the container fields of run parse, round-trip through the codec,
// and that a host-network container needs no port.
TEST(SpecParseTest, ContainerRunFields) {
  auto spec = Yaml(
      "name: web\n"
      "run: {build: {git: /srv/repo.git, ref: main}, args: [--x], cap_add: [NET_BIND_SERVICE],\n"
      "      user: '1000:1000', read_only: true, network: host}\n");
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_TRUE(IsContainer(spec->run));
  ASSERT_TRUE(spec->run.build.has_value());
  EXPECT_EQ(spec->run.build->git, "/srv/repo.git");
  EXPECT_EQ(spec->run.build->ref, "main");
  EXPECT_EQ(spec->run.build->dockerfile, "Dockerfile");
  EXPECT_EQ(spec->run.cap_add, std::vector<std::string>{"NET_BIND_SERVICE"});
  EXPECT_EQ(spec->run.user, "1000:1000");
  EXPECT_TRUE(spec->run.read_only);
  EXPECT_EQ(spec->run.network, NetworkMode::kHost);
  EXPECT_EQ(spec->port, 0);
  auto again = SpecFromJson(SpecToJson(*spec));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, *spec);

  auto image = Yaml("name: web\nrun: {image: 'skiff/web:1'}\nport: 8080\n");
  ASSERT_TRUE(image) << image.error().ToString();
  EXPECT_EQ(image->run.network, NetworkMode::kBridge);
  EXPECT_FALSE(image->run.read_only);
  auto image_again = SpecFromJson(SpecToJson(*image));
  ASSERT_TRUE(image_again) << image_again.error().ToString();
  EXPECT_EQ(*image_again, *image);
}

// Verify that specs written by a newer Skiff (fields this one does not know, at
// the top and inside sections) read back through SpecFromJson and
// ParseEdgePolicyJson with kIgnore, that a user's spec with the same fields is
// still refused, and that a known field of the wrong type fails either way,
// naming the field.
TEST(SpecParseTest, UnknownFieldsIgnoredOnlyWhenAsked) {
  AppSpec spec;
  spec.name = "web";
  spec.run.command = {"serve"};
  spec.edge.max_in_flight = 7;
  spec.edge.tls = EdgeTls::kManual;
  spec.edge.https_redirect = true;
  spec.edge.hsts = std::chrono::hours(1);
  spec.edge.wake_queue = 3;
  spec.edge.wake_timeout = std::chrono::seconds(90);
  json::value newer = SpecToJson(spec);
  newer.as_object()["future"] = "x";
  newer.as_object()["edge"].as_object()["future_policy"] = json::object{{"on", true}};
  newer.as_object()["health"].as_object()["future_probe"] = 1;

  auto read = SpecFromJson(newer);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(*read, spec);
  auto edge = ParseEdgePolicyJson(newer.at("edge"), UnknownFields::kIgnore);
  ASSERT_TRUE(edge) << edge.error().ToString();
  EXPECT_EQ(*edge, spec.edge);

  auto strict = ParseAppSpecJson(newer);
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(strict.error().field, "future");
  EXPECT_EQ(ParseEdgePolicyJson(newer.at("edge"), UnknownFields::kReject).error().field,
            "edge.future_policy");

  newer.as_object()["edge"].as_object()["max_in_flight"] = "many";
  auto wrong = SpecFromJson(newer);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(wrong.error().field, "edge.max_in_flight");
  EXPECT_EQ(ParseEdgePolicyJson(newer.at("edge"), UnknownFields::kIgnore).error().field,
            "edge.max_in_flight");
}

}  // namespace
}  // namespace skiff::model
