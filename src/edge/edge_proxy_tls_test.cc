// The edge over TLS (tls/): the certificate by SNI, the fallback, ALPN,
// resumption, and everything the plain edge does, on each I/O engine; the
// plain listener's redirect and ACME challenges; and `openssl s_client`
// against the edge's TLS listener.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "edge/edge_proxy.h"
#include "edge/tls/tls_context.h"
#include "fakes/io_engines.h"
#include "fakes/scripted_upstream.h"
#include "fakes/testing.h"
#include "fakes/tls_client.h"
#include "net/http_client.h"

namespace skiff::edge {
namespace {

using skiff::testing::PatternedBytes;
using skiff::testing::ScriptedUpstream;
using skiff::testing::TestCa;
using skiff::testing::TlsClient;

constexpr std::string_view kGet = "GET /hello?x=1 HTTP/1.1\r\nHost: web.test\r\n\r\n";

int StatusOf(const std::string& response) {
  return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0;
}
std::string BodyOf(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

class EdgeProxyTlsTest : public ::testing::TestWithParam<IoEngine> {
 protected:
  void SetUp() override { SKIFF_REQUIRE_IO_ENGINE(GetParam()); }
  void TearDown() override {
    if (proxy_) proxy_->Stop();
  }
  // An edge serving app "web" at web.test and app "shop" at shop.test (both
  // from `upstream`), with a certificate for web.test and *.shop.test, plain
  // and TLS listeners.
  void Start(const ScriptedUpstream& upstream, model::EdgePolicy web_policy = {},
             std::vector<protocol::AcmeChallenge> challenges = {}) {
    EdgeOptions options = options_;
    options.io_engine = GetParam();
    proxy_.emplace(options);
    protocol::AppRoutes web;
    web.name = "web";
    web.domains = {{"web.test", ""}};
    web.instances = {{"web-1", upstream.address()}};
    web.edge = web_policy;
    protocol::AppRoutes shop;
    shop.name = "shop";
    shop.domains = {{"a.shop.test", ""}};
    shop.instances = {{"shop-1", upstream.address()}};
    protocol::RouteSet routes{.apps = {web, shop}};
    routes.certificates = {ca_.Issue({"web.test"}), ca_.Issue({"*.shop.test"})};
    routes.challenges = std::move(challenges);
    proxy_->SetTable(RoutingTable::Build(routes));
    ASSERT_TRUE(proxy_->Listen("127.0.0.1:0", "127.0.0.1:0"));
    ASSERT_NE(proxy_->tls_port(), 0);
  }
  Result<std::unique_ptr<TlsClient>> Connect(const std::string& sni = "web.test",
                                             std::vector<std::string> alpn = {}) {
    return TlsClient::Connect(proxy_->tls_port(),
                              {.sni = sni, .ca_pem = ca_.pem(), .alpn = std::move(alpn)});
  }
  Result<net::HttpResponse> PlainGet(const std::string& target, const std::string& host) {
    return net::HttpClient("http://127.0.0.1:" + std::to_string(proxy_->port()))
        .Do("GET", target, "", {{"Host", host}}, std::chrono::seconds(10));
  }

  EdgeOptions options_;  // Start's, but for the engine
  TestCa ca_;
  std::optional<EdgeProxy> proxy_;
};

// Verify that a request over TLS is routed and answered, with the
// certificate SNI names (verified against its CA) and ALPN http/1.1.
TEST_P(EdgeProxyTlsTest, ServesARequestWithTheCertificateSniNames) {
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("hello"); });
  Start(upstream);
  auto client = Connect("web.test", {"h2", "http/1.1"});
  ASSERT_TRUE(client) << client.error().ToString();
  EXPECT_EQ((*client)->PeerCommonName(), "web.test");
  EXPECT_EQ((*client)->Alpn(), "http/1.1");
  const std::string response = (*client)->Exchange(kGet);
  EXPECT_EQ(StatusOf(response), 200) << response;
  EXPECT_EQ(BodyOf(response), "hello");
  ASSERT_EQ(upstream.requests().size(), 1u);
  EXPECT_EQ(upstream.requests()[0].line, "GET /hello?x=1 HTTP/1.1");

