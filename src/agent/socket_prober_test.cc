#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "agent/prober.h"

namespace skiff::agent {
namespace {

using namespace std::chrono_literals;

// A listening socket on 127.0.0.1:0 that answers one connection with `reply`
// (or with nothing, holding the connection open, when `reply` is empty).
class OneShotServer {
 public:
  explicit OneShotServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      char buf[1024];
      ssize_t n = ::recv(conn, buf, sizeof(buf), 0);
      if (n > 0) request_.assign(buf, static_cast<size_t>(n));
      if (!reply_.empty()) {
        (void)!::send(conn, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      } else {
        // Hold the connection until the client gives up.
        while (::recv(conn, buf, sizeof(buf), 0) > 0) {
        }
      }
      ::close(conn);
    });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  // The request received. REQUIRES: the one connection was answered.
  std::string request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::string request_;
  std::thread thread_;
};

model::HealthCheck Check(model::HealthType type) {
  model::HealthCheck check;
  check.type = type;
  check.path = "/healthz";
  check.timeout = 2s;
  return check;
}

// Verify that an http check passes on 2xx and 3xx and fails on 5xx with the status in the message.
TEST(SocketProberTest, HttpStatus) {
  auto prober = NewSocketProber();
  {
    OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    auto result = prober->Probe(Check(model::HealthType::kHttp), "127.0.0.1", server.port());
    EXPECT_TRUE(result.ok);
    EXPECT_EQ(result.message, "GET /healthz returned 200");
  }
  {
    OneShotServer server("HTTP/1.0 302 Found\r\n\r\n");
    EXPECT_TRUE(prober->Probe(Check(model::HealthType::kHttp), "127.0.0.1", server.port()).ok);
  }
  {
    OneShotServer server("HTTP/1.1 503 Service Unavailable\r\n\r\n");
    auto result = prober->Probe(Check(model::HealthType::kHttp), "127.0.0.1", server.port());
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.message, "GET /healthz returned 503");
  }
}

// Verify that the http request names the path and the host.
TEST(SocketProberTest, HttpRequestShape) {
  auto prober = NewSocketProber();
  OneShotServer server("HTTP/1.1 204 No Content\r\n\r\n");
  const int port = server.port();
  EXPECT_TRUE(prober->Probe(Check(model::HealthType::kHttp), "127.0.0.1", port).ok);
  const std::string request = server.request();
  EXPECT_EQ(request.rfind("GET /healthz HTTP/1.0\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Host: 127.0.0.1:" + std::to_string(port)), std::string::npos);
}

// Verify that a tcp check passes when a connection is accepted and fails when refused.
TEST(SocketProberTest, Tcp) {
  auto prober = NewSocketProber();
  int port = 0;
  {
    OneShotServer server("x");
    port = server.port();
    auto result = prober->Probe(Check(model::HealthType::kTcp), "127.0.0.1", port);
    EXPECT_TRUE(result.ok) << result.message;
  }
  auto refused = prober->Probe(Check(model::HealthType::kTcp), "127.0.0.1", port);
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.message.find("Connection refused"), std::string::npos) << refused.message;
}

// Verify that a server that never answers fails the probe after the timeout.
TEST(SocketProberTest, Timeout) {
  auto prober = NewSocketProber();
  OneShotServer server("");
  model::HealthCheck check = Check(model::HealthType::kHttp);
  check.timeout = 100ms;
  auto result = prober->Probe(check, "127.0.0.1", server.port());
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.message, "GET /healthz: timed out after 100ms");
}

// Verify that a none check always passes without touching the network.
TEST(SocketProberTest, None) {
  auto prober = NewSocketProber();
  EXPECT_TRUE(prober->Probe(Check(model::HealthType::kNone), "127.0.0.1", 1).ok);
}

}  // namespace
}  // namespace skiff::agent
