// The ControlPlane contract (protocol/control_plane.h): one set of tests run
// against every implementation an agent may be given: LocalControlPlane
// (in-process over NodeService), RemoteControlPlane (over real HTTP to the real
// API server on 127.0.0.1, port 0) and the tests' FakeControlPlane, so that
// what agent tests learn from the fake holds for the real ones. Then the
// cases only the remote one has: joining with a token, a refused token, an
// unreachable server.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/remote_control_plane.h"
#include "api/api_server.h"
#include "api/auth.h"
#include "api/join_tokens.h"
#include "controller/app_service.h"
#include "controller/node_service.h"
#include "fakes/fake_control_plane.h"
#include "fakes/testing.h"
#include "net/http_server.h"
#include "net/test_util.h"
#include "server/local_control_plane.h"
#include "store/memory/memory_store.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // g++ 12 false positive on Asio frames
#endif

namespace skiff {
namespace {

using model::Health;
using model::InstanceState;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr const char* kAdmin = "admin-token";
constexpr const char* kNode = "node-a";

// One implementation under test, with what the tests need to set the scene
// (as the scheduler and the store would) and to see what the calls changed.
class ControlPlaneHarness {
 public:
  virtual ~ControlPlaneHarness() = default;
  virtual protocol::ControlPlane& control_plane() = 0;
  // Places `instance` (on instance.node) with the spec of its revision.
  virtual void Place(const model::Instance& instance, const model::AppSpec& spec) = 0;
  // The instance as stored now; nullopt when absent.
  virtual std::optional<model::Instance> Stored(const std::string& id) = 0;
  // The "instance.*" events written so far, as "kind: message".
  virtual std::vector<std::string> InstanceEvents() = 0;
  // The latest resource sample kept for an instance; nullopt when none.
  virtual std::optional<model::ResourceSample> Sample(const std::string& instance_id) = 0;
  // Some other change in the cluster: the revision moves past the current one.
  virtual void ChangeSomething() = 0;
  // Forgets a node (an operator removed it while its agent was away).
  virtual void ForgetNode(const std::string& id) = 0;

  ManualClock clock;
};

std::vector<std::string> InstanceEventsOf(const std::vector<model::Event>& events) {
  std::vector<std::string> out;
  for (const model::Event& e : events) {
    if (e.kind.rfind("instance.", 0) == 0) out.push_back(e.kind + ": " + e.message);
  }
  return out;
}

// What Local and Remote share: a MemoryStore and the NodeService over it.
class StoreHarness : public ControlPlaneHarness {
 public:
  StoreHarness() : nodes_(&store_, &clock) {}

  void Place(const model::Instance& instance, const model::AppSpec& spec) override {
    model::Deployment d;
    d.app = instance.app;
    d.revision = instance.revision;
    d.spec = spec;
    store::Txn txn;
    txn.Put(instance, store::kMustNotExist);
    if (!store_.GetDeployment(d.app, d.revision)) txn.Put(d, store::kMustNotExist);
    auto committed = store_.Commit(txn);
    EXPECT_TRUE(committed) << committed.error().ToString();
  }
  std::optional<model::Instance> Stored(const std::string& id) override {
    auto stored = store_.GetInstance(id);
    if (!stored) return std::nullopt;
    return *stored;
  }
  std::vector<std::string> InstanceEvents() override {
    auto events = store_.ListEvents({.oldest_first = true});
    EXPECT_TRUE(events) << events.error().ToString();
    return events ? InstanceEventsOf(*events) : std::vector<std::string>{};
  }
  std::optional<model::ResourceSample> Sample(const std::string& instance_id) override {
    auto samples = nodes_.LatestSamples();
    auto it = samples.find(instance_id);
    if (it == samples.end()) return std::nullopt;
    return it->second;
  }
  void ChangeSomething() override {
    model::Event e;
    e.kind = "test.change";
    store::Txn txn;
    txn.AddEvent(e);
    EXPECT_TRUE(store_.Commit(txn));
  }
  void ForgetNode(const std::string& id) override {
    auto node = store_.GetNode(id);
    ASSERT_TRUE(node) << node.error().ToString();
    store::Txn txn;
    txn.Delete(*node, node->version);
    ASSERT_TRUE(store_.Commit(txn));
  }

 protected:
  store::MemoryStore store_;
  controller::NodeService nodes_;
};

class LocalHarness final : public StoreHarness {
 public:
  LocalHarness() : local_(&store_, &nodes_) {}
  protocol::ControlPlane& control_plane() override { return local_; }

