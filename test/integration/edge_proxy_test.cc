// The edge against real upstream processes (the test app): failover when an
// instance dies mid-traffic, and the protections of spec.edge (rate limit,
// circuit breaker, body limit).

#include "edge/edge_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "e2e/subprocess.h"
#include "edge/routing_table.h"
#include "fakes/io_engines.h"
#include "fakes/testing.h"
#include "net/http_client.h"

namespace skiff::edge {
namespace {

using skiff::testing::FreePort;
using skiff::testing::PollUntil;
using skiff::testing::Subprocess;

// Every test runs on each I/O engine.
class EdgeProxyTest : public ::testing::TestWithParam<IoEngine> {
 protected:
  void SetUp() override { SKIFF_REQUIRE_IO_ENGINE(GetParam()); }
  // Starts `instances` test apps behind an edge serving app "web" at web.test.
  void Start(int instances = 3, model::EdgePolicy policy = {}, EdgeOptions options = {}) {
    protocol::AppRoutes app;
    app.name = "web";
    app.domains = {{"web.test", ""}};
    app.edge = policy;
    for (int i = 0; i < instances; ++i) {
      const int port = FreePort();
      apps_.push_back(std::make_unique<Subprocess>(
          std::vector<std::string>{SKIFF_TESTAPP_BIN, "--host", "127.0.0.1", "--port",
                                   std::to_string(port)},
          std::map<std::string, std::string>{{"SKIFF_INSTANCE", "web-" + std::to_string(i)}},
          dir_.File("app" + std::to_string(i) + ".log")));
      net::HttpClient probe("http://127.0.0.1:" + std::to_string(port));
      ASSERT_TRUE(PollUntil([&] {
        auto r = probe.Do("GET", "/health", {}, {}, std::chrono::seconds(1));
        return r && r->status == 200;
      }));
      addresses_.push_back("127.0.0.1:" + std::to_string(port));
      app.instances.push_back({"web-" + std::to_string(i), addresses_.back()});
    }
    options.io_engine = GetParam();
    proxy_.emplace(options);
    proxy_->SetTable(RoutingTable::Build(protocol::RouteSet{.apps = {app}}));
    ASSERT_TRUE(proxy_->Listen("127.0.0.1:0"));
  }

  void TearDown() override {
    if (proxy_) proxy_->Stop();
  }

  // A raw connection to the edge (for what HttpClient cannot do).
  int Connect() { return skiff::testing::ConnectLoopback(proxy_->port()); }
  static void SendAll(int fd, std::string_view bytes) {
    ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Reads until `until` has arrived (or the connection ends or stalls).
  static std::string ReadUntil(int fd, std::string_view until, std::string* got) {
    char buf[4096];
    while (got->find(until) == std::string::npos) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got->append(buf, static_cast<size_t>(n));
    }
    return *got;
  }

  Result<net::HttpResponse> Get(const std::string& method = "GET", const std::string& path = "/",
                                const std::string& body = "") {
    return net::HttpClient("http://127.0.0.1:" + std::to_string(proxy_->port()))
        .Do(method, path, method == "POST" && body.empty() ? "x" : body, {{"Host", "web.test"}},
            std::chrono::seconds(5));
  }

