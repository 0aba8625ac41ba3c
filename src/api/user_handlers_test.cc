// The users' API: login and logout, the admin's /v1/users, sessions as
// bearer tokens, and the failed-authentication limit on logins.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // g++ 12 false positive on Asio frames
#endif

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "api/api_server.h"
#include "api/fake_writer_test_util.h"
#include "common/quantity.h"
#include "fakes/testing.h"
#include "store/memory/memory_store.h"

namespace skiff::api {
namespace {

namespace json = boost::json;
using testing::FakeWriter;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr const char* kUsersAdmin = "admin-token";
constexpr const char* kPassword = "correct horse battery";

auth::UserStore::Options Cheap() {
  auth::UserStore::Options options;
  options.password_params = {.memory_kib = 256, .iterations = 1, .parallelism = 1};
  return options;
}

class UserHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override { api_ = MakeApi(&users_); }

  std::unique_ptr<ApiServer> MakeApi(auth::UserStore* users) {
    ApiDeps deps;
    deps.store = &store_;
    deps.apps = &apps_;
    deps.clock = &clock_;
    deps.auth = &auth_;
    deps.auth_failures = &auth_failures_;
    deps.users = users;
    deps.log_dir = dir_.path();
    return std::make_unique<ApiServer>(std::move(deps));
  }

  FakeWriter Call(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token, const std::string& from = "10.0.0.1:4000") {
    net::HttpRequest r;
    r.method = method;
    r.target = path;
    r.path = path;
    r.body = body;
    r.remote_address = from;
    if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
    FakeWriter w;
    testing::RunHandler(
        [this](const net::HttpRequest& q, FakeWriter& wr) { return api_->Handle(q, wr); }, r, w);
    return w;
  }

  static std::string LoginBody(const std::string& name, const std::string& password) {
    return json::serialize(json::object{{"name", name}, {"password", password}});
  }

  FakeWriter AddUser(const std::string& name, const std::string& role,
                     const std::vector<std::string>& projects) {
    json::array list;
    for (const std::string& p : projects) list.emplace_back(p);
    return Call("POST", "/v1/users",
                json::serialize(json::object{{"name", name},
                                             {"role", role},
                                             {"projects", std::move(list)},
                                             {"password", kPassword}}),
                kUsersAdmin);
  }

  // A session of `name` (added before), logged in from `from`.
  std::string Login(const std::string& name, const std::string& from = "10.0.0.9:4000") {
    FakeWriter w = Call("POST", "/v1/login", LoginBody(name, kPassword), "", from);
    EXPECT_EQ(w.status, 200) << w.body;
    return w.status == 200 ? std::string(w.Json().at("token").as_string()) : "";
  }