  // A wildcard's name; then one with none, and no SNI at all: the fallback.
  auto shop = Connect("a.shop.test");
  ASSERT_TRUE(shop) << shop.error().ToString();
  EXPECT_EQ((*shop)->PeerCommonName(), "*.shop.test");
  for (const std::string& sni : {std::string("nobody.test"), std::string()}) {
    auto other = TlsClient::Connect(proxy_->tls_port(), {.sni = sni});
    ASSERT_TRUE(other) << other.error().ToString();
    EXPECT_EQ((*other)->PeerCommonName(), tls::TlsContext::kFallbackName) << sni;
  }
}

// Verify that a client offering only h2 gets no ALPN answer but is served.
TEST_P(EdgeProxyTlsTest, OnlyH2OfferedGetsNoAlpnNotAFailure) {
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("ok"); });
  Start(upstream);
  auto client = Connect("web.test", {"h2"});
  ASSERT_TRUE(client) << client.error().ToString();
  EXPECT_EQ((*client)->Alpn(), "");
  EXPECT_EQ(StatusOf((*client)->Exchange(kGet)), 200);
}

// Verify that requests follow each other on one kept TLS connection (the
// last pipelined behind another), and that a second connection resumes the
// session with the ticket of the first.
TEST_P(EdgeProxyTlsTest, KeepAliveAndResumption) {
  ScriptedUpstream upstream([](const ScriptedUpstream::Request& r) {
    return ScriptedUpstream::Ok("n" + std::to_string(r.index));
  });
  Start(upstream);
  auto client = Connect();
  ASSERT_TRUE(client) << client.error().ToString();
  EXPECT_EQ(BodyOf((*client)->Exchange(kGet)), "n0");
  EXPECT_EQ(BodyOf((*client)->Exchange(kGet)), "n1");
  ASSERT_TRUE((*client)->Send(std::string(kGet) + std::string(kGet)));
  EXPECT_EQ(BodyOf((*client)->ReadResponse()), "n2");
  EXPECT_EQ(BodyOf((*client)->ReadResponse()), "n3");
  // Two records in one segment: the edge's OpenSSL holds the second when the
  // socket has nothing more, and must serve it without waiting for an event.
  ASSERT_TRUE((*client)->SendRecords({std::string(kGet), std::string(kGet)}));
  EXPECT_EQ(BodyOf((*client)->ReadResponse()), "n4");
  EXPECT_EQ(BodyOf((*client)->ReadResponse()), "n5");
  EXPECT_EQ(upstream.accepted(), 1);

  SSL_SESSION* session = (*client)->TakeSession();
  ASSERT_NE(session, nullptr);
  auto again = TlsClient::Connect(proxy_->tls_port(),
                                  {.sni = "web.test", .ca_pem = ca_.pem(), .resume = session});
  SSL_SESSION_free(session);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE((*again)->resumed());
  EXPECT_EQ(StatusOf((*again)->Exchange(kGet)), 200);
}

// Verify that a client held to TLS 1.2 is served on a kept connection and
// resumes its session with the ticket it was given.
TEST_P(EdgeProxyTlsTest, Tls12RequestAndResumption) {
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("twelve"); });
  Start(upstream);
  TlsClient::Options options{.sni = "web.test", .ca_pem = ca_.pem(), .max_version = TLS1_2_VERSION};
  auto client = TlsClient::Connect(proxy_->tls_port(), options);
  ASSERT_TRUE(client) << client.error().ToString();
  EXPECT_EQ((*client)->version(), "TLSv1.2");
  EXPECT_EQ(BodyOf((*client)->Exchange(kGet)), "twelve");
  EXPECT_EQ(BodyOf((*client)->Exchange(kGet)), "twelve");
  SSL_SESSION* session = (*client)->TakeSession();
  ASSERT_NE(session, nullptr);
  options.resume = session;
  auto again = TlsClient::Connect(proxy_->tls_port(), options);
  SSL_SESSION_free(session);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE((*again)->resumed());
  EXPECT_EQ(BodyOf((*again)->Exchange(kGet)), "twelve");
}

