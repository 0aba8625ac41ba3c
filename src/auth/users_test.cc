#include "auth/users.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "common/ids.h"
#include "common/quantity.h"
#include "store/memory/memory_store.h"

namespace skiff::auth {
namespace {

namespace json = boost::json;
using store::RecordKind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr const char* kPassword = "correct horse battery";

class UserStoreTest : public ::testing::Test {
 protected:
  static UserStore::Options Cheap() {
    UserStore::Options options;
    options.password_params = {.memory_kib = 256, .iterations = 1, .parallelism = 1};
    return options;
  }

  Result<Session> LoginAlice() {
    EXPECT_TRUE(users_.Add("alice", Role::kDeployer, {"web"}, kPassword));
    return users_.Login("alice", kPassword);
  }

  ManualClock clock_;
  store::MemoryStore store_;
  UserStore users_{&store_, &clock_, Cheap()};
};

// Verify that an added user is listed with role, projects and time, and that
// the record keeps the password only as an Argon2id hash.
TEST_F(UserStoreTest, AddAndList) {
  auto added = users_.Add("alice", Role::kDeployer, {"web", "api", "web"}, kPassword);
  ASSERT_TRUE(added) << added.error().ToString();
  EXPECT_THAT(added->projects, ElementsAre("api", "web"));
  ASSERT_TRUE(users_.Add("root", Role::kAdmin, {}, kPassword));
  auto users = users_.List();
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].name, "alice");
  EXPECT_EQ((*users)[0].role, Role::kDeployer);
  EXPECT_THAT((*users)[0].projects, ElementsAre("api", "web"));
  EXPECT_EQ((*users)[0].created_at, clock_.Now());
  EXPECT_EQ((*users)[1].name, "root");
  EXPECT_TRUE((*users)[1].projects.empty());

  auto record = store_.GetRecord(RecordKind::kUser, "alice");
  ASSERT_TRUE(record);
  EXPECT_THAT(*record, Not(HasSubstr(kPassword)));
  EXPECT_THAT(std::string(json::parse(*record).at("hash").as_string()), StartsWith("$argon2id$"));
}

// Verify that Add names the field of each bad input, and that a taken name is
// kAlreadyExists.
TEST_F(UserStoreTest, AddValidates) {
  struct Case {
    std::string name;
    Role role;
    std::vector<std::string> projects;
    std::string password;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"Alice", Role::kViewer, {"web"}, kPassword, "name"},
      {"", Role::kViewer, {"web"}, kPassword, "name"},
      {std::string(64, 'a'), Role::kViewer, {"web"}, kPassword, "name"},
      {"bob", Role::kEdge, {}, kPassword, "role"},
      {"bob", Role::kNode, {}, kPassword, "role"},
      {"bob", Role::kDeployer, {}, kPassword, "projects"},
      {"bob", Role::kViewer, {}, kPassword, "projects"},
      {"bob", Role::kAdmin, {"web"}, kPassword, "projects"},
      {"bob", Role::kViewer, {"Web!"}, kPassword, "projects"},
      {"bob", Role::kViewer, {"web"}, "too short", "password"},
  };
  for (const Case& c : cases) {
    auto added = users_.Add(c.name, c.role, c.projects, c.password);
    ASSERT_FALSE(added) << c.name << " " << c.field;
    EXPECT_EQ(added.error().code, ErrorCode::kInvalidArgument) << c.field;
    EXPECT_EQ(added.error().field, c.field) << added.error().message;
  }
  ASSERT_TRUE(users_.Add("bob", Role::kViewer, {"web"}, kPassword));
  auto again = users_.Add("bob", Role::kAdmin, {}, "another long password");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(users_.List()->size(), 1u);
}

// Verify that of many adds of one name racing exactly one succeeds.
TEST_F(UserStoreTest, RacingAddsOneWins) {
  std::atomic<int> won{0};
  std::atomic<int> lost{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto added = users_.Add("carol", Role::kAdmin, {}, kPassword);
      if (added) {
        ++won;
      } else if (added.error().code == ErrorCode::kAlreadyExists) {
        ++lost;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), 3);
}

