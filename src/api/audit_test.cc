// The audit trail through the API (issue 15 §4): a change commits with its
// entry, a refusal is recorded, and a request whose entry cannot be written
// fails without its change.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "api/api_server.h"
#include "api/fake_writer_test_util.h"
#include "auth/audit_scope.h"
#include "auth/users.h"
#include "fakes/testing.h"
#include "store/memory/memory_store.h"

namespace skiff::api {
namespace {

using testing::FakeWriter;

constexpr const char* kAdmin = "the-admin-token";
constexpr const char* kSpec = R"({"name":"web","run":{"command":["sleep","1"]}})";

// A store whose audit writes fail while `broken` is set: alone, and within
// a commit (which then writes nothing, as a database would).
class BrokenAuditStore : public store::MemoryStore {
 public:
  Result<int64_t> Commit(const store::Txn& txn) override {
    if (broken && !txn.audit_entries().empty()) return Unavailable("the audit table is full");
    return MemoryStore::Commit(txn);
  }
  Result<int64_t> AppendAudit(store::AuditEntry entry) override {
    if (broken) return Unavailable("the audit table is full");
    return MemoryStore::AppendAudit(std::move(entry));
  }
  bool broken = false;
};

class AuditTest : public ::testing::Test {
 protected:
  AuditTest() {
    ApiDeps deps;
    deps.store = &audited_;
    deps.apps = &apps_;
    deps.clock = &clock_;
    deps.auth = &auth_;
    deps.tokens = &tokens_;
    deps.users = &users_;
    deps.log_dir = dir_.path();
    api_ = std::make_unique<ApiServer>(std::move(deps));
  }

  FakeWriter Call(const std::string& method, const std::string& path, const std::string& token,
                  const std::string& body = "") {
    net::HttpRequest r;
    r.method = method;
    r.target = path;
    const size_t q = path.find('?');
    r.path = path.substr(0, q);
    for (size_t i = q; i != std::string::npos && i < path.size();) {
      const size_t end = std::min(path.find('&', i + 1), path.size());
      const std::string kv = path.substr(i + 1, end - i - 1);
      const size_t eq = kv.find('=');
      r.query[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
      i = end;
    }
    r.body = body;
    r.remote_address = "127.0.0.9:4242";
    if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
    FakeWriter w;
    testing::RunHandler(
        [this](const net::HttpRequest& q, FakeWriter& f) { return api_->Handle(q, f); }, r, w);
    return w;
  }

  std::vector<store::AuditEntry> Trail() {
    auto entries = store_.ListAudit({});
    EXPECT_TRUE(entries);
    return entries ? *entries : std::vector<store::AuditEntry>{};
  }

  skiff::testing::TempDir dir_;
  ManualClock clock_;
  BrokenAuditStore store_;
  auth::AuditingStore audited_{&store_};
  controller::AppService apps_{&audited_, &clock_};
  auth::ApiTokenStore tokens_{&audited_, &clock_};
  auth::UserStore users_{&audited_, &clock_};
  TokenAuthenticator auth_{{kAdmin}, nullptr, &tokens_, &users_};
  std::unique_ptr<ApiServer> api_;
};

// Verify that a change commits with its entry (who, role, source, method,
// path, project, app, request id, the revision it made) and that the entry
// gets the answer's code; that an apply changing nothing is recorded alone;
// and that a read is not recorded.
TEST_F(AuditTest, ChangesCommitWithTheirEntry) {
  auto token =
      tokens_.Create({.name = "ci", .role = auth::Role::kDeployer, .projects = {"default"}});
  ASSERT_TRUE(token);
  FakeWriter applied = Call("PUT", "/v1/apps/web", token->token, kSpec);
  ASSERT_EQ(applied.status, 201) << applied.body;
  std::vector<store::AuditEntry> trail = Trail();
  ASSERT_EQ(trail.size(), 1u);
  const store::AuditEntry& e = trail[0];
  EXPECT_EQ(e.who, "ci");
  EXPECT_EQ(e.role, "deployer");
  EXPECT_EQ(e.credential, "token");
  EXPECT_EQ(e.source, "127.0.0.9:4242");
  EXPECT_EQ(e.method, "PUT");
  EXPECT_EQ(e.path, "/v1/apps/web");
  EXPECT_EQ(e.app, "web");
  EXPECT_EQ(e.code, 201);
  EXPECT_GT(e.revision, 0);
  EXPECT_EQ(std::string(applied.Header("X-Request-Id")), e.request_id);

  ASSERT_EQ(Call("PUT", "/v1/apps/web", token->token, kSpec).status, 200);  // unchanged
  ASSERT_EQ(Call("GET", "/v1/apps/web", token->token).status, 200);
  trail = Trail();
  ASSERT_EQ(trail.size(), 2u);
  EXPECT_EQ(trail[1].code, 200);
  EXPECT_EQ(trail[1].project, "default");
  EXPECT_EQ(trail[1].revision, 0);
}

// Verify that refused requests are recorded: a wrong token (401) and a
// role that may not (403), reads included.
TEST_F(AuditTest, RefusalsAreRecorded) {
  auto viewer =
      tokens_.Create({.name = "look", .role = auth::Role::kViewer, .projects = {"default"}});
  ASSERT_TRUE(viewer);
  EXPECT_EQ(Call("GET", "/v1/apps", "wrong").status, 401);
  EXPECT_EQ(Call("PUT", "/v1/apps/web", viewer->token, kSpec).status, 403);
  // No credential tried: one entry a minute per address, whatever the count.
  EXPECT_EQ(Call("GET", "/v1/apps", "").status, 401);
  EXPECT_EQ(Call("GET", "/v1/apps", "").status, 401);
  std::vector<store::AuditEntry> trail = Trail();
  ASSERT_EQ(trail.size(), 3u);
  EXPECT_EQ(trail[2].code, 401);
  clock_.Advance(std::chrono::minutes(1));
  EXPECT_EQ(Call("GET", "/v1/apps", "").status, 401);
  EXPECT_EQ(Trail().size(), 4u);
  EXPECT_EQ(trail[0].code, 401);
  EXPECT_EQ(trail[0].who, "anonymous");
  EXPECT_EQ(trail[1].code, 403);
  EXPECT_EQ(trail[1].who, "look");
  EXPECT_EQ(trail[1].role, "viewer");
}

// Verify that a caller no handler could identify fills no trail: a login's
// bad body and a logout without a session leave one entry a minute per
// address; a login's entry names only a name a user could have.
TEST_F(AuditTest, UnknownCallersAreBounded) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Call("POST", "/v1/login", "", "not json").status, 400);
    EXPECT_EQ(Call("POST", "/v1/logout", "").status, 401);
  }
  std::vector<store::AuditEntry> trail = Trail();
  ASSERT_EQ(trail.size(), 2u);
  EXPECT_EQ(trail[0].path, "/v1/login");
  EXPECT_EQ(trail[1].path, "/v1/logout");
  clock_.Advance(std::chrono::minutes(1));
  EXPECT_EQ(Call("POST", "/v1/login", "", R"({"name":"eve\nforged row","password":"x"})").status,
            401);
  trail = Trail();
  ASSERT_EQ(trail.size(), 3u);
  EXPECT_EQ(trail[2].who, "anonymous");
  EXPECT_EQ(trail[2].credential, "password");
}