// Verify that a client that sends part of a ClientHello and no more has its
// connection closed once the head's time (the handshake's) has passed.
TEST_P(EdgeProxyTlsTest, PartialClientHelloTimesOut) {
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("ok"); });
  options_.header_timeout = std::chrono::milliseconds(300);
  Start(upstream);
  const int fd = skiff::testing::ConnectLoopback(proxy_->tls_port());
  ASSERT_GE(fd, 0);
  // A handshake record announcing 512 bytes, of which 4 come.
  const std::string partial("\x16\x03\x01\x02\x00\x01\x00\x01", 8);
  ASSERT_EQ(send(fd, partial.data(), partial.size(), MSG_NOSIGNAL), 8);
  const auto sent = std::chrono::steady_clock::now();
  char byte;
  // (ConnectLoopback's reads give up after 5 s: -1 with EAGAIN then.)
  const ssize_t n = recv(fd, &byte, 1, 0);
  const int error = errno;
  close(fd);
  EXPECT_TRUE(n == 0 || (n < 0 && error == ECONNRESET)) << n << " " << error;
  EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(3));
}

// Verify that once its handshake is over a connection may wait the idle time
// for its first request, not only the head's time the handshake had.
TEST_P(EdgeProxyTlsTest, HandshakenConnectionGetsTheIdleTime) {
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("late"); });
  options_.header_timeout = std::chrono::milliseconds(300);
  Start(upstream);
  auto client = Connect();
  ASSERT_TRUE(client) << client.error().ToString();
  // Past the head's time and two sweeps: the test is that time passes.
  std::this_thread::sleep_for(options_.header_timeout + 2 * EventLoop::kSweepInterval +
                              std::chrono::milliseconds(200));
  EXPECT_EQ(BodyOf((*client)->Exchange(kGet)), "late");
}

// Verify that a kept connection ended by the edge with nothing owed (its
// idle time over, the edge stopping) hears close_notify, not a bare TCP end.
TEST_P(EdgeProxyTlsTest, CleanEndsSendCloseNotify) {
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("ok"); });
  options_.idle_timeout = std::chrono::milliseconds(300);
  Start(upstream);
  auto idle = Connect();
  ASSERT_TRUE(idle) << idle.error().ToString();
  EXPECT_EQ(BodyOf((*idle)->Exchange(kGet)), "ok");
  EXPECT_TRUE((*idle)->ReadsCloseNotify());  // (within the idle time and a sweep)

  auto kept = Connect();
  ASSERT_TRUE(kept) << kept.error().ToString();
  EXPECT_EQ(BodyOf((*kept)->Exchange(kGet)), "ok");
  proxy_->Stop();
  EXPECT_TRUE((*kept)->ReadsCloseNotify());
}

// Verify that a large answer and a large request body cross TLS exactly.
TEST_P(EdgeProxyTlsTest, LargeBodiesArriveExactly) {
  const std::string body = PatternedBytes(3 << 20);
  ScriptedUpstream upstream([&](const ScriptedUpstream::Request& r) {
    return ScriptedUpstream::Ok(r.body.empty() ? body : std::to_string(r.body == body));
  });
  Start(upstream);
  auto client = Connect();
  ASSERT_TRUE(client) << client.error().ToString();
  const std::string response = (*client)->Exchange(kGet);
  EXPECT_EQ(StatusOf(response), 200);
  EXPECT_TRUE(BodyOf(response) == body) << "the body arrived altered";
  const std::string post =
      "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  EXPECT_EQ(BodyOf((*client)->Exchange(post)), "1");
}

