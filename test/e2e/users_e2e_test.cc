// End-to-end: people's users as a person meets them — an admin adds a user
// with `skiff users add` (password on stdin), the user logs in with `skiff
// login` and works with the session it keeps, and removing the user ends it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/files.h"
#include "e2e/skiff_server.h"

namespace skiff::testing {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kPassword = "correct horse battery";

class UsersE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.AddArgs({"--no-agent", "--no-edge"});
    ASSERT_TRUE(server_.Start());
  }

  // `skiff ARGS...` with `input` on its stdin, as the admin (SKIFF_TOKEN) or
  // as whoever the session file says, in a config dir of this test's own.
  CommandResult Skiff(std::vector<std::string> args, const std::string& input, bool admin) {
    const std::string stdin_path = config_.File("stdin");
    std::ofstream(stdin_path, std::ios::trunc) << input;
    std::vector<std::string> argv{"/bin/sh", "-c", "exec \"$0\" \"$@\" < \"$STDIN_FILE\"",
                                  SKIFF_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    std::map<std::string, std::string> env{{"SKIFF_ADDR", server_.url()},
                                           {"SKIFF_TOKEN", admin ? server_.token() : ""},
                                           {"XDG_CONFIG_HOME", config_.path()},
                                           {"STDIN_FILE", stdin_path}};
    return RunCommand(std::move(argv), std::move(env));
  }

  std::string SessionFile() const { return config_.path() + "/skiff/session"; }

  SkiffServer server_;
  TempDir config_;
};

// Verify the round: users add with the password on stdin, login keeps a
// session (mode 0600) that `skiff apps` then works with, a wrong password is
// refused with 401, logout ends the session, and removing the user ends a
// session at once.
TEST_F(UsersE2eTest, AddLoginWorkRemove) {
  CommandResult added = Skiff({"users", "add", "alice", "--role", "admin"},
                              std::string(kPassword) + "\n", /*admin=*/true);
  ASSERT_EQ(added.exit_code, 0) << added.output;
  EXPECT_THAT(added.output, HasSubstr("alice: added (admin)"));
  CommandResult listed = Skiff({"users", "-o", "json"}, "", true);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_EQ(json::parse(listed.output).at("users").at(0).at("name"), "alice");
  EXPECT_THAT(listed.output, ::testing::Not(HasSubstr("argon2")));

  CommandResult login = Skiff({"login", "alice"}, std::string(kPassword) + "\n", false);
  ASSERT_EQ(login.exit_code, 0) << login.output;
  EXPECT_THAT(login.output, HasSubstr("logged in as alice (admin)"));
  auto session = ReadPrivateFile(SessionFile());
  ASSERT_TRUE(session) << session.error().ToString();
  EXPECT_THAT(*session, StartsWith("skiff-session-"));
  EXPECT_THAT(login.output, ::testing::Not(HasSubstr(session->substr(0, 40))));
  struct stat st {};
  ASSERT_EQ(::stat(SessionFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  CommandResult apps = Skiff({"apps"}, "", false);
  EXPECT_EQ(apps.exit_code, 0) << apps.output;
  EXPECT_THAT(apps.output, HasSubstr("no apps yet"));

  CommandResult wrong = Skiff({"login", "alice"}, "not the password\n", false);
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_THAT(wrong.output, HasSubstr("wrong user name or password"));
  const std::string none;
  auto refused =
      server_.Api("POST", "/v1/login", R"({"name":"alice","password":"nope-nope-nope"})", &none);
  ASSERT_TRUE(refused) << refused.error().ToString();
  EXPECT_EQ(refused->status, 401);

  CommandResult logout = Skiff({"logout"}, "", false);
  EXPECT_EQ(logout.exit_code, 0) << logout.output;
  EXPECT_THAT(logout.output, HasSubstr("logged out"));
  const std::string old_session = session->substr(0, session->find('\n'));
  auto after_logout = server_.Api("GET", "/v1/apps", "", &old_session);
  ASSERT_TRUE(after_logout);
  EXPECT_EQ(after_logout->status, 401);

  ASSERT_EQ(Skiff({"login", "alice"}, std::string(kPassword) + "\n", false).exit_code, 0);
  ASSERT_EQ(Skiff({"apps"}, "", false).exit_code, 0);
  CommandResult removed = Skiff({"users", "remove", "alice"}, "", true);
  EXPECT_EQ(removed.exit_code, 0) << removed.output;
  CommandResult ended = Skiff({"apps"}, "", false);
  EXPECT_EQ(ended.exit_code, 1) << ended.output;
  EXPECT_THAT(ended.output, HasSubstr("401"));
}

}  // namespace
}  // namespace skiff::testing