  skiff::testing::TempDir dir_;
  ManualClock clock_;
  store::MemoryStore store_;
  controller::AppService apps_{&store_, &clock_};
  auth::UserStore users_{&store_, &clock_, Cheap()};
  TokenAuthenticator auth_{{kUsersAdmin}, nullptr, nullptr, &users_};
  AuthFailureLimiter auth_failures_;  // the defaults: 10 failures, one drained each 6 s
  std::unique_ptr<ApiServer> api_;
};

// Verify the whole round: the admin adds a user (201, never a hash back),
// lists them, the user logs in with no bearer token (200: a session token,
// when it expires, who), an admin's session calls admin routes, and after
// logout (204) the session is refused.
TEST_F(UserHandlersTest, AddLoginUseLogout) {
  FakeWriter added = AddUser("alice", "admin", {});
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(added.Json().at("name"), "alice");
  EXPECT_EQ(added.Json().at("role"), "admin");
  EXPECT_THAT(added.body, Not(HasSubstr("argon2")));

  FakeWriter listed = Call("GET", "/v1/users", "", kUsersAdmin);
  ASSERT_EQ(listed.status, 200);
  const json::value list = listed.Json();
  const json::value& user = list.at("users").at(0);
  EXPECT_EQ(user.at("name"), "alice");
  EXPECT_EQ(user.at("role"), "admin");
  EXPECT_TRUE(user.at("projects").as_array().empty());
  EXPECT_EQ(user.at("created_at"), json::value(FormatTime(clock_.Now())));
  EXPECT_FALSE(user.as_object().contains("hash"));
  EXPECT_THAT(listed.body, Not(HasSubstr("argon2")));

  FakeWriter login = Call("POST", "/v1/login", LoginBody("alice", kPassword), "");
  ASSERT_EQ(login.status, 200) << login.body;
  const json::value v = login.Json();
  const std::string token(v.at("token").as_string());
  EXPECT_THAT(token, StartsWith("skiff-session-"));
  EXPECT_EQ(v.at("expires_at"), json::value(FormatTime(clock_.Now() + std::chrono::hours(12))));
  EXPECT_EQ(v.at("user"), "alice");
  EXPECT_EQ(v.at("role"), "admin");
  EXPECT_TRUE(v.at("projects").as_array().empty());

  EXPECT_EQ(Call("GET", "/v1/apps", "", token).status, 200);
  EXPECT_EQ(Call("GET", "/v1/users", "", token).status, 200);
  EXPECT_EQ(Call("POST", "/v1/logout", "", token).status, 204);
  FakeWriter after = Call("GET", "/v1/apps", "", token);
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(after.Json().at("error").at("message"), "unknown session");
  EXPECT_EQ(Call("POST", "/v1/logout", "", token).status, 401);
}

// Verify that a wrong password and an unknown name are both 401 with the same
// message, and that a login with no body or a non-string name is 400.
TEST_F(UserHandlersTest, WrongCredentials) {
  ASSERT_EQ(AddUser("alice", "viewer", {"web"}).status, 201);
  FakeWriter wrong = Call("POST", "/v1/login", LoginBody("alice", "not the password"), "");
  FakeWriter unknown = Call("POST", "/v1/login", LoginBody("mallory", kPassword), "");
  for (const FakeWriter* w : {&wrong, &unknown}) {
    EXPECT_EQ(w->status, 401);
    EXPECT_EQ(w->Json().at("error").at("code"), "unauthenticated");
    EXPECT_EQ(w->Json().at("error").at("message"), "wrong user name or password");
  }
  FakeWriter bad = Call("POST", "/v1/login", R"({"name":7,"password":"x"})", "");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json().at("error").at("field"), "name");
}

// Verify that past the burst of failed logins from one address (10 distinct
// wrong passwords) the 11th is 429 with Retry-After; that a successful login
// counted nothing; that the right password still logs in from there (it
// authenticated lately), and that other addresses are not affected.
TEST_F(UserHandlersTest, FailedLoginsAreLimitedPerAddress) {
  ASSERT_EQ(AddUser("alice", "admin", {}).status, 201);
  EXPECT_EQ(Call("POST", "/v1/login", LoginBody("alice", kPassword), "", "10.0.0.1:4000").status,
            200);
  for (int i = 0; i < 10; ++i) {
    FakeWriter w = Call("POST", "/v1/login", LoginBody("alice", "guess-" + std::to_string(i)), "",
                        "10.0.0.1:" + std::to_string(4001 + i));
    EXPECT_EQ(w.status, 401) << i;
  }
  FakeWriter blocked =
      Call("POST", "/v1/login", LoginBody("alice", "guess-10"), "", "10.0.0.1:4100");
  EXPECT_EQ(blocked.status, 429);
  EXPECT_EQ(blocked.Header("Retry-After"), "6");
  EXPECT_EQ(blocked.Json().at("error").at("code"), "resource_exhausted");
  EXPECT_EQ(Call("POST", "/v1/login", LoginBody("alice", kPassword), "", "10.0.0.1:4101").status,
            200);
  EXPECT_EQ(Call("POST", "/v1/login", LoginBody("alice", "guess-11"), "", "10.0.0.2:4000").status,
            401);
}