  skiff::testing::TempDir dir_;
  // Outlives the proxy: an edge thread may still count the last exchange
  // while the test body returns.
  metrics::Registry registry_;
  std::optional<EdgeProxy> proxy_;
  std::vector<std::unique_ptr<Subprocess>> apps_;
  std::vector<std::string> addresses_;  // of the instances, in start order
};

// Verify that killing an instance mid-traffic fails no GET, although the
// routes still name it: connect failures are retried elsewhere and the dead
// instance is ejected.
TEST_P(EdgeProxyTest, KilledInstanceCostsGetsNothing) {
  Start();
  int failures = 0;
  for (int i = 0; i < 300; ++i) {
    if (i == 100) apps_[1]->Signal(SIGKILL);
    auto r = Get();
    if (!r || r->status != 200) {
      ++failures;
      ADD_FAILURE() << "request " << i << ": "
                    << (r ? std::to_string(r->status) + " " + r->body : r.error().ToString());
    }
  }
  EXPECT_EQ(failures, 0);
}

// Verify that a POST is never retried: with every instance gone, it fails with
// 502 after exactly one attempt (the others are not tried).
TEST_P(EdgeProxyTest, PostIsNeverRetried) {
  Start();
  for (auto& app : apps_) app->Signal(SIGKILL);
  for (auto& app : apps_) app->Wait();
  auto r = Get("POST");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  auto get = Get();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 502) << "no instance left to retry on";
}

// Verify that a client over the app's rate limit gets 429 with Retry-After,
// after its burst went through.
TEST_P(EdgeProxyTest, RateLimitAnswers429) {
  Start(1, {.rate_limit = model::RateLimit{.average = 1, .burst = 3}});
  for (int i = 0; i < 3; ++i) {
    auto r = Get();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "request " << i << " is within the burst";
  }
  auto refused = Get();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(refused->Header("Retry-After"), "1");
}

// Verify that the circuit breaker answers 503 while the app has max_in_flight
// requests in flight, and lets requests through again once they finished.
TEST_P(EdgeProxyTest, CircuitBreakerAnswers503) {
  metrics::Registry& registry = registry_;
  EdgeOptions options;
  options.metrics = &registry;
  Start(1, {.max_in_flight = 1}, options);
  // The slow request may itself meet one of the probes below in the slot: it
  // tries until it got in.
  std::thread slow([this] {
    EXPECT_TRUE(PollUntil([&] {
      auto r = Get("GET", "/sleep?ms=1000");
      return r && r->status == 200;
    }));
  });
  // While the slow request holds the only slot, others are refused at once.
  EXPECT_TRUE(PollUntil([&] {
    auto r = Get();
    return r && r->status == 503;
  }));
  slow.join();
  auto after = Get();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  // Refused requests were counted as 5xx and left nothing in flight (the edge
  // counts a request's end just after its last byte went out: poll for it).
  std::string exposition;
  EXPECT_TRUE(PollUntil([&] {
    exposition = registry.Render();
    return exposition.find("skiff_edge_in_flight{app=\"web\"} 0\n") != std::string::npos;
  })) << exposition;
  EXPECT_NE(exposition.find("skiff_edge_requests_total{app=\"web\",code=\"5xx\"}"),
            std::string::npos)
      << exposition;
  metrics::TrafficSnapshot traffic = proxy_->Traffic();
  EXPECT_GE(traffic.apps["web"].by_class[2], 2u);
  EXPECT_GE(traffic.apps["web"].by_class[5], 1u);
  EXPECT_EQ(traffic.apps["web"].in_flight, 0);
}

// Verify that a body over the app's edge.max_body is refused with 413 before
// it reaches an instance, and one within it goes through.
TEST_P(EdgeProxyTest, BodyLimitAnswers413) {
  Start(1, {.max_body = 1024});
  auto big = Get("POST", "/", std::string(2048, 'x'));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  auto small = Get("POST", "/", std::string(512, 'x'));
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
}

// Verify what the instance is told: X-Forwarded-For keeps earlier proxies in
// order and adds the client, no Expect or hop-by-hop header passes, and a HEAD
// answer keeps the length the GET would have.
TEST_P(EdgeProxyTest, ForwardsHeadersFaithfully) {
  Start(1);
  net::HttpClient client("http://127.0.0.1:" + std::to_string(proxy_->port()));
  auto seen = client.Do("GET", "/headers", {},
                        {{"Host", "web.test"},
                         {"X-Forwarded-For", "10.0.0.1"},
                         {"X-Forwarded-For", "10.0.0.2"},
                         {"Expect", "100-continue"},
                         {"Connection", "close, X-Secret"},
                         {"X-Secret", "hop"}},
                        std::chrono::seconds(5));
  ASSERT_TRUE(seen);
  ASSERT_EQ(seen->status, 200);
  EXPECT_NE(seen->body.find("X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.1\r\n"),
            std::string::npos)
      << seen->body;
  EXPECT_EQ(seen->body.find("Expect:"), std::string::npos) << seen->body;
  EXPECT_EQ(seen->body.find("X-Secret"), std::string::npos) << seen->body;

  auto get = client.Do("GET", "/", {}, {{"Host", "web.test"}}, std::chrono::seconds(5));
  auto head = client.Do("HEAD", "/", {}, {{"Host", "web.test"}}, std::chrono::seconds(5));
  ASSERT_TRUE(get && head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("Content-Length"), std::to_string(get->body.size()));
  EXPECT_TRUE(head->body.empty());
}

// Verify that a streamed response (server-sent events) reaches the client as
// it comes: the instance sends its last piece only once told to, after the
// client saw the first — an edge that buffered answers would never deliver it.
TEST_P(EdgeProxyTest, StreamsResponsesAsTheyCome) {
  Start(1);
  std::string received;
  bool released = false;
  net::HttpClient edge("http://127.0.0.1:" + std::to_string(proxy_->port()));
  auto status = edge.Stream(
      "GET", "/stream", {{"Host", "web.test"}},
      [&](std::string_view chunk) {
        received += chunk;
        if (!released && received.find("first\n") != std::string::npos) {
          released = true;
          auto r = net::HttpClient("http://" + addresses_[0])
                       .Do("GET", "/release", {}, {}, std::chrono::seconds(5));
          EXPECT_TRUE(r && r->status == 200);
        }
        return true;
      },
      std::chrono::seconds(10));
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(*status, 200);
  EXPECT_TRUE(released);
  EXPECT_EQ(received, "first\nlast\n");
}

// Verify that a large sized response (relayed as it comes, not held whole)
// arrives complete, and that a small one is still answered with its length.
TEST_P(EdgeProxyTest, RelaysLargeResponsesWhole) {
  Start(1);
  auto big = Get("GET", "/big?kb=3072");
  ASSERT_TRUE(big) << big.error().ToString();
  EXPECT_EQ(big->status, 200);
  EXPECT_EQ(big->body.size(), 3072u * 1024);
  EXPECT_EQ(big->body.find_first_not_of('x'), std::string::npos);
  auto small = Get("GET", "/big?kb=1");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->Header("Content-Length"), "1024");
}

