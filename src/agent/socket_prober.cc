// The default Prober over plain POSIX sockets. One probe is one short-lived
// connection; everything shares one deadline of check.timeout.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "agent/prober.h"
#include "common/quantity.h"

namespace skiff::agent {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int MillisLeft(SteadyTime deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on fd until the deadline. True when ready.
bool WaitFor(int fd, short events, SteadyTime deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, MillisLeft(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

class SocketProber final : public Prober {
 public:
  ProbeResult Probe(const model::HealthCheck& check, const std::string& host, int port) override {
    if (check.type == model::HealthType::kNone) return {true, "no health check"};
    const SteadyTime deadline = std::chrono::steady_clock::now() + check.timeout;
    const std::string where = host + ":" + std::to_string(port);
    const std::string timed_out = "timed out after " + FormatDuration(check.timeout);

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    std::string service = std::to_string(port);
    if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
      return {false, "resolve " + host + ": " + ::gai_strerror(rc)};
    }
    Fd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
      ::freeaddrinfo(found);
      return {false, std::string("socket: ") + std::strerror(errno)};
    }
    int rc = ::connect(fd.get(), found->ai_addr, found->ai_addrlen);
    ::freeaddrinfo(found);
    if (rc != 0 && errno != EINPROGRESS) {
      return {false, "connect to " + where + ": " + std::strerror(errno)};
    }
    if (rc != 0) {
      if (!WaitFor(fd.get(), POLLOUT, deadline))
        return {false, "connect to " + where + ": " + timed_out};
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return {false, "connect to " + where + ": " + std::strerror(err)};
    }
    if (check.type == model::HealthType::kTcp) return {true, "connected to " + where};
    return HttpGet(fd.get(), check.path, where, deadline, timed_out);
  }

 private:
  static ProbeResult HttpGet(int fd, const std::string& path, const std::string& where,
                             SteadyTime deadline, const std::string& timed_out) {
    const std::string what = "GET " + path;
    std::string request = what + " HTTP/1.0\r\nHost: " + where +
                          "\r\nUser-Agent: skiff-health\r\nConnection: close\r\n\r\n";
    size_t sent = 0;
    while (sent < request.size()) {
      ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!WaitFor(fd, POLLOUT, deadline)) return {false, what + ": " + timed_out};
      } else {
        return {false, what + ": " + std::strerror(errno)};
      }
    }
    // Only the status line matters: "HTTP/1.1 200 OK".
    std::string response;
    while (response.find("\r\n") == std::string::npos && response.size() < 4096) {
      char buf[1024];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        response.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno == EAGAIN || errno == EINTR) {
        if (!WaitFor(fd, POLLIN, deadline)) return {false, what + ": " + timed_out};
      } else {
        return {false, what + ": " + std::strerror(errno)};
      }
    }
    int status = 0;
    if (response.rfind("HTTP/", 0) == 0) {
      size_t space = response.find(' ');
      if (space != std::string::npos && space + 4 <= response.size()) {
        const std::string code = response.substr(space + 1, 3);
        if (code.find_first_not_of("0123456789") == std::string::npos) status = std::stoi(code);
      }
    }
    if (status == 0) return {false, what + ": not an HTTP response"};
    const std::string said = what + " returned " + std::to_string(status);
    return {status >= 200 && status < 400, said};
  }
};

}  // namespace

std::unique_ptr<Prober> NewSocketProber() { return std::make_unique<SocketProber>(); }

}  // namespace skiff::agent
