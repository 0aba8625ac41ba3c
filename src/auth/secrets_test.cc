#include "auth/secrets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/memory/memory_store.h"

namespace skiff::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kCanary = "canary-7f3e9d1c-value";

class SecretStoreTest : public ::testing::Test {
 protected:
  // Every record of kind secret, as kept.
  std::string AllRecords() const {
    std::string all;
    const std::vector<store::Record> records =
        store_.ListRecords(store::RecordKind::kSecret).value();
    for (const store::Record& r : records) {
      all += r.key + "=" + r.value + "\n";
    }
    return all;
  }

  store::MemoryStore store_;
  crypto::Keyring keyring_ = crypto::Keyring::Generate();
  ManualClock clock_;
  SecretStore secrets_{&store_, &keyring_, &clock_};
};

// Verify that a set secret is listed with its version and time (no value),
// opens to its value, and that setting it again makes version 2.
TEST_F(SecretStoreTest, SetListValuesVersions) {
  ASSERT_EQ(secrets_.Set("web", "API_KEY", kCanary), 1);
  clock_.Advance(std::chrono::seconds(5));
  ASSERT_EQ(secrets_.Set("web", "DB_URL", "postgres://x"), 1);
  ASSERT_EQ(secrets_.Set("web", "API_KEY", "second"), 2);
  ASSERT_EQ(secrets_.Set("other", "API_KEY", "theirs"), 1);

  auto listed = secrets_.List("web");
  ASSERT_TRUE(listed) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0], (SecretInfo{"API_KEY", 2, clock_.Now()}));
  EXPECT_EQ((*listed)[1], (SecretInfo{"DB_URL", 1, clock_.Now()}));

  EXPECT_EQ(
      secrets_.Values("web").value(),
      (std::map<std::string, std::string>{{"API_KEY", "second"}, {"DB_URL", "postgres://x"}}));
  EXPECT_EQ(secrets_.Versions("web").value(),
            (std::map<std::string, int64_t>{{"API_KEY", 2}, {"DB_URL", 1}}));
  EXPECT_EQ(secrets_.Values("other").value(),
            (std::map<std::string, std::string>{{"API_KEY", "theirs"}}));
  // "we" is a prefix of "web": none of web's.
  EXPECT_TRUE(secrets_.List("we").value().empty());
}

// Verify that the store never holds a value in clear.
TEST_F(SecretStoreTest, RecordsHoldNoValueInClear) {
  ASSERT_TRUE(secrets_.Set("web", "API_KEY", kCanary));
  const std::string all = AllRecords();
  EXPECT_THAT(all, HasSubstr("web/API_KEY"));
  EXPECT_THAT(all, HasSubstr("skiff-aes256gcm:"));
  EXPECT_THAT(all, Not(HasSubstr(kCanary)));
}

// Verify that keys must be environment variables' names Skiff does not set,
// and values non-empty, at most 64 KiB, without NUL: kInvalidArgument on the
// field, never quoting the value, nothing written.
TEST_F(SecretStoreTest, RefusesBadKeysAndValues) {
  for (const char* key :
       {"", "1ABC", "A-B", "A B", "a.b", "PORT", "HOST", "SKIFF_APP", "SKIFF_X"}) {
    auto set = secrets_.Set("web", key, kCanary);
    ASSERT_FALSE(set) << key;
    EXPECT_EQ(set.error().code, ErrorCode::kInvalidArgument) << key;
    EXPECT_EQ(set.error().field, "key") << key;
    EXPECT_THAT(set.error().message, Not(HasSubstr(kCanary)));
  }
  EXPECT_THAT(secrets_.Set("web", "PORT", "x").error().message, HasSubstr("set by Skiff"));
  const std::string big(kMaxSecretBytes + 1, 'x');
  const std::string with_nul = std::string(kCanary) + '\0' + "tail";
  for (const std::string& value : {std::string(), big, with_nul}) {
    auto set = secrets_.Set("web", "API_KEY", value);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(set.error().field, "value");
    EXPECT_THAT(set.error().message, Not(HasSubstr(kCanary)));
  }
  EXPECT_TRUE(secrets_.Set("web", "_ok_9", std::string(kMaxSecretBytes, 'y')));
  EXPECT_EQ(secrets_.List("web").value().size(), 1u);
}

// Verify that unset forgets one secret (kNotFound for an unknown one) and
// RemoveApp every secret of an app, not another's.
TEST_F(SecretStoreTest, UnsetAndRemoveApp) {
  ASSERT_TRUE(secrets_.Set("web", "A", "1"));
  ASSERT_TRUE(secrets_.Set("web", "B", "2"));
  ASSERT_TRUE(secrets_.Set("web2", "A", "3"));
  ASSERT_TRUE(secrets_.Unset("web", "A"));
  auto again = secrets_.Unset("web", "A");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(secrets_.Versions("web").value(), (std::map<std::string, int64_t>{{"B", 1}}));
  // Set again after an unset: version 1 again.
  EXPECT_EQ(secrets_.Set("web", "A", "4"), 1);
  EXPECT_EQ(secrets_.RemoveApp("web"), 2);
  EXPECT_TRUE(secrets_.List("web").value().empty());
  EXPECT_EQ(secrets_.List("web2").value().size(), 1u);
}