// Verify that an upgrade becomes a tunnel over TLS: bytes pass both ways
// after the 101 (here an HTTP request the instance answers through it).
TEST_P(EdgeProxyTlsTest, WebSocketUpgradeTunnels) {
  ScriptedUpstream upstream([](const ScriptedUpstream::Request& r) {
    if (r.index == 0) {
      return ScriptedUpstream::Action{
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"};
    }
    return ScriptedUpstream::Ok("through the tunnel: " + r.line);
  });
  Start(upstream);
  auto client = Connect();
  ASSERT_TRUE(client) << client.error().ToString();
  const std::string switched = (*client)->Exchange(
      "GET /ws HTTP/1.1\r\nHost: web.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_EQ(StatusOf(switched), 101) << switched;
  const std::string inner = (*client)->Exchange("GET /inner HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(BodyOf(inner), "through the tunnel: GET /inner HTTP/1.1");
}

// Verify that a compressible answer is gzipped over TLS as over plain HTTP.
TEST_P(EdgeProxyTlsTest, Gzips) {
  const std::string text(8 << 10, 'a');
  ScriptedUpstream upstream([&](const ScriptedUpstream::Request&) {
    return ScriptedUpstream::Action{
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
        std::to_string(text.size()) + "\r\n\r\n" + text};
  });
  Start(upstream);
  auto client = Connect();
  ASSERT_TRUE(client) << client.error().ToString();
  const std::string response =
      (*client)->Exchange("GET / HTTP/1.1\r\nHost: web.test\r\nAccept-Encoding: gzip\r\n\r\n");
  EXPECT_EQ(StatusOf(response), 200);
  EXPECT_NE(response.find("Content-Encoding: gzip\r\n"), std::string::npos) << response;
  EXPECT_LT(response.size(), text.size() / 4);
}

// Verify that a stop lets a TLS request in flight finish before the edge
// closes.
TEST_P(EdgeProxyTlsTest, StopDrainsARequestInFlight) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> arrived;
  ScriptedUpstream upstream([&](const ScriptedUpstream::Request&) {
    arrived.set_value();
    released.wait();
    return ScriptedUpstream::Ok("finished");
  });
  Start(upstream);
  auto client = Connect();
  ASSERT_TRUE(client) << client.error().ToString();
  ASSERT_TRUE((*client)->Send(kGet));
  arrived.get_future().wait();
  std::thread stopper([&] { proxy_->Stop(); });
  release.set_value();
  const std::string response = (*client)->ReadResponse();
  stopper.join();
  EXPECT_EQ(StatusOf(response), 200) << response;
  EXPECT_EQ(BodyOf(response), "finished");
}

// Verify that with https_redirect the plain listener answers 301 to the same
// host, path and query over https (the TLS port named), that HSTS comes with
// answers over TLS only, and that an ACME challenge is answered for any host
// before routing, redirect or not, while an unknown token is routed as any
// request (an app's own certbot gets its challenges).
TEST_P(EdgeProxyTlsTest, RedirectHstsAndChallenges) {
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("app"); });
  model::EdgePolicy policy;
  policy.https_redirect = true;
  policy.hsts = std::chrono::hours(24);
  Start(upstream, policy, {{"tok-1", "tok-1.thumbprint"}});

  auto redirected = PlainGet("/a/b?c=d", "Web.Test:8080");
  ASSERT_TRUE(redirected) << redirected.error().ToString();
  EXPECT_EQ(redirected->status, 301);
  EXPECT_EQ(redirected->Header("location"),
            "https://web.test:" + std::to_string(proxy_->tls_port()) + "/a/b?c=d");
  EXPECT_EQ(upstream.requests().size(), 0u);
  // Another app (no redirect) is served on the plain listener, without HSTS.
  auto shop = PlainGet("/", "a.shop.test");
  ASSERT_TRUE(shop) << shop.error().ToString();
  EXPECT_EQ(shop->status, 200);
  EXPECT_EQ(shop->Header("strict-transport-security"), "");

  for (const std::string host : {"web.test", "unknown.test"}) {
    auto challenge = PlainGet("/.well-known/acme-challenge/tok-1", host);
    ASSERT_TRUE(challenge) << challenge.error().ToString();
    EXPECT_EQ(challenge->status, 200) << host;
    EXPECT_EQ(challenge->body, "tok-1.thumbprint");
  }
  auto unknown = PlainGet("/.well-known/acme-challenge/tok-2", "a.shop.test");
  ASSERT_TRUE(unknown) << unknown.error().ToString();
  EXPECT_EQ(unknown->status, 200);
  EXPECT_EQ(unknown->body, "app");
  ASSERT_EQ(upstream.requests().size(), 2u);
  EXPECT_EQ(upstream.requests()[1].line, "GET /.well-known/acme-challenge/tok-2 HTTP/1.1");
  auto redirected_unknown = PlainGet("/.well-known/acme-challenge/tok-2", "web.test");
  ASSERT_TRUE(redirected_unknown) << redirected_unknown.error().ToString();
  EXPECT_EQ(redirected_unknown->status, 301);
  auto unrouted = PlainGet("/.well-known/acme-challenge/tok-2", "unknown.test");
  ASSERT_TRUE(unrouted) << unrouted.error().ToString();
  EXPECT_EQ(unrouted->status, 404);
  EXPECT_EQ(unrouted->body, "no app is served at unknown.test/.well-known/acme-challenge/tok-2\n");

  auto client = Connect();
  ASSERT_TRUE(client) << client.error().ToString();
  const std::string response = (*client)->Exchange(kGet);
  EXPECT_EQ(StatusOf(response), 200);
  EXPECT_NE(response.find("\r\nStrict-Transport-Security: max-age=86400\r\n"), std::string::npos)
      << response;
}

