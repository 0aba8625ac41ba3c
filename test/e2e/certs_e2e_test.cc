// End-to-end: manual certificates through the real `skiff` client and server
// (issue 14, §2 and §4): kept across kill -9, their keys never in clear in the
// database, sent to the edges in the routes document for the domains served.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/files.h"
#include "crypto/keyring.h"
#include "crypto/x509.h"
#include "e2e/skiff_server.h"

namespace skiff::testing {
namespace {

using ::testing::HasSubstr;

struct Pem {
  std::string cert;
  std::string key;
};

Pem SelfSigned(std::vector<std::string> names) {
  const auto now = std::chrono::system_clock::now();
  auto key = crypto::GenerateP256Key();
  crypto::CertificateRequest request{"E2E CA", std::move(names), now - std::chrono::hours(1),
                                     now + std::chrono::hours(24 * 30), false};
  auto cert = crypto::IssueCertificate(request, key->get(), nullptr, key->get());
  return {crypto::CertificatePem(cert->get()), crypto::PrivateKeyPem(key->get())};
}

// Every byte the database keeps on disk (the file and its WAL).
std::string DatabaseBytes(const std::string& data_dir) {
  std::string all;
  for (const char* name : {"skiff.db", "skiff.db-wal"}) {
    std::ifstream in(std::filesystem::path(data_dir) / name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
  }
  return all;
}

// The base64 body of a PEM key, without its header and line breaks' effect:
// its first full line, which a copy of the key in clear would hold.
std::string KeyLine(const std::string& pem) {
  const size_t start = pem.find('\n') + 1;
  return pem.substr(start, pem.find('\n', start) - start);
}

// Verify that `skiff certs add` keeps a certificate that survives kill -9
// right after it was acknowledged, that its key is nowhere in the database in
// clear (file and WAL read raw), that the keyring is 0600, that bad input is
// refused naming what is wrong with nothing kept, and that the routes
// document carries the certificate once an app serves its domain, not the
// one of a domain no app serves.
TEST(CertsE2eTest, AddSurvivesKill9SealedAndReachesTheRoutes) {
  SkiffServer server;
  server.AddArgs({"--no-agent", "--no-edge"});
  ASSERT_TRUE(server.Start());
  const Pem web = SelfSigned({"web.com", "*.web.com"});
  const Pem shop = SelfSigned({"shop.com"});
  const std::string web_cert = server.WriteFile("web.crt", web.cert);
  const std::string web_key = server.WriteFile("web.key", web.key);
  const std::string shop_cert = server.WriteFile("shop.crt", shop.cert);
  const std::string shop_key = server.WriteFile("shop.key", shop.key);

  CommandResult bad =
      server.Skiff({"certs", "add", "--domain", "web.com", "--cert", web_cert, "--key", shop_key});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("the key does not match the certificate"));
  bad =
      server.Skiff({"certs", "add", "--domain", "other.com", "--cert", web_cert, "--key", web_key});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("other.com is not among the certificate's names"));
  EXPECT_EQ(server.SkiffJson({"certs"}).at("certificates").as_array().size(), 0u);

  CommandResult added =
      server.Skiff({"certs", "add", "--domain", "web.com", "--cert", web_cert, "--key", web_key});
  ASSERT_EQ(added.exit_code, 0) << added.output;
  EXPECT_THAT(added.output, HasSubstr("web.com: certificate kept (issuer E2E CA"));
  added = server.Skiff(
      {"certs", "add", "--domain", "shop.com", "--cert", shop_cert, "--key", shop_key});
  ASSERT_EQ(added.exit_code, 0) << added.output;
  server.Kill();

