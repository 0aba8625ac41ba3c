#include "edge/tls/tls_connection.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "fakes/testing.h"
#include "fakes/tls_client.h"

namespace skiff::edge::tls {
namespace {

// A TlsConnection on one end of a socket pair (the edge's side, non-blocking,
// read through an epoll loop's Recv), a blocking OpenSSL client on the other.
class TlsConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    server_fd_ = fds[0];
    client_fd_ = fds[1];
    ASSERT_EQ(fcntl(server_fd_, F_SETFL, O_NONBLOCK), 0);
    auto loop = EventLoop::Create(IoEngine::kEpoll);
    ASSERT_TRUE(loop) << loop.error().ToString();
    loop_ = std::move(*loop);
    auto context = TlsContext::Create();
    ASSERT_TRUE(context) << context.error().ToString();
    context_ = std::move(*context);
    auto connection =
        TlsConnection::Create(*context_, CertTable::Build({}), loop_.get(), server_fd_);
    ASSERT_TRUE(connection) << connection.error().ToString();
    connection_ = std::move(*connection);
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    client_ = SSL_new(client_ctx_);
    SSL_set_fd(client_, client_fd_);
  }
  void TearDown() override {
    if (client_ != nullptr) SSL_free(client_);
    if (client_ctx_ != nullptr) SSL_CTX_free(client_ctx_);
    connection_.reset();
    close(server_fd_);
    close(client_fd_);
  }
  // Reads into `buffer` until the connection gives something other than
  // "nothing now", sending what it writes to the client; -2 when it never did.
  ssize_t ReadUntilAnswer(char* buffer, size_t size, int* error) {
    ssize_t result = -2;
    skiff::testing::PollUntil(
        [&] {
          const ssize_t n = connection_->Read(buffer, size);
          *error = errno;
          std::string& out = connection_->out();
          if (!out.empty() && send(server_fd_, out.data(), out.size(), MSG_NOSIGNAL) < 0) {
            ADD_FAILURE() << "send: " << errno;
          }
          connection_->ClearOut();
          if (n < 0 && *error == EAGAIN) return false;
          result = n;
          return true;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(1));
    return result;
  }

  int server_fd_ = -1;
  int client_fd_ = -1;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<TlsContext> context_;
  std::unique_ptr<TlsConnection> connection_;
  SSL_CTX* client_ctx_ = nullptr;
  SSL* client_ = nullptr;
};

// Verify that a client that ends its TCP side after the handshake, without
// close_notify, reads as the end (0), not as a TLS failure.
TEST_F(TlsConnectionTest, TcpEndWithoutCloseNotifyReadsAsTheEnd) {
  std::thread client([&] {
    EXPECT_EQ(SSL_connect(client_), 1);
    shutdown(client_fd_, SHUT_WR);
  });
  int error = 0;
  char buffer[256];
  const ssize_t n = ReadUntilAnswer(buffer, sizeof buffer, &error);
  client.join();
  EXPECT_TRUE(connection_->handshake_done());
  EXPECT_EQ(n, 0) << "errno " << error;
}

// Verify that request bytes are read, and that a large answer's ciphertext
// buffer gives its memory back once cleared.
TEST_F(TlsConnectionTest, ReadsWritesAndGivesLargeBuffersBack) {
  std::thread client([&] {
    EXPECT_EQ(SSL_connect(client_), 1);
    size_t put = 0;
    EXPECT_EQ(SSL_write_ex(client_, "ping", 4, &put), 1);
  });
  int error = 0;
  char buffer[16];
  const ssize_t n = ReadUntilAnswer(buffer, sizeof buffer, &error);
  client.join();
  ASSERT_EQ(n, 4) << "errno " << error;
  EXPECT_EQ(std::string(buffer, 4), "ping");

  const std::string big(256 << 10, 'x');
  const iovec v{const_cast<char*>(big.data()), big.size()};
  ASSERT_TRUE(connection_->Write(&v, 1));
  EXPECT_GT(connection_->out().size(), big.size());
  connection_->ClearOut();
  EXPECT_LE(connection_->out().capacity(), kKeepBufferBytes);
}

}  // namespace
}  // namespace skiff::edge::tls
