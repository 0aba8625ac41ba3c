// Tests of /v1/apps/{name}/secrets (secret_handlers.cc) and of what agents
// are given of secrets (agent_secrets.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // g++ 12 false positive on Asio frames
#endif

#include "api/agent_secrets.h"
#include "api/api_server.h"
#include "api/fake_writer_test_util.h"
#include "fakes/testing.h"
#include "model/codec.h"
#include "store/memory/memory_store.h"

namespace skiff::api {
namespace {

namespace json = boost::json;
using testing::FakeWriter;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kSecretsToken = "s3cret-token";
constexpr const char* kCanary = "canary-0a1b2c3d4e5f";
constexpr const char* kSecretsHelloJson = R"({"name":"hello","run":{"command":["sleep","100"]}})";

class SecretHandlersTest : public ::testing::Test {
 protected:
  SecretHandlersTest() : apps_(&store_, &clock_), auth_({kSecretsToken}) {}

  void SetUp() override { MakeServer(&secrets_); }

  void MakeServer(auth::SecretStore* secrets) {
    ApiDeps deps;
    deps.store = &store_;
    deps.apps = &apps_;
    deps.clock = &clock_;
    deps.auth = &auth_;
    deps.secrets = secrets;
    deps.log_dir = dir_.path();
    api_ = std::make_unique<ApiServer>(std::move(deps));
  }

  FakeWriter Call(std::string method, std::string path, std::string body = {},
                  std::string content_type = {}) {
    net::HttpRequest r;
    r.method = std::move(method);
    r.target = path;
    r.path = std::move(path);
    r.body = std::move(body);
    r.headers.emplace_back("Authorization", std::string("Bearer ") + kSecretsToken);
    if (!content_type.empty()) r.headers.emplace_back("Content-Type", std::move(content_type));
    FakeWriter w;
    testing::RunHandler([this](const net::HttpRequest& req,
                               FakeWriter& writer) { return api_->Handle(req, writer); },
                        r, w);
    answers_ += w.body + "\n";
    return w;
  }

  void Deploy() { ASSERT_EQ(Call("PUT", "/v1/apps/hello", kSecretsHelloJson).status, 201); }

  // Every event's message and details, as one text.
  std::string Events() const {
    std::string all;
    const std::vector<model::Event> events = store_.ListEvents({}).value();
    for (const model::Event& e : events) {
      all += e.kind + ": " + e.message + "\n";
      for (const auto& [k, v] : e.details) all += k + "=" + v + "\n";
    }
    return all;
  }

  skiff::testing::TempDir dir_;
  ManualClock clock_;
  store::MemoryStore store_;
  controller::AppService apps_;
  TokenAuthenticator auth_;
  crypto::Keyring keyring_ = crypto::Keyring::Generate();
  auth::SecretStore secrets_{&store_, &keyring_, &clock_};
  std::unique_ptr<ApiServer> api_;
  std::string answers_;  // every answer's body
};

// Verify that setting a secret answers its version and a new revision whose
// spec names the version (never the value), listed with version and time;
// setting it again makes version 2 and another revision; unsetting makes a
// third; the events say which secret changed; no answer, event, spec or
// record holds the value.
TEST_F(SecretHandlersTest, SetListUnsetRollOutRevisions) {
  Deploy();
  FakeWriter set = Call("PUT", "/v1/apps/hello/secrets/API_KEY", kCanary, "text/plain");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.Json(), json::parse(R"({"app":"hello","key":"API_KEY","version":1,"revision":2})"));
  const model::App app = store_.GetApp("hello").value();
  EXPECT_EQ(app.revision, 2);
  EXPECT_EQ(app.spec.secret_versions, (std::map<std::string, int64_t>{{"API_KEY", 1}}));
  EXPECT_EQ(store_.GetDeployment("hello", 2).value().spec.secret_versions,
            app.spec.secret_versions);

  FakeWriter listed = Call("GET", "/v1/apps/hello/secrets");
  ASSERT_EQ(listed.status, 200) << listed.body;
  const json::value doc = listed.Json();
  const json::array& secrets = doc.at("secrets").as_array();
  ASSERT_EQ(secrets.size(), 1u);
  EXPECT_EQ(secrets[0].at("key"), "API_KEY");
  EXPECT_EQ(secrets[0].at("version"), 1);
  EXPECT_TRUE(secrets[0].as_object().contains("updated_at"));

  FakeWriter again =
      Call("PUT", "/v1/apps/hello/secrets/API_KEY", "second", "application/octet-stream");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.Json().at("version"), 2);
  EXPECT_EQ(again.Json().at("revision"), 3);

  FakeWriter unset = Call("DELETE", "/v1/apps/hello/secrets/API_KEY");
  ASSERT_EQ(unset.status, 200) << unset.body;
  EXPECT_EQ(unset.Json(), json::parse(R"({"app":"hello","key":"API_KEY","revision":4})"));
  EXPECT_TRUE(store_.GetApp("hello").value().spec.secret_versions.empty());

  const std::string events = Events();
  EXPECT_THAT(events, HasSubstr("secret API_KEY changed (version 1)"));
  EXPECT_THAT(events, HasSubstr("secret API_KEY changed (version 2)"));
  EXPECT_THAT(events, HasSubstr("secret API_KEY unset"));
  EXPECT_THAT(events, Not(HasSubstr(kCanary)));
  Call("GET", "/v1/apps/hello");
  Call("GET", "/v1/apps/hello/deployments");
  Call("GET", "/v1/apps");
  Call("GET", "/v1/events");
  EXPECT_THAT(answers_, Not(HasSubstr(kCanary)));
}