// Verify that Login gives a prefixed session token, kept only as its
// SHA-256, expiring after the default 12 hours, and that the session
// authenticates as the user with their role and projects.
TEST_F(UserStoreTest, LoginAndAuthenticate) {
  auto session = LoginAlice();
  ASSERT_TRUE(session) << session.error().ToString();
  EXPECT_THAT(session->token, StartsWith("skiff-session-"));
  EXPECT_EQ(session->token.size(), std::string("skiff-session-").size() + 64);
  EXPECT_EQ(session->user, "alice");
  EXPECT_EQ(session->role, Role::kDeployer);
  EXPECT_EQ(session->expires_at, clock_.Now() + std::chrono::hours(12));
  auto records = store_.ListRecords(RecordKind::kSession);
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].key, Sha256Hex(session->token));
  EXPECT_THAT((*records)[0].value, Not(HasSubstr(session->token)));

  auto identity = users_.Authenticate(session->token);
  ASSERT_TRUE(identity) << identity.error().ToString();
  EXPECT_EQ(identity->role, Role::kDeployer);
  EXPECT_EQ(identity->name, "alice");
  EXPECT_EQ(identity->credential, "user");
  EXPECT_THAT(identity->projects, ElementsAre("web"));
  EXPECT_TRUE(identity->MayWrite("web"));
  EXPECT_FALSE(identity->MayRead("db"));
}

// Verify that a wrong password and an unknown name get the same
// kUnauthenticated message, and that no session is made.
TEST_F(UserStoreTest, WrongCredentialsAreTheSame) {
  ASSERT_TRUE(users_.Add("alice", Role::kViewer, {"web"}, kPassword));
  auto wrong_password = users_.Login("alice", "not the password");
  auto unknown = users_.Login("mallory", kPassword);
  auto empty = users_.Login("", "");
  for (const auto* r : {&wrong_password, &unknown, &empty}) {
    ASSERT_FALSE(*r);
    EXPECT_EQ(r->error().code, ErrorCode::kUnauthenticated);
    EXPECT_EQ(r->error().message, "wrong user name or password");
  }
  EXPECT_TRUE(store_.ListRecords(RecordKind::kSession)->empty());
}

// Verify that an expired session is refused saying when it expired and to
// log in again, and that its record is deleted; one second before, it worked.
TEST_F(UserStoreTest, SessionExpires) {
  auto session = LoginAlice();
  ASSERT_TRUE(session);
  clock_.Advance(std::chrono::hours(12) - std::chrono::seconds(1));
  EXPECT_TRUE(users_.Authenticate(session->token));
  clock_.Advance(std::chrono::seconds(1));
  auto expired = users_.Authenticate(session->token);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(expired.error().message,
            "the session expired at " + FormatTime(session->expires_at) + ": skiff login again");
  EXPECT_TRUE(store_.ListRecords(RecordKind::kSession)->empty());
  EXPECT_EQ(users_.Authenticate(session->token).error().message, "unknown session");
}

// Verify that the session lifetime is an option.
TEST_F(UserStoreTest, SessionLifetimeOption) {
  UserStore::Options options = Cheap();
  options.session_lifetime = std::chrono::minutes(5);
  UserStore users(&store_, &clock_, options);
  ASSERT_TRUE(users.Add("dave", Role::kAdmin, {}, kPassword));
  auto session = users.Login("dave", kPassword);
  ASSERT_TRUE(session);
  EXPECT_EQ(session->expires_at, clock_.Now() + std::chrono::minutes(5));
}