// Verify that the users' routes are the admin's: no token 401, a deployer's
// session 403; that a deployer's session may log out; and that bad input is
// 400 naming its field.
TEST_F(UserHandlersTest, UsersRoutesAreTheAdmins) {
  EXPECT_EQ(Call("GET", "/v1/users", "", "").status, 401);
  ASSERT_EQ(AddUser("dev", "deployer", {"web"}).status, 201);
  const std::string session = Login("dev");
  FakeWriter denied = Call("GET", "/v1/users", "", session);
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.Json().at("error").at("code"), "permission_denied");
  EXPECT_EQ(Call("POST", "/v1/logout", "", session).status, 204);

  EXPECT_EQ(AddUser("dev", "viewer", {"web"}).status, 409);
  FakeWriter no_project = AddUser("eve", "viewer", {});
  EXPECT_EQ(no_project.status, 400);
  EXPECT_EQ(no_project.Json().at("error").at("field"), "projects");
  FakeWriter edge = AddUser("eve", "edge", {});
  EXPECT_EQ(edge.status, 400);
  EXPECT_EQ(edge.Json().at("error").at("field"), "role");
  FakeWriter bad_role = AddUser("eve", "root", {});
  EXPECT_EQ(bad_role.status, 400);
  EXPECT_EQ(bad_role.Json().at("error").at("field"), "role");
  FakeWriter short_password =
      Call("POST", "/v1/users", R"({"name":"eve","role":"admin","password":"short"})", kUsersAdmin);
  EXPECT_EQ(short_password.status, 400);
  EXPECT_EQ(short_password.Json().at("error").at("field"), "password");
  FakeWriter projects_not_a_list =
      Call("POST", "/v1/users",
           R"({"name":"eve","role":"viewer","projects":"web","password":"correct horse battery"})",
           kUsersAdmin);
  EXPECT_EQ(projects_not_a_list.status, 400);
  EXPECT_EQ(projects_not_a_list.Json().at("error").at("field"), "projects");
}

// Verify that removing a user (204) ends their session at once, and that
// removing an unknown user is 404.
TEST_F(UserHandlersTest, RemoveEndsTheSession) {
  ASSERT_EQ(AddUser("alice", "admin", {}).status, 201);
  const std::string session = Login("alice");
  EXPECT_EQ(Call("GET", "/v1/apps", "", session).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/users/alice", "", kUsersAdmin).status, 204);
  EXPECT_EQ(Call("GET", "/v1/apps", "", session).status, 401);
  EXPECT_EQ(Call("DELETE", "/v1/users/alice", "", kUsersAdmin).status, 404);
}

// Verify that an expired session is 401 saying when it expired and to log in again.
TEST_F(UserHandlersTest, ExpiredSession) {
  ASSERT_EQ(AddUser("alice", "admin", {}).status, 201);
  const std::string session = Login("alice");
  clock_.Advance(std::chrono::hours(12));
  FakeWriter expired = Call("GET", "/v1/apps", "", session);
  EXPECT_EQ(expired.status, 401);
  EXPECT_THAT(std::string(expired.Json().at("error").at("message").as_string()),
              HasSubstr("skiff login again"));
}

// Verify that without a UserStore the people's routes answer 404.
TEST_F(UserHandlersTest, NoUsersIsNotFound) {
  api_ = MakeApi(nullptr);
  EXPECT_EQ(Call("POST", "/v1/login", LoginBody("alice", kPassword), "").status, 404);
  EXPECT_EQ(Call("POST", "/v1/logout", "", "skiff-session-x").status, 404);
  EXPECT_EQ(Call("GET", "/v1/users", "", kUsersAdmin).status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/users/alice", "", kUsersAdmin).status, 404);
}

}  // namespace
}  // namespace skiff::api
