#include "api/api_server.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // g++ 12 false positive on Asio frames
#endif

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/errors.h"
#include "api/fake_writer_test_util.h"
#include "common/quantity.h"
#include "crypto/x509.h"
#include "fakes/counting_store.h"
#include "fakes/testing.h"
#include "store/memory/memory_store.h"
#include "store/single_server_lease.h"

namespace skiff::api {
namespace {

namespace json = boost::json;
using testing::FakeWriter;
using ::testing::HasSubstr;

constexpr const char* kToken = "s3cret-token";
constexpr const char* kHelloJson = R"({"name":"hello","run":{"command":["sleep","100"]}})";

class ApiServerTest : public ::testing::Test {
 protected:
  explicit ApiServerTest(store::MemoryStore::Options options = {})
      : store_(options), apps_(&store_, &clock_), nodes_(&store_, &clock_), auth_({kToken}) {}

  void SetUp() override {
    ApiDeps deps;
    deps.store = &store_;
    deps.apps = &apps_;
    deps.nodes = &nodes_;
    deps.clock = &clock_;
    deps.auth = &auth_;
    deps.auth_failures = &auth_failures_;
    deps.certificates = &certificates_;
    deps.join_tokens = &join_tokens_;
    deps.log_dir = dir_.path();
    deps.metrics = &registry_;
    deps.traffic = &traffic_;
    deps.edge_heard = [this](const std::string& edge, int64_t interval_ms) {
      std::lock_guard lock(heard_mu_);
      heard_.emplace_back(edge, interval_ms);
    };
    deps.log_poll_interval = std::chrono::milliseconds(5);
    deps.lease = &lease_;
    deps.leadership = [this] {
      return controller::Leadership::State{.leading = leading_.load(),
                                           .epoch = store::kSingleServerEpoch};
    };
    api_ = std::make_unique<ApiServer>(std::move(deps));
  }

  static net::HttpRequest Request(std::string method, std::string target, std::string body = {},
                                  bool with_token = true) {
    net::HttpRequest r;
    r.method = std::move(method);
    r.target = target;
    size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string query = target.substr(q + 1);
      size_t i = 0;
      while (i <= query.size()) {
        size_t amp = query.find('&', i);
        if (amp == std::string::npos) amp = query.size();
        std::string kv = query.substr(i, amp - i);
        size_t eq = kv.find('=');
        if (!kv.empty()) {
          r.query[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
        }
        i = amp + 1;
      }
    }
    r.body = std::move(body);
    if (with_token) r.headers.emplace_back("Authorization", std::string("Bearer ") + kToken);
    return r;
  }

  FakeWriter Call(const net::HttpRequest& request, size_t max_chunks = 1000,
                  std::function<void(const std::string&)> on_chunk = nullptr) {
    FakeWriter w;
    w.max_chunks = max_chunks;
    w.on_chunk = std::move(on_chunk);
    testing::RunHandler(
        [this](const net::HttpRequest& r, FakeWriter& writer) { return api_->Handle(r, writer); },
        request, w);
    return w;
  }

  FakeWriter Apply(const std::string& name, const std::string& body) {
    return Call(Request("PUT", "/v1/apps/" + name, body));
  }

  void PutInstance(const std::string& id, const std::string& app) {
    model::Instance i;
    i.id = id;
    i.app = app;
    i.revision = 1;
    i.created_at = clock_.Now();
    store::Txn txn;
    txn.Put(i, store::kMustNotExist);
    ASSERT_TRUE(store_.Commit(txn));
  }

  std::atomic<bool> leading_{true};
  skiff::testing::TempDir dir_;
  ManualClock clock_;
  skiff::testing::CountingStore store_;
  controller::AppService apps_;
  controller::NodeService nodes_;
  TokenAuthenticator auth_;
  AuthFailureLimiter auth_failures_{{.burst = 5, .per_failure = std::chrono::seconds(60)}};
  metrics::Registry registry_;
  metrics::TrafficBook traffic_;
  std::mutex heard_mu_;
  std::vector<std::pair<std::string, int64_t>> heard_;  // GUARDED_BY(heard_mu_)
  store::SingleServerLease lease_{&clock_};
  crypto::Keyring keyring_ = crypto::Keyring::Generate();
  controller::CertificateStore certificates_{&store_, &keyring_, &clock_};
  JoinTokenStore join_tokens_{&store_, &clock_};
  std::unique_ptr<ApiServer> api_;
  int served_ = 0;  // requests sent from addresses of their own
};

// Verify that a /v1 call without a token is 401 with WWW-Authenticate and code unauthenticated.
TEST_F(ApiServerTest, MissingTokenIsUnauthenticated) {
  FakeWriter w = Call(Request("GET", "/v1/apps", "", /*with_token=*/false));
  EXPECT_EQ(w.status, 401);
  EXPECT_THAT(std::string(w.Header("WWW-Authenticate")), HasSubstr("Bearer"));
  EXPECT_EQ(w.Json().at("error").at("code"), "unauthenticated");
}

// Verify that a wrong token is refused and nothing is applied with it.
TEST_F(ApiServerTest, WrongTokenIsUnauthenticated) {
  net::HttpRequest r = Request("PUT", "/v1/apps/hello", kHelloJson, false);
  r.headers.emplace_back("Authorization", "Bearer not-the-token");
  int64_t before = store_.Revision();
  FakeWriter w = Call(r);
  EXPECT_EQ(w.status, 401);
  EXPECT_EQ(w.Json().at("error").at("code"), "unauthenticated");
  EXPECT_EQ(store_.Revision(), before);
}

// Verify that failed authentications are limited per source address: past
// the burst of distinct wrong tokens, a request from it is 429 with
// Retry-After before its token is looked at, but for a token that
// authenticated lately; 401s of the routes that identify their caller
// themselves (edges, agents) count; public routes and other addresses are not
// affected.
TEST_F(ApiServerTest, FailedAuthenticationsAreLimitedPerAddress) {
  auto from = [](net::HttpRequest r, const std::string& address, const std::string& token) {
    r.remote_address = address;
    if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
    return r;
  };
  const net::HttpRequest apps = Request("GET", "/v1/apps", "", false);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Call(from(apps, "10.0.0.1:4000", "guess-" + std::to_string(i))).status, 401) << i;
  }
  // The same wrong token again, and no token at all, count nothing more.
  EXPECT_EQ(Call(from(apps, "10.0.0.1:4000", "guess-0")).status, 401);
  EXPECT_EQ(Call(from(apps, "10.0.0.1:4000", "")).status, 401);
  const net::HttpRequest edge = Request("POST", "/v1/edges/e1/traffic", "{}", false);
  EXPECT_EQ(Call(from(edge, "10.0.0.1:4001", "not-a-credential")).status, 401);

