// End-to-end: the keyring (`skiff server --keys-file`, `skiff keys rotate`)
// with real servers. On SQLite: secrets set before a rotation reach new
// instances after it, the file holds the new key alone and no record names
// the old one, and a rotation while the server runs changes nothing; a
// keyring outside the data directory, and one that is not private or is a
// symbolic link. On PostgreSQL: a rotation waits for every server of the
// database to stop, and the servers start again once given the new file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/files.h"
#include "crypto/keyring.h"
#include "e2e/skiff_server.h"
#include "fakes/postgres_server.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace skiff::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

// The whole file at `path`; "" when it cannot be read.
std::string Slurp(const std::string& path) { return ReadPrivateFile(path, false).value_or(""); }

// `skiff keys rotate ARGS...` run to its exit.
CommandResult Rotate(std::vector<std::string> args) {
  args.insert(args.begin(), {SKIFF_BIN, "keys", "rotate"});
  return RunCommand(std::move(args), {}, 120);
}

// The JSON object `skiff keys rotate -o json` printed among its progress
// lines (stderr and stdout come interleaved); null when there is none.
json::value RotationJson(const std::string& output) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("{")) continue;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (!ec) return v;
  }
  return nullptr;
}

// The records of every kind of `store` naming `key_id`, "kind key" each.
std::vector<std::string> RecordsNaming(const store::Store& store, const std::string& key_id) {
  std::vector<std::string> naming;
  for (size_t k = 0; k < store::kRecordKinds; ++k) {
    const auto kind = static_cast<store::RecordKind>(k);
    auto records = store.ListRecords(kind);
    EXPECT_TRUE(records) << records.error().ToString();
    if (!records) continue;
    for (const store::Record& r : *records) {
      if (crypto::KeyIdsNamedIn(r.value).contains(key_id)) {
        naming.push_back(std::string(store::ToString(kind)) + " " + r.key);
      }
    }
  }
  return naming;
}

// The ids of the instances of `app` the API lists.
std::set<std::string> InstanceIds(const SkiffServer& server, const std::string& app) {
  std::set<std::string> ids;
  for (const json::value& i : Instances(server, app)) ids.emplace(i.at("id").as_string());
  return ids;
}

// Whether an instance of `app` not in `old` runs healthy and sees `value`
// as its environment variable `key`.
bool NewInstanceSees(const SkiffServer& server, const std::string& app,
                     const std::set<std::string>& old, const std::string& key,
                     const std::string& value) {
  for (const json::value& i : Instances(server, app)) {
    if (old.contains(std::string(i.at("id").as_string())) || i.at("health") != "healthy") continue;
    if (HttpGet(std::string(i.at("address").as_string()), "/env/" + key) == value) return true;
  }
  return false;
}

