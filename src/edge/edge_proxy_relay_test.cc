// Large bodies through the edge, both ways, compared byte for byte (patterned
// bodies: a lost, repeated or reordered chunk shows), on each I/O engine.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "edge/edge_proxy.h"
#include "fakes/io_engines.h"
#include "fakes/scripted_upstream.h"
#include "fakes/testing.h"
#include "net/http_client.h"

namespace skiff::edge {
namespace {

using skiff::testing::PatternedBytes;
using skiff::testing::ScriptedUpstream;

class EdgeProxyRelayTest : public ::testing::TestWithParam<IoEngine> {
 protected:
  void SetUp() override { SKIFF_REQUIRE_IO_ENGINE(GetParam()); }
  void TearDown() override {
    if (proxy_) proxy_->Stop();
  }
  // An edge serving app "web" at web.test from `upstream`.
  void Start(const ScriptedUpstream& upstream, EdgeOptions options = {}) {
    options.io_engine = GetParam();
    proxy_.emplace(options);
    protocol::AppRoutes app;
    app.name = "web";
    app.domains = {{"web.test", ""}};
    app.instances = {{"web-1", upstream.address()}};
    proxy_->SetTable(RoutingTable::Build(protocol::RouteSet{.apps = {app}}));
    ASSERT_TRUE(proxy_->Listen("127.0.0.1:0"));
  }
  Result<net::HttpResponse> Do(const std::string& method, const std::string& body = "") {
    return net::HttpClient("http://127.0.0.1:" + std::to_string(proxy_->port()))
        .Do(method, "/", body, {{"Host", "web.test"}}, std::chrono::seconds(10));
  }

  // A client that has asked for / and reads nothing (a small receive buffer:
  // the edge soon has to hold what it cannot send). -1 on failure.
  int AskWithoutReading(const std::string& fields = "") {
    const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int small = 16 << 10;  // (before the connect: the window follows it)
    const timeval timeout{.tv_sec = 10, .tv_usec = 0};  // a test never hangs
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(proxy_->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const std::string request = "GET / HTTP/1.1\r\nHost: web.test\r\n" + fields + "\r\n";
    if (client < 0 || setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) != 0 ||
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
        connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        send(client, request.data(), request.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(request.size())) {
      if (client >= 0) close(client);
      return -1;
    }
    return client;
  }

  std::optional<EdgeProxy> proxy_;
};

// Verify that a large answer (relayed as it comes) arrives exactly as sent.
TEST_P(EdgeProxyRelayTest, LargeAnswerArrivesExactly) {
  const std::string body = PatternedBytes(3 << 20);
  ScriptedUpstream upstream(
      [&](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok(body); });
  Start(upstream);
  auto r = Do("GET");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(r->body == body) << "the body arrived altered";
}

// Verify that a large request body (streamed, not held) reaches the instance
// exactly as sent.
TEST_P(EdgeProxyRelayTest, LargeRequestBodyArrivesExactly) {
  const std::string body = PatternedBytes(5 << 20);
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("ok"); });
  Start(upstream);
  auto r = Do("POST", body);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200) << r->body;
  const std::vector<ScriptedUpstream::Request> seen = upstream.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].body.size(), body.size());
  EXPECT_TRUE(seen[0].body == body) << "the body arrived altered";
}

// Verify that a client that reads none of a large answer holds the instance
// back: the edge stops reading from the instance (what it holds stays
// bounded) and the instance's sends block, far short of the answer.
TEST_P(EdgeProxyRelayTest, AClientThatReadsNothingBlocksTheInstance) {
  const std::string body(64 << 20, 'x');
  ScriptedUpstream upstream(
      [&](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok(body); });
  Start(upstream);
  const int client = AskWithoutReading();
  ASSERT_GE(client, 0);
  // The instance sends until the buffers on the way are full, then blocks:
  // its count stops moving (sampled every half second).
  size_t last = 0;
  EXPECT_TRUE(skiff::testing::PollUntil(
      [&] {
        const size_t now = upstream.sent();
        const bool still = now > 0 && now == last;
        last = now;
        return still;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(500)));
  EXPECT_LT(upstream.sent(), body.size() / 2)
      << "the edge took the answer from a client that read none";
  close(client);
}

// Verify that a stop ends within its grace when a client reads none of a
// large answer: the answer is cut at the end of the grace (the client gets a
// reset, not an end), not drained for another grace.
TEST_P(EdgeProxyRelayTest, StopCutsAClientThatReadsNothingAtTheGrace) {
  const std::string body(64 << 20, 'x');
  ScriptedUpstream upstream(
      [&](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok(body); });
  EdgeOptions options;
  options.stop_grace = std::chrono::seconds(2);
  Start(upstream, options);
  const int client = AskWithoutReading();
  ASSERT_GE(client, 0);
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return upstream.sent() > 0; }));
  auto stopped = std::async(std::launch::async, [&] { proxy_->Stop(); });
  // A deadline, not a measure: the grace and a sweep, with room to spare
  // (it used to drain the closed socket for another grace).
  EXPECT_EQ(stopped.wait_for(options.stop_grace + std::chrono::milliseconds(1500)),
            std::future_status::ready);
  stopped.wait();
  char buf[64 << 10];
  ssize_t n;
  while ((n = recv(client, buf, sizeof buf, 0)) > 0) {
  }
  EXPECT_EQ(n, -1) << "the cut answer ended as a whole one would";
  EXPECT_EQ(errno, ECONNRESET);
  close(client);
}

INSTANTIATE_TEST_SUITE_P(Engines, EdgeProxyRelayTest,
                         ::testing::ValuesIn(skiff::testing::EdgeIoEngines()),
                         [](const auto& info) { return skiff::testing::IoEngineTestName(info); });

}  // namespace
}  // namespace skiff::edge