  const FakeWriter blocked = Call(from(apps, "10.0.0.1:4002", "guess-5"));
  EXPECT_EQ(blocked.status, 429);
  EXPECT_EQ(blocked.Header("Retry-After"), "60");
  EXPECT_EQ(blocked.Json().at("error").at("code"), "resource_exhausted");
  EXPECT_THAT(blocked.Json().at("error").at("message").as_string().c_str(),
              HasSubstr("too many failed authentications from 10.0.0.1"));
  // The right token that has not authenticated lately waits too...
  EXPECT_EQ(Call(from(apps, "10.0.0.1:4003", kToken)).status, 429);
  // ...until it did from elsewhere (a 404 of a route the router checked the
  // token for is an authentication too): then it passes.
  EXPECT_EQ(Call(from(Request("GET", "/v1/apps/nope", "", false), "10.0.0.2:4000", kToken)).status,
            404);
  EXPECT_EQ(Call(from(apps, "10.0.0.1:4004", kToken)).status, 200);
  EXPECT_EQ(Call(from(Request("GET", "/health", "", false), "10.0.0.1:4005", "")).status, 200);
  EXPECT_EQ(Call(from(apps, "[::1]:4000", "guess-0")).status, 401);
}

// The permission each route must declare. A route added without its row
// here, or declaring another permission, fails EveryRouteDeclaresItsPermission:
// say what it needs before it is served.
const std::map<std::pair<std::string, std::string>, Permission>& ExpectedPermissions() {
  using P = Permission;
  static const std::map<std::pair<std::string, std::string>, Permission> expected{
      {{"GET", "/health"}, P::kPublic},
      {{"GET", "/metrics"}, P::kMetrics},
      {{"GET", "/v1/apps"}, P::kAppsRead},
      {{"PUT", "/v1/apps/{name}"}, P::kAppsWrite},
      {{"GET", "/v1/apps/{name}"}, P::kAppsRead},
      {{"DELETE", "/v1/apps/{name}"}, P::kAppsWrite},
      {{"POST", "/v1/apps/{name}/scale"}, P::kAppsWrite},
      {{"POST", "/v1/apps/{name}/restart"}, P::kAppsWrite},
      {{"POST", "/v1/apps/{name}/rollback"}, P::kAppsWrite},
      {{"POST", "/v1/apps/{name}/promote"}, P::kAppsWrite},
      {{"GET", "/v1/apps/{name}/deployments"}, P::kAppsRead},
      {{"GET", "/v1/apps/{name}/instances"}, P::kAppsRead},
      {{"GET", "/v1/apps/{name}/secrets"}, P::kAppsRead},
      {{"PUT", "/v1/apps/{name}/secrets/{key}"}, P::kAppsWrite},
      {{"DELETE", "/v1/apps/{name}/secrets/{key}"}, P::kAppsWrite},
      {{"GET", "/v1/apps/{name}/logs"}, P::kAppLogs},
      {{"GET", "/v1/apps/{name}/metrics"}, P::kAppsRead},
      {{"GET", "/v1/apps/{name}/metrics/live"}, P::kAppsRead},
      {{"GET", "/v1/events"}, P::kAppsRead},
      {{"GET", "/v1/watch"}, P::kCluster},
      {{"GET", "/v1/routes"}, P::kRoutes},
      {{"GET", "/v1/nodes"}, P::kCluster},
      {{"GET", "/v1/servers"}, P::kCluster},
      {{"POST", "/v1/nodes/{id}/drain"}, P::kCluster},
      {{"POST", "/v1/edges/{name}/traffic"}, P::kEdgeSelf},
      {{"DELETE", "/v1/edges/{name}"}, P::kEdgeSelf},
      {{"POST", "/v1/edges/{name}/wake"}, P::kEdgeSelf},
      {{"GET", "/v1/traffic"}, P::kAppsRead},
      {{"POST", "/v1/certificates"}, P::kCluster},
      {{"GET", "/v1/certificates"}, P::kCluster},
      {{"DELETE", "/v1/certificates/{domain}"}, P::kCluster},
      {{"POST", "/v1/tokens"}, P::kCluster},
      {{"GET", "/v1/tokens"}, P::kCluster},
      {{"DELETE", "/v1/tokens/{name}"}, P::kCluster},
      {{"GET", "/v1/projects"}, P::kAppsRead},
      {{"POST", "/v1/projects"}, P::kCluster},
      {{"DELETE", "/v1/projects/{name}"}, P::kCluster},
      {{"GET", "/v1/audit"}, P::kCluster},
      {{"POST", "/v1/join-tokens"}, P::kCluster},
      {{"GET", "/v1/join-tokens"}, P::kCluster},
      {{"DELETE", "/v1/join-tokens/{id}"}, P::kCluster},
      {{"POST", "/v1/login"}, P::kLogin},
      {{"POST", "/v1/logout"}, P::kLogin},
      {{"POST", "/v1/users"}, P::kCluster},
      {{"GET", "/v1/users"}, P::kCluster},
      {{"DELETE", "/v1/users/{name}"}, P::kCluster},
      {{"POST", "/v1/agent/register"}, P::kNodeSelf},
      {{"POST", "/v1/agent/nodes/{id}/heartbeat"}, P::kNodeSelf},
      {{"GET", "/v1/agent/nodes/{id}/assignments"}, P::kNodeSelf},
      {{"POST", "/v1/agent/nodes/{id}/reports"}, P::kNodeSelf},
      {{"POST", "/v1/agent/nodes/{id}/samples"}, P::kNodeSelf},
      {{"GET", "/v1/agent/wait"}, P::kNodeSelf},
  };
  return expected;
}

// A concrete path for `pattern`: each {placeholder} filled with "x".
std::string PathFor(const std::string& pattern) {
  std::string path;
  for (const std::string& segment : SplitPath(pattern)) {
    path += "/" + (segment.front() == '{' ? std::string("x") : segment);
  }
  return path;
}

// Verify that every route the API serves declares the permission its row in
// ExpectedPermissions says, and that every row has its route.
TEST_F(ApiServerTest, EveryRouteDeclaresItsPermission) {
  const auto& expected = ExpectedPermissions();
  std::set<std::pair<std::string, std::string>> served;
  for (const Route& route : api_->routes()) {
    const std::pair<std::string, std::string> key{route.method, route.pattern};
    served.insert(key);
    auto it = expected.find(key);
    if (it == expected.end()) {
      ADD_FAILURE() << route.method << " " << route.pattern
                    << " has no row in ExpectedPermissions: add the permission it needs";
      continue;
    }
    EXPECT_EQ(PermissionName(route.permission), PermissionName(it->second))
        << route.method << " " << route.pattern;
  }
  for (const auto& [key, permission] : expected) {
    EXPECT_TRUE(served.contains(key)) << key.first << " " << key.second << " is not served";
  }
}