// Verify that an envelope moved to another record does not open, and that a
// keyring lacking the sealing key names the record and the key id:
// kFailedPrecondition, never the value.
TEST_F(SecretStoreTest, ValuesRefuseMovedEnvelopesAndMissingKeys) {
  ASSERT_TRUE(secrets_.Set("web", "A", kCanary));
  const std::string record = store_.GetRecord(store::RecordKind::kSecret, "web/A").value();
  ASSERT_TRUE(store_.PutRecord(store::RecordKind::kSecret, "evil/A", record));
  auto moved = secrets_.Values("evil");
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(moved.error().message, HasSubstr("evil/A"));

  const crypto::Keyring other = crypto::Keyring::Generate();
  SecretStore elsewhere(&store_, &other, &clock_);
  auto lacking = elsewhere.Values("web");
  ASSERT_FALSE(lacking);
  EXPECT_EQ(lacking.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(lacking.error().message, HasSubstr("web/A"));
  EXPECT_THAT(lacking.error().message, HasSubstr(keyring_.active_id()));
  EXPECT_THAT(lacking.error().message, Not(HasSubstr(kCanary)));
}

// Verify that Reseal seals every secret again under a new active key
// (versions and times kept), after which a keyring of the new key alone opens
// them; a second Reseal has nothing to do.
TEST_F(SecretStoreTest, ResealUnderTheActiveKey) {
  ASSERT_TRUE(secrets_.Set("web", "A", kCanary));
  ASSERT_TRUE(secrets_.Set("web", "B", "b"));
  ASSERT_TRUE(secrets_.Set("web", "B", "b2"));
  const std::vector<SecretInfo> before = secrets_.List("web").value();

  const crypto::Keyring fresh = crypto::Keyring::Generate();
  std::vector<crypto::Keyring::Key> keys = keyring_.keys();
  keys.push_back(fresh.keys()[0]);
  const crypto::Keyring rotated(keys, fresh.active_id());
  clock_.Advance(std::chrono::hours(1));
  SecretStore after(&store_, &rotated, &clock_);
  EXPECT_EQ(after.Reseal(), 2);
  EXPECT_EQ(after.Reseal(), 0);
  EXPECT_EQ(after.List("web").value(), before);

  SecretStore only_new(&store_, &fresh, &clock_);
  EXPECT_EQ(only_new.Values("web").value(),
            (std::map<std::string, std::string>{{"A", kCanary}, {"B", "b2"}}));
  EXPECT_THAT(AllRecords(), Not(HasSubstr(kCanary)));
}

// Verify that Reseal leaves a secret already under the active key as it
// was kept (no write), and tells its progress record by record.
TEST_F(SecretStoreTest, ResealKeepsWhatTheActiveKeySealed) {
  ASSERT_TRUE(secrets_.Set("web", "A", "a"));
  const crypto::Keyring rotated = keyring_.WithNewKey();
  SecretStore after(&store_, &rotated, &clock_);
  ASSERT_TRUE(after.Set("web", "B", "b"));  // under the new key already
  const std::string b_before = store_.GetRecord(store::RecordKind::kSecret, "web/B").value();

  std::vector<std::pair<int, int>> told;
  EXPECT_EQ(after.Reseal([&](int done, int total) { told.emplace_back(done, total); }), 1);
  EXPECT_EQ(told, (std::vector<std::pair<int, int>>{{0, 2}, {1, 2}, {2, 2}}));
  EXPECT_EQ(store_.GetRecord(store::RecordKind::kSecret, "web/B").value(), b_before);
  EXPECT_EQ(crypto::KeyIdsNamedIn(AllRecords()), std::set<std::string>{rotated.active_id()});
}

// Verify that a secret whose envelope does not open stops Reseal with
// kFailedPrecondition naming its record (never a value), that those done
// before it open under the new key alone, and that the others still open
// under the keyring that holds both keys.
TEST_F(SecretStoreTest, ResealStopsAtARecordThatDoesNotOpen) {
  ASSERT_TRUE(secrets_.Set("a", "K", kCanary));
  ASSERT_TRUE(secrets_.Set("b", "K", "b"));
  ASSERT_TRUE(secrets_.Set("c", "K", "c"));
  // b's envelope moved into c's record: it opens nowhere else.
  ASSERT_TRUE(store_.PutRecord(store::RecordKind::kSecret, "c/K",
                               store_.GetRecord(store::RecordKind::kSecret, "b/K").value()));
  ASSERT_TRUE(secrets_.Set("d", "K", "d"));
  const crypto::Keyring rotated = keyring_.WithNewKey();
  SecretStore after(&store_, &rotated, &clock_);
  auto resealed = after.Reseal();
  ASSERT_FALSE(resealed);
  EXPECT_EQ(resealed.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(resealed.error().message, HasSubstr("the secret record c/K"));
  EXPECT_THAT(resealed.error().message, Not(HasSubstr(kCanary)));

  const crypto::Keyring only_new = rotated.ActiveOnly();
  SecretStore new_alone(&store_, &only_new, &clock_);
  EXPECT_EQ(new_alone.Values("a").value(), (std::map<std::string, std::string>{{"K", kCanary}}));
  EXPECT_EQ(new_alone.Values("b").value(), (std::map<std::string, std::string>{{"K", "b"}}));
  EXPECT_EQ(after.Values("d").value(), (std::map<std::string, std::string>{{"K", "d"}}));
}

}  // namespace
}  // namespace skiff::auth