 private:
  server::LocalControlPlane local_;
};

// The real API server behind the real net::HttpServer (127.0.0.1, port 0),
// spoken to by agent::RemoteControlPlane with a fresh join token.
class RemoteHarness final : public StoreHarness {
 public:
  RemoteHarness() : apps_(&store_, &clock) {
    tokens_ = std::make_unique<api::JoinTokenStore>(&store_, &clock);
    auth_ =
        std::make_unique<api::TokenAuthenticator>(std::vector<std::string>{kAdmin}, tokens_.get());
    api::ApiDeps deps;
    deps.store = &store_;
    deps.apps = &apps_;
    deps.nodes = &nodes_;
    deps.clock = &clock;
    deps.auth = auth_.get();
    deps.join_tokens = tokens_.get();
    deps.log_dir = dir_.path();
    api_ = std::make_unique<api::ApiServer>(std::move(deps));
    server_ = std::make_unique<net::HttpServer>(
        io_.io(),
        [this](const net::HttpRequest& r, net::ResponseWriter& w) { return api_->Handle(r, w); });
    auto listened = server_->Listen("127.0.0.1:0");
    EXPECT_TRUE(listened) << listened.error().ToString();
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    auto token = tokens_->Create();
    EXPECT_TRUE(token) << token.error().ToString();
    agent::RemoteControlPlaneOptions options;
    options.server_url = url_;
    options.join_token = token->token;
    remote_ = std::make_unique<agent::RemoteControlPlane>(options);
  }
  ~RemoteHarness() override { server_->Stop(); }

  protocol::ControlPlane& control_plane() override { return *remote_; }

  api::JoinTokenStore& tokens() { return *tokens_; }
  net::HttpServer& server() { return *server_; }
  const std::string& url() const { return url_; }

 private:
  testing::TempDir dir_;
  controller::AppService apps_;
  std::unique_ptr<api::JoinTokenStore> tokens_;
  std::unique_ptr<api::TokenAuthenticator> auth_;
  std::unique_ptr<api::ApiServer> api_;
  net::testing::IoThreads io_;
  std::unique_ptr<net::HttpServer> server_;
  std::string url_;
  std::unique_ptr<agent::RemoteControlPlane> remote_;
};

class FakeControlPlaneHarness final : public ControlPlaneHarness {
 public:
  FakeControlPlaneHarness() : fake_(&clock) {}
  protocol::ControlPlane& control_plane() override { return fake_; }
  void Place(const model::Instance& instance, const model::AppSpec& spec) override {
    fake_.PutSpec(instance.app, instance.revision, spec);
    fake_.PutInstance(instance);
  }
  std::optional<model::Instance> Stored(const std::string& id) override {
    return fake_.instance(id);
  }
  std::vector<std::string> InstanceEvents() override { return InstanceEventsOf(fake_.events()); }
  std::optional<model::ResourceSample> Sample(const std::string& instance_id) override {
    std::optional<model::ResourceSample> latest;
    for (const protocol::InstanceSample& s : fake_.samples()) {
      if (s.instance_id == instance_id) latest = s.sample;
    }
    return latest;
  }
  void ChangeSomething() override { fake_.PutSpec("other", 1, model::AppSpec{}); }
  void ForgetNode(const std::string& id) override { fake_.RemoveNode(id); }

 private:
  testing::FakeControlPlane fake_;
};

struct Implementation {
  std::string name;
  std::function<std::unique_ptr<ControlPlaneHarness>()> make;
};

void PrintTo(const Implementation& i, std::ostream* os) { *os << i.name; }

model::Node Node(const std::string& id, const std::string& address = "127.0.0.2") {
  model::Node n;
  n.id = id;
  n.name = id;
  n.address = address;
  n.drivers = {"process"};
  n.capacity = {2000, 1LL << 30};
  return n;
}

model::AppSpec Spec(const std::string& app) {
  model::AppSpec spec;
  spec.name = app;
  spec.run.command = {"serve", "${PORT}"};
  spec.replicas = 2;
  return spec;
}

model::Instance Instance(const std::string& id, const std::string& node, int64_t generation = 1) {
  model::Instance i;
  i.id = id;
  i.app = "web";
  i.revision = 1;
  i.node = node;
  i.generation = generation;
  i.port = 20001;
  return i;
}

// Every test starts with node-a registered through the implementation (the
// remote one needs it for its credential).
class ControlPlaneContractTest : public ::testing::TestWithParam<Implementation> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    auto node = cp().RegisterNode(Node(kNode));
    ASSERT_TRUE(node) << node.error().ToString();
  }