// Verify that an Upgrade request becomes a two-way tunnel once the instance
// answers 101: bytes sent after it come back from the instance's echo.
TEST_P(EdgeProxyTest, UpgradeBecomesATunnel) {
  Start(1);
  int fd = Connect();
  ASSERT_GE(fd, 0);
  SendAll(fd,
          "GET /upgrade HTTP/1.1\r\nHost: web.test\r\nConnection: Upgrade\r\n"
          "Upgrade: echo\r\n\r\n");
  std::string got;
  ReadUntil(fd, "\r\n\r\n", &got);
  EXPECT_EQ(got.substr(0, 12), "HTTP/1.1 101") << got;
  EXPECT_NE(got.find("Upgrade: echo\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: upgrade\r\n"), std::string::npos) << got;
  got.clear();
  SendAll(fd, "ping 1");
  ReadUntil(fd, "ping 1", &got);
  EXPECT_EQ(got, "ping 1");
  got.clear();
  SendAll(fd, "and ping 2");
  ReadUntil(fd, "and ping 2", &got);
  EXPECT_EQ(got, "and ping 2");
  close(fd);
}

std::string Gunzip(std::string_view zipped) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zipped.data()));
  z.avail_in = static_cast<uInt>(zipped.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

// Verify that a compressible answer is gzipped for a client that accepts it
// (and decodes to the instance's body), and not for one that does not.
TEST_P(EdgeProxyTest, GzipsWhenTheClientAcceptsIt) {
  Start(1);
  net::HttpClient client("http://127.0.0.1:" + std::to_string(proxy_->port()));
  auto zipped =
      client.Do("GET", "/big?kb=64", {}, {{"Host", "web.test"}, {"Accept-Encoding", "gzip"}},
                std::chrono::seconds(5));
  ASSERT_TRUE(zipped) << zipped.error().ToString();
  EXPECT_EQ(zipped->status, 200);
  EXPECT_EQ(zipped->Header("Content-Encoding"), "gzip");
  EXPECT_EQ(zipped->Header("Vary"), "Accept-Encoding");
  EXPECT_LT(zipped->body.size(), 4096u) << "64 KiB of one letter compresses well";
  EXPECT_EQ(Gunzip(zipped->body), std::string(64 * 1024, 'x'));

  auto plain = client.Do("GET", "/big?kb=64", {}, {{"Host", "web.test"}}, std::chrono::seconds(5));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->Header("Content-Encoding"), "");
  EXPECT_EQ(plain->body.size(), 64u * 1024);
}