// Verify default deny, route by route from the router's own list: with no
// token and with a wrong one, every route but the public ones is 401 (those
// whose handlers identify an edge or a node too), and never runs.
TEST_F(ApiServerTest, EveryGuardedRouteRefusesAMissingOrWrongToken) {
  int64_t before = store_.Revision();
  for (const Route& route : api_->routes()) {
    // Login and logout take a password or a session (user_handlers_test.cc).
    if (route.permission == Permission::kLogin) continue;
    const bool open = route.permission == Permission::kPublic;
    const std::string path = PathFor(route.pattern);
    for (const bool wrong : {false, true}) {
      net::HttpRequest r = Request(route.method, path, "{}", /*with_token=*/false);
      if (wrong) r.headers.emplace_back("Authorization", "Bearer not-the-token");
      // From an address of its own each time: the failed-authentication
      // limit is tested on its own.
      r.remote_address = "10.1." + std::to_string(served_++) + ".1:4000";
      const int status = Call(r).status;
      if (open) {
        EXPECT_NE(status, 401) << route.method << " " << path;
      } else {
        EXPECT_EQ(status, 401) << route.method << " " << path << (wrong ? " (wrong token)" : "");
      }
    }
  }
  EXPECT_EQ(store_.Revision(), before);
}

// Verify that the bearer scheme is case-insensitive, as RFC 7235 says.
TEST_F(ApiServerTest, BearerSchemeCaseInsensitive) {
  net::HttpRequest r = Request("GET", "/v1/apps", "", false);
  r.headers.emplace_back("authorization", std::string("bearer ") + kToken);
  EXPECT_EQ(Call(r).status, 200);
}

// Verify that /health needs no token and reports the store revision.
TEST_F(ApiServerTest, HealthWithoutToken) {
  Apply("hello", kHelloJson);
  FakeWriter w = Call(Request("GET", "/health", "", false));
  ASSERT_EQ(w.status, 200);
  json::value v = w.Json();
  EXPECT_EQ(v.at("status"), "ok");
  EXPECT_EQ(v.at("revision").as_int64(), store_.Revision());
  EXPECT_EQ(v.at("components").at("store"), "ok");
}

// Verify that /health says whether this server leads and its epoch, and that
// GET /v1/servers lists the servers that sent a heartbeat, in the documented
// shape, with the leader's epoch.
TEST_F(ApiServerTest, HealthAndServersSayWhoLeads) {
  FakeWriter health = Call(Request("GET", "/health", "", false));
  ASSERT_EQ(health.status, 200);
  EXPECT_EQ(health.Json().at("leader"), true);
  EXPECT_EQ(health.Json().at("epoch"), 1);

  FakeWriter none = Call(Request("GET", "/v1/servers"));
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(none.Json(), json::parse(R"({"servers":[]})"));
  ASSERT_TRUE(lease_.Heartbeat(store::ServerInfo{"s1", "http://127.0.0.1:7070", "0.1.0"}));
  FakeWriter listed = Call(Request("GET", "/v1/servers"));
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.Json(),
            json::parse(R"({"servers":[{"id":"s1","address":"http://127.0.0.1:7070",)"
                        R"("leader":true,"epoch":1,"last_seen":")" +
                        FormatTime(clock_.Now()) + R"(","version":"0.1.0"}]})"));
  EXPECT_EQ(Call(Request("GET", "/v1/servers", "", false)).status, 401);
}

// Verify that a server that does not lead refuses what agents and edges report
// with 503 (so their server pool moves on to the leader), while it serves the
// rest of the API; once it leads, they are served.
TEST_F(ApiServerTest, AgentsAndEdgesReportToTheLeaderOnly) {
  leading_ = false;
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"POST", "/v1/agent/register"},
                                                        {"POST", "/v1/agent/nodes/n1/heartbeat"},
                                                        {"GET", "/v1/agent/nodes/n1/assignments"},
                                                        {"POST", "/v1/agent/nodes/n1/reports"},
                                                        {"POST", "/v1/agent/nodes/n1/samples"},
                                                        {"GET", "/v1/agent/wait?revision=0"},
                                                        {"POST", "/v1/edges/e1/traffic"}}) {
    FakeWriter refused = Call(Request(method, target, "{}"));
    EXPECT_EQ(refused.status, 503) << target;
    EXPECT_THAT(refused.body, HasSubstr("does not lead")) << target;
    EXPECT_EQ(refused.Header("Retry-After"), "1") << target;
  }
  EXPECT_EQ(Call(Request("GET", "/v1/apps")).status, 200);
  // A traffic report from no known caller is refused as such first.
  EXPECT_EQ(Call(Request("POST", "/v1/edges/e1/traffic", "{}", false)).status, 401);

  leading_ = true;
  EXPECT_NE(Call(Request("POST", "/v1/agent/register", "{}", false)).status, 503);
  EXPECT_NE(Call(Request("POST", "/v1/edges/e1/traffic", "{}")).status, 503);
}

// Verify that applying a spec is 201 created, and applying it again is 200 unchanged.
TEST_F(ApiServerTest, ApplyIsIdempotent) {
  FakeWriter first = Apply("hello", kHelloJson);
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.Json(), json::parse(R"({"app":"hello","revision":1,"created":true})"));
  int64_t revision = store_.Revision();
  FakeWriter second = Apply("hello", kHelloJson);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.Json(), json::parse(R"({"app":"hello","revision":1,"created":false})"));
  EXPECT_EQ(store_.Revision(), revision);
}

// Verify that a YAML spec without a name takes the URL's name.
TEST_F(ApiServerTest, ApplyYamlFillsNameFromUrl) {
  net::HttpRequest r =
      Request("PUT", "/v1/apps/web", "run:\n  command: [sleep, '100']\nreplicas: 2\n");
  r.headers.emplace_back("Content-Type", "application/yaml");
  FakeWriter w = Call(r);
  ASSERT_EQ(w.status, 201) << w.body;
  auto app = store_.GetApp("web");
  ASSERT_TRUE(app);
  EXPECT_EQ(app->spec.replicas, 2);
}

// Verify that a body without Content-Type is sniffed: YAML unless it starts like JSON.
TEST_F(ApiServerTest, ApplyWithoutContentType) {
  FakeWriter yaml = Apply("web", "name: web\nrun:\n  command: [sleep, '1']\n");
  EXPECT_EQ(yaml.status, 201) << yaml.body;
  FakeWriter json_body = Apply("hello", kHelloJson);
  EXPECT_EQ(json_body.status, 201) << json_body.body;
}

// Verify that a spec naming another app than the URL is 400 on field name, writing nothing.
TEST_F(ApiServerTest, ApplyNameMismatch) {
  int64_t before = store_.Revision();
  FakeWriter w = Apply("other", kHelloJson);
  EXPECT_EQ(w.status, 400);
  EXPECT_EQ(w.Json().at("error").at("code"), "invalid_argument");
  EXPECT_EQ(w.Json().at("error").at("field"), "name");
  EXPECT_EQ(store_.Revision(), before);
}

// Verify that an invalid spec is 400 naming the field, and the store is unchanged.
TEST_F(ApiServerTest, ApplyInvalidSpecChangesNothing) {
  ASSERT_EQ(Apply("hello", kHelloJson).status, 201);
  int64_t before = store_.Revision();
  FakeWriter w =
      Apply("hello", R"({"name":"hello","run":{"command":["sleep","1"]},"replicas":-1})");
  EXPECT_EQ(w.status, 400);
  EXPECT_EQ(w.Json().at("error").at("code"), "invalid_argument");
  EXPECT_EQ(w.Json().at("error").at("field"), "replicas");
  EXPECT_EQ(store_.Revision(), before);
}

