// "host:port", the one way the tree reads and writes an address: listen
// flags, instance addresses, the addresses the edge connects to.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace skiff::net {

struct HostPort {
  std::string host;  // without brackets ("::1"); empty for ":8080" (every address)
  uint16_t port = 0;
};

// "127.0.0.1:8080", "[::1]:0", "localhost:8080", ":8080" (and "::1:80": the
// last colon ends the host). kInvalidArgument,
// naming the address as `what` ("listen address"), when there is no colon or
// the port is not a number from 0 to 65535.
Result<HostPort> ParseHostPort(std::string_view address, std::string_view what = "address");

// The text ParseHostPort reads back: brackets around an IPv6 host.
std::string JoinHostPort(std::string_view host, uint16_t port);

}  // namespace skiff::net