// Verify that requests pipelined on one connection are answered in order,
// each with its own request id.
TEST_P(EdgeProxyTest, PipelinedRequestsAnsweredInOrder) {
  Start(1);
  int fd = Connect();
  ASSERT_GE(fd, 0);
  SendAll(fd,
          "GET /env/SKIFF_INSTANCE HTTP/1.1\r\nHost: web.test\r\nX-Request-Id: one\r\n\r\n"
          "GET /nope HTTP/1.1\r\nHost: web.test\r\nX-Request-Id: two\r\n\r\n"
          "GET / HTTP/1.1\r\nHost: nobody.test\r\nConnection: close\r\n\r\n");
  std::string got;
  ReadUntil(fd, "no app is served at nobody.test/", &got);
  close(fd);
  const size_t first = got.find("HTTP/1.1 200");
  const size_t second = got.find("HTTP/1.1 404", first);
  const size_t third = got.find("HTTP/1.1 404", second + 1);
  ASSERT_NE(third, std::string::npos) << got;
  EXPECT_LT(got.find("X-Request-Id: one"), second) << got;
  EXPECT_NE(got.find("X-Request-Id: two", second), std::string::npos) << got;
  EXPECT_NE(got.find("web-0", first), std::string::npos) << got;
}

// Verify the access log: one JSON line per request with its app, status,
// upstream and request id.
TEST_P(EdgeProxyTest, AccessLogHasALinePerRequest) {
  const std::string path = dir_.File("access.log");
  auto log = AccessLog::Open(path);
  ASSERT_TRUE(log);
  EdgeOptions options;
  options.access_log = log->get();
  Start(1, {}, options);
  net::HttpClient client("http://127.0.0.1:" + std::to_string(proxy_->port()));
  ASSERT_TRUE(client.Do("GET", "/?x=1", {}, {{"Host", "web.test"}, {"X-Request-Id", "r-1"}},
                        std::chrono::seconds(5)));
  ASSERT_TRUE(client.Do("GET", "/", {}, {{"Host", "nobody.test"}}, std::chrono::seconds(5)));
  proxy_->Stop();
  std::ifstream in(path);
  std::string first, second, third;
  std::getline(in, first);
  std::getline(in, second);
  EXPECT_FALSE(std::getline(in, third)) << third;
  EXPECT_NE(first.find("\"method\":\"GET\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"target\":\"/?x=1\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"app\":\"web\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"status\":200"), std::string::npos) << first;
  EXPECT_NE(first.find("\"upstream\":\"" + addresses_[0] + "\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"request_id\":\"r-1\""), std::string::npos) << first;
  EXPECT_NE(second.find("\"status\":404"), std::string::npos) << second;
  EXPECT_NE(second.find("\"host\":\"nobody.test\""), std::string::npos) << second;
}

// Verify that an instance slower than the app's edge.timeouts.response gets
// the client a 504, and a fast one still answers.
TEST_P(EdgeProxyTest, SlowInstanceAnswers504) {
  model::EdgePolicy policy;
  policy.response_timeout = std::chrono::milliseconds(300);
  Start(1, policy);
  auto slow = Get("GET", "/sleep?ms=3000");
  ASSERT_TRUE(slow) << slow.error().ToString();
  EXPECT_EQ(slow->status, 504) << slow->body;
  auto fast = Get("GET", "/sleep?ms=1");
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->status, 200);
}

// Verify the global connection cap: past max_connections a new connection
// gets a 503 with Retry-After and is closed, while the open ones still work.
TEST_P(EdgeProxyTest, ConnectionCapAnswers503) {
  EdgeOptions options;
  options.max_connections = 2;
  Start(1, {}, options);
  int first = Connect();
  int second = Connect();
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  ASSERT_TRUE(PollUntil([&] { return proxy_->connection_count() == 2; }));
  int third = Connect();
  ASSERT_GE(third, 0);
  std::string refused;
  ReadUntil(third, "\r\n\r\n", &refused);
  close(third);
  EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 503") << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
  SendAll(first, "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n");
  std::string served;
  ReadUntil(first, "rev", &served);
  EXPECT_EQ(served.substr(0, 12), "HTTP/1.1 200") << served;
  close(first);
  close(second);
}