// Verify that an app with edge.tls off is not served on the TLS listener
// (421) but is on the plain one.
TEST_P(EdgeProxyTlsTest, TlsOffAppIsRefusedOverTls) {
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("app"); });
  model::EdgePolicy policy;
  policy.tls = model::EdgeTls::kOff;
  policy.https_redirect = true;  // (meaningless with tls off: not redirected)
  Start(upstream, policy);
  auto client = Connect();
  ASSERT_TRUE(client) << client.error().ToString();
  EXPECT_EQ(StatusOf((*client)->Exchange(kGet)), 421);
  auto plain = PlainGet("/", "web.test");
  ASSERT_TRUE(plain) << plain.error().ToString();
  EXPECT_EQ(plain->status, 200);
}

// Verify that garbage instead of a ClientHello closes that connection only:
// another is served meanwhile and after.
TEST_P(EdgeProxyTlsTest, GarbageClosesThatConnectionOnly) {
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("ok"); });
  Start(upstream);
  auto kept = Connect();
  ASSERT_TRUE(kept) << kept.error().ToString();
  const int raw = skiff::testing::ConnectLoopback(proxy_->tls_port());
  ASSERT_GE(raw, 0);
  const timeval timeout{.tv_sec = 10, .tv_usec = 0};
  setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const std::string garbage = "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n";
  ASSERT_EQ(send(raw, garbage.data(), garbage.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(garbage.size()));
  // The edge ends it (an alert at most, then the end): never an answer.
  std::string got;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = recv(raw, buffer, sizeof buffer, 0)) > 0) got.append(buffer, n);
  close(raw);
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << "errno " << errno;
  EXPECT_EQ(got.find("HTTP/1.1"), std::string::npos) << got;
  EXPECT_EQ(StatusOf((*kept)->Exchange(kGet)), 200);
  auto fresh = Connect();
  ASSERT_TRUE(fresh) << fresh.error().ToString();
  EXPECT_EQ(StatusOf((*fresh)->Exchange(kGet)), 200);
}

// Verify that the ticket keys rotate: a ticket made before a rotation still
// resumes (for a ticket lifetime after its key was due to stop making
// tickets, however late the next ticket came), and one older than that gets
// a full handshake.
TEST_P(EdgeProxyTlsTest, TicketKeysRotate) {
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("ok"); });
  ManualClock clock;
  EdgeOptions options;
  options.io_engine = GetParam();
  options.tls.clock = &clock;
  options.tls.ticket_key_rotation = std::chrono::hours(12);
  options.tls.ticket_lifetime = std::chrono::hours(12);
  proxy_.emplace(options);
  protocol::AppRoutes web;
  web.name = "web";
  web.domains = {{"web.test", ""}};
  web.instances = {{"web-1", upstream.address()}};
  proxy_->SetTable(RoutingTable::Build(protocol::RouteSet{.apps = {web}}));
  ASSERT_TRUE(proxy_->Listen("127.0.0.1:0", "127.0.0.1:0"));
  // A session from a connection that read an answer (TLS 1.3 tickets come
  // after the handshake); then whether offering it resumes.
  auto session_now = [&] {
    auto c = TlsClient::Connect(proxy_->tls_port(), {.sni = "web.test"});
    EXPECT_TRUE(c);
    if (!c) return static_cast<SSL_SESSION*>(nullptr);
    EXPECT_EQ(StatusOf((*c)->Exchange(kGet)), 200);
    return (*c)->TakeSession();
  };
  auto resumes = [&](SSL_SESSION* session) {
    auto c = TlsClient::Connect(proxy_->tls_port(), {.sni = "web.test", .resume = session});
    EXPECT_TRUE(c);
    const bool resumed = c && (*c)->resumed();
    if (c) {
      EXPECT_EQ(StatusOf((*c)->Exchange(kGet)), 200);
    }
    return resumed;
  };
  SSL_SESSION* first = session_now();
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(resumes(first));
  // 20 h: a new key (the first was due at 12 h); the first still taken.
  clock.Advance(std::chrono::hours(20));
  EXPECT_TRUE(resumes(first));
  SSL_SESSION* second = session_now();
  // 25 h: the first key retired at 12 h, not at 20 h: gone.
  clock.Advance(std::chrono::hours(5));
  EXPECT_FALSE(resumes(first));
  EXPECT_TRUE(resumes(second));
  clock.Advance(std::chrono::hours(13));  // 38 h: a third key, the second still taken
  EXPECT_TRUE(resumes(second));
  SSL_SESSION_free(first);
  SSL_SESSION_free(second);
}

