// The authorization matrix (issue 15 §6): every route of the router's own
// list, called by each of twelve identities, each in a world of its own,
// against the answer the rules say. A route without a rule fails the test.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api/api_server.h"
#include "api/fake_writer_test_util.h"
#include "api/permission.h"
#include "auth/secrets.h"
#include "auth/users.h"
#include "fakes/testing.h"
#include "model/spec_parse.h"
#include "store/memory/memory_metrics_history.h"
#include "store/memory/memory_store.h"
#include "store/single_server_lease.h"

namespace skiff::api {
namespace {

using auth::Role;
using testing::FakeWriter;

constexpr const char* kAdminToken = "cluster-admin-token";

// Who calls: what the router and handlers must tell apart.
enum class Who {
  kNone,
  kMalformed,
  kUnknown,
  kExpired,
  kRevoked,
  kOtherViewer,
  kOtherDeployer,
  kViewer,
  kDeployer,
  kAdmin,
  kNode,
  kEdge,
  // Beyond the issue's twelve: the cluster's own admin token, and a server's
  // own edge (its edge credential), which reports its traffic only.
  kClusterAdmin,
  kServerEdge,
};
constexpr Who kEveryone[] = {
    Who::kNone,        Who::kMalformed,     Who::kUnknown,      Who::kExpired,   Who::kRevoked,
    Who::kOtherViewer, Who::kOtherDeployer, Who::kViewer,       Who::kDeployer,  Who::kAdmin,
    Who::kNode,        Who::kEdge,          Who::kClusterAdmin, Who::kServerEdge};

const char* Name(Who who) {
  constexpr const char* kNames[] = {
      "none",   "malformed", "unknown", "expired", "revoked", "other-viewer",  "other-deployer",
      "viewer", "deployer",  "admin",   "node",    "edge",    "cluster-admin", "server-edge"};
  return kNames[static_cast<int>(who)];
}

// Who may call a route of each permission at all, written out here rather
// than asked of the server's own RoleAllows, so that a grant changed there
// fails this test.
const std::map<Permission, std::set<Who>>& Grants() {
  const std::set<Who> admins = {Who::kAdmin, Who::kClusterAdmin};
  auto with = [&admins](std::set<Who> more) {
    more.insert(admins.begin(), admins.end());
    return more;
  };
  static const std::map<Permission, std::set<Who>> grants{
      {Permission::kMetrics, admins},
      {Permission::kAppsRead,
       with({Who::kViewer, Who::kDeployer, Who::kOtherViewer, Who::kOtherDeployer})},
      {Permission::kAppLogs,
       with({Who::kViewer, Who::kDeployer, Who::kOtherViewer, Who::kOtherDeployer})},
      {Permission::kAppsWrite, with({Who::kDeployer, Who::kOtherDeployer})},
      {Permission::kRoutes, with({Who::kEdge})},
      {Permission::kCluster, admins},
      // The rules report as e1:8080, a standalone edge: not the server's edge.
      {Permission::kEdgeSelf, with({Who::kEdge})},
      {Permission::kNodeSelf, with({Who::kNode})},
      {Permission::kLogin, {}},  // the handler's: see Expected
  };
  return grants;
}

// A request that succeeds on each route for a caller allowed to make it, and
// the status it then gets. The world (below) has app "web" (two revisions)
// in project "alpha", app "side" in project "other", node "n1".
struct Rule {
  std::string target;
  std::string body;
  int status;
};

const std::map<std::pair<std::string, std::string>, Rule>& Rules() {
  static const std::map<std::pair<std::string, std::string>, Rule> rules{
      {{"GET", "/health"}, {"/health", "", 200}},
      {{"GET", "/metrics"}, {"/metrics", "", 200}},
      {{"GET", "/v1/apps"}, {"/v1/apps", "", 200}},
      {{"PUT", "/v1/apps/{name}"},
       {"/v1/apps/web",
        R"({"name":"web","project":"alpha","replicas":3,"run":{"command":["sleep","1"]}})", 201}},
      {{"GET", "/v1/apps/{name}"}, {"/v1/apps/web", "", 200}},
      {{"DELETE", "/v1/apps/{name}"}, {"/v1/apps/web", "", 202}},
      {{"POST", "/v1/apps/{name}/scale"}, {"/v1/apps/web/scale", R"({"replicas":4})", 201}},
      {{"POST", "/v1/apps/{name}/restart"}, {"/v1/apps/web/restart", "", 202}},
      {{"POST", "/v1/apps/{name}/rollback"}, {"/v1/apps/web/rollback", "{}", 201}},
      // Not a canary: the handler's own refusal, past every check of the caller.
      {{"POST", "/v1/apps/{name}/promote"}, {"/v1/apps/web/promote", "", 412}},
      {{"GET", "/v1/apps/{name}/deployments"}, {"/v1/apps/web/deployments", "", 200}},
      {{"GET", "/v1/apps/{name}/instances"}, {"/v1/apps/web/instances", "", 200}},
      {{"GET", "/v1/apps/{name}/logs"}, {"/v1/apps/web/logs?tail=5", "", 200}},
      {{"GET", "/v1/apps/{name}/metrics"}, {"/v1/apps/web/metrics?since=10m", "", 200}},
      {{"GET", "/v1/apps/{name}/metrics/live"}, {"/v1/apps/web/metrics/live", "", 200}},
      {{"GET", "/v1/apps/{name}/secrets"}, {"/v1/apps/web/secrets", "", 200}},
      {{"PUT", "/v1/apps/{name}/secrets/{key}"}, {"/v1/apps/web/secrets/TOKEN", "t0ps3cret", 200}},
      {{"DELETE", "/v1/apps/{name}/secrets/{key}"}, {"/v1/apps/web/secrets/API_KEY", "", 200}},
      {{"GET", "/v1/events"}, {"/v1/events", "", 200}},
      {{"GET", "/v1/watch"}, {"/v1/watch?since=0", "", 200}},
      {{"GET", "/v1/routes"}, {"/v1/routes", "", 200}},
      {{"GET", "/v1/nodes"}, {"/v1/nodes", "", 200}},
      {{"GET", "/v1/servers"}, {"/v1/servers", "", 200}},
      {{"POST", "/v1/nodes/{id}/drain"}, {"/v1/nodes/n1/drain", "", 200}},
      {{"POST", "/v1/edges/{name}/traffic"}, {"/v1/edges/e1:8080/traffic", R"({"apps":{}})", 200}},
      {{"DELETE", "/v1/edges/{name}"}, {"/v1/edges/e1:8080", "", 200}},
      // The app is awake: nothing to wake, past every check of the caller.
      {{"POST", "/v1/edges/{name}/wake"}, {"/v1/edges/e1:8080/wake", R"({"app":"web"})", 200}},
      {{"GET", "/v1/traffic"}, {"/v1/traffic", "", 200}},
      // A certificate that is none: the handler's 400, past every check of the caller.
      {{"POST", "/v1/certificates"}, {"/v1/certificates", R"({"domain":"web.test"})", 400}},
      {{"GET", "/v1/certificates"}, {"/v1/certificates", "", 200}},
      {{"DELETE", "/v1/certificates/{domain}"}, {"/v1/certificates/web.test", "", 404}},
      {{"POST", "/v1/tokens"},
       {"/v1/tokens", R"({"name":"fresh","role":"viewer","projects":["alpha"]})", 201}},
      {{"GET", "/v1/tokens"}, {"/v1/tokens", "", 200}},
      {{"DELETE", "/v1/tokens/{name}"}, {"/v1/tokens/viewer", "", 200}},
      {{"GET", "/v1/projects"}, {"/v1/projects", "", 200}},
      {{"POST", "/v1/projects"}, {"/v1/projects", R"({"name":"gamma"})", 201}},
      {{"DELETE", "/v1/projects/{name}"}, {"/v1/projects/empty", "", 200}},
      {{"GET", "/v1/audit"}, {"/v1/audit?since=1h", "", 200}},
      {{"POST", "/v1/join-tokens"}, {"/v1/join-tokens", "", 201}},
      {{"GET", "/v1/join-tokens"}, {"/v1/join-tokens", "", 200}},
      {{"DELETE", "/v1/join-tokens/{id}"}, {"/v1/join-tokens/none", "", 404}},
      {{"POST", "/v1/agent/register"},
       {"/v1/agent/register",
        R"({"id":"n1","name":"n1","address":"127.0.0.1","capacity":{"cpu":1000,"memory":1073741824}})",
        200}},
      {{"POST", "/v1/agent/nodes/{id}/heartbeat"}, {"/v1/agent/nodes/n1/heartbeat", "{}", 200}},
      {{"GET", "/v1/agent/nodes/{id}/assignments"}, {"/v1/agent/nodes/n1/assignments", "", 200}},
      {{"POST", "/v1/agent/nodes/{id}/reports"},
       {"/v1/agent/nodes/n1/reports", R"({"instance":"i-1","node":"n1","generation":1})", 200}},
      {{"POST", "/v1/agent/nodes/{id}/samples"},
       {"/v1/agent/nodes/n1/samples", R"({"samples":[]})", 200}},
      {{"GET", "/v1/agent/wait"}, {"/v1/agent/wait?revision=0&timeout_ms=0", "", 200}},
      // Login takes a password, whatever bearer token comes with it; logout
      // a session, which none of the identities is.
      {{"POST", "/v1/login"},
       {"/v1/login", R"({"name":"ann","password":"correct horse battery"})", 200}},
      {{"POST", "/v1/logout"}, {"/v1/logout", "", 401}},
      {{"POST", "/v1/users"},
       {"/v1/users",
        R"({"name":"bob","role":"viewer","projects":["alpha"],"password":"another long password"})",
        201}},
      {{"GET", "/v1/users"}, {"/v1/users", "", 200}},
      {{"DELETE", "/v1/users/{name}"}, {"/v1/users/ann", "", 204}},
  };
  return rules;
}

// User ann's record (her password hashed), made once: Argon2id is slow by
// design, and every world needs her.
const std::string& AnnRecord() {
  static const std::string record = [] {
    store::MemoryStore store;
    ManualClock clock;
    auth::UserStore users(&store, &clock);
    EXPECT_TRUE(users.Add("ann", Role::kViewer, {"alpha"}, "correct horse battery"));
    auto kept = store.GetRecord(store::RecordKind::kUser, "ann");
    EXPECT_TRUE(kept);
    return kept ? *kept : std::string();
  }();
  return record;
}

// One world per call: mutating routes change nothing the next call sees.
class World {
 public:
  World() {
    EXPECT_TRUE(projects_.Create("alpha"));
    EXPECT_TRUE(projects_.Create("other"));
    EXPECT_TRUE(projects_.Create("empty"));
    EXPECT_TRUE(store_.PutRecord(store::RecordKind::kUser, "ann", AnnRecord()));
    Apply(R"({"name":"web","project":"alpha","run":{"command":["sleep","1"]}})");
    Apply(R"({"name":"web","project":"alpha","replicas":2,"run":{"command":["sleep","1"]}})");
    Apply(R"({"name":"side","project":"other","run":{"command":["sleep","1"]}})");
    EXPECT_TRUE(secrets_.Set("web", "API_KEY", "k3y"));
    model::Node node;
    node.id = "n1";
    node.name = "n1";
    node.address = "127.0.0.1";
    node.status = model::NodeStatus::kReady;
    EXPECT_TRUE(store_.Commit(store::Txn().Put(node, store::kMustNotExist)));
    model::Instance instance;
    instance.id = "i-1";
    instance.app = "web";
    instance.revision = 2;
    instance.node = "n1";
    instance.created_at = clock_.Now();
    EXPECT_TRUE(store_.Commit(store::Txn().Put(instance, store::kMustNotExist)));
    tokens_[Who::kNone] = "";
    tokens_[Who::kMalformed] = "%%%not-a-token";
    tokens_[Who::kUnknown] = "skiff-token.ghost." + std::string(64, 'a');
    tokens_[Who::kViewer] = Make("viewer", Role::kViewer, {"alpha"});
    tokens_[Who::kDeployer] = Make("deployer", Role::kDeployer, {"alpha"});
    tokens_[Who::kOtherViewer] = Make("other-viewer", Role::kViewer, {"other"});
    tokens_[Who::kOtherDeployer] = Make("other-deployer", Role::kDeployer, {"other"});
    tokens_[Who::kAdmin] = Make("root", Role::kAdmin, {});
    tokens_[Who::kEdge] = Make("edge", Role::kEdge, {});
    tokens_[Who::kRevoked] = Make("gone", Role::kAdmin, {});
    EXPECT_TRUE(api_tokens_.Revoke("gone"));
    auto expiring = api_tokens_.Create(
        {.name = "old", .role = Role::kAdmin, .lifetime = std::chrono::hours(1)});
    EXPECT_TRUE(expiring);
    tokens_[Who::kExpired] = expiring ? expiring->token : "";
    auto node_credential = join_tokens_.IssueCredential("n1");
    EXPECT_TRUE(node_credential);
    tokens_[Who::kNode] = node_credential ? *node_credential : "";
    auto edge_credential = join_tokens_.IssueEdgeCredential("s1:edge", "s1:");
    EXPECT_TRUE(edge_credential);
    tokens_[Who::kServerEdge] = edge_credential ? *edge_credential : "";
    tokens_[Who::kClusterAdmin] = kAdminToken;
    clock_.Advance(std::chrono::hours(2));
    // Both apps have traffic, so that the traffic list has something to filter.
    const auto now = std::chrono::steady_clock::now();
    for (int i = 0; i < 2; ++i) {
      metrics::TrafficSnapshot snapshot;
      for (const char* app : {"web", "side"}) {
        snapshot.apps[app].by_class[2] = 10 * (i + 1);
        snapshot.apps[app].count = 10 * (i + 1);
      }
      traffic_.Record("e0:8080", snapshot, now - std::chrono::seconds(1 - i));
    }

    ApiDeps deps;
    deps.store = &store_;
    deps.apps = &apps_;
    deps.nodes = &nodes_;
    deps.clock = &clock_;
    deps.auth = &auth_;
    deps.tokens = &api_tokens_;
    deps.projects = &projects_;
    deps.users = &users_;
    deps.secrets = &secrets_;
    deps.certificates = &certificates_;
    deps.join_tokens = &join_tokens_;
    deps.log_dir = dir_.path();
    deps.metrics = &registry_;
    deps.traffic = &traffic_;
    deps.live = &live_;
    deps.history = &history_;
    deps.edge_gone = [](const std::string&) { return OkStatus(); };
    deps.lease = &lease_;
    api_ = std::make_unique<ApiServer>(std::move(deps));
  }