// Verify that the edge spreads connections over its threads and serves on
// each of them.
TEST_P(EdgeProxyTest, ServesOnSeveralThreads) {
  EdgeOptions options;
  options.threads = 3;
  Start(2, {}, options);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto r = Get();
        if (r && r->status == 200) ++ok;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), 300);
}

// Verify that a body larger than the edge's buffer is streamed to the
// instance whole (the edge holds no body in memory), within the app's limit.
TEST_P(EdgeProxyTest, StreamsLargeRequestBodies) {
  Start(1);
  const std::string body(5 << 20, 'x');
  auto r = Get("POST", "/count", body);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body,
            std::to_string(body.size()) + " bytes, " + std::to_string(body.size()) + " x\n");
}

// Verify that a client leaving mid-request (half its body sent, or reset
// while the instance works) ends only its own connection: the edge serves on.
TEST_P(EdgeProxyTest, ClientLeavingMidRequestEndsOnlyItself) {
  metrics::Registry& registry = registry_;
  EdgeOptions options;
  options.metrics = &registry;
  Start(1, {}, options);
  // In flight: the edge has taken the request and is at the instance with it.
  auto in_flight = [&] {
    return registry.Render().find("skiff_edge_in_flight{app=\"web\"} 1\n") != std::string::npos;
  };
  int half = Connect();
  ASSERT_GE(half, 0);
  SendAll(half, "POST /count HTTP/1.1\r\nHost: web.test\r\nContent-Length: 100\r\n\r\n0123456789");
  ASSERT_TRUE(PollUntil(in_flight));
  close(half);
  ASSERT_TRUE(PollUntil([&] { return proxy_->connection_count() == 0; }));
  int reset = Connect();
  ASSERT_GE(reset, 0);
  SendAll(reset, "GET /sleep?ms=500 HTTP/1.1\r\nHost: web.test\r\n\r\n");
  ASSERT_TRUE(PollUntil(in_flight));
  linger abort{1, 0};  // close with a reset
  setsockopt(reset, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  close(reset);
  // The edge runs in this process: had it crashed, the test would have too.
  ASSERT_TRUE(PollUntil([&] { return proxy_->connection_count() == 0; }));
  auto after = Get();
  ASSERT_TRUE(after) << after.error().ToString();
  EXPECT_EQ(after->status, 200);
}

// Verify that a body without a length ends when the instance closes, whole
// and properly ended (re-chunked for an HTTP/1.1 client) — even when the
// last data and the close arrive together.
TEST_P(EdgeProxyTest, UnsizedBodyEndsWhenTheInstanceCloses) {
  model::EdgePolicy policy;
  policy.response_timeout = std::chrono::seconds(3);
  Start(1, policy);
  for (int i = 0; i < 10; ++i) {
    auto r = Get("GET", "/unsized?kb=100");
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->status, 200);
    // Cut short at the response timeout, the body would lack its end.
    EXPECT_EQ(r->body.size(), 100u * 1024) << "request " << i;
  }
}

// Verify that a client pipelining requests without reading the answers is
// not read further while its answers wait: the edge's memory stays bounded.
TEST_P(EdgeProxyTest, UnreadAnswersStopTheReading) {
  Start(1);
  int fd = Connect();
  ASSERT_GE(fd, 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  timeval wait{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
  const std::string request =
      "GET /" + std::string(2000, 'a') + " HTTP/1.1\r\nHost: nobody.test\r\n\r\n";
  size_t sent = 0;
  for (int i = 0; i < 20000; ++i) {
    ssize_t n = send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    if (n <= 0) break;  // the edge stopped reading: our send buffer filled
    sent += static_cast<size_t>(n);
  }
  close(fd);
  EXPECT_LT(sent, size_t{20000} * request.size()) << "the edge kept reading requests whose "
                                                     "answers nobody read";
}

INSTANTIATE_TEST_SUITE_P(Engines, EdgeProxyTest,
                         ::testing::ValuesIn(skiff::testing::EdgeIoEngines()),
                         [](const auto& info) { return skiff::testing::IoEngineTestName(info); });

}  // namespace
}  // namespace skiff::edge
