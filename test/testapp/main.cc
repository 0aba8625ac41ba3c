// skiff-testapp: the small HTTP server that integration and end-to-end tests
// deploy. It depends on nothing beyond libc/libstdc++ so it links statically and
// can run from a FROM scratch image. One thread per connection, HTTP/1.0-style:
// every response closes its connection.
//
//   GET  /            200 "hello from <SKIFF_INSTANCE> rev <SKIFF_REVISION>\n" (+ $GREETING)
//   GET  /health      200, or 503 when UNHEALTHY=1 or after POST /sick
//   POST /sick        makes /health answer 503 from now on
//   GET  /crash       exits with code 3
//   GET  /env/NAME    the value of NAME (404 when unset)
//   GET  /sleep?ms=N  answers 200 after N milliseconds
//   GET  /headers     200, the request's header lines as received
//   GET  /stream      200 chunked: "first\n", then "last\n" once /release is called
//   GET  /release     lets /stream finish
//   GET  /big?kb=N    200, N KiB of "x" (with a Content-Length)
//   GET  /upgrade     with "Upgrade: echo": 101, then echoes every byte back
//   POST /count       reads a Content-Length body; 200 "<bytes> bytes, <x> x\n"
//   GET  /unsized?kb=N 200, N KiB of "x" with no length: the body ends at close
//   anything else     404 "not found (<SKIFF_APP>)"
//
// Environment: HOST, PORT (flags --host, --port win), START_DELAY_MS (wait before
// listening), IGNORE_SIGTERM=1 (so tests can exercise the SIGKILL path).
// Exits 0 on SIGTERM after printing "terminating", 2 when it cannot listen.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

namespace {

std::atomic<bool> g_sick{false};
// /stream holds its last chunk until /release is called (from any connection).
std::mutex g_release_mu;
std::condition_variable g_release_cv;
bool g_released = false;

std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

void OnSigterm(int) {
  // Only async-signal-safe calls here.
  static const char kMsg[] = "terminating\n";
  ssize_t ignored = write(STDOUT_FILENO, kMsg, sizeof(kMsg) - 1);
  (void)ignored;
  _exit(0);
}

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

void Respond(int fd, int status, const std::string& body) {
  const char* reason = status == 200   ? "OK"
                       : status == 404 ? "Not Found"
                       : status == 503 ? "Service Unavailable"
                                       : "Bad Request";
  std::string out =
      "HTTP/1.0 " + std::to_string(status) + " " + reason +
      "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  WriteAll(fd, out);
}

// Reads up to the end of the request head; bodies are ignored.
bool ReadHead(int fd, std::string* head) {
  char buf[4096];
  while (head->find("\r\n\r\n") == std::string::npos && head->size() < 65536) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return !head->empty();
    head->append(buf, static_cast<size_t>(n));
  }
  return true;
}