// Verify that secrets sealed before a rotation reach the instances started
// after it (the server restarted on the new keyring), that the file then
// holds one key with a new id and no record names the old one, that a new
// secret can be set; and that a rotation while the server runs is refused,
// changing neither the file nor the store. (--drop-old-keys: the file
// serves this store alone.)
TEST(KeysE2eTest, RotationKeepsSecretsAndDropsTheOldKey) {
  SkiffServer server;
  ASSERT_TRUE(server.Start());
  CommandResult applied =
      server.Skiff({"apply", "-f",
                    server.WriteFile("vault.yaml", TestAppSpec("vault", 1, "[vault.localhost]"))});
  ASSERT_EQ(applied.exit_code, 0) << applied.output << server.Output();
  CommandResult set = server.Skiff({"secrets", "set", "vault", "API_KEY", "--from-file",
                                    server.WriteFile("api.txt", "value-before-rotation")});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  set = server.Skiff({"secrets", "set", "vault", "OTHER", "--from-file",
                      server.WriteFile("other.txt", "second-secret")});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  ASSERT_TRUE(PollUntil(
      [&] { return NewInstanceSees(server, "vault", {}, "OTHER", "second-secret"); }, seconds(60)))
      << server.Output();

  const std::string keyring = server.data_dir() + "/keyring.json";
  const std::string old_id = crypto::Keyring::Load(keyring).value().active_id();
  const std::string file_before = Slurp(keyring);
  auto listed_before = server.Api("GET", "/v1/apps/vault/secrets");
  ASSERT_TRUE(listed_before);

  CommandResult refused = Rotate({"--data", server.data_dir()});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output,
              HasSubstr("stop it first: a running server keeps the keys it loaded"));
  EXPECT_EQ(Slurp(keyring), file_before);
  auto listed_after = server.Api("GET", "/v1/apps/vault/secrets");
  ASSERT_TRUE(listed_after);
  EXPECT_EQ(listed_after->body, listed_before->body);

  server.Kill();  // the instance keeps serving
  CommandResult rotated = Rotate({"--data", server.data_dir(), "--drop-old-keys", "-o", "json"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.output;
  EXPECT_THAT(rotated.output, HasSubstr("re-sealing secrets: 2/2"));
  const json::value report = RotationJson(rotated.output);
  ASSERT_TRUE(report.is_object()) << rotated.output;
  EXPECT_EQ(report.at("resealed").at("secrets"), 2);
  EXPECT_EQ(report.at("dropped"), json::array{old_id});
  EXPECT_EQ(std::string(report.at("keys_file").as_string()), keyring);
  const std::string new_id(report.at("key").as_string());

  auto file = crypto::Keyring::Load(keyring);
  ASSERT_TRUE(file) << file.error().ToString();
  ASSERT_EQ(file->keys().size(), 1u);
  EXPECT_EQ(file->active_id(), new_id);
  EXPECT_NE(new_id, old_id);
  struct stat st;
  ASSERT_EQ(::stat(keyring.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  {
    auto db = store::SqliteStore::Open(server.data_dir() + "/skiff.db");
    ASSERT_TRUE(db) << db.error().ToString();
    EXPECT_THAT(RecordsNaming(**db, old_id), ::testing::IsEmpty());
    EXPECT_EQ(RecordsNaming(**db, new_id).size(), 2u);
  }

  ASSERT_TRUE(server.Start());
  const std::set<std::string> before_restart = InstanceIds(server, "vault");
  CommandResult restart = server.Skiff({"restart", "vault"});
  ASSERT_EQ(restart.exit_code, 0) << restart.output;
  ASSERT_TRUE(PollUntil(
      [&] {
        return NewInstanceSees(server, "vault", before_restart, "API_KEY", "value-before-rotation");
      },
      seconds(60)))
      << server.Output();

  const std::set<std::string> before_set = InstanceIds(server, "vault");
  set = server.Skiff({"secrets", "set", "vault", "API_KEY", "--from-file",
                      server.WriteFile("api2.txt", "value-after-rotation")});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  ASSERT_TRUE(PollUntil(
      [&] {
        return NewInstanceSees(server, "vault", before_set, "API_KEY", "value-after-rotation");
      },
      seconds(60)))
      << server.Output();
}

// Verify that with --keys-file outside the data directory the server makes
// and uses that file (0600) and none in the data directory; that a keys file
// others may read, or a symbolic link, stops the server and the rotation
// naming it; that the rotation rotates that file, keeping the old key, and
// is refused while a server uses the file; and that a server whose keys
// file went missing while the store holds sealed records is refused, making
// none.
TEST(KeysE2eTest, KeysFileOutsideTheDataDirectory) {
  TempDir keys_dir;
  const std::string keys = keys_dir.File("keys.json");
  SkiffServer server;
  server.AddArgs({"--no-agent", "--no-edge", "--keys-file", keys});
  ASSERT_TRUE(server.Start());
  ASSERT_EQ(server
                .Api("PUT", "/v1/apps/web",
                     R"({"name":"web","run":{"command":["sleep","1"]},)"
                     R"("replicas":0})")
                .value()
                .status,
            201);
  CommandResult set = server.Skiff(
      {"secrets", "set", "web", "TOKEN", "--from-file", server.WriteFile("t.txt", "t-value")});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  server.Kill();
  EXPECT_FALSE(fs::exists(server.data_dir() + "/keyring.json"));
  struct stat st;
  ASSERT_EQ(::stat(keys.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string old_id = crypto::Keyring::Load(keys).value().active_id();
  const std::vector<std::string> start = {
      SKIFF_BIN,     "server",     "--data",    server.data_dir(), "--listen",
      "127.0.0.1:0", "--no-agent", "--no-edge", "--keys-file",     keys};

  ASSERT_EQ(::chmod(keys.c_str(), 0644), 0);
  const std::string open_file = Slurp(keys);
  for (const CommandResult& r :
       {RunCommand(start, {}, 60), Rotate({"--data", server.data_dir(), "--keys-file", keys})}) {
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr(keys + " is open to its group or others (mode 644)"));
    EXPECT_THAT(r.output, HasSubstr("chmod 600 " + keys));
  }
  EXPECT_EQ(Slurp(keys), open_file);
  ASSERT_EQ(::chmod(keys.c_str(), 0600), 0);

  const std::string real = keys_dir.File("real.json");
  fs::rename(keys, real);
  fs::create_symlink(real, keys);
  for (const CommandResult& r :
       {RunCommand(start, {}, 60), Rotate({"--data", server.data_dir(), "--keys-file", keys})}) {
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr(keys + " is a symbolic link"));
  }
  fs::remove(keys);
  fs::rename(real, keys);

  CommandResult rotated = Rotate({"--data", server.data_dir(), "--keys-file", keys});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.output;
  EXPECT_THAT(rotated.output, HasSubstr("is now the active key of " + keys + "\n"));
  EXPECT_THAT(rotated.output, HasSubstr("kept: key " + old_id));
  EXPECT_TRUE(crypto::Keyring::Load(keys).value().Has(old_id));
  EXPECT_FALSE(fs::exists(server.data_dir() + "/keyring.json"));
  ASSERT_TRUE(server.Start());
  auto listed = server.Api("GET", "/v1/apps/web/secrets");
  ASSERT_TRUE(listed);
  EXPECT_THAT(listed->body, HasSubstr("\"key\":\"TOKEN\""));
  EXPECT_FALSE(fs::exists(server.data_dir() + "/keyring.json"));

  // Another data directory's rotation of the same file, while it runs.
  TempDir other;
  const std::string in_use = Slurp(keys);
  CommandResult busy = Rotate({"--data", other.path(), "--keys-file", keys});
  EXPECT_EQ(busy.exit_code, 1) << busy.output;
  EXPECT_THAT(busy.output,
              HasSubstr("a server runs with this keys file (" + keys + "): stop it first"));
  EXPECT_EQ(Slurp(keys), in_use);

  server.Kill();
  fs::rename(keys, keys_dir.File("elsewhere.json"));  // a mistyped path, an unmounted volume
  CommandResult missing = RunCommand(start, {}, 60);
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("no keyring file " + keys + ", but the store's record "));
  EXPECT_THAT(missing.output, HasSubstr("restore the keys file, or point --keys-file at it"));
  EXPECT_FALSE(fs::exists(keys));
}

// Verify that on a shared database a rotation is refused while another
// server of it runs (naming it), goes through once every server stopped and
// says to copy the file; that a server without the new file is refused
// naming the key it lacks, and starts once given it; and that the secrets
// then name the new key alone and a new one can be set.
TEST(KeysE2eTest, SharedDatabaseRotatesOnceEveryServerStopped) {
  SKIFF_REQUIRE_POSTGRES(pg);
  auto db = pg->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  const std::string uri = pg->Uri(PostgresServer::DatabaseOf(*db));
  std::vector<std::unique_ptr<SkiffServer>> servers;
  for (int i = 1; i <= 2; ++i) {
    auto server = std::make_unique<SkiffServer>();
    server->AddArgs({"--store", uri, "--no-agent", "--no-edge", "--server-id",
                     "s" + std::to_string(i), "--leader-ttl", "1s"});
    if (i > 1) server->JoinClusterOf(*servers[0]);
    ASSERT_TRUE(server->Start()) << "s" << i;
    servers.push_back(std::move(server));
  }
  SkiffServer& s1 = *servers[0];
  SkiffServer& s2 = *servers[1];
  ASSERT_EQ(s1.Api("PUT", "/v1/apps/web",
                   R"({"name":"web","run":{"command":["sleep","1"]},)"
                   R"("replicas":0})")
                .value()
                .status,
            201);
  CommandResult set =
      s1.Skiff({"secrets", "set", "web", "TOKEN", "--from-file", s1.WriteFile("t.txt", "t-value")});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  const std::string keyring = s1.data_dir() + "/keyring.json";
  const std::string old_id = crypto::Keyring::Load(keyring).value().active_id();
  const std::string file_before = Slurp(keyring);
  const std::vector<std::string> rotate = {"--data",       s1.data_dir(), "--store", uri,
                                           "--leader-ttl", "1s",          "-o",      "json"};

  s1.Kill();
  CommandResult refused = Rotate(rotate);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("s2 at " + s2.url()));
  EXPECT_THAT(refused.output, HasSubstr("stop them first"));
  EXPECT_EQ(Slurp(keyring), file_before);

  s2.Kill();
  // Each refused run changes nothing; once neither was heard for a second, one goes through.
  CommandResult rotated;
  ASSERT_TRUE(PollUntil(
      [&] {
        rotated = Rotate(rotate);
        return rotated.exit_code == 0 || rotated.output.find("were heard") == std::string::npos;
      },
      seconds(30), std::chrono::milliseconds(300)));
  ASSERT_EQ(rotated.exit_code, 0) << rotated.output;
  const json::value report = RotationJson(rotated.output);
  ASSERT_TRUE(report.is_object()) << rotated.output;
  EXPECT_TRUE(report.at("shared").as_bool());
  EXPECT_EQ(report.at("resealed").at("secrets"), 1);
  EXPECT_EQ(report.at("resealed").at("shared_trust_checks"), 1);
  EXPECT_EQ(std::string(report.at("next").as_string()),
            "copy " + keyring +
                " to every other server of this database (mode 0600) before starting them");
  const std::string new_id(report.at("key").as_string());
  {
    auto store = store::PostgresStore::Open(*db);
    ASSERT_TRUE(store) << store.error().ToString();
    EXPECT_THAT(RecordsNaming(**store, old_id), ::testing::IsEmpty());
  }

  ASSERT_TRUE(s1.Start());
  const std::string s2_keyring = s2.data_dir() + "/keyring.json";
  CommandResult stale = RunCommand(
      {SKIFF_BIN, "server", "--data", s2.data_dir(), "--store", uri, "--listen", "127.0.0.1:0",
       "--no-agent", "--no-edge", "--server-id", "s2", "--leader-ttl", "1s"},
      {}, 60);
  EXPECT_EQ(stale.exit_code, 1) << stale.output;
  EXPECT_THAT(stale.output, HasSubstr("keyring (" + s2_keyring + ") lacks the key " + new_id));

  ASSERT_TRUE(WriteFileAtomically(s2_keyring, Slurp(keyring), 0600));
  ASSERT_TRUE(s2.Start());
  set =
      s2.Skiff({"secrets", "set", "web", "OTHER", "--from-file", s2.WriteFile("o.txt", "o-value")});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  auto listed = s1.Api("GET", "/v1/apps/web/secrets");
  ASSERT_TRUE(listed);
  EXPECT_THAT(listed->body, HasSubstr("\"key\":\"OTHER\""));
  EXPECT_THAT(listed->body, HasSubstr("\"key\":\"TOKEN\""));
}

}  // namespace
}  // namespace skiff::testing
