// The edge against scripted instances (fakes/scripted_upstream.h), for what a
// real app cannot be made to do on cue: a client that pipelines and then
// half-closes, and a kept connection the instance resets as a request
// arrives on it.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>

#include "edge/edge_proxy.h"
#include "fakes/io_engines.h"
#include "fakes/scripted_upstream.h"
#include "fakes/testing.h"
#include "net/http_client.h"

namespace skiff::edge {
namespace {

using skiff::testing::PollUntil;
using skiff::testing::ScriptedUpstream;

// A one-shot gate a script waits at until the test opens it.
class Gate {
 public:
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Every test runs on each I/O engine.
class EdgeExchangeTest : public ::testing::TestWithParam<IoEngine> {
 protected:
  EdgeExchangeTest() : proxy_(Options(GetParam())) {}
  void SetUp() override { SKIFF_REQUIRE_IO_ENGINE(GetParam()); }
  static EdgeOptions Options(IoEngine engine) {
    EdgeOptions options;
    options.io_engine = engine;
    return options;
  }
  // An edge serving app "web" at web.test from `upstream`.
  void Start(const ScriptedUpstream& upstream) {
    protocol::AppRoutes app;
    app.name = "web";
    app.domains = {{"web.test", ""}};
    app.instances = {{"web-1", upstream.address()}};
    proxy_.SetTable(RoutingTable::Build(protocol::RouteSet{.apps = {app}}));
    ASSERT_TRUE(proxy_.Listen("127.0.0.1:0"));
  }
  void TearDown() override { proxy_.Stop(); }

  Result<net::HttpResponse> Send(const std::string& method, const std::string& body = "") {
    return net::HttpClient("http://127.0.0.1:" + std::to_string(proxy_.port()))
        .Do(method, "/", body, {{"Host", "web.test"}}, std::chrono::seconds(5));
  }

  EdgeProxy proxy_;
};

// Verify that requests a client pipelined before it half-closed its side are
// all answered: the end of its input arriving while the first is at the
// instance does not drop the one waiting in the buffer.
TEST_P(EdgeExchangeTest, PipelinedRequestsBeforeAHalfCloseAreAnswered) {
  Gate first_answer;
  ScriptedUpstream upstream([&](const ScriptedUpstream::Request& r) {
    if (r.line.starts_with("GET /a ")) first_answer.Wait();
    return ScriptedUpstream::Ok(r.line.substr(4, 2));
  });
  Start(upstream);
  const int fd = skiff::testing::ConnectLoopback(proxy_.port());
  ASSERT_GE(fd, 0);
  const std::string requests =
      "GET /a HTTP/1.1\r\nHost: web.test\r\n\r\nGET /b HTTP/1.1\r\nHost: web.test\r\n\r\n";
  ASSERT_EQ(send(fd, requests.data(), requests.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(requests.size()));
  // The first is at the instance (the second waits at the edge) when the
  // client's FIN arrives.
  ASSERT_TRUE(PollUntil([&] { return upstream.requests().size() == 1; }));
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  first_answer.Open();
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
  close(fd);
  const size_t a = got.find("\r\n\r\n/a");
  const size_t b = got.find("\r\n\r\n/b");
  ASSERT_NE(a, std::string::npos) << got;
  ASSERT_NE(b, std::string::npos) << "the pipelined request was dropped:\n" << got;
  EXPECT_LT(a, b);
}

// Verify that a POST sent on a kept connection that the instance resets
// before any byte of an answer (it never took the request) is sent again,
// once, on a fresh connection, and answered.
TEST_P(EdgeExchangeTest, PostResetOnAStaleKeptConnectionIsSentAgain) {
  ScriptedUpstream upstream([](const ScriptedUpstream::Request& r) {
    if (r.connection == 0 && r.index == 1) return ScriptedUpstream::Action{.reset = true};
    return ScriptedUpstream::Ok(r.body.empty() ? "first" : "got " + r.body);
  });
  Start(upstream);
  auto first = Send("GET");
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->body, "first");  // and its connection is kept for the next

  auto post = Send("POST", "order-1");
  ASSERT_TRUE(post) << post.error().ToString();
  EXPECT_EQ(post->status, 200) << post->body;
  EXPECT_EQ(post->body, "got order-1");
  EXPECT_EQ(upstream.accepted(), 2);
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].connection, 0);  // the kept one, reset
  EXPECT_EQ(requests[2].connection, 1);  // the fresh one
  EXPECT_EQ(requests[2].line, "POST / HTTP/1.1");
}

// Verify that a POST on a fresh connection that the instance resets is not
// sent again (the instance may have taken it): 502.
TEST_P(EdgeExchangeTest, PostResetOnAFreshConnectionIsNotSentAgain) {
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Action{.reset = true}; });
  Start(upstream);
  auto post = Send("POST", "order-1");
  ASSERT_TRUE(post) << post.error().ToString();
  EXPECT_EQ(post->status, 502);
  EXPECT_EQ(upstream.requests().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Engines, EdgeExchangeTest,
                         ::testing::ValuesIn(skiff::testing::EdgeIoEngines()),
                         [](const auto& info) { return skiff::testing::IoEngineTestName(info); });

}  // namespace
}  // namespace skiff::edge