// Verify that an autoscale window shorter than the server's sample interval
// (5 s by default) is 400 naming autoscale.window, writing nothing, and that
// one as long is taken.
TEST_F(ApiServerTest, ApplyRefusesWindowShorterThanSampleInterval) {
  int64_t before = store_.Revision();
  FakeWriter w = Apply("hello", R"({"name":"hello","run":{"command":["sleep","1"]},)"
                                R"("autoscale":{"target_rps_per_replica":100,"window":"2s"}})");
  EXPECT_EQ(w.status, 400);
  EXPECT_EQ(w.Json().at("error").at("field"), "autoscale.window");
  EXPECT_EQ(store_.Revision(), before);
  EXPECT_EQ(Apply("hello", R"({"name":"hello","run":{"command":["sleep","1"]},)"
                           R"("autoscale":{"target_rps_per_replica":100,"window":"5s"}})")
                .status,
            201);
}

// Verify that a domain another app serves is refused (409, naming the field and
// the app), writing nothing, and that the app holding it may keep re-applying it.
TEST_F(ApiServerTest, ApplyDomainTakenByAnotherApp) {
  ASSERT_EQ(Apply("web", "name: web\nrun: {command: [x]}\ndomains: [shop.com]\n").status, 201);
  int64_t before = store_.Revision();
  FakeWriter w = Apply("api", "name: api\nrun: {command: [x]}\ndomains: [api.com, Shop.com]\n");
  EXPECT_EQ(w.status, 409) << w.body;
  EXPECT_EQ(w.Json().at("error").at("code"), "already_exists");
  EXPECT_EQ(w.Json().at("error").at("field"), "domains[1]");
  EXPECT_NE(w.body.find("already served by app web"), std::string::npos) << w.body;
  EXPECT_EQ(store_.Revision(), before);
  EXPECT_EQ(
      Apply("web", "name: web\nrun: {command: [x]}\ndomains: [shop.com, www.shop.com]\n").status,
      201);
  // A rollback may not take back a domain another app serves by now.
  ASSERT_EQ(Apply("web", "name: web\nrun: {command: [x]}\n").status, 201);
  ASSERT_EQ(Apply("api", "name: api\nrun: {command: [x]}\ndomains: [shop.com]\n").status, 201);
  FakeWriter rollback = Call(Request("POST", "/v1/apps/web/rollback", R"({"revision":1})"));
  EXPECT_EQ(rollback.status, 409) << rollback.body;
}

// Verify the routes long poll: a document with its ETag, 304 when nothing
// changed within the wait, the new document once routes change, and a bounded wait.
TEST_F(ApiServerTest, RoutesLongPoll) {
  FakeWriter first = Call(Request("GET", "/v1/routes"));
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string tag(first.Header("ETag"));
  ASSERT_FALSE(tag.empty());
  // The revision the edge reports back for drains.
  EXPECT_EQ(first.Header("X-Skiff-Revision"), std::to_string(store_.Revision()));
  EXPECT_EQ(Call(Request("GET", "/v1/routes?wait=0&unless=" + tag)).status, 304);
  ASSERT_EQ(Apply("web", "name: web\nrun: {command: [x]}\ndomains: [web.com]\n").status, 201);
  FakeWriter changed = Call(Request("GET", "/v1/routes?wait=0&unless=" + tag));
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.Header("ETag"), tag);
  EXPECT_NE(changed.body.find("web.com"), std::string::npos) << changed.body;
  FakeWriter too_long = Call(Request("GET", "/v1/routes?wait=61"));
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.Json().at("error").at("field"), "wait");
}

// Verify that a body that is not JSON is 400 and an empty one is 400 on field body.
TEST_F(ApiServerTest, ApplyMalformedBodies) {
  EXPECT_EQ(Apply("hello", "{not json").status, 400);
  FakeWriter empty = Apply("hello", "");
  EXPECT_EQ(empty.status, 400);
  EXPECT_EQ(empty.Json().at("error").at("field"), "body");
  EXPECT_EQ(store_.Revision(), 0);
}

// Verify that an invalid app name in the URL is 400 on field name.
TEST_F(ApiServerTest, ApplyBadUrlName) {
  FakeWriter w = Apply("Bad_Name", kHelloJson);
  EXPECT_EQ(w.status, 400);
  EXPECT_EQ(w.Json().at("error").at("field"), "name");
}

// Verify that GET of an unknown app is 404 with code not_found.
TEST_F(ApiServerTest, UnknownAppIsNotFound) {
  for (const char* target : {"/v1/apps/nope", "/v1/apps/nope/instances"}) {
    FakeWriter w = Call(Request("GET", target));
    EXPECT_EQ(w.status, 404) << target;
    EXPECT_EQ(w.Json().at("error").at("code"), "not_found") << target;
  }
  EXPECT_EQ(Call(Request("POST", "/v1/apps/nope/scale", R"({"replicas":2})")).status, 404);
}

// Verify that GET /v1/apps/{name} has the DESIGN.md shape: name, revision, spec, status.
TEST_F(ApiServerTest, GetAppShape) {
  Apply("hello", kHelloJson);
  FakeWriter w = Call(Request("GET", "/v1/apps/hello"));
  ASSERT_EQ(w.status, 200) << w.body;
  json::value v = w.Json();
  EXPECT_EQ(v.at("name"), "hello");
  EXPECT_EQ(v.at("revision").as_int64(), 1);
  EXPECT_TRUE(v.at("spec").is_object());
  EXPECT_EQ(v.at("status").at("desired").as_int64(), 1);
  EXPECT_TRUE(v.at("status").at("state").is_string());

  FakeWriter list = Call(Request("GET", "/v1/apps"));
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.Json().at("apps").as_array().size(), 1u);
}

// Verify that scale validates replicas (400 on field replicas) and makes a new revision.
TEST_F(ApiServerTest, Scale) {
  Apply("hello", kHelloJson);
  for (const char* body : {R"({"replicas":-1})", R"({"replicas":"two"})", R"({})"}) {
    FakeWriter w = Call(Request("POST", "/v1/apps/hello/scale", body));
    EXPECT_EQ(w.status, 400) << body;
    EXPECT_EQ(w.Json().at("error").at("field"), "replicas") << body;
  }
  FakeWriter ok = Call(Request("POST", "/v1/apps/hello/scale", R"({"replicas":3})"));
  ASSERT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(ok.Json().at("revision").as_int64(), 2);
  EXPECT_EQ(store_.GetApp("hello")->spec.replicas, 3);
}