// Verify that an apply of the unchanged spec keeps the secrets' versions and
// makes no revision, and that a spec naming secret_versions is refused.
TEST_F(SecretHandlersTest, ApplyKeepsVersionsAndRefusesThem) {
  Deploy();
  ASSERT_EQ(Call("PUT", "/v1/apps/hello/secrets/API_KEY", kCanary).status, 200);
  FakeWriter same = Call("PUT", "/v1/apps/hello", kSecretsHelloJson);
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(same.Json().at("created"), false);
  EXPECT_EQ(store_.GetApp("hello").value().spec.secret_versions.at("API_KEY"), 1);

  FakeWriter naming = Call("PUT", "/v1/apps/hello",
                           R"({"name":"hello","run":{"command":["sleep","100"]},)"
                           R"("secret_versions":{"API_KEY":7}})");
  EXPECT_EQ(naming.status, 400) << naming.body;
  EXPECT_THAT(naming.body, HasSubstr("secret_versions"));
}

// Verify the refusals: unknown app 404, bad key 400 on field key, empty or
// NUL-holding value 400 on field value, a JSON body 400, unset of an unknown
// secret 404; no message quotes the value; nothing is written.
TEST_F(SecretHandlersTest, Refusals) {
  EXPECT_EQ(Call("PUT", "/v1/apps/nope/secrets/A", kCanary).status, 404);
  EXPECT_EQ(Call("GET", "/v1/apps/nope/secrets").status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/apps/nope/secrets/A").status, 404);
  Deploy();
  FakeWriter bad_key = Call("PUT", "/v1/apps/hello/secrets/SKIFF_APP", kCanary);
  EXPECT_EQ(bad_key.status, 400);
  EXPECT_EQ(bad_key.Json().at("error").at("field"), "key");
  FakeWriter port = Call("PUT", "/v1/apps/hello/secrets/PORT", kCanary);
  EXPECT_EQ(port.status, 400);
  FakeWriter empty = Call("PUT", "/v1/apps/hello/secrets/A", "");
  EXPECT_EQ(empty.status, 400);
  EXPECT_EQ(empty.Json().at("error").at("field"), "value");
  FakeWriter nul = Call("PUT", "/v1/apps/hello/secrets/A", std::string(kCanary) + '\0');
  EXPECT_EQ(nul.status, 400);
  FakeWriter json_body =
      Call("PUT", "/v1/apps/hello/secrets/A", R"({"value":"x"})", "application/json");
  EXPECT_EQ(json_body.status, 400);
  EXPECT_EQ(Call("DELETE", "/v1/apps/hello/secrets/A").status, 404);
  EXPECT_THAT(answers_, Not(HasSubstr(kCanary)));
  EXPECT_TRUE(secrets_.List("hello").value().empty());
  EXPECT_EQ(store_.GetApp("hello").value().revision, 1);
}

// Verify that deleting an app forgets its secrets, and that a server
// without secrets answers 404 on every secrets route.
TEST_F(SecretHandlersTest, DeleteForgetsSecretsAndNoStoreIs404) {
  Deploy();
  ASSERT_EQ(Call("PUT", "/v1/apps/hello/secrets/A", kCanary).status, 200);
  ASSERT_EQ(Call("DELETE", "/v1/apps/hello").status, 202);
  EXPECT_TRUE(secrets_.List("hello").value().empty());
  EXPECT_EQ(Call("PUT", "/v1/apps/hello/secrets/A", kCanary).status, 412);

  MakeServer(nullptr);
  EXPECT_EQ(Call("GET", "/v1/apps/hello/secrets").status, 404);
  EXPECT_EQ(Call("PUT", "/v1/apps/hello/secrets/A", kCanary).status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/apps/hello/secrets/A").status, 404);
}

// Verify that an agent is given, per app of its assigned specs, the values of
// the secrets those specs name (not an app's other secrets, not another
// app's), and that an app whose secrets do not open is left out.
TEST_F(SecretHandlersTest, AttachSecretsGivesWhatSpecsName) {
  ASSERT_TRUE(secrets_.Set("web", "A", "a"));
  ASSERT_TRUE(secrets_.Set("web", "LEFTOVER", "l"));
  ASSERT_TRUE(secrets_.Set("db", "B", "b"));
  ASSERT_TRUE(secrets_.Set("other", "C", "c"));
  protocol::Assignments a;
  model::AppSpec web;
  web.name = "web";
  web.secret_versions = {{"A", 1}};
  model::AppSpec db;
  db.name = "db";
  db.secret_versions = {{"B", 1}};
  model::AppSpec plain;
  plain.name = "plain";
  a.specs = {{"web/1", web}, {"db/3", db}, {"plain/1", plain}};
  // db's envelope moved into another app's record does not open.
  ASSERT_TRUE(store_.PutRecord(store::RecordKind::kSecret, "db/B",
                               store_.GetRecord(store::RecordKind::kSecret, "other/C").value()));
  AttachSecrets(&secrets_, &a);
  EXPECT_EQ(a.secrets,
            (std::map<std::string, std::map<std::string, std::string>>{{"web", {{"A", "a"}}}}));
  protocol::Assignments none;
  none.specs = a.specs;
  AttachSecrets(nullptr, &none);
  EXPECT_TRUE(none.secrets.empty());
}

}  // namespace
}  // namespace skiff::api
