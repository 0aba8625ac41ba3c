// End-to-end: certificates ordered by the server from a real ACME server
// (issue 14, §2 and §4): Pebble validates HTTP-01 for real against an edge
// (pebble-challtestsrv points every name at 127.0.0.1), the server's own or a
// standalone one, and the edges then serve what Pebble issued on their TLS
// listeners, and its renewal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>
#include <filesystem>

#include "e2e/pebble_server.h"
#include "e2e/skiff_server.h"
#include "fakes/tls_client.h"

namespace skiff::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

class AcmeE2eTest : public ::testing::Test {
 protected:
  // Starts Pebble validating HTTP-01 at `http01_port` (issuing certificates
  // valid `validity`; zero: Pebble's default), then the server ordering from
  // it with `args` added.
  void StartWithPebble(int http01_port, seconds validity, std::vector<std::string> args) {
    auto pebble = PebbleServer::Start(http01_port, validity);
    ASSERT_TRUE(pebble) << pebble.error().ToString();
    pebble_ = std::move(*pebble);
    const std::string ca_file = server_.WriteFile("pebble-ca.pem", pebble_->trust().ca_pem);
    args.insert(args.end(), {"--acme-directory", pebble_->directory_url(), "--acme-email",
                             "ops@skiff.test", "--acme-ca-cert", ca_file});
    server_.AddArgs(args);
    ASSERT_TRUE(server_.Start());
  }

  void Apply(const std::string& domain) {
    CommandResult applied = server_.Skiff(
        {"apply", "-f", server_.WriteFile("web.yaml", TestAppSpec("web", 1, "[" + domain + "]"))});
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
  }

  // What `skiff certs -o json` lists for `domain` with a certificate held
  // (null when none).
  boost::json::value Listed(const std::string& domain) const {
    const boost::json::value list = server_.SkiffJson({"certs"});
    if (!list.is_object() || !list.as_object().contains("certificates")) return nullptr;
    for (const boost::json::value& c : list.at("certificates").as_array()) {
      if (c.at("domain").as_string() == domain && c.at("not_after").as_string() != "") return c;
    }
    return nullptr;
  }

  // Waits until the TLS listener at `port` serves, for `domain`, a chain that
  // verifies against Pebble's root other than `not`; returns its fingerprint
  // ("" and a test failure after `wait`).
  std::string AwaitServed(int port, const std::string& domain, seconds wait,
                          const std::string& not_this = "") const {
    std::string fingerprint;
    std::string last;
    const bool served = PollUntil(
        [&] {
          auto served = pebble_->ServedFingerprint(port, domain);
          last = served ? "served " + *served : served.error().ToString();
          if (!served || *served == not_this) return false;
          fingerprint = *served;
          return true;
        },
        wait, std::chrono::milliseconds(200));
    EXPECT_TRUE(served) << "no certificate from Pebble served for " << domain << " on port " << port
                        << " (last: " << last << ")\n"
                        << server_.Skiff({"certs"}).output << server_.Output();
    return fingerprint;
  }

  // GET / of `domain` over TLS at `port`, verifying the chain: the status
  // line ("" when the connection fails).
  std::string StatusOver(int port, const std::string& domain) const {
    auto root = pebble_->IssuingRoot();
    if (!root) return "";
    auto client = TlsClient::Connect(port, {.sni = domain, .ca_pem = *root});
    if (!client) return "";
    const std::string response =
        (*client)->Exchange("GET / HTTP/1.1\r\nHost: " + domain + "\r\nConnection: close\r\n\r\n");
    return response.substr(0, response.find("\r\n"));
  }

  // A standalone `skiff edge` named edge-a of the server, its data in `dir`,
  // reporting every 200 ms.
  std::unique_ptr<Subprocess> StartEdge(const TempDir& dir, int plain_port, int tls_port) const {
    return std::make_unique<Subprocess>(
        std::vector<std::string>{SKIFF_BIN, "edge", "--server", server_.url(), "--listen",
                                 "127.0.0.1:" + std::to_string(plain_port), "--tls-listen",
                                 "127.0.0.1:" + std::to_string(tls_port), "--data",
                                 dir.File("edge"), "--name", "edge-a", "--report-interval",
                                 "200ms"},
        std::map<std::string, std::string>{{"SKIFF_TOKEN", server_.token()}}, dir.File("edge.log"));
  }

  SkiffServer server_;
  std::unique_ptr<PebbleServer> pebble_;
};

// Verify that applying an app with a new domain makes the server order its
// certificate from Pebble, that Pebble's HTTP-01 validation is answered by the
// server's own edge (nothing validates it for free: PEBBLE_VA_ALWAYS_VALID=0),
// and that the edge's TLS listener then serves that certificate for the
// domain, its chain verifying against Pebble's root, with the app behind it.
TEST_F(AcmeE2eTest, NewDomainGetsAPebbleCertificateServedByTheEdge) {
  const int tls_port = FreePort();
  ASSERT_NO_FATAL_FAILURE(
      StartWithPebble(PortOf(server_.edge_addr()), seconds(0),
                      {"--edge-tls-listen", "127.0.0.1:" + std::to_string(tls_port)}));
  ASSERT_NO_FATAL_FAILURE(Apply("web.skiff.test"));
  ASSERT_TRUE(PollUntil([&] { return !Listed("web.skiff.test").is_null(); }, seconds(60),
                        std::chrono::milliseconds(200)))
      << server_.Skiff({"certs"}).output << server_.Output();
  EXPECT_EQ(Listed("web.skiff.test").at("source").as_string(), "acme");

  ASSERT_NE(AwaitServed(tls_port, "web.skiff.test", seconds(10)), "");
  EXPECT_EQ(StatusOver(tls_port, "web.skiff.test"), "HTTP/1.1 200 OK");
  const CommandResult events = server_.Skiff({"events"});
  EXPECT_THAT(events.output, HasSubstr("certificate.issued")) << events.output;
}

