#include "net/host_port.h"

#include <gtest/gtest.h>

namespace skiff::net {
namespace {

// Verify the addresses ParseHostPort reads, and that what it refuses is
// kInvalidArgument naming the address.
TEST(HostPortTest, ParsesAndRefuses) {
  struct Case {
    std::string address;
    std::string host;
    int port;  // -1: refused
  } cases[] = {
      {"127.0.0.1:8080", "127.0.0.1", 8080},
      {"localhost:0", "localhost", 0},
      {":7070", "", 7070},
      {"[::1]:443", "::1", 443},
      {"[::]:65535", "::", 65535},
      {"::1:80", "::1", 80},  // the last colon ends the host (agents write IPv6 hosts so)
      {"127.0.0.1", "", -1},
      {"127.0.0.1:", "", -1},
      {"127.0.0.1:http", "", -1},
      {"127.0.0.1:65536", "", -1},
      {"127.0.0.1:-1", "", -1},
      {"127.0.0.1:80x", "", -1},
  };
  for (const Case& c : cases) {
    auto got = ParseHostPort(c.address, "listen address");
    if (c.port < 0) {
      ASSERT_FALSE(got) << c.address;
      EXPECT_EQ(got.error().code, ErrorCode::kInvalidArgument) << c.address;
      EXPECT_NE(got.error().message.find("listen address \"" + c.address + "\""), std::string::npos)
          << got.error().message;
      continue;
    }
    ASSERT_TRUE(got) << c.address << ": " << got.error().ToString();
    EXPECT_EQ(got->host, c.host) << c.address;
    EXPECT_EQ(got->port, c.port) << c.address;
  }
}

// Verify that JoinHostPort writes what ParseHostPort reads, IPv6 in brackets.
TEST(HostPortTest, JoinsWhatItParses) {
  EXPECT_EQ(JoinHostPort("127.0.0.1", 80), "127.0.0.1:80");
  EXPECT_EQ(JoinHostPort("::1", 80), "[::1]:80");
  for (std::string address : {"127.0.0.1:80", "[::1]:8080", "example.com:1"}) {
    auto parsed = ParseHostPort(address);
    ASSERT_TRUE(parsed) << address;
    EXPECT_EQ(JoinHostPort(parsed->host, parsed->port), address);
  }
}

}  // namespace
}  // namespace skiff::net
