#include "server/server_tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "agent/machine.h"
#include "common/files.h"
#include "fakes/testing.h"

namespace skiff::server {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;
using ::testing::ElementsAre;

// Verify that the API serves HTTPS off loopback, plain HTTP on loopback, and
// that --https and --insecure-http turn each around.
TEST(ServerTlsTest, ServesTls) {
  EXPECT_FALSE(ServesTls("127.0.0.1:7070", false, false));
  EXPECT_FALSE(ServesTls("127.0.0.2:7070", false, false));
  EXPECT_FALSE(ServesTls("localhost:7070", false, false));
  EXPECT_FALSE(ServesTls("[::1]:7070", false, false));
  EXPECT_TRUE(ServesTls("0.0.0.0:7070", false, false));
  EXPECT_TRUE(ServesTls(":7070", false, false));
  EXPECT_TRUE(ServesTls("10.0.0.5:7070", false, false));
  EXPECT_FALSE(ServesTls("10.0.0.5:7070", false, true));
  EXPECT_TRUE(ServesTls("127.0.0.1:7070", true, false));
}

// Verify that --https with --insecure-http is refused, naming both, and that
// either alone or neither is fine.
TEST(ServerTlsTest, HttpsAndInsecureHttpRefusedTogether) {
  Status refused = CheckTlsFlags(/*https=*/true, /*insecure_http=*/true);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().field, "https");
  EXPECT_NE(refused.error().message.find("--https and --insecure-http"), std::string::npos);
  EXPECT_TRUE(CheckTlsFlags(true, false));
  EXPECT_TRUE(CheckTlsFlags(false, true));
  EXPECT_TRUE(CheckTlsFlags(false, false));
}

// Verify that the plain-HTTP warning is for --insecure-http off loopback
// only: not for loopback's plain HTTP, nor for HTTPS.
TEST(ServerTlsTest, ClearOffLoopbackOnlyWithoutTlsOffLoopback) {
  EXPECT_TRUE(ServesClearOffLoopback("0.0.0.0:7070", /*serves_tls=*/false));
  EXPECT_TRUE(ServesClearOffLoopback("10.0.0.5:7070", false));
  EXPECT_FALSE(ServesClearOffLoopback("127.0.0.1:7070", false));
  EXPECT_FALSE(ServesClearOffLoopback("[::1]:7070", false));
  EXPECT_FALSE(ServesClearOffLoopback("0.0.0.0:7070", /*serves_tls=*/true));
  EXPECT_FALSE(ServesClearOffLoopback("127.0.0.1:7070", true));
}

// Verify that the certificate names the listen and advertised hosts and the
// loopback names, once each, and never an address binding every address.
TEST(ServerTlsTest, CertificateNames) {
  EXPECT_THAT(ServerCertificateNames("10.0.0.5:7070", "https://api.example.com:7443"),
              ElementsAre("10.0.0.5", "api.example.com", "localhost", "127.0.0.1", "::1"));
  EXPECT_THAT(ServerCertificateNames("0.0.0.0:7070", ""),
              ElementsAre("localhost", "127.0.0.1", "::1"));
  EXPECT_THAT(ServerCertificateNames("127.0.0.1:7070", "https://[fd00::1]:7070"),
              ElementsAre("127.0.0.1", "fd00::1", "localhost", "::1"));
}

// Verify that a server listening on every address names the machine (its
// host name and interface addresses: what remote agents dial) and the
// --tls-name names, and that a specific listen address names no machine
// names but still the --tls-name ones.
TEST(ServerTlsTest, CertificateNamesTheMachineWhenListeningEverywhere) {
  const std::vector<std::string> machine = {"s1", "10.0.0.5", "fd00::5"};
  EXPECT_THAT(
      ServerCertificateNames("0.0.0.0:7070", "", {"api.example.com"}, machine),
      ElementsAre("api.example.com", "s1", "10.0.0.5", "fd00::5", "localhost", "127.0.0.1", "::1"));
  EXPECT_THAT(ServerCertificateNames("[::]:7070", "", {}, machine),
              ElementsAre("s1", "10.0.0.5", "fd00::5", "localhost", "127.0.0.1", "::1"));
  EXPECT_THAT(ServerCertificateNames("10.0.0.9:7070", "", {"api.example.com"}, machine),
              ElementsAre("10.0.0.9", "api.example.com", "localhost", "127.0.0.1", "::1"));
  const std::vector<std::string> here = MachineNames();
  ASSERT_FALSE(here.empty());
  EXPECT_EQ(here.front(), agent::MachineName());
  EXPECT_NE(std::find(here.begin(), here.end(), "127.0.0.1"), here.end());
}