  protocol::ControlPlane& cp() { return harness_->control_plane(); }
  ControlPlaneHarness& harness() { return *harness_; }

  // The revision now (a wait on 0 answers it at once).
  int64_t Revision() {
    auto revision = cp().WaitForChange(0, seconds(10));
    EXPECT_TRUE(revision) << revision.error().ToString();
    return revision ? *revision : 0;
  }

  protocol::InstanceReport Report(const std::string& id, int64_t generation) {
    return protocol::InstanceReport{.instance_id = id, .node_id = kNode, .generation = generation};
  }

  std::unique_ptr<ControlPlaneHarness> harness_;
};

// Verify that registering answers the stored node, ready and as sent, and that
// registering again updates it.
TEST_P(ControlPlaneContractTest, RegisterAnswersTheReadyNode) {
  model::Node sent = Node(kNode, "127.0.0.3");
  sent.name = "renamed";
  sent.labels = {{"zone", "a"}};
  auto node = cp().RegisterNode(sent);
  ASSERT_TRUE(node) << node.error().ToString();
  EXPECT_EQ(node->id, kNode);
  EXPECT_EQ(node->name, "renamed");
  EXPECT_EQ(node->address, "127.0.0.3");
  EXPECT_EQ(node->labels, sent.labels);
  EXPECT_EQ(node->capacity.cpu_millis, 2000);
  EXPECT_EQ(node->drivers, std::vector<std::string>{"process"});
  EXPECT_EQ(node->status, model::NodeStatus::kReady);
}

// Verify that a node without an address is kInvalidArgument.
TEST_P(ControlPlaneContractTest, RegisterWithoutAddressIsInvalid) {
  auto node = cp().RegisterNode(Node(kNode, ""));
  ASSERT_FALSE(node);
  EXPECT_EQ(node.error().code, ErrorCode::kInvalidArgument);
}

// Verify that a heartbeat of a registered node is OK, and of a node the
// control plane no longer knows kNotFound.
TEST_P(ControlPlaneContractTest, Heartbeat) {
  EXPECT_TRUE(cp().Heartbeat(kNode));
  harness().ForgetNode(kNode);
  auto beat = cp().Heartbeat(kNode);
  ASSERT_FALSE(beat);
  EXPECT_EQ(beat.error().code, ErrorCode::kNotFound);
}

// Verify that the assignments are the node's instances (not another node's),
// with the spec of each revision they run, at a revision of the placement or later.
TEST_P(ControlPlaneContractTest, AssignmentsWithSpecs) {
  auto empty = cp().ListAssignments(kNode);
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_TRUE(empty->instances.empty());
  EXPECT_TRUE(empty->specs.empty());

  harness().Place(Instance("web-1", kNode), Spec("web"));
  harness().Place(Instance("web-2", kNode), Spec("web"));
  harness().Place(Instance("web-3", "node-b"), Spec("web"));
  const int64_t placed = Revision();
  auto assignments = cp().ListAssignments(kNode);
  ASSERT_TRUE(assignments) << assignments.error().ToString();
  EXPECT_GE(assignments->revision, placed);
  std::vector<std::string> ids;
  for (const model::Instance& i : assignments->instances) {
    ids.push_back(i.id);
    EXPECT_EQ(i.node, kNode);
    EXPECT_EQ(i.port, 20001);
  }
  EXPECT_THAT(ids, UnorderedElementsAre("web-1", "web-2"));
  ASSERT_EQ(assignments->specs.size(), 1u);
  const model::AppSpec& spec = assignments->specs.at("web/1");
  EXPECT_EQ(spec.name, "web");
  EXPECT_EQ(spec.run.command, (std::vector<std::string>{"serve", "${PORT}"}));
  EXPECT_EQ(spec.replicas, 2);
}

// Verify that a wait on a revision already past answers the current one at
// once, and one on the current revision answers it unchanged after the timeout.
TEST_P(ControlPlaneContractTest, WaitForChangeReturnsPastOrTimesOut) {
  harness().ChangeSomething();
  const int64_t now = Revision();
  ASSERT_GT(now, 0);
  auto past = cp().WaitForChange(now - 1, seconds(10));
  ASSERT_TRUE(past) << past.error().ToString();
  EXPECT_EQ(*past, now);
  auto timed_out = cp().WaitForChange(now, milliseconds(50));
  ASSERT_TRUE(timed_out) << timed_out.error().ToString();
  EXPECT_EQ(*timed_out, now);
}