  FakeWriter Call(const std::string& method, const Rule& rule, Who who) {
    net::HttpRequest r;
    r.method = method;
    r.target = rule.target;
    const size_t q = rule.target.find('?');
    r.path = rule.target.substr(0, q);
    if (q != std::string::npos) {
      std::string query = rule.target.substr(q + 1);
      size_t i = 0;
      while (i < query.size()) {
        size_t amp = query.find('&', i);
        if (amp == std::string::npos) amp = query.size();
        std::string kv = query.substr(i, amp - i);
        const size_t eq = kv.find('=');
        r.query[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
        i = amp + 1;
      }
    }
    r.body = rule.body;
    r.remote_address = "127.0.0.1:50000";
    if (!tokens_[who].empty()) r.headers.emplace_back("Authorization", "Bearer " + tokens_[who]);
    FakeWriter w;
    w.max_chunks = 1;  // a followed stream ends after its first chunk
    testing::RunHandler([this](const net::HttpRequest& request,
                               FakeWriter& writer) { return api_->Handle(request, writer); },
                        r, w);
    return w;
  }

  store::MemoryStore& store() { return store_; }

 private:
  void Apply(const std::string& json) {
    auto spec = model::ParseAppSpec(json, model::SpecFormat::kJson);
    ASSERT_TRUE(spec) << spec.error().ToString();
    ASSERT_TRUE(apps_.Apply(*spec));
  }
  std::string Make(const std::string& name, Role role, std::vector<std::string> projects) {
    auto made = api_tokens_.Create({.name = name, .role = role, .projects = std::move(projects)});
    EXPECT_TRUE(made) << made.error().ToString();
    return made ? made->token : "";
  }

  skiff::testing::TempDir dir_;
  ManualClock clock_;
  store::MemoryStore store_;
  controller::AppService apps_{&store_, &clock_};
  controller::NodeService nodes_{&store_, &clock_};
  JoinTokenStore join_tokens_{&store_, &clock_};
  auth::ApiTokenStore api_tokens_{&store_, &clock_};
  auth::ProjectStore projects_{&store_, &clock_};
  auth::UserStore users_{&store_, &clock_};
  TokenAuthenticator auth_{{kAdminToken}, &join_tokens_, &api_tokens_, &users_};
  crypto::Keyring keyring_ = crypto::Keyring::Generate();
  controller::CertificateStore certificates_{&store_, &keyring_, &clock_};
  auth::SecretStore secrets_{&store_, &keyring_, &clock_};
  metrics::Registry registry_;
  metrics::TrafficBook traffic_;
  metrics::LiveSeries live_{&clock_};
  store::MemoryMetricsHistory history_;
  store::SingleServerLease lease_{&clock_};
  std::map<Who, std::string> tokens_;
  std::unique_ptr<ApiServer> api_;
};

// What `who` must get from `route`, by the rules of docs/security.md.
int Expected(const Route& route, const Rule& rule, Who who) {
  // Public, or what the handler checks whoever calls (a password, a session).
  if (route.permission == Permission::kPublic || route.permission == Permission::kLogin) {
    return rule.status;
  }
  if (who <= Who::kRevoked) return 401;
  auto grant = Grants().find(route.permission);
  if (grant == Grants().end()) {
    ADD_FAILURE() << "no grants for permission " << PermissionName(route.permission);
    return 0;
  }
  if (grant->second.count(who) == 0) return 403;
  if (route.pattern.starts_with("/v1/apps/{name}")) {
    const bool other = who == Who::kOtherViewer || who == Who::kOtherDeployer;
    // "web" is in a project they have no role in: as if it did not exist,
    // but an apply, which can only say the name is taken.
    if (other) return route.method == "PUT" && route.pattern == "/v1/apps/{name}" ? 409 : 404;
  }
  return rule.status;
}

// Verify that every route answers each of the fourteen identities as the
// rules say, and that every route has a rule.
TEST(AuthorizationMatrixTest, EveryRouteByEveryIdentity) {
  // The routes, from a server's own list.
  store::MemoryStore store;
  ManualClock clock;
  controller::AppService apps(&store, &clock);
  TokenAuthenticator auth({kAdminToken});
  ApiDeps deps;
  deps.store = &store;
  deps.apps = &apps;
  deps.auth = &auth;
  metrics::Registry registry;
  deps.metrics = &registry;
  metrics::TrafficBook traffic;
  deps.traffic = &traffic;
  ApiServer server(std::move(deps));
  size_t cells = 0;
  for (const Route& route : server.routes()) {
    auto rule = Rules().find({route.method, route.pattern});
    if (rule == Rules().end()) {
      ADD_FAILURE() << route.method << " " << route.pattern
                    << " has no rule in the authorization matrix: add one";
      continue;
    }
    for (Who who : kEveryone) {
      World world;
      FakeWriter w = world.Call(route.method, rule->second, who);
      EXPECT_EQ(w.status, Expected(route, rule->second, who))
          << route.method << " " << route.pattern << " by " << Name(who) << ": " << w.body;
      ++cells;
    }
  }
  EXPECT_EQ(cells, server.routes().size() * std::size(kEveryone));
  std::cout << "authorization matrix: " << server.routes().size() << " routes x "
            << std::size(kEveryone) << " identities = " << cells << " cells\n";
}

// Verify that lists hold only what the caller's projects hold: apps, events,
// traffic and projects of another project are never shown.
TEST(AuthorizationMatrixTest, ListsHoldOnlyTheCallersProjects) {
  struct Case {
    Who who;
    bool sees_web;
    bool sees_side;
  };
  const Case cases[] = {{Who::kViewer, true, false},
                        {Who::kDeployer, true, false},
                        {Who::kOtherViewer, false, true},
                        {Who::kOtherDeployer, false, true},
                        {Who::kAdmin, true, true}};
  const std::map<std::string, std::pair<std::string, std::string>> lists = {
      {"/v1/apps", {"\"web\"", "\"side\""}},
      {"/v1/events", {"\"web\"", "\"side\""}},
      {"/v1/traffic", {"\"web\"", "\"side\""}},
      {"/v1/projects", {"\"alpha\"", "\"other\""}},
  };
  for (const Case& c : cases) {
    World world;
    for (const auto& [target, names] : lists) {
      FakeWriter w = world.Call("GET", Rule{target, "", 200}, c.who);
      ASSERT_EQ(w.status, 200) << target << " by " << Name(c.who) << ": " << w.body;
      EXPECT_EQ(w.body.find(names.first) != std::string::npos, c.sees_web)
          << target << " by " << Name(c.who) << ": " << w.body;
      EXPECT_EQ(w.body.find(names.second) != std::string::npos, c.sees_side)
          << target << " by " << Name(c.who) << ": " << w.body;
    }
    // A named app of another project reads as one that does not exist.
    FakeWriter events = world.Call("GET", Rule{"/v1/events?app=side", "", 200}, c.who);
    EXPECT_EQ(events.status, c.sees_side ? 200 : 404) << Name(c.who);
  }
}

// Verify that a project must exist to be deployed to, that a project with
// an app is not deleted, and that a rollback keeps the app's project: a
// deployer rolling back to a revision of another project does not move the
// app into it.
TEST(AuthorizationMatrixTest, ProjectsHoldTheirApps) {
  World world;
  FakeWriter missing = world.Call(
      "PUT", Rule{"/v1/apps/new", R"({"project":"nope","run":{"command":["sleep","1"]}})", 0},
      Who::kAdmin);
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_NE(missing.body.find("\"field\":\"project\""), std::string::npos) << missing.body;
  EXPECT_NE(missing.body.find("skiff projects create nope"), std::string::npos) << missing.body;

  FakeWriter busy = world.Call("DELETE", Rule{"/v1/projects/alpha", "", 0}, Who::kAdmin);
  EXPECT_EQ(busy.status, 412) << busy.body;
  EXPECT_NE(busy.body.find("web"), std::string::npos) << busy.body;

  // The admin moves web to project other (revision 3); other's deployer rolls
  // back to revision 1, of project alpha: web stays in other.
  FakeWriter moved = world.Call(
      "PUT", Rule{"/v1/apps/web", R"({"project":"other","run":{"command":["sleep","1"]}})", 0},
      Who::kAdmin);
  ASSERT_EQ(moved.status, 201) << moved.body;
  EXPECT_EQ(world.Call("GET", Rule{"/v1/apps/web", "", 0}, Who::kDeployer).status, 404);
  FakeWriter back = world.Call("POST", Rule{"/v1/apps/web/rollback", R"({"revision":1})", 0},
                               Who::kOtherDeployer);
  ASSERT_EQ(back.status, 201) << back.body;
  FakeWriter app = world.Call("GET", Rule{"/v1/apps/web", "", 0}, Who::kOtherViewer);
  ASSERT_EQ(app.status, 200) << app.body;
  EXPECT_EQ(app.Json().at("spec").at("project"), "other");
  EXPECT_EQ(world.Call("GET", Rule{"/v1/apps/web", "", 0}, Who::kViewer).status, 404);
}

// Verify that a new app starts with no secrets, whatever an earlier app of
// its name left, and that a login's entry names the user it tried.
TEST(AuthorizationMatrixTest, NewAppsInheritNothing) {
  World world;
  ASSERT_TRUE(world.store().PutRecord(store::RecordKind::kSecret, "fresh/LEFT", "{}"));
  FakeWriter made = world.Call(
      "PUT", Rule{"/v1/apps/fresh", R"({"project":"alpha","run":{"command":["sleep","1"]}})", 0},
      Who::kDeployer);
  ASSERT_EQ(made.status, 201) << made.body;
  FakeWriter secrets = world.Call("GET", Rule{"/v1/apps/fresh/secrets", "", 0}, Who::kViewer);
  ASSERT_EQ(secrets.status, 200) << secrets.body;
  EXPECT_TRUE(secrets.Json().at("secrets").as_array().empty()) << secrets.body;
  EXPECT_EQ(world.store().GetRecord(store::RecordKind::kSecret, "fresh/LEFT").error().code,
            ErrorCode::kNotFound);

  FakeWriter login = world.Call(
      "POST", Rule{"/v1/login", R"({"name":"ann","password":"not her password"})", 0}, Who::kNone);
  EXPECT_EQ(login.status, 401);
  auto trail = world.store().ListAudit({});
  ASSERT_TRUE(trail);
  ASSERT_FALSE(trail->empty());
  EXPECT_EQ(trail->back().who, "ann");
  EXPECT_EQ(trail->back().credential, "password");
  EXPECT_EQ(trail->back().code, 401);
  EXPECT_EQ(trail->front().project, "alpha");  // the new app's, from its spec
  EXPECT_EQ(trail->front().app, "fresh");
}

}  // namespace
}  // namespace skiff::api