// Verify that rollback without a revision returns to the previous spec, as a new revision.
TEST_F(ApiServerTest, Rollback) {
  Apply("hello", kHelloJson);
  Call(Request("POST", "/v1/apps/hello/scale", R"({"replicas":3})"));
  FakeWriter w = Call(Request("POST", "/v1/apps/hello/rollback", ""));
  ASSERT_EQ(w.status, 201) << w.body;
  EXPECT_EQ(w.Json().at("revision").as_int64(), 3);
  EXPECT_EQ(store_.GetApp("hello")->spec.replicas, 1);
  FakeWriter bad = Call(Request("POST", "/v1/apps/hello/rollback", R"({"revision":"x"})"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json().at("error").at("field"), "revision");
}

// Verify that promote needs a canary in progress (412 naming the state; 404 for
// an unknown app; nothing written when refused), then sets promoted.
TEST_F(ApiServerTest, Promote) {
  EXPECT_EQ(Call(Request("POST", "/v1/apps/nope/promote")).status, 404);
  Apply("hello", R"({"name":"hello","run":{"command":["sleep","100"]},
                     "update":{"strategy":"canary"}})");
  int64_t before = store_.Revision();
  FakeWriter pending = Call(Request("POST", "/v1/apps/hello/promote"));
  EXPECT_EQ(pending.status, 412) << pending.body;  // failed_precondition, as everywhere
  EXPECT_EQ(pending.Json().at("error").at("code"), "failed_precondition");
  EXPECT_EQ(pending.Json().at("error").at("message"),
            "hello: revision 1 is not a canary in progress (state pending)");
  EXPECT_EQ(store_.Revision(), before);
  EXPECT_EQ(Call(Request("POST", "/v1/apps/hello/promote", "", /*with_token=*/false)).status, 401);

  // What the controller writes once the canary runs.
  model::Deployment d = store_.ListDeployments("hello").value()[0];
  const int64_t version = d.version;
  d.state = model::DeploymentState::kProgressing;
  store::Txn txn;
  txn.Put(d, version);
  ASSERT_TRUE(store_.Commit(txn));
  clock_.Advance(std::chrono::seconds(5));
  FakeWriter ok = Call(Request("POST", "/v1/apps/hello/promote"));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.Json().at("app"), "hello");
  EXPECT_EQ(ok.Json().at("revision").as_int64(), 1);
  EXPECT_EQ(ok.Json().at("promoted"), true);
  model::Deployment promoted = store_.ListDeployments("hello").value()[0];
  EXPECT_TRUE(promoted.promoted);
  EXPECT_EQ(promoted.progressed_at, clock_.Now());  // the deadline counts from the promotion
}

// Verify that restart and delete answer 202, and deployments lists the revisions.
TEST_F(ApiServerTest, RestartDeleteDeployments) {
  Apply("hello", kHelloJson);
  EXPECT_EQ(Call(Request("POST", "/v1/apps/hello/restart")).status, 202);
  FakeWriter d = Call(Request("GET", "/v1/apps/hello/deployments"));
  ASSERT_EQ(d.status, 200);
  json::array deployments = d.Json().at("deployments").as_array();
  ASSERT_EQ(deployments.size(), 1u);
  EXPECT_EQ(deployments[0].at("revision").as_int64(), 1);
  EXPECT_TRUE(deployments[0].at("state").is_string());
  EXPECT_EQ(Call(Request("DELETE", "/v1/apps/hello")).status, 202);
  EXPECT_TRUE(store_.GetApp("hello")->deleting);
}

// Verify that an unknown path is 404 and a known path with the wrong method is 405 with Allow.
TEST_F(ApiServerTest, RoutingErrors) {
  FakeWriter missing = Call(Request("GET", "/v1/nothing"));
  EXPECT_EQ(missing.status, 404);
  FakeWriter wrong = Call(Request("POST", "/v1/apps"));
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.Header("Allow"), "GET");
}

// Verify the one ErrorCode -> HTTP status table and the error shape.
TEST(ErrorReplyTest, MappingTable) {
  struct Case {
    ErrorCode code;
    int status;
  };
  for (const Case& c : std::vector<Case>{{ErrorCode::kNotFound, 404},
                                         {ErrorCode::kInvalidArgument, 400},
                                         {ErrorCode::kAlreadyExists, 409},
                                         {ErrorCode::kFailedPrecondition, 412},
                                         {ErrorCode::kAborted, 409},
                                         {ErrorCode::kUnavailable, 503},
                                         {ErrorCode::kDeadlineExceeded, 504},
                                         {ErrorCode::kResourceExhausted, 413},
                                         {ErrorCode::kUnauthenticated, 401},
                                         {ErrorCode::kPermissionDenied, 403},
                                         {ErrorCode::kInternal, 500}}) {
    net::HttpResponse r = ErrorReply(Error{c.code, "why", "a.field"});
    EXPECT_EQ(r.status, c.status) << ErrorCodeName(c.code);
    json::value v = json::parse(r.body);
    EXPECT_EQ(v.at("error").at("code").as_string(), std::string(ErrorCodeName(c.code)));
    EXPECT_EQ(v.at("error").at("message"), "why");
    EXPECT_EQ(v.at("error").at("field"), "a.field");
  }
  net::HttpResponse gone = GoneReply(Error{ErrorCode::kFailedPrecondition, "compacted", ""});
  EXPECT_EQ(gone.status, 410);
  EXPECT_EQ(json::parse(gone.body).at("error").at("code"), "failed_precondition");
}

// Verify that events honour since (ids after it) and the app filter.
TEST_F(ApiServerTest, EventsSinceAndApp) {
  Apply("hello", kHelloJson);
  int64_t mark = store_.Revision();
  Apply("web", R"({"name":"web","run":{"command":["sleep","1"]}})");
  FakeWriter all = Call(Request("GET", "/v1/events"));
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_GE(all.Json().at("events").as_array().size(), 2u);

  FakeWriter since = Call(Request("GET", "/v1/events?since=" + std::to_string(mark)));
  ASSERT_EQ(since.status, 200);
  json::array events = since.Json().at("events").as_array();
  ASSERT_FALSE(events.empty());
  for (const json::value& e : events) {
    EXPECT_GT(e.at("id").as_int64(), mark);
    EXPECT_EQ(e.at("app"), "web");
  }

  json::value hello = Call(Request("GET", "/v1/events?app=hello")).Json();
  ASSERT_FALSE(hello.at("events").as_array().empty());
  for (const json::value& e : hello.at("events").as_array()) EXPECT_EQ(e.at("app"), "hello");
  EXPECT_EQ(Call(Request("GET", "/v1/events?since=abc")).status, 400);
}

// Verify that following events streams the history, then an event committed later.
TEST_F(ApiServerTest, EventsFollow) {
  Apply("hello", kHelloJson);
  std::thread committer;
  FakeWriter w =
      Call(Request("GET", "/v1/events?follow=true"), /*max_chunks=*/2, [&](const std::string&) {
        if (committer.joinable()) return;
        // From another thread, as the reconciler or an agent would.
        committer = std::thread(
            [this] { Apply("web", R"({"name":"web","run":{"command":["sleep","1"]}})"); });
      });
  committer.join();
  EXPECT_EQ(w.status, 200);
  EXPECT_EQ(w.Header("Content-Type"), "application/x-ndjson");
  ASSERT_EQ(w.chunks.size(), 2u);
  EXPECT_THAT(w.chunks[0], HasSubstr("\"app\":\"hello\""));
  EXPECT_THAT(w.chunks[1], HasSubstr("\"app\":\"web\""));
  for (const std::string& chunk : w.chunks) EXPECT_EQ(chunk.back(), '\n');
}