// Verify that a certificate two thirds through its lifetime is renewed:
// Pebble issues certificates valid 30 s, and after about 20 s the edge serves
// another one for the domain (a new fingerprint, verifying against Pebble's
// root, not yet expired), the app still behind it, with a certificate.renewed
// event.
TEST_F(AcmeE2eTest, NearExpiryCertificateIsReplaced) {
  const int tls_port = FreePort();
  ASSERT_NO_FATAL_FAILURE(
      StartWithPebble(PortOf(server_.edge_addr()), seconds(30),
                      {"--edge-tls-listen", "127.0.0.1:" + std::to_string(tls_port)}));
  ASSERT_NO_FATAL_FAILURE(Apply("renew.skiff.test"));
  const std::string first = AwaitServed(tls_port, "renew.skiff.test", seconds(60));
  ASSERT_NE(first, "");
  // Due after 20 s; the wait allows one failed renewal and its 2-minute
  // back-off on a loaded machine.
  const std::string renewed = AwaitServed(tls_port, "renew.skiff.test", seconds(200), first);
  ASSERT_NE(renewed, "");
  EXPECT_EQ(StatusOver(tls_port, "renew.skiff.test"), "HTTP/1.1 200 OK");
  const CommandResult events = server_.Skiff({"events"});
  EXPECT_THAT(events.output, HasSubstr("certificate.renewed")) << events.output;
}

// Verify that a standalone `skiff edge` answers Pebble's HTTP-01 validation
// (the server runs no edge: only the standalone one can; the app is applied
// as the edge starts, before it reported, so the order waits for it), serves the issued
// certificate on its TLS listener with the app behind it, and, the server
// killed and the edge restarted, still serves that same certificate from
// what it kept on disk (mode 0600: it holds the key).
TEST_F(AcmeE2eTest, StandaloneEdgeAnswersTheChallengeAndServesTheCertificate) {
  TempDir dir;
  const int plain_port = FreePort();
  const int tls_port = FreePort();
  ASSERT_NO_FATAL_FAILURE(StartWithPebble(plain_port, seconds(0), {"--no-edge"}));
  auto edge = StartEdge(dir, plain_port, tls_port);
  ASSERT_NO_FATAL_FAILURE(Apply("far.skiff.test"));
  const std::string served = AwaitServed(tls_port, "far.skiff.test", seconds(60));
  ASSERT_NE(served, "") << edge->Output();
  EXPECT_EQ(StatusOver(tls_port, "far.skiff.test"), "HTTP/1.1 200 OK");
  // What it keeps holds the certificate's key: for its user only.
  const std::filesystem::path kept = dir.File("edge") + "/routes.json";
  ASSERT_TRUE(std::filesystem::exists(kept));
  EXPECT_EQ(std::filesystem::status(kept).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  server_.Kill();  // the control plane is gone; the app's instance still runs
  edge->Signal(SIGKILL);
  edge->Wait();
  edge = StartEdge(dir, plain_port, tls_port);  // its routes and certificates come from disk
  EXPECT_EQ(AwaitServed(tls_port, "far.skiff.test", seconds(20)), served) << edge->Output();
  EXPECT_EQ(StatusOver(tls_port, "far.skiff.test"), "HTTP/1.1 200 OK");
}

// Verify that the server's own edge and a standalone edge serve the same
// certificate for a domain: one order for the cluster, validated here
// through the standalone edge (Pebble validates on its plain port only).
TEST_F(AcmeE2eTest, OwnAndStandaloneEdgesServeTheSameCertificate) {
  TempDir dir;
  const int plain_port = FreePort();
  const int tls_port = FreePort();
  const int own_tls_port = FreePort();
  ASSERT_NO_FATAL_FAILURE(StartWithPebble(
      plain_port, seconds(0), {"--edge-tls-listen", "127.0.0.1:" + std::to_string(own_tls_port)}));
  auto edge = StartEdge(dir, plain_port, tls_port);
  // Known to the server before the order, so the challenge waits for it too.
  ASSERT_TRUE(PollUntil(
      [&] {
        auto traffic = server_.Api("GET", "/v1/traffic");
        return traffic && traffic->body.find("\"edge-a\"") != std::string::npos;
      },
      seconds(20)))
      << edge->Output();
  ASSERT_NO_FATAL_FAILURE(Apply("both.skiff.test"));
  const std::string served = AwaitServed(tls_port, "both.skiff.test", seconds(60));
  ASSERT_NE(served, "") << edge->Output();
  EXPECT_EQ(AwaitServed(own_tls_port, "both.skiff.test", seconds(10)), served);
  EXPECT_EQ(StatusOver(own_tls_port, "both.skiff.test"), "HTTP/1.1 200 OK");
  EXPECT_EQ(StatusOver(tls_port, "both.skiff.test"), "HTTP/1.1 200 OK");
  const CommandResult events = server_.Skiff({"events"});
  EXPECT_EQ(CountOccurrences(events.output, "certificate.issued"), 1) << events.output;
}

}  // namespace
}  // namespace skiff::testing
