// EdgeProxy::Routes through real sockets: a request whose answer is still
// being relayed keeps its instance from counting as drained.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "edge/edge_proxy.h"
#include "fakes/io_engines.h"
#include "fakes/testing.h"

namespace skiff::edge {
namespace {

using testing::RecvUntil;

// An instance that takes one request: once its head arrived it sends `first`,
// then, once Release() is called, `rest`, and closes (with both empty it
// closes without a word).
class HeldUpstream {
 public:
  HeldUpstream(std::string first, std::string rest)
      : first_(std::move(first)), rest_(std::move(rest)) {
    listen_fd_ = testing::ListenLoopback(&port_);
    thread_ = std::thread([this] {
      const int conn = accept(listen_fd_, nullptr, nullptr);
      if (conn < 0) return;
      std::string got;
      const bool read = RecvUntil(conn, "\r\n\r\n", &got);
      if (read) send(conn, first_.data(), first_.size(), MSG_NOSIGNAL);
      std::unique_lock lock(mu_);
      got_request_ = read;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
      if (read) send(conn, rest_.data(), rest_.size(), MSG_NOSIGNAL);
      close(conn);
    });
  }
  ~HeldUpstream() {
    Release();
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
  }
  bool WaitForRequest() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return got_request_; });
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  const std::string first_;
  const std::string rest_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool got_request_ = false;
  bool released_ = false;
  std::thread thread_;
};

// A client connection to the edge that has sent `request`.
int SendTo(const EdgeProxy& proxy, std::string_view request) {
  const int client = testing::ConnectLoopback(proxy.port());
  EXPECT_GE(client, 0);
  EXPECT_EQ(send(client, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  return client;
}

protocol::RouteSet Routes(int64_t revision, const std::string& address,
                          const std::string& id = "web-1") {
  protocol::AppRoutes app;
  app.name = "web";
  app.domains = {{"web.test", ""}};
  if (!address.empty()) app.instances = {{id, address}};
  return {revision, {app}};
}

// Every test runs on each I/O engine.
class EdgeProxyDrainTest : public ::testing::TestWithParam<IoEngine> {
 protected:
  void SetUp() override { SKIFF_REQUIRE_IO_ENGINE(GetParam()); }
  EdgeOptions Options() const {
    EdgeOptions options;
    options.io_engine = GetParam();
    return options;
  }
};

// Verify that an instance that left the routes while its answer is still being
// relayed (the head is out, the body is not) is reported as leaving with that
// request until the body has ended.
TEST_P(EdgeProxyDrainTest, AnswerBeingRelayedCountsAsInFlight) {
  HeldUpstream upstream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n",
                        "5\r\nlast\n\r\n0\r\n\r\n");
  EdgeProxy proxy(Options());
  proxy.SetTable(RoutingTable::Build(Routes(5, upstream.address())));
  ASSERT_TRUE(proxy.Listen("127.0.0.1:0"));

  const int client = SendTo(proxy, "GET /stream HTTP/1.1\r\nHost: web.test\r\n\r\n");
  std::string got;
  ASSERT_TRUE(RecvUntil(client, "first\n", &got)) << got;

  // The instance is stopped: it leaves the routes with its answer half sent.
  proxy.SetTable(RoutingTable::Build(Routes(6, "")));
  metrics::EdgeRoutes routes = proxy.Routes();
  EXPECT_EQ(routes.revision, 6);
  EXPECT_EQ(routes.leaving, (std::map<std::string, int64_t>{{"web-1", 1}}));

  upstream.Release();
  EXPECT_TRUE(RecvUntil(client, "last\n\r\n0\r\n\r\n", &got)) << got;
  EXPECT_TRUE(testing::PollUntil([&] { return proxy.Routes().leaving.empty(); }));
  close(client);
  proxy.Stop();
}

// Verify that a retry goes by the newest routing table, not the one its
// request started with: the only instance of the old table lost the request
// after the table changed to another instance, which then answers it.
TEST_P(EdgeProxyDrainTest, RetryGoesByTheNewestTable) {
  HeldUpstream leaving("", "");
  HeldUpstream arrived("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew", "");
  arrived.Release();
  EdgeProxy proxy(Options());
  EdgeStates states;  // as the edge's route watchers build tables: states shared
  proxy.SetTable(RoutingTable::Build(Routes(5, leaving.address(), "web-1"), &states));
  ASSERT_TRUE(proxy.Listen("127.0.0.1:0"));

  const int client = SendTo(proxy, "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n");
  ASSERT_TRUE(leaving.WaitForRequest());

  proxy.SetTable(RoutingTable::Build(Routes(6, arrived.address(), "web-2"), &states));
  leaving.Release();  // closes without answering: the edge retries
  std::string got;
  EXPECT_TRUE(RecvUntil(client, "\r\n\r\nnew", &got)) << got;
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  close(client);
  proxy.Stop();
}

INSTANTIATE_TEST_SUITE_P(Engines, EdgeProxyDrainTest,
                         ::testing::ValuesIn(skiff::testing::EdgeIoEngines()),
                         [](const auto& info) { return skiff::testing::IoEngineTestName(info); });

}  // namespace
}  // namespace skiff::edge