// Verify that a request whose entry cannot be written fails (503) and
// changes nothing; and that a refusal whose entry cannot be written is
// refused all the same.
TEST_F(AuditTest, NoEntryNoChange) {
  store_.broken = true;
  const int64_t before = store_.Revision();
  FakeWriter applied = Call("PUT", "/v1/apps/web", kAdmin, kSpec);
  EXPECT_EQ(applied.status, 503) << applied.body;
  EXPECT_NE(applied.body.find("audit"), std::string::npos) << applied.body;
  EXPECT_EQ(store_.Revision(), before);
  EXPECT_EQ(store_.GetApp("web").error().code, ErrorCode::kNotFound);
  FakeWriter token = Call("POST", "/v1/tokens", kAdmin, R"({"name":"x","role":"admin"})");
  EXPECT_EQ(token.status, 503) << token.body;
  EXPECT_TRUE(tokens_.List()->empty());
  EXPECT_EQ(Call("GET", "/v1/apps", "wrong").status, 503);

  store_.broken = false;
  EXPECT_EQ(Call("PUT", "/v1/apps/web", kAdmin, kSpec).status, 201);
  ASSERT_EQ(Trail().size(), 1u);
}

// Verify that GET /v1/audit filters by who and app and by age, newest last.
TEST_F(AuditTest, ListsFiltered) {
  ASSERT_EQ(Call("PUT", "/v1/apps/web", kAdmin, kSpec).status, 201);
  clock_.Advance(std::chrono::hours(2));
  ASSERT_EQ(Call("POST", "/v1/apps/web/restart", kAdmin).status, 202);
  EXPECT_EQ(Call("GET", "/v1/apps", "wrong").status, 401);
  FakeWriter all = Call("GET", "/v1/audit", kAdmin);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.Json().at("entries").as_array().size(), 3u);
  FakeWriter recent = Call("GET", "/v1/audit?since=1h&who=admin", kAdmin);
  ASSERT_EQ(recent.status, 200) << recent.body;
  ASSERT_EQ(recent.Json().at("entries").as_array().size(), 1u);
  EXPECT_EQ(recent.Json().at("entries").at(0).at("path"), "/v1/apps/web/restart");
  EXPECT_EQ(Call("GET", "/v1/audit?since=soon", kAdmin).status, 400);
}

}  // namespace
}  // namespace skiff::api