// Verify that watch replays every change after `since` as NDJSON lines of the fixed shape.
TEST_F(ApiServerTest, WatchReplaysChanges) {
  int64_t start = store_.Revision();
  Apply("hello", kHelloJson);
  FakeWriter w = Call(Request("GET", "/v1/watch?since=" + std::to_string(start)), 1);
  ASSERT_EQ(w.status, 200);
  ASSERT_EQ(w.chunks.size(), 1u);
  std::vector<json::value> lines;
  std::string chunk = w.chunks[0];
  for (size_t i = 0, nl; (nl = chunk.find('\n', i)) != std::string::npos; i = nl + 1) {
    lines.push_back(json::parse(chunk.substr(i, nl - i)));
  }
  ASSERT_EQ(static_cast<int64_t>(lines.size()), store_.Revision() - start);
  int64_t previous = start;
  bool saw_app = false;
  for (const json::value& line : lines) {
    EXPECT_GT(line.at("revision").as_int64(), previous);
    previous = line.at("revision").as_int64();
    EXPECT_FALSE(line.at("deleted").as_bool());
    EXPECT_TRUE(line.at("object").is_object());
    if (line.at("kind") == "app") saw_app = true;
  }
  EXPECT_TRUE(saw_app);
}

class CompactingApiServerTest : public ApiServerTest {
 protected:
  CompactingApiServerTest() : ApiServerTest(store::MemoryStore::Options{2, 100}) {}
};