// Verify that unknown tokens, tokens without the prefix and the hash of a
// session (what a leaked database holds) authenticate nobody.
TEST_F(UserStoreTest, UnknownSessions) {
  auto session = LoginAlice();
  ASSERT_TRUE(session);
  for (const std::string& token :
       {std::string("skiff-session-") + RandomHex(32), std::string(""), RandomHex(32),
        Sha256Hex(session->token), session->token.substr(14)}) {
    auto refused = users_.Authenticate(token);
    ASSERT_FALSE(refused) << token;
    EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated);
    EXPECT_EQ(refused.error().message, "unknown session");
  }
}

// Verify that removing a user ends their sessions (and no one else's), that
// a new user of the same name does not inherit a session that survived, and
// that removing an unknown user is kNotFound.
TEST_F(UserStoreTest, RemoveEndsSessions) {
  auto session = LoginAlice();
  ASSERT_TRUE(session);
  ASSERT_TRUE(users_.Add("bob", Role::kAdmin, {}, kPassword));
  auto bob = users_.Login("bob", kPassword);
  ASSERT_TRUE(bob);
  // A copy of alice's session record, as if its deletion had failed.
  const std::string key = Sha256Hex(session->token);
  const std::string kept = *store_.GetRecord(RecordKind::kSession, key);

  ASSERT_TRUE(users_.Remove("alice"));
  EXPECT_EQ(users_.Authenticate(session->token).error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(users_.Authenticate(bob->token));
  EXPECT_EQ(store_.ListRecords(RecordKind::kSession)->size(), 1u);

  ASSERT_TRUE(users_.Add("alice", Role::kAdmin, {}, kPassword));
  ASSERT_TRUE(store_.PutRecord(RecordKind::kSession, key, kept));
  auto revived = users_.Authenticate(session->token);
  ASSERT_FALSE(revived);
  EXPECT_EQ(revived.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(revived.error().message, HasSubstr("was removed"));

  EXPECT_EQ(users_.Remove("nobody").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(users_.Remove("").error().code, ErrorCode::kNotFound);
}

// Verify that a session reads the user's record each time: a changed role
// applies at once.
TEST_F(UserStoreTest, RoleIsReadNow) {
  auto session = LoginAlice();
  ASSERT_TRUE(session);
  json::value record = json::parse(*store_.GetRecord(RecordKind::kUser, "alice"));
  record.as_object()["role"] = "viewer";
  ASSERT_TRUE(store_.PutRecord(RecordKind::kUser, "alice", json::serialize(record)));
  auto identity = users_.Authenticate(session->token);
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->role, Role::kViewer);
  EXPECT_FALSE(identity->MayWrite("web"));
}

// Verify that Logout ends the session and that a second logout is
// kUnauthenticated.
TEST_F(UserStoreTest, Logout) {
  auto session = LoginAlice();
  ASSERT_TRUE(session);
  ASSERT_TRUE(users_.Logout(session->token));
  EXPECT_EQ(users_.Authenticate(session->token).error().message, "unknown session");
  EXPECT_EQ(users_.Logout(session->token).error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(users_.Logout("not-a-session").error().code, ErrorCode::kUnauthenticated);
}

// Verify that DropExpiredSessions deletes the expired sessions only, and that
// a login drops them too.
TEST_F(UserStoreTest, DropExpiredSessions) {
  auto old_session = LoginAlice();
  ASSERT_TRUE(old_session);
  clock_.Advance(std::chrono::hours(6));
  auto newer = users_.Login("alice", kPassword);
  ASSERT_TRUE(newer);
  clock_.Advance(std::chrono::hours(7));
  EXPECT_EQ(users_.DropExpiredSessions().value(), 1);
  EXPECT_EQ(users_.DropExpiredSessions().value(), 0);
  EXPECT_TRUE(users_.Authenticate(newer->token));
  clock_.Advance(std::chrono::hours(6));
  auto newest = users_.Login("alice", kPassword);
  ASSERT_TRUE(newest);
  auto records = store_.ListRecords(RecordKind::kSession);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].key, Sha256Hex(newest->token));
}

}  // namespace
}  // namespace skiff::auth