// Verify that the CA is made once (keys 0600) and kept, and the server
// certificate is kept while it fits and issued again when a name is added.
TEST(ServerTlsTest, CaKeptCertificateReissuedForNewNames) {
  testing::TempDir dir;
  const auto now = system_clock::now();
  auto first = LoadOrCreateServerTls(dir.path(), {"127.0.0.1"}, now);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(first->ca_created);
  EXPECT_TRUE(first->server_issued);
  struct stat st {};
  ASSERT_EQ(::stat(dir.File(kCaKeyFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.File(kServerKeyFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto again = LoadOrCreateServerTls(dir.path(), {"127.0.0.1"}, now);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->ca_created);
  EXPECT_FALSE(again->server_issued);
  EXPECT_EQ(again->ca_fingerprint, first->ca_fingerprint);
  EXPECT_EQ(again->server.cert_pem, first->server.cert_pem);

  auto wider = LoadOrCreateServerTls(dir.path(), {"127.0.0.1", "api.example.com"}, now);
  ASSERT_TRUE(wider);
  EXPECT_FALSE(wider->ca_created);
  EXPECT_TRUE(wider->server_issued);
  EXPECT_EQ(wider->ca_fingerprint, first->ca_fingerprint);

  // Within the last thirty days of its year: issued again.
  auto late = LoadOrCreateServerTls(dir.path(), {"127.0.0.1", "api.example.com"},
                                    now + kServerCertLifetime - hours(24));
  ASSERT_TRUE(late);
  EXPECT_TRUE(late->server_issued);
}

// Verify that a CA with its key missing stops the start with
// kFailedPrecondition rather than being replaced (join tokens would change).
TEST(ServerTlsTest, HalfACaIsFailedPrecondition) {
  testing::TempDir dir;
  ASSERT_TRUE(LoadOrCreateServerTls(dir.path(), {"127.0.0.1"}, system_clock::now()));
  ASSERT_EQ(::unlink(dir.File(kCaKeyFile).c_str()), 0);
  auto broken = LoadOrCreateServerTls(dir.path(), {"127.0.0.1"}, system_clock::now());
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, ErrorCode::kFailedPrecondition);
}

// Verify that a making of the CA cut short between its key and its
// certificate (the marker still there) makes a whole CA on the next start,
// where a CA that lost its certificate (no marker; even with no API
// certificate either) is refused and its key kept.
TEST(ServerTlsTest, MakingCutShortMakesTheCaAgain) {
  testing::TempDir dir;
  ASSERT_TRUE(LoadOrCreateServerTls(dir.path(), {"127.0.0.1"}, system_clock::now()));
  EXPECT_FALSE(std::filesystem::exists(dir.File(kCaMakingFile)));
  const std::string key = ReadPrivateFile(dir.File(kCaKeyFile)).value_or("");
  ASSERT_EQ(::unlink(dir.File(kCaCertFile).c_str()), 0);
  ASSERT_EQ(::unlink(dir.File(kServerCertFile).c_str()), 0);
  auto lost = LoadOrCreateServerTls(dir.path(), {"127.0.0.1"}, system_clock::now());
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(lost.error().message.find("put it back"), std::string::npos) << lost.error().message;
  EXPECT_EQ(ReadPrivateFile(dir.File(kCaKeyFile)).value_or(""), key);

  ASSERT_TRUE(WriteFileAtomically(dir.File(kCaMakingFile), "", 0600));
  auto again = LoadOrCreateServerTls(dir.path(), {"127.0.0.1"}, system_clock::now());
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(again->ca_created);
  EXPECT_TRUE(std::filesystem::exists(dir.File(kCaCertFile)));
  EXPECT_FALSE(std::filesystem::exists(dir.File(kCaMakingFile)));
}

}  // namespace
}  // namespace skiff::server
