// End-to-end TLS inside Skiff: a real `skiff server --https` (TLS on
// loopback, as off loopback it is the default), its own CA kept across
// restarts, the CLI trusting it, and agents that verify the server by the
// CA fingerprint their join token carries before they send it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/standalone.h"
#include "crypto/x509.h"
#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "net/join_token.h"

namespace skiff::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string CaFingerprint(const SkiffServer& server) {
  auto ca = crypto::ParseCertificatePem(ReadAll(server.data_dir() + "/ca.crt"));
  return ca ? crypto::CertificateFingerprint(ca->get()) : "";
}

class TlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.UseHttps();
    server_.AddArgs({"--no-agent", "--no-edge"});
    ASSERT_TRUE(server_.Start());
  }

  std::string JoinToken() { return server_.JoinToken(); }

  SkiffServer server_;
};

// Verify that the server keeps its CA across restarts, that its certificate
// names the address it listens on and chains to that CA (the CLI, trusting
// SKIFF_CA, gets answers over HTTPS), and that plain HTTP gets nothing.
TEST_F(TlsE2eTest, CaKeptAcrossRestartsAndCertificateNamesTheListenAddress) {
  const std::string fingerprint = CaFingerprint(server_);
  ASSERT_EQ(fingerprint.size(), 64u);
  auto chain = crypto::ParseCertificateChainPem(ReadAll(server_.data_dir() + "/server.crt"));
  ASSERT_TRUE(chain);
  EXPECT_EQ(X509_check_ip_asc(chain->front().get(), "127.0.0.1", 0), 1);
  CommandResult apps = server_.Skiff({"apps"});
  EXPECT_EQ(apps.exit_code, 0) << apps.output;

  server_.Kill();
  ASSERT_TRUE(server_.Start());
  EXPECT_EQ(CaFingerprint(server_), fingerprint);
  // Its log holds both starts: the CA was made at the first only.
  EXPECT_EQ(CountOccurrences(server_.Output(), "created the server's CA"), 1) << server_.Output();

  auto clear = net::HttpClient("http://" + server_.addr())
                   .Do("GET", "/health", {}, {}, std::chrono::seconds(5));
  EXPECT_FALSE(clear && clear->status == 200);
}

// Verify that join tokens carry the CA's fingerprint; that an agent given a
// token whose fingerprint is not the server's refuses to register, saying
// which CA it found and which it expected, and sends nothing (no node
// appears); and that the true token joins over HTTPS.
TEST_F(TlsE2eTest, AgentRefusesAServerItsJoinTokenDoesNotName) {
  const std::string token = JoinToken();
  const std::string fingerprint = CaFingerprint(server_);
  ASSERT_THAT(token, StartsWith("SKIFF1-" + fingerprint + "-"));
  const std::string other(64, 'a');
  const std::string forged = net::FormatJoinToken(other, net::ParseJoinToken(token).secret);

  TempDir dir;
  CommandResult r =
      RunCommand({SKIFF_BIN, "agent", "--server", server_.url(), "--join-token", forged,
                  "--address", "127.0.0.2", "--data", dir.File("data"), "--driver", "process"},
                 {}, 30);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cannot trust the server at " + server_.addr()));
  EXPECT_THAT(r.output, HasSubstr("its CA fingerprint is " + fingerprint));
  EXPECT_THAT(r.output, HasSubstr("expects " + other));
  auto nodes = server_.Api("GET", "/v1/nodes");
  ASSERT_TRUE(nodes);
  EXPECT_THAT(nodes->body, ::testing::Not(HasSubstr("127.0.0.2")));

  SkiffAgent agent(server_, "tls-node", "127.0.0.3");
  ASSERT_TRUE(agent.Start(token));
  // Restarted without the token: the pin kept beside its credential is used.
  agent.Stop();
  ASSERT_TRUE(agent.Start(""));
}

// Verify that an agent keeps the token's pin after any verified
// registration, also one where the server took the credential it held (it
// joined before with a bare token, so kept no pin): a later start without
// the token trusts the server through that pin.
TEST_F(TlsE2eTest, PinKeptWhenTheHeldCredentialIsTaken) {
  const std::string token = JoinToken();
  SkiffAgent agent(server_, "pin-node", "127.0.0.4");
  ASSERT_TRUE(agent.Start(token));
  agent.Stop();
  const std::filesystem::path pin = std::filesystem::path(agent.data_dir()) / agent::kServerCaFile;
  ASSERT_TRUE(std::filesystem::remove(pin));
  ASSERT_TRUE(agent.Start(token));
  agent.Stop();
  EXPECT_TRUE(std::filesystem::exists(pin));
  ASSERT_TRUE(agent.Start(""));
  agent.Stop();

  // A pin file that holds no fingerprint fails the start, naming the file,
  // where the agent fell back to the system's roots.
  { std::ofstream(pin) << "not a fingerprint\n"; }
  CommandResult r = RunCommand({SKIFF_BIN, "agent", "--server", server_.url(), "--address",
                                "127.0.0.4", "--data", agent.data_dir(), "--driver", "process"},
                               {}, 30);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(pin.string() + " holds no CA fingerprint"));
}

}  // namespace
}  // namespace skiff::testing
