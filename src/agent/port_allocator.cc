#include "agent/port_allocator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "common/check.h"

namespace skiff::agent {

PortAllocator::PortAllocator(std::string host, int first, int last)
    : host_(std::move(host)), first_(first), last_(last), next_(first) {
  SKIFF_CHECK(0 < first && first <= last && last <= 65535);
}

Result<int> PortAllocator::Allocate() {
  std::lock_guard lock(mu_);
  const int size = last_ - first_ + 1;
  for (int i = 0; i < size; ++i) {
    int port = first_ + (next_ - first_ + i) % size;
    if (held_.count(port) != 0 || !CanBind(port)) continue;
    held_.insert(port);
    next_ = port == last_ ? first_ : port + 1;
    return port;
  }
  return ResourceExhausted("no free port in " + std::to_string(first_) + "-" +
                           std::to_string(last_) + " on " + host_);
}

void PortAllocator::Reserve(int port) {
  std::lock_guard lock(mu_);
  held_.insert(port);
}

void PortAllocator::Release(int port) {
  std::lock_guard lock(mu_);
  held_.erase(port);
}

bool PortAllocator::IsHeld(int port) const {
  std::lock_guard lock(mu_);
  return held_.count(port) != 0;
}

bool PortAllocator::CanBind(int port) const {
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, host_.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v4);
  } else if (::inet_pton(AF_INET6, host_.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v6);
  } else {
    // A name, not an address: check the wildcard, which conflicts with any bind.
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_ANY);
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v4);
  }
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  // SO_REUSEADDR as servers set it, so lingering TIME_WAIT connections do not count.
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  ::close(fd);
  return ok;
}

}  // namespace skiff::agent