// Verify that a watch from a compacted revision is 410 Gone with code failed_precondition.
TEST_F(CompactingApiServerTest, WatchCompactedIsGone) {
  for (const char* name : {"a", "b", "c"}) {
    Apply(name, std::string(R"({"name":")") + name + R"(","run":{"command":["sleep","1"]}})");
  }
  FakeWriter w = Call(Request("GET", "/v1/watch?since=0"));
  EXPECT_EQ(w.status, 410);
  EXPECT_EQ(w.Json().at("error").at("code"), "failed_precondition");
}

// Verify that nodes are listed in the DESIGN.md shape and drain sets status draining.
TEST_F(ApiServerTest, NodesAndDrain) {
  model::Node n;
  n.id = "node-1";
  n.name = "one";
  n.address = "127.0.0.2";
  n.capacity = {2000, 4294967296};
  store::Txn txn;
  txn.Put(n, store::kMustNotExist);
  ASSERT_TRUE(store_.Commit(txn));
  FakeWriter list = Call(Request("GET", "/v1/nodes"));
  ASSERT_EQ(list.status, 200);
  json::value node = list.Json().at("nodes").at(0);
  EXPECT_EQ(node.at("id"), "node-1");
  EXPECT_EQ(node.at("status"), "ready");
  EXPECT_EQ(node.at("capacity").at("cpu").as_int64(), 2000);
  FakeWriter drained = Call(Request("POST", "/v1/nodes/node-1/drain"));
  ASSERT_EQ(drained.status, 200) << drained.body;
  EXPECT_EQ(drained.Json().at("status"), "draining");
  EXPECT_EQ(store_.GetNode("node-1")->status, model::NodeStatus::kDraining);
  EXPECT_EQ(Call(Request("POST", "/v1/nodes/nope/drain")).status, 404);
}

// Verify that the listings, the routes' long poll and the metrics, asked again
// and again between commits, answer the newest state (apps by name) from one
// whole read of the store: after it they catch up from its change log.
TEST_F(ApiServerTest, ListingsRoutesAndMetricsReadTheWholeStateOnce) {
  std::string tag;
  for (int i = 0; i < 4; ++i) {
    // Named backwards, so the listing's order is its own, not the applies'.
    const std::string name = "app" + std::to_string(9 - i);
    ASSERT_EQ(Apply(name, "name: " + name + "\nrun: {command: [x]}\ndomains: [" + name + ".com]\n")
                  .status,
              201);
    model::Node node;
    node.id = "node-" + std::to_string(i);
    store::Txn txn;
    txn.Put(node, store::kMustNotExist);
    ASSERT_TRUE(store_.Commit(txn));

    FakeWriter apps = Call(Request("GET", "/v1/apps"));
    ASSERT_EQ(apps.status, 200) << apps.body;
    const json::value body = apps.Json();
    const json::array& listed = body.at("apps").as_array();
    ASSERT_EQ(listed.size(), static_cast<size_t>(i + 1));
    EXPECT_EQ(listed.front().at("name").as_string(), name);
    for (size_t k = 1; k < listed.size(); ++k) {
      EXPECT_LT(listed[k - 1].at("name").as_string(), listed[k].at("name").as_string());
    }
    FakeWriter nodes = Call(Request("GET", "/v1/nodes"));
    ASSERT_EQ(nodes.status, 200) << nodes.body;
    EXPECT_EQ(nodes.Json().at("nodes").as_array().size(), static_cast<size_t>(i + 1));
    FakeWriter routes = Call(Request("GET", "/v1/routes?wait=1&unless=" + tag));
    ASSERT_EQ(routes.status, 200) << routes.body;
    EXPECT_THAT(routes.body, HasSubstr(name + ".com"));
    EXPECT_EQ(routes.Header("X-Skiff-Revision"), std::to_string(store_.Revision()));
    tag = std::string(routes.Header("ETag"));
    FakeWriter metrics = Call(Request("GET", "/metrics"));
    ASSERT_EQ(metrics.status, 200);
    EXPECT_THAT(metrics.body, HasSubstr("skiff_apps " + std::to_string(i + 1) + "\n"));
    EXPECT_THAT(metrics.body,
                HasSubstr("skiff_nodes{status=\"ready\"} " + std::to_string(i + 1) + "\n"));
  }
  EXPECT_EQ(store_.whole_reads(), 1);
}

// Verify that logs?tail=N returns each instance's last N lines, prefixed with its id.
TEST_F(ApiServerTest, LogsTail) {
  Apply("hello", kHelloJson);
  PutInstance("hello-aaaa", "hello");
  std::ofstream(dir_.File("hello-aaaa.log")) << "one\ntwo\nthree\n";
  FakeWriter w = Call(Request("GET", "/v1/apps/hello/logs?tail=2"));
  ASSERT_EQ(w.status, 200) << w.body;
  EXPECT_EQ(w.body, "hello-aaaa | two\nhello-aaaa | three\n");
  EXPECT_EQ(Call(Request("GET", "/v1/apps/nope/logs")).status, 404);
  EXPECT_EQ(Call(Request("GET", "/v1/apps/hello/logs?tail=-1")).status, 400);
}

// Verify that following logs streams the tail, then lines appended later.
TEST_F(ApiServerTest, LogsFollow) {
  Apply("hello", kHelloJson);
  PutInstance("hello-aaaa", "hello");
  std::string path = dir_.File("hello-aaaa.log");
  std::ofstream(path) << "old\n";
  FakeWriter w = Call(Request("GET", "/v1/apps/hello/logs?tail=5&follow=true"), 2,
                      [&](const std::string&) { std::ofstream(path, std::ios::app) << "new\n"; });
  ASSERT_EQ(w.status, 200);
  ASSERT_EQ(w.chunks.size(), 2u);
  EXPECT_EQ(w.chunks[0], "hello-aaaa | old\n");
  EXPECT_EQ(w.chunks[1], "hello-aaaa | new\n");
}

// Verify that /metrics needs no token and counts the requests answered.
TEST_F(ApiServerTest, MetricsExposition) {
  Apply("hello", kHelloJson);
  Call(Request("GET", "/v1/apps/nope"));
  FakeWriter w = Call(Request("GET", "/metrics"));
  ASSERT_EQ(w.status, 200);
  EXPECT_THAT(std::string(w.Header("Content-Type")), HasSubstr("version=0.0.4"));
  EXPECT_THAT(w.body, HasSubstr("skiff_http_requests_total{method=\"PUT\",code=\"201\"} 1\n"));
  EXPECT_THAT(w.body, HasSubstr("skiff_http_requests_total{method=\"GET\",code=\"404\"} 1\n"));
  EXPECT_THAT(w.body, HasSubstr("skiff_apps 1\n"));
  EXPECT_THAT(w.body, HasSubstr("skiff_nodes{status=\"draining\"} 0\n"));
  EXPECT_THAT(w.body, HasSubstr("skiff_instances{state=\"running\"} 0\n"));
  EXPECT_THAT(w.body, HasSubstr("skiff_store_revision " + std::to_string(store_.Revision())));
  EXPECT_THAT(w.body, HasSubstr("skiff_http_request_duration_seconds_count 2\n"));
}

// Verify that /metrics says whether its counts are of this scrape: the store
// up while the state can be read, down (the counts as last read) when not.
TEST_F(ApiServerTest, MetricsSayWhetherTheStoreCouldBeRead) {
  Apply("hello", kHelloJson);
  FakeWriter up = Call(Request("GET", "/metrics"));
  ASSERT_EQ(up.status, 200);
  EXPECT_THAT(up.body, HasSubstr("skiff_store_up 1\n"));
  Apply("other", R"({"name":"other","run":{"command":["sleep","100"]}})");
  store_.set_unreachable(true);
  FakeWriter down = Call(Request("GET", "/metrics"));
  ASSERT_EQ(down.status, 200);
  EXPECT_THAT(down.body, HasSubstr("skiff_store_up 0\n"));
  EXPECT_THAT(down.body, HasSubstr("skiff_apps 1\n"));
  store_.set_unreachable(false);
  FakeWriter again = Call(Request("GET", "/metrics"));
  EXPECT_THAT(again.body, HasSubstr("skiff_store_up 1\n"));
  EXPECT_THAT(again.body, HasSubstr("skiff_apps 2\n"));
}

// Verify that an edge's traffic report is taken, and the rate between two
// reports is answered by GET /v1/traffic and in /metrics, the latency as a summary.
TEST_F(ApiServerTest, EdgeTrafficReportsBecomeRates) {
  const std::string report =
      R"({"apps":{"web":{"requests":{"2xx":10},"bytes":100,"in_flight":2,)"
      R"("latency":{"bounds":[0.01,0.1],"cumulative":[10,10],"sum":0.05,"count":10}}}})";
  FakeWriter first = Call(Request("POST", "/v1/edges/edge-a:8080/traffic", report));
  ASSERT_EQ(first.status, 200) << first.body;
  FakeWriter got = Call(Request("GET", "/v1/traffic"));
  ASSERT_EQ(got.status, 200) << got.body;
  json::value doc = json::parse(got.body);
  EXPECT_EQ(doc.at("apps").at("web").at("in_flight").as_int64(), 2);
  EXPECT_EQ(doc.at("edges").as_array().size(), 1u);
  EXPECT_EQ(doc.at("edges").at(0).as_string(), "edge-a:8080");
  FakeWriter scraped = Call(Request("GET", "/metrics"));
  EXPECT_THAT(scraped.body, HasSubstr("skiff_app_requests_per_second{app=\"web\"} 0"));
  // One report is no interval yet: no quantiles, but the observations count.
  EXPECT_THAT(scraped.body, HasSubstr("# TYPE skiff_app_request_latency_seconds summary\n"));
  EXPECT_THAT(scraped.body,
              HasSubstr("skiff_app_request_latency_seconds{app=\"web\",quantile=\"0.95\"} NaN\n"));
  EXPECT_THAT(scraped.body, HasSubstr("skiff_app_request_latency_seconds_sum{app=\"web\"} 0.05\n"));
  EXPECT_THAT(scraped.body, HasSubstr("skiff_app_request_latency_seconds_count{app=\"web\"} 10\n"));
}

// Verify that a bad report is refused with the field it gets wrong, and an
// edge name that could not be one is refused too.
TEST_F(ApiServerTest, BadTrafficReportsAreRefused) {
  FakeWriter bad = Call(Request("POST", "/v1/edges/a/traffic", R"({"apps":{"web":{"bytes":-5}}})"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("apps.web.bytes"));
  FakeWriter routes = Call(Request("POST", "/v1/edges/a/traffic",
                                   R"({"apps":{},"routes":{"leaving":{"web-1":"many"}}})"));
  EXPECT_EQ(routes.status, 400);
  EXPECT_THAT(routes.body, HasSubstr("routes.leaving.web-1"));
  FakeWriter name = Call(Request("POST", "/v1/edges/a%20b/traffic", R"({"apps":{}})"));
  EXPECT_EQ(name.status, 400) << name.body;
  FakeWriter anonymous =
      Call(Request("POST", "/v1/edges/a/traffic", R"({"apps":{}})", /*with_token=*/false));
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(json::parse(Call(Request("GET", "/v1/traffic")).body).at("edges").as_array().size(),
            0u);
}

// Verify that a traffic report with a report interval tells edge_heard the
// edge and its interval (the roster keeps them), bounded to 100 ms..5 min,
// and one without none.
TEST_F(ApiServerTest, TrafficReportsTellWhichEdgeWasHeard) {
  ASSERT_EQ(Call(Request("POST", "/v1/edges/edge-a/traffic",
                         R"({"apps":{},"routes":{"revision":3,"interval_ms":5000}})"))
                .status,
            200);
  ASSERT_EQ(Call(Request("POST", "/v1/edges/edge-b/traffic", R"({"apps":{}})")).status, 200);
  ASSERT_EQ(Call(Request("POST", "/v1/edges/edge-c/traffic",
                         R"({"apps":{"web":{"bytes":-5}},"routes":{"interval_ms":5000}})"))
                .status,
            400);
  // Intervals beyond 100 ms..5 min are clamped.
  ASSERT_EQ(Call(Request("POST", "/v1/edges/edge-d/traffic",
                         R"({"apps":{},"routes":{"interval_ms":9000000000}})"))
                .status,
            200);
  ASSERT_EQ(
      Call(Request("POST", "/v1/edges/edge-e/traffic", R"({"apps":{},"routes":{"interval_ms":1}})"))
          .status,
      200);
  std::lock_guard lock(heard_mu_);
  EXPECT_EQ(heard_, (std::vector<std::pair<std::string, int64_t>>{
                        {"edge-a", 5000}, {"edge-d", 300000}, {"edge-e", 100}}));
}

// A self-signed certificate and its key for `names`, as the JSON body of
// POST /v1/certificates for `domain`, valid from an hour before `now` to
// `valid_for` after it.
json::object CertificateBody(const std::string& domain, std::vector<std::string> names, Time now,
                             Duration valid_for = std::chrono::hours(24)) {
  auto key = crypto::GenerateP256Key();
  crypto::CertificateRequest request{"Test CA", std::move(names), now - std::chrono::hours(1),
                                     now + valid_for, false};
  auto cert = crypto::IssueCertificate(request, key->get(), nullptr, key->get());
  return {{"domain", domain},
          {"cert", crypto::CertificatePem(cert->get())},
          {"key", crypto::PrivateKeyPem(key->get())}};
}

// Verify that POST /v1/certificates keeps a good certificate (201 with what
// the listing shows), GET lists it without any key, and DELETE forgets it;
// all three are the admin's.
TEST_F(ApiServerTest, CertificatesAddListRemove) {
  const json::object body = CertificateBody("*.web.com", {"*.web.com"}, clock_.Now());
  FakeWriter added = Call(Request("POST", "/v1/certificates", json::serialize(body)));
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(added.Json().at("domain"), "*.web.com");
  EXPECT_EQ(added.Json().at("issuer"), "Test CA");
  EXPECT_EQ(added.Json().at("source"), "manual");

  FakeWriter listed = Call(Request("GET", "/v1/certificates"));
  ASSERT_EQ(listed.status, 200);
  const json::value listing = listed.Json();
  const json::array& list = listing.at("certificates").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("domain"), "*.web.com");
  EXPECT_EQ(list[0].at("not_after").as_string(), FormatTime(clock_.Now() + std::chrono::hours(24)));
  EXPECT_EQ(listed.body.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(listed.body.find("skiff-aes256gcm"), std::string::npos) << listed.body;
  EXPECT_EQ(list[0].as_object().if_contains("key"), nullptr);

  EXPECT_EQ(Call(Request("GET", "/v1/certificates", "", false)).status, 401);
  EXPECT_EQ(Call(Request("POST", "/v1/certificates", json::serialize(body), false)).status, 401);
  EXPECT_EQ(Call(Request("DELETE", "/v1/certificates/*.web.com", "", false)).status, 401);
  EXPECT_EQ(Call(Request("DELETE", "/v1/certificates/*.web.com")).status, 200);
  EXPECT_TRUE(
      Call(Request("GET", "/v1/certificates")).Json().at("certificates").as_array().empty());
  FakeWriter again = Call(Request("DELETE", "/v1/certificates/*.web.com"));
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.Json().at("error").at("code"), "not_found");
}

// Verify that bad input to POST /v1/certificates (a malformed certificate or
// key, a key that does not match, an expired certificate, a domain it does
// not cover, a missing field) is 400 naming what is wrong, and nothing is kept.
TEST_F(ApiServerTest, CertificateBadInputIs400AndKeepsNothing) {
  const Time now = clock_.Now();
  const json::object good = CertificateBody("web.com", {"web.com"}, now);
  const json::object other = CertificateBody("web.com", {"web.com"}, now);
  json::object malformed_cert = good;
  malformed_cert["cert"] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  json::object malformed_key = good;
  malformed_key["key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  json::object mismatched = good;
  mismatched["key"] = other.at("key");
  // Expired an hour ago: made valid for a negative time from two hours back.
  json::object expired =
      CertificateBody("web.com", {"web.com"}, now - std::chrono::hours(2), std::chrono::hours(1));
  json::object uncovered = good;
  uncovered["domain"] = "shop.com";
  json::object no_key = good;
  no_key.erase("key");
  struct Case {
    const char* name;
    json::object body;
    std::string field;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"malformed cert", malformed_cert, "cert", "no PEM certificate"},
      {"malformed key", malformed_key, "key", "no PEM private key"},
      {"mismatched key", mismatched, "key", "the key does not match the certificate"},
      {"expired", expired, "cert", "expired on "},
      {"uncovered domain", uncovered, "domain", "not among the certificate's names (web.com)"},
      {"no key", no_key, "key", "required"},
  };
  for (const Case& c : cases) {
    FakeWriter w = Call(Request("POST", "/v1/certificates", json::serialize(c.body)));
    EXPECT_EQ(w.status, 400) << c.name << ": " << w.body;
    EXPECT_EQ(w.Json().at("error").at("code"), "invalid_argument") << c.name;
    EXPECT_EQ(w.Json().at("error").at("field").as_string(), c.field) << c.name << ": " << w.body;
    EXPECT_THAT(std::string(w.Json().at("error").at("message").as_string()), HasSubstr(c.says))
        << c.name;
  }
  EXPECT_EQ(Call(Request("POST", "/v1/certificates", "not json")).status, 400);
  EXPECT_TRUE(
      Call(Request("GET", "/v1/certificates")).Json().at("certificates").as_array().empty());
  EXPECT_TRUE(store_.ListRecords(store::RecordKind::kCertificate)->empty());
}

// Verify that the routes document carries, key included, the certificate of a
// domain an app serves and not that of a domain none serves, and that adding
// one wakes a waiting poll (its event is a commit).
TEST_F(ApiServerTest, RoutesCarryCertificatesOfServedDomains) {
  ASSERT_EQ(Apply("web", "name: web\nrun: {command: [x]}\ndomains: [web.com]\n").status, 201);
  FakeWriter first = Call(Request("GET", "/v1/routes"));
  const std::string tag(first.Header("ETag"));
  const json::object served = CertificateBody("web.com", {"web.com"}, clock_.Now());
  const json::object unserved = CertificateBody("shop.com", {"shop.com"}, clock_.Now());
  ASSERT_EQ(Call(Request("POST", "/v1/certificates", json::serialize(served))).status, 201);
  ASSERT_EQ(Call(Request("POST", "/v1/certificates", json::serialize(unserved))).status, 201);

  FakeWriter routes = Call(Request("GET", "/v1/routes?wait=5&unless=" + tag));
  ASSERT_EQ(routes.status, 200) << routes.body;
  const json::value document = routes.Json();
  const json::array& certificates = document.at("certificates").as_array();
  ASSERT_EQ(certificates.size(), 1u) << routes.body;
  EXPECT_EQ(certificates[0].at("domains"), json::array{"web.com"});
  EXPECT_EQ(certificates[0].at("cert"), served.at("cert"));
  EXPECT_EQ(certificates[0].at("key"), served.at("key"));
  EXPECT_EQ(routes.body.find("shop.com"), std::string::npos) << routes.body;
}

}  // namespace
}  // namespace skiff::api
