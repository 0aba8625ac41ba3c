// Request smuggling against the edge: each vector is a request whose framing
// two parsers could read differently (Content-Length vs Transfer-Encoding,
// duplicates, folded or odd headers, bad chunks). The edge must refuse it with
// a 4xx and close the connection, and the upstream behind it — a recorder that
// logs every request line it gets — must never see the smuggled request.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "edge/edge_proxy.h"
#include "edge/routing_table.h"
#include "fakes/io_engines.h"
#include "fakes/testing.h"
#include "net/http_server.h"

namespace skiff::edge {
namespace {

// An upstream that records the request line of everything it is sent (it
// reads naively: every line starting with a method and ending in HTTP/1.x
// counts) and answers each read with a small 200.
class Recorder {
 public:
  Recorder() {
    listen_fd_ = skiff::testing::ListenLoopback(&port_);
    thread_ = std::thread([this] { Accept(); });
  }
  ~Recorder() {
    stopping_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::string Seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void Accept() {
    std::vector<std::thread> connections;
    while (!stopping_) {
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) break;
      connections.emplace_back([this, fd] {
        char buf[65536];
        timeval timeout{2, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        while (true) {
          ssize_t n = recv(fd, buf, sizeof(buf), 0);
          if (n <= 0) break;
          {
            std::lock_guard lock(mu_);
            seen_.append(buf, static_cast<size_t>(n));
          }
          static constexpr char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
          send(fd, kOk, sizeof(kOk) - 1, MSG_NOSIGNAL);
        }
        close(fd);
      });
    }
    for (std::thread& t : connections) t.join();
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::string seen_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

struct Vector {
  const char* name;
  std::string request;
};

// Every vector smuggles "GET /smuggled" one way or another.
const Vector kVectors[] = {
    {"ClAndTe",
     "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 4\r\nTransfer-Encoding: "
     "chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"TeAndCl",
     "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\nContent-Length: "
     "4\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n0\r\n\r\n"},
    {"DuplicateClDifferent",
     "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 0\r\n"
     "Content-Length: 44\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"DuplicateClSame",
     "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 0\r\nContent-Length: "
     "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"ClList",
     "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 0, 44\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"ClPlusSign",
     "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: +0\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"ClNotANumber",
     "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 0x0\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"ClOverflow",
     "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 18446744073709551617\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"TeNotChunkedLast",
     "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked, "
     "identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"TeUnknown",
     "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: xchunked\r\n\r\n"
     "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"TeDuplicate",
     "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: "
     "web.test\r\n\r\n"},
    {"TeObsFold",
     "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding:\r\n chunked\r\n"
     "Content-Length: 4\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"ObsFold",
     "GET / HTTP/1.1\r\nHost: web.test\r\nX-Folded: a\r\n b\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"BareLf",
     "GET / HTTP/1.1\nHost: web.test\nContent-Length: 44\n\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"NulInValue", std::string("GET / HTTP/1.1\r\nHost: web.test\r\nX-Nul: a\0b\r\n\r\n", 46) +
                       "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"CrInValue",
     "GET / HTTP/1.1\r\nHost: web.test\r\nX-Cr: a\rContent-Length: 44\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"EmptyHeaderName",
     "GET / HTTP/1.1\r\nHost: web.test\r\n: x\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"SpaceBeforeColon",
     "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length : 44\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"SpaceInName",
     "POST / HTTP/1.1\r\nHost: web.test\r\nContent Length: 44\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"DuplicateHost",
     "GET / HTTP/1.1\r\nHost: web.test\r\nHost: other.test\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"BadChunkSize",
     "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n"
     "zz\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n0\r\n\r\n"},
    {"ChunkSizeOverflow",
     "POST / HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n"
     "10000000000000000000001\r\nGET /smuggled HTTP/1.1\r\n\r\n0\r\n\r\n"},
    {"ChunkedInHttp10",
     "POST / HTTP/1.0\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"LongRequestLine", "GET /" + std::string(9000, 'a') +
                            " HTTP/1.1\r\nHost: web.test\r\n\r\nGET /smuggled HTTP/1.1\r\n"
                            "Host: web.test\r\n\r\n"},
    {"LongHeaderLine", "GET / HTTP/1.1\r\nHost: web.test\r\nX-Long: " + std::string(9000, 'v') +
                           "\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
    {"TooManyHeaders",
     [] {
       std::string r = "GET / HTTP/1.1\r\nHost: web.test\r\n";
       for (int i = 0; i < 120; ++i) r += "X-H" + std::to_string(i) + ": v\r\n";
       return r + "\r\nGET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n";
     }()},
    {"MissingHostHttp11",
     "GET / HTTP/1.1\r\nX-Host: web.test\r\n\r\n"
     "GET /smuggled HTTP/1.1\r\nHost: web.test\r\n\r\n"},
};

void PrintTo(const Vector& v, std::ostream* os) { *os << v.name; }

// Each vector on each I/O engine.
class EdgeSmugglingTest : public ::testing::TestWithParam<std::tuple<Vector, IoEngine>> {
 protected:
  EdgeSmugglingTest() : proxy_(Options(std::get<1>(GetParam()))) {}
  static EdgeOptions Options(IoEngine engine) {
    EdgeOptions options;
    options.io_engine = engine;
    return options;
  }
  void SetUp() override {
    SKIFF_REQUIRE_IO_ENGINE(std::get<1>(GetParam()));
    protocol::AppRoutes app;
    app.name = "web";
    app.domains = {{"web.test", ""}};
    app.instances = {{"web-1", "127.0.0.1:" + std::to_string(recorder_.port())}};
    proxy_.SetTable(RoutingTable::Build(protocol::RouteSet{.apps = {app}}));
    ASSERT_TRUE(proxy_.Listen("127.0.0.1:0"));
  }
  void TearDown() override { proxy_.Stop(); }

  Recorder recorder_;
  EdgeProxy proxy_;
};

// Verify that the vector is refused with a 4xx, the connection is closed, and
// the smuggled request never reaches the upstream.
TEST_P(EdgeSmugglingTest, RefusedAndNeverForwarded) {
  const Vector& v = std::get<0>(GetParam());
  int fd = skiff::testing::ConnectLoopback(proxy_.port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(send(fd, v.request.data(), v.request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(v.request.size()));
  std::string answer;
  char buf[4096];
  while (true) {  // to the end of the connection: the edge must close it
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  ASSERT_GE(answer.size(), 12u) << "no answer";
  EXPECT_EQ(answer.substr(0, 10), "HTTP/1.1 4") << answer;
  EXPECT_EQ(answer.find("HTTP/1.1 ", 1), std::string::npos)
      << "one answer only: nothing after the refusal was taken as a request\n"
      << answer;
  EXPECT_EQ(recorder_.Seen().find("/smuggled"), std::string::npos) << recorder_.Seen();
}

INSTANTIATE_TEST_SUITE_P(Vectors, EdgeSmugglingTest,
                         ::testing::Combine(::testing::ValuesIn(kVectors),
                                            ::testing::ValuesIn(skiff::testing::EdgeIoEngines())),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) +
                                  skiff::testing::IoEngineTestName(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace skiff::edge