// Verify that a wait returns past the revision when something changes while it waits.
TEST_P(ControlPlaneContractTest, WaitForChangeWakesOnAChange) {
  const int64_t now = Revision();
  auto waited =
      std::async(std::launch::async, [&] { return cp().WaitForChange(now, seconds(20)); });
  harness().ChangeSomething();
  ASSERT_EQ(waited.wait_for(seconds(15)), std::future_status::ready);
  auto revision = waited.get();
  ASSERT_TRUE(revision) << revision.error().ToString();
  EXPECT_GT(*revision, now);
}

// Verify that reports are merged into the stored instance by the node
// service's merge: fields, running generation, health, and the events.
TEST_P(ControlPlaneContractTest, ReportsMerge) {
  harness().Place(Instance("web-1", kNode), Spec("web"));
  protocol::InstanceReport running = Report("web-1", 1);
  running.state = InstanceState::kRunning;
  running.address = "127.0.0.2:20001";
  running.handle = "pid:42";
  running.started_at = harness().clock.Now();
  ASSERT_TRUE(cp().ReportInstance(running));
  harness().clock.Advance(seconds(3));
  protocol::InstanceReport healthy = Report("web-1", 1);
  healthy.health = Health::kHealthy;
  ASSERT_TRUE(cp().ReportInstance(healthy));

  auto stored = harness().Stored("web-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, InstanceState::kRunning);
  EXPECT_EQ(stored->health, Health::kHealthy);
  EXPECT_EQ(stored->address, "127.0.0.2:20001");
  EXPECT_EQ(stored->handle, "pid:42");
  EXPECT_EQ(stored->running_generation, 1);
  EXPECT_EQ(stored->healthy_since, harness().clock.Now());
  EXPECT_EQ(stored->updated_at, harness().clock.Now());
  EXPECT_THAT(harness().InstanceEvents(),
              ::testing::ElementsAre("instance.started: web-1 started on node-a at 127.0.0.2:20001",
                                     "instance.healthy: web-1 is healthy"));

  protocol::InstanceReport failed = Report("web-1", 1);
  failed.state = InstanceState::kFailed;
  failed.last_exit = 3;
  failed.message = "exited with 3";
  ASSERT_TRUE(cp().ReportInstance(failed));
  stored = harness().Stored("web-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, InstanceState::kFailed);
  EXPECT_EQ(stored->health, Health::kUnknown);
  EXPECT_EQ(stored->crash_count, 1);
  EXPECT_EQ(stored->last_exit, 3);
  EXPECT_EQ(stored->healthy_since, Time{});
}

// Verify that a health report of a new generation, without a state, moves the
// running generation (the fake once moved it only with a state).
TEST_P(ControlPlaneContractTest, ReportWithoutStateMovesRunningGeneration) {
  harness().Place(Instance("web-1", kNode, /*generation=*/2), Spec("web"));
  protocol::InstanceReport healthy = Report("web-1", 2);
  healthy.health = Health::kHealthy;
  ASSERT_TRUE(cp().ReportInstance(healthy));
  auto stored = harness().Stored("web-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->running_generation, 2);
}

// Verify that a report for an older generation than the stored one is
// accepted (OK) and changes nothing.
TEST_P(ControlPlaneContractTest, StaleGenerationIgnored) {
  harness().Place(Instance("web-1", kNode, /*generation=*/2), Spec("web"));
  protocol::InstanceReport stale = Report("web-1", 1);
  stale.state = InstanceState::kFailed;
  stale.message = "exited with 1";
  ASSERT_TRUE(cp().ReportInstance(stale));
  auto stored = harness().Stored("web-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, InstanceState::kPending);
  EXPECT_EQ(stored->message, "");
  EXPECT_EQ(stored->running_generation, 0);
  EXPECT_TRUE(harness().InstanceEvents().empty());
}

// Verify that a report on an unknown instance is kNotFound and one on another
// node's instance kFailedPrecondition, and that neither changes anything.
TEST_P(ControlPlaneContractTest, ReportErrors) {
  protocol::InstanceReport absent = Report("absent", 1);
  absent.state = InstanceState::kRunning;
  auto unknown = cp().ReportInstance(absent);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);

  harness().Place(Instance("web-3", "node-b"), Spec("web"));
  protocol::InstanceReport theirs = Report("web-3", 1);
  theirs.state = InstanceState::kRunning;
  auto other = cp().ReportInstance(theirs);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kFailedPrecondition);
  auto stored = harness().Stored("web-3");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, InstanceState::kPending);
}

// Verify that samples are kept per instance, the latest replacing the earlier.
TEST_P(ControlPlaneContractTest, Samples) {
  const Time at = harness().clock.Now();
  ASSERT_TRUE(cp().ReportSamples(kNode, {{"web-1", {at, 5, 6}}, {"web-2", {at, 7, 8}}}));
  ASSERT_TRUE(cp().ReportSamples(kNode, {{"web-1", {at + seconds(5), 50, 60}}}));
  auto sample = harness().Sample("web-1");
  ASSERT_TRUE(sample);
  EXPECT_EQ(sample->at, at + seconds(5));
  EXPECT_EQ(sample->cpu_millis, 50);
  EXPECT_EQ(sample->memory_bytes, 60);
  EXPECT_FALSE(harness().Sample("web-9"));
}

INSTANTIATE_TEST_SUITE_P(
    All, ControlPlaneContractTest,
    ::testing::Values(Implementation{"Local", [] { return std::make_unique<LocalHarness>(); }},
                      Implementation{"Remote", [] { return std::make_unique<RemoteHarness>(); }},
                      Implementation{"Fake",
                                     [] { return std::make_unique<FakeControlPlaneHarness>(); }}),
    [](const auto& info) { return info.param.name; });

// --- RemoteControlPlane only: credentials and reachability ---

class RemoteControlPlaneTest : public ::testing::Test {
 protected:
  RemoteHarness harness_;
};

// Verify that an agent joins with a join token, keeps the credential it gets,
// makes every call with it (and only for its own node), and that a later agent
// with only that credential registers again without the join token.
TEST_F(RemoteControlPlaneTest, JoinThenCredential) {
  auto token = harness_.tokens().Create();
  ASSERT_TRUE(token);
  std::string saved;
  agent::RemoteControlPlaneOptions options;
  options.server_url = harness_.url();
  options.join_token = token->token;
  options.save_credential = [&](const std::string& c) {
    saved = c;
    return OkStatus();
  };
  agent::RemoteControlPlane remote(options);
  auto node = remote.RegisterNode(Node(kNode));
  ASSERT_TRUE(node) << node.error().ToString();
  EXPECT_EQ(node->id, kNode);
  ASSERT_EQ(saved.size(), 64u);
  EXPECT_EQ(remote.credential(), saved);
  EXPECT_EQ(harness_.tokens().NodeForCredential(saved).value_or(std::nullopt), kNode);

  EXPECT_TRUE(remote.Heartbeat(kNode));
  auto other = remote.Heartbeat("node-b");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kPermissionDenied);
  auto theirs = remote.ListAssignments("node-b");
  ASSERT_FALSE(theirs);
  EXPECT_EQ(theirs.error().code, ErrorCode::kPermissionDenied);

  ASSERT_TRUE(harness_.tokens().Revoke(token->id));
  agent::RemoteControlPlaneOptions later;
  later.server_url = harness_.url();
  later.credential = saved;
  agent::RemoteControlPlane restarted(later);
  auto again = restarted.RegisterNode(Node(kNode));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(restarted.credential(), saved);
}

