// End-to-end: a certificate ordered by the server from a real ACME server
// (issue 14, §2 and §4): Pebble validates HTTP-01 for real against the
// server's own edge (pebble-challtestsrv points every name at 127.0.0.1), and
// the edge then serves what Pebble issued on its TLS listener.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "e2e/pebble_server.h"
#include "e2e/skiff_server.h"
#include "fakes/tls_client.h"

namespace skiff::testing {
namespace {

using ::testing::HasSubstr;

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

// The source `skiff certs -o json` lists for `domain` ("" when not listed).
std::string SourceOf(const SkiffServer& server, const std::string& domain) {
  const boost::json::value list = server.SkiffJson({"certs"});
  if (!list.is_object() || !list.as_object().contains("certificates")) return "";
  for (const boost::json::value& c : list.at("certificates").as_array()) {
    if (c.at("domain").as_string() == domain && c.at("not_after").as_string() != "") {
      return std::string(c.at("source").as_string());
    }
  }
  return "";
}

// Verify that applying an app with a new domain makes the server order its
// certificate from Pebble, that Pebble's HTTP-01 validation is answered by the
// server's own edge (nothing validates it for free: PEBBLE_VA_ALWAYS_VALID=0),
// and that the edge's TLS listener then serves that certificate for the
// domain, its chain verifying against Pebble's root, with the app behind it.
TEST(AcmeE2eTest, NewDomainGetsAPebbleCertificateServedByTheEdge) {
  SkiffServer server;
  auto pebble = PebbleServer::Start(PortOf(server.edge_addr()));
  ASSERT_TRUE(pebble) << pebble.error().ToString();
  const std::string ca_file = server.WriteFile("pebble-ca.pem", (*pebble)->trust().ca_pem);
  const int tls_port = FreePort();
  server.AddArgs({"--edge-tls-listen", "127.0.0.1:" + std::to_string(tls_port), "--acme-directory",
                  (*pebble)->directory_url(), "--acme-email", "ops@skiff.test", "--acme-ca-cert",
                  ca_file});
  ASSERT_TRUE(server.Start());

  CommandResult applied = server.Skiff(
      {"apply", "-f", server.WriteFile("web.yaml", TestAppSpec("web", 1, "[web.skiff.test]"))});
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  ASSERT_TRUE(PollUntil([&] { return SourceOf(server, "web.skiff.test") == "acme"; },
                        std::chrono::seconds(60), std::chrono::milliseconds(200)))
      << server.Skiff({"certs"}).output << server.Output();

  auto root = (*pebble)->IssuingRoot();
  ASSERT_TRUE(root) << root.error().ToString();
  std::string response;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto client = TlsClient::Connect(tls_port, {.sni = "web.skiff.test", .ca_pem = *root});
        if (!client) return false;
        (*client)->Send("GET / HTTP/1.1\r\nHost: web.skiff.test\r\nConnection: close\r\n\r\n");
        response = (*client)->ReadResponse();
        return true;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(100)))
      << "the edge does not serve a chain that verifies against Pebble's root for web.skiff.test";
  EXPECT_THAT(response, HasSubstr("HTTP/1.1 200"));

  const CommandResult events = server.Skiff({"events"});
  EXPECT_THAT(events.output, HasSubstr("certificate.issued")) << events.output;
}

}  // namespace
}  // namespace skiff::testing