void Serve(int fd) {
  std::string head;
  if (!ReadHead(fd, &head)) {
    close(fd);
    return;
  }
  std::string line = head.substr(0, head.find("\r\n"));
  size_t sp1 = line.find(' ');
  size_t sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  if (sp1 == std::string::npos) {
    Respond(fd, 400, "bad request\n");
    close(fd);
    return;
  }
  std::string method = line.substr(0, sp1);
  std::string target =
      line.substr(sp1 + 1, sp2 == std::string::npos ? std::string::npos : sp2 - sp1 - 1);
  std::string path = target.substr(0, target.find('?'));
  std::string query =
      target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
  std::printf("%s %s\n", method.c_str(), target.c_str());

  if (path == "/") {
    std::string body = "hello from " + EnvOr("SKIFF_INSTANCE", "?") + " rev " +
                       EnvOr("SKIFF_REVISION", "?") + "\n";
    if (const char* g = std::getenv("GREETING")) body += std::string(g) + "\n";
    Respond(fd, 200, body);
  } else if (path == "/health") {
    bool sick = g_sick.load() || EnvOr("UNHEALTHY", "") == "1";
    Respond(fd, sick ? 503 : 200, sick ? "unhealthy\n" : "ok\n");
  } else if (path == "/sick" && method == "POST") {
    g_sick.store(true);
    Respond(fd, 200, "now unhealthy\n");
  } else if (path == "/crash") {
    std::printf("crashing\n");
    std::fflush(stdout);
    Respond(fd, 200, "crashing\n");
    _exit(3);
  } else if (path.rfind("/env/", 0) == 0) {
    const char* v = std::getenv(path.substr(5).c_str());
    if (v != nullptr) {
      Respond(fd, 200, v);
    } else {
      Respond(fd, 404, "unset\n");
    }
  } else if (path == "/sleep") {
    long ms = 0;
    if (query.rfind("ms=", 0) == 0) ms = std::strtol(query.c_str() + 3, nullptr, 10);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    Respond(fd, 200, "slept " + std::to_string(ms) + "ms\n");
  } else if (path == "/stream") {
    // A chunked HTTP/1.1 answer: "first\n" at once, "last\n" once /release was
    // called. A proxy that buffers answers never shows "first" before that.
    WriteAll(fd,
             "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
             "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nfirst\n\r\n");
    std::unique_lock lock(g_release_mu);
    g_release_cv.wait_for(lock, std::chrono::seconds(30), [] { return g_released; });
    WriteAll(fd, "5\r\nlast\n\r\n0\r\n\r\n");
  } else if (path == "/big") {
    long kb = 0;
    if (query.rfind("kb=", 0) == 0) kb = std::strtol(query.c_str() + 3, nullptr, 10);
    Respond(fd, 200, std::string(static_cast<size_t>(std::max(0L, kb)) * 1024, 'x'));
  } else if (path == "/unsized") {
    long kb = 0;
    if (query.rfind("kb=", 0) == 0) kb = std::strtol(query.c_str() + 3, nullptr, 10);
    WriteAll(
        fd,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n" +
            std::string(static_cast<size_t>(std::max(0L, kb)) * 1024, 'x'));
  } else if (path == "/count" && method == "POST") {
    // Reads the whole body (what a proxy streams must all arrive) and says
    // how much came and how many of it were 'x'.
    size_t length_at = head.find("Content-Length: ");
    size_t want = length_at == std::string::npos
                      ? 0
                      : std::strtoul(head.c_str() + length_at + 16, nullptr, 10);
    size_t body_at = head.find("\r\n\r\n") + 4;
    std::string body = head.substr(std::min(body_at, head.size()));
    char buf[65536];
    while (body.size() < want) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      body.append(buf, static_cast<size_t>(n));
    }
    size_t xs = static_cast<size_t>(std::count(body.begin(), body.end(), 'x'));
    Respond(fd, 200, std::to_string(body.size()) + " bytes, " + std::to_string(xs) + " x\n");
  } else if (path == "/upgrade") {
    // A protocol switch, as WebSocket does it: after the 101 the connection
    // carries raw bytes, echoed back until the peer closes.
    if (head.find("Upgrade: echo") == std::string::npos) {
      Respond(fd, 400, "ask with Upgrade: echo\n");
    } else {
      WriteAll(fd,
               "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n");
      char buf[4096];
      for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || !WriteAll(fd, std::string(buf, static_cast<size_t>(n)))) break;
      }
    }
  } else if (path == "/release") {
    {
      std::lock_guard lock(g_release_mu);
      g_released = true;
    }
    g_release_cv.notify_all();
    Respond(fd, 200, "released\n");
  } else if (path == "/headers") {
    // The request's header lines as received (what a proxy passed on).
    size_t first = head.find("\r\n");
    size_t end = head.find("\r\n\r\n");
    Respond(fd, 200, first == end ? "" : head.substr(first + 2, end - first - 2) + "\r\n");
  } else {
    Respond(fd, 404, "not found (" + EnvOr("SKIFF_APP", "?") + ")\n");
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered so the log file shows each request as it happens.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string host = EnvOr("HOST", "127.0.0.1");
  std::string port = EnvOr("PORT", "8080");
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--host") {
      host = argv[i + 1];
    } else if (flag == "--port") {
      port = argv[i + 1];
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (host == "localhost") host = "127.0.0.1";

  signal(SIGPIPE, SIG_IGN);
  if (EnvOr("IGNORE_SIGTERM", "") == "1") {
    signal(SIGTERM, SIG_IGN);
  } else {
    signal(SIGTERM, OnSigterm);
  }
  long delay_ms = std::strtol(EnvOr("START_DELAY_MS", "0").c_str(), nullptr, 10);
  if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));

  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  int family = AF_INET;
  long port_num = std::strtol(port.c_str(), nullptr, 10);
  if (port_num <= 0 || port_num > 65535) {
    std::fprintf(stderr, "bad port %s\n", port.c_str());
    return 2;
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port_num));
    addr_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port_num));
    addr_len = sizeof(sockaddr_in6);
  } else {
    std::fprintf(stderr, "bad host %s (want an IP address)\n", host.c_str());
    return 2;
  }

  int listener = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(listener, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 ||
      listen(listener, 128) != 0) {
    std::fprintf(stderr, "cannot listen on %s:%s: %s\n", host.c_str(), port.c_str(),
                 std::strerror(errno));
    return 2;
  }
  std::printf("listening on %s:%s\n", host.c_str(), port.c_str());

  while (true) {
    int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      std::fprintf(stderr, "accept: %s\n", std::strerror(errno));
      if (errno == EMFILE || errno == ENFILE) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      return 1;
    }
    std::thread(Serve, fd).detach();
  }
}