// Verify that a wrong join token is kUnauthenticated with the message that says what to do.
TEST_F(RemoteControlPlaneTest, WrongJoinToken) {
  agent::RemoteControlPlaneOptions options;
  options.server_url = harness_.url();
  options.join_token = "wrong";
  agent::RemoteControlPlane remote(options);
  auto node = remote.RegisterNode(Node(kNode));
  ASSERT_FALSE(node);
  EXPECT_EQ(node.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(node.error().message, HasSubstr("skiff nodes join-token"));

  // A stored credential the server does not know, and no join token to fall back on.
  agent::RemoteControlPlaneOptions stale;
  stale.server_url = harness_.url();
  stale.credential = "forgotten";
  auto again = agent::RemoteControlPlane(stale).RegisterNode(Node(kNode));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(again.error().message, HasSubstr("--join-token"));
}

// Verify that every call is kUnavailable when the server cannot be reached.
TEST_F(RemoteControlPlaneTest, UnreachableIsUnavailable) {
  agent::RemoteControlPlaneOptions options;
  options.server_url = harness_.url();
  options.credential = "c";
  harness_.server().Stop();
  agent::RemoteControlPlane remote(options);
  EXPECT_EQ(remote.RegisterNode(Node(kNode)).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(remote.Heartbeat(kNode).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(remote.ListAssignments(kNode).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(remote.WaitForChange(0, milliseconds(10)).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(remote.ReportInstance({.instance_id = "web-1", .node_id = kNode}).error().code,
            ErrorCode::kUnavailable);
  EXPECT_EQ(remote.ReportSamples(kNode, {}).error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace skiff