  const std::string raw = DatabaseBytes(server.data_dir());
  EXPECT_THAT(raw, HasSubstr("skiff-aes256gcm:"));           // the sealed keys are there...
  EXPECT_EQ(raw.find(KeyLine(web.key)), std::string::npos);  // ...and not the keys
  EXPECT_EQ(raw.find(KeyLine(shop.key)), std::string::npos);
  EXPECT_EQ(raw.find("PRIVATE KEY"), std::string::npos);
  struct stat st;
  ASSERT_EQ(::stat((std::filesystem::path(server.data_dir()) / "keyring.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ASSERT_TRUE(server.Start());
  CommandResult table = server.Skiff({"certs"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_THAT(table.output, HasSubstr("DOMAIN"));
  EXPECT_THAT(table.output, HasSubstr("web.com   E2E CA"));
  EXPECT_THAT(table.output, HasSubstr("manual"));

  ASSERT_EQ(
      server
          .Skiff({"apply", "-f", server.WriteFile("web.yaml", TestAppSpec("web", 0, "[web.com]")),
                  "--detach"})
          .exit_code,
      0);
  auto routes = server.Api("GET", "/v1/routes");
  ASSERT_TRUE(routes.has_value());
  ASSERT_EQ(routes->status, 200) << routes->body;
  const boost::json::value document = boost::json::parse(routes->body);
  const boost::json::array& certificates = document.at("certificates").as_array();
  ASSERT_EQ(certificates.size(), 1u) << routes->body;
  EXPECT_EQ(certificates[0].at("domains"), boost::json::array{"web.com"});
  EXPECT_EQ(certificates[0].at("key").as_string(), web.key);
  EXPECT_EQ(routes->body.find(KeyLine(shop.key)), std::string::npos);

  CommandResult removed = server.Skiff({"certs", "remove", "web.com"});
  EXPECT_EQ(removed.exit_code, 0) << removed.output;
  routes = server.Api("GET", "/v1/routes");
  ASSERT_TRUE(routes.has_value());
  EXPECT_EQ(routes->body.find("certificates"), std::string::npos) << routes->body;
}

// Verify that a server refuses to start, saying why, on a keyring others may
// read, and on one that lacks the key a kept certificate was sealed under (a
// server of a shared database given no copy of the others' keyring).
TEST(CertsE2eTest, ServerRefusesAKeyringItCannotUse) {
  SkiffServer server;
  server.AddArgs({"--no-agent", "--no-edge"});
  ASSERT_TRUE(server.Start());
  const Pem web = SelfSigned({"web.com"});
  CommandResult added = server.Skiff({"certs", "add", "--domain", "web.com", "--cert",
                                      server.WriteFile("web.crt", web.cert), "--key",
                                      server.WriteFile("web.key", web.key)});
  ASSERT_EQ(added.exit_code, 0) << added.output;
  server.Kill();
  const std::string keyring = (std::filesystem::path(server.data_dir()) / "keyring.json").string();
  const std::vector<std::string> start = {SKIFF_BIN,         "server",   "--data",
                                          server.data_dir(), "--listen", "127.0.0.1:0",
                                          "--no-agent",      "--no-edge"};

  ASSERT_EQ(::chmod(keyring.c_str(), 0640), 0);
  CommandResult readable = RunCommand(start, {}, 60);
  EXPECT_NE(readable.exit_code, 0) << readable.output;
  EXPECT_THAT(readable.output, HasSubstr(keyring + " is open to its group or others (mode 640)"));
  EXPECT_THAT(readable.output, HasSubstr("chmod 600 " + keyring));

  const std::string kept_id = crypto::Keyring::FromFile([&] {
                                std::ifstream in(keyring);
                                std::stringstream ss;
                                ss << in.rdbuf();
                                return ss.str();
                              }())
                                  ->active_id();
  ASSERT_EQ(::unlink(keyring.c_str()), 0);
  ASSERT_TRUE(WriteNewFile(keyring, crypto::Keyring::Generate().ToFile(), 0600));
  CommandResult lacking = RunCommand(start, {}, 60);
  EXPECT_NE(lacking.exit_code, 0) << lacking.output;
  EXPECT_THAT(lacking.output, HasSubstr("certificate for web.com"));
  EXPECT_THAT(lacking.output, HasSubstr("sealed under key " + kept_id));
  EXPECT_THAT(lacking.output, HasSubstr("keyring (" + keyring + ")"));
}

}  // namespace
}  // namespace skiff::testing