INSTANTIATE_TEST_SUITE_P(Engines, EdgeProxyTlsTest,
                         ::testing::ValuesIn(skiff::testing::EdgeIoEngines()),
                         [](const auto& info) { return skiff::testing::IoEngineTestName(info); });

// ---------------------------------------------------------- openssl s_client

// What `openssl s_client` prints for `arguments` against 127.0.0.1:port
// (stdin empty, so it ends after the handshake).
std::string SClient(uint16_t port, const std::string& arguments) {
  const std::string command =
      "timeout 20 openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " " + arguments +
      " </dev/null 2>&1";
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buffer;
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  pclose(pipe);
  return out;
}

class EdgeProxySClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_file_ = dir_.path() + "/ca.pem";
    std::ofstream(ca_file_) << ca_.pem();
    upstream_.emplace([](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("ok"); });
    protocol::AppRoutes web;
    web.name = "web";
    web.domains = {{"web.test", ""}};
    web.instances = {{"web-1", upstream_->address()}};
    protocol::RouteSet routes{.apps = {web}};
    routes.certificates = {ca_.Issue({"web.test"})};
    proxy_.emplace();
    proxy_->SetTable(RoutingTable::Build(routes));
    ASSERT_TRUE(proxy_->Listen("127.0.0.1:0", "127.0.0.1:0"));
  }
  void TearDown() override {
    if (proxy_) proxy_->Stop();
  }

  TestCa ca_;
  skiff::testing::TempDir dir_;
  std::string ca_file_;
  std::optional<ScriptedUpstream> upstream_;
  std::optional<EdgeProxy> proxy_;
};

// Verify that TLS 1.0 and 1.1 are refused (the client allows them: the
// server says no) and TLS 1.2 and 1.3 are taken.
TEST_F(EdgeProxySClientTest, OldVersionsRefused) {
  for (const std::string version : {"-tls1", "-tls1_1"}) {
    const std::string out =
        SClient(proxy_->tls_port(), version + " -servername web.test -cipher DEFAULT@SECLEVEL=0");
    EXPECT_EQ(out.find("BEGIN CERTIFICATE"), std::string::npos) << version << "\n" << out;
    EXPECT_NE(out.find("alert protocol version"), std::string::npos) << version << "\n" << out;
  }
  for (const std::string version : {"-tls1_2", "-tls1_3"}) {
    const std::string out =
        SClient(proxy_->tls_port(), version + " -servername web.test -CAfile " + ca_file_ +
                                        " -verify_return_error -verify_hostname web.test");
    EXPECT_NE(out.find("Verify return code: 0 (ok)"), std::string::npos) << version << "\n" << out;
  }
}

// Verify that SNI picks the app's certificate (its chain verifies against the
// test CA) and an unknown name gets the self-signed fallback.
TEST_F(EdgeProxySClientTest, SniPicksTheCertificate) {
  const std::string web = SClient(proxy_->tls_port(), "-servername web.test -CAfile " + ca_file_);
  EXPECT_NE(web.find("subject=CN = web.test"), std::string::npos) << web;
  EXPECT_NE(web.find("Verify return code: 0 (ok)"), std::string::npos) << web;
  const std::string other =
      SClient(proxy_->tls_port(), "-servername other.test -CAfile " + ca_file_);
  EXPECT_NE(other.find(std::string("subject=CN = ") + tls::TlsContext::kFallbackName),
            std::string::npos)
      << other;
  EXPECT_EQ(other.find("Verify return code: 0 (ok)"), std::string::npos) << other;
}

}  // namespace
}  // namespace skiff::edge
