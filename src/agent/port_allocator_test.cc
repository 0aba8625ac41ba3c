#include "agent/port_allocator.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

namespace skiff::agent {
namespace {

// Binds 127.0.0.1:0 and returns the fd and the port the kernel chose.
std::pair<int, int> Listen() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return {fd, ntohs(addr.sin_port)};
}

// Verify that allocated ports stay in range and are never handed out twice
// while held.
TEST(PortAllocatorTest, AllocatesDistinctPortsInRange) {
  auto [fd, base] = Listen();
  ::close(fd);
  if (base > 65000) base = 40000;
  PortAllocator ports("127.0.0.1", base, base + 50);
  std::set<int> got;
  for (int i = 0; i < 5; ++i) {
    auto port = ports.Allocate();
    ASSERT_TRUE(port.has_value()) << port.error().ToString();
    EXPECT_GE(*port, base);
    EXPECT_LE(*port, base + 50);
    EXPECT_TRUE(ports.IsHeld(*port));
    got.insert(*port);
  }
  EXPECT_EQ(got.size(), 5u);
}

// Verify that a port some other socket is bound to is skipped.
TEST(PortAllocatorTest, SkipsBusyPorts) {
  auto [fd, busy] = Listen();
  PortAllocator ports("127.0.0.1", busy, busy);
  auto port = ports.Allocate();
  ASSERT_FALSE(port.has_value());
  EXPECT_EQ(port.error().code, ErrorCode::kResourceExhausted);
  ::close(fd);
  EXPECT_EQ(ports.Allocate().value_or(0), busy);
}

// Verify that reserved ports (adopted instances) are not handed out.
TEST(PortAllocatorTest, ReservedPortsAreHeld) {
  auto [fd, base] = Listen();
  ::close(fd);
  PortAllocator ports("127.0.0.1", base, base);
  ports.Reserve(base);
  EXPECT_TRUE(ports.IsHeld(base));
  EXPECT_EQ(ports.Allocate().error().code, ErrorCode::kResourceExhausted);
  ports.Release(base);
  EXPECT_FALSE(ports.IsHeld(base));
  EXPECT_EQ(ports.Allocate().value_or(0), base);
}

}  // namespace
}  // namespace skiff::agent
