// Open-loop HTTP/1.1 load at a fixed rate: the wrk2 idea, which Debian does not
// package. wrk sends a request when the last one returns, so a slow server gets
// fewer requests and its stalls hide (coordinated omission). Here request i is due
// at start + i / rate whatever happened before, goes on keep-alive connection
// i % connections (waiting there behind earlier ones if that connection is
// behind), and its latency runs from when it was due to the last byte of its
// response. One thread, epoll, sleeping until the next request is due.
// SIGTERM or SIGINT ends the run early: nothing more is sent, the answers still
// out get their time, and the line is printed as at the end of --seconds.
//
// Prints one line:
//   rate_achieved p50_ms p99_ms p999_ms errors answers_5xx answers_other failed late_p99_ms
// errors: every request that did not get a 2xx/3xx answer, the sum of
// answers_5xx, answers_other (any other status) and failed (failed connections,
// bad framing, no answer in time). late_p99_ms: how late this program itself
// got to sending a request (from when it was due to when its turn came, before
// any wait behind a busy connection): over a millisecond or so, the generator
// could not keep the rate and the latencies hold its delay too.
// Not a benchmark of its own: bench/edge_proxy.sh and bench_autoscale_step drive it.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Ns = int64_t;  // nanoseconds on CLOCK_MONOTONIC
constexpr Ns kSecond = 1'000'000'000;
constexpr Ns kDrain = 2 * kSecond;  // how long requests still out at the end may take

// Set by SIGTERM / SIGINT: stop sending, drain, report.
volatile sig_atomic_t g_fixed_rate_stop = 0;

void FixedRateOnStop(int) { g_fixed_rate_stop = 1; }

constexpr char kUsage[] =
    "usage: bench_fixed_rate --url http://HOST:PORT/PATH [--host HOST_HEADER]\n"
    "                        --rate REQ_PER_S [--connections N=64] [--seconds S=10]\n"
    "Sends GET requests at a fixed rate over N keep-alive connections (open loop)\n"
    "and prints: rate_achieved p50_ms p99_ms p999_ms errors answers_5xx answers_other\n"
    "failed late_p99_ms (errors = answers_5xx + answers_other + failed)\n"
    "Latency runs from each request's scheduled time, so queueing counts.\n"
    "SIGTERM or SIGINT stops sending early; the answers still out are awaited.\n";

Ns Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Ns{ts.tv_sec} * kSecond + ts.tv_nsec;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](unsigned char a, unsigned char b) {
           return std::tolower(a) == std::tolower(b);
         });
}

struct Options {
  std::string host, port, path, host_header;
  double rate = 0;
  int connections = 64;
  double seconds = 10;
};

bool ParseUrl(std::string_view url, Options& o) {
  if (!StartsWithNoCase(url, "http://")) return false;
  url.remove_prefix(7);
  size_t slash = std::min(url.find('/'), url.size());
  std::string_view authority = url.substr(0, slash);
  o.path = slash < url.size() ? std::string(url.substr(slash)) : "/";
  size_t colon = authority.rfind(':');
  o.host = authority.substr(0, colon);
  o.port = colon == std::string_view::npos ? "80" : authority.substr(colon + 1);
  if (o.host_header.empty()) o.host_header = authority;
  return !o.host.empty() && !o.port.empty();
}

// The exit code after --help or bad arguments; nothing to run.
std::optional<int> ParseArgs(int argc, char** argv, Options& o) {
  std::string url;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    const char* value = i + 1 < argc ? argv[++i] : "";
    if (arg == "--url") {
      url = value;
    } else if (arg == "--host") {
      o.host_header = value;
    } else if (arg == "--rate") {
      o.rate = std::atof(value);
    } else if (arg == "--connections") {
      o.connections = std::atoi(value);
    } else if (arg == "--seconds") {
      o.seconds = std::atof(value);
    } else {
      url.clear();  // an unknown flag: say how to call
      break;
    }
  }
  if (!ParseUrl(url, o) || o.rate <= 0 || o.connections <= 0 || o.seconds <= 0) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  return std::nullopt;
}

// How much of what was read is one whole response. Enough HTTP/1.1 for a
// keep-alive benchmark: status line, Content-Length or chunked, Connection: close.
struct Framing {
  enum State { kIncomplete, kComplete, kBad } state = kIncomplete;
  size_t length = 0;
  int status = 0;
  bool close = false;
};

Framing Frame(std::string_view buf) {
  Framing f;
  auto bad = [&f] {
    f.state = Framing::kBad;
    return f;
  };
  auto whole = [&f](size_t length) {
    f.state = Framing::kComplete;
    f.length = length;
    return f;
  };
  size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return f;
  std::string_view head = buf.substr(0, head_end + 2);
  if (!StartsWithNoCase(head, "HTTP/1.") || head.size() < 12 ||
      std::from_chars(head.data() + 9, head.data() + 12, f.status).ec != std::errc()) {
    return bad();
  }
  bool chunked = false, sized = false;
  size_t content_length = 0;
  for (size_t pos = head.find("\r\n") + 2; pos < head.size();) {
    size_t eol = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name.size() == 14 && StartsWithNoCase(name, "content-length")) {
      auto [_, ec] = std::from_chars(value.data(), value.data() + value.size(), content_length);
      sized = ec == std::errc();
    } else if (name.size() == 17 && StartsWithNoCase(name, "transfer-encoding")) {
      chunked = value.find("chunked") != std::string_view::npos;
    } else if (name.size() == 10 && StartsWithNoCase(name, "connection")) {
      f.close = StartsWithNoCase(value, "close");
    }
  }
  size_t pos = head_end + 4;
  if (f.status == 204 || f.status == 304) return whole(pos);
  if (!chunked) {  // framed by close instead: no use on a keep-alive connection
    if (!sized) return bad();
    return buf.size() < pos + content_length ? f : whole(pos + content_length);
  }
  for (;;) {  // chunks: HEX[;ext]\r\n DATA\r\n ... 0\r\n [trailers] \r\n
    size_t eol = buf.find("\r\n", pos);
    if (eol == std::string_view::npos) return f;
    size_t size = 0;
    if (std::from_chars(buf.data() + pos, buf.data() + eol, size, 16).ec != std::errc()) {
      return bad();
    }
    pos = eol + 2;
    if (size == 0) {
      if (buf.substr(pos, 2) == "\r\n") return whole(pos + 2);
      size_t end = buf.find("\r\n\r\n", pos);
      return end == std::string_view::npos ? f : whole(end + 4);
    }
    if (buf.size() < pos + size + 2) return f;
    if (buf.substr(pos + size, 2) != "\r\n") return bad();
    pos += size + 2;
  }
}

struct Connection {
  int fd = -1;
  bool busy = false;   // due.front() is sent and its response not yet whole
  std::deque<Ns> due;  // when each request waiting on this connection was due
  std::string in;
};

class Load {
 public:
  explicit Load(const Options& o) : o_(o), conns_(o.connections) {
    request_ = "GET " + o.path + " HTTP/1.1\r\nHost: " + o.host_header + "\r\n\r\n";
  }

  // Resolves the target and opens every connection before the clock starts.
  bool Open() {
    addrinfo hints{}, *ai = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(o_.host.c_str(), o_.port.c_str(), &hints, &ai) != 0) {
      std::fprintf(stderr, "bench_fixed_rate: cannot resolve %s\n", o_.host.c_str());
      return false;
    }
    addr_.assign(reinterpret_cast<char*>(ai->ai_addr), ai->ai_addrlen);
    family_ = ai->ai_family;
    freeaddrinfo(ai);
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    for (size_t i = 0; i < conns_.size(); ++i) {
      if (!Connect(i)) {
        std::fprintf(stderr, "bench_fixed_rate: cannot connect: %s\n", std::strerror(errno));
        return false;
      }
    }
    return true;
  }

  int Run() {
    if (!Open()) return 1;
    prctl(PR_SET_TIMERSLACK, 1);  // wake when the next request is due, not up to 50 us late
    int64_t total = std::llround(o_.rate * o_.seconds);
    start_ = Now() + kSecond / 100;
    Ns end = start_ + static_cast<Ns>(o_.seconds * kSecond);
    int64_t next = 0;
    epoll_event events[256];
    // Each turn: read what came, send what is due by now, sleep until the next is.
    for (;;) {
      Ns wait = next < total ? std::max<Ns>(Due(next) - Now(), 0) : 10'000'000;
      timespec timeout{wait / kSecond, wait % kSecond};
      int n = epoll_pwait2(epoll_, events, 256, &timeout, nullptr);
      for (int i = 0; i < n; ++i) OnReadable(events[i].data.u32);
      Ns now = Now();
      if (g_fixed_rate_stop && next < total) {  // asked to stop: what is out may finish
        total = next;
        end = std::max(now, start_);
      }
      for (; next < total && Due(next) <= now; ++next) {
        size_t k = next % conns_.size();
        conns_[k].due.push_back(Due(next));
        late_.push_back(now - Due(next));
        Send(k);
      }
      if (next == total && (now > end + kDrain || Idle())) break;
    }
    for (auto& c : conns_) failed_ += c.due.size();  // never answered
    Report(std::max(end, last_done_));
    return 0;
  }

 private:
  Ns Due(int64_t i) const { return start_ + static_cast<Ns>(i * (kSecond / o_.rate)); }

  bool Idle() const {
    return std::all_of(conns_.begin(), conns_.end(), [](auto& c) { return c.due.empty(); });
  }

  bool Connect(size_t i) {
    Connection& c = conns_[i];
    c.fd = socket(family_, SOCK_STREAM | SOCK_CLOEXEC, 0);
    // Blocking: the target is local and connects take microseconds.
    if (c.fd < 0 || connect(c.fd, reinterpret_cast<const sockaddr*>(addr_.data()),
                            static_cast<socklen_t>(addr_.size())) != 0) {
      Close(c);
      return false;
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c.fd, F_SETFL, O_NONBLOCK);
    epoll_event ev{.events = EPOLLIN, .data = {.u32 = static_cast<uint32_t>(i)}};
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
    return true;
  }

  static void Close(Connection& c) {
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    c.busy = false;
    c.in.clear();
  }

  // The request in flight failed: count it, drop the connection, go on with the next.
  void Fail(size_t i) {
    Connection& c = conns_[i];
    if (c.busy) {
      ++failed_;
      c.due.pop_front();
    }
    Close(c);
    Send(i);
  }

  // Sends the oldest waiting request if nothing is in flight on this connection
  // (no pipelining: a connection that is behind makes its requests wait).
  void Send(size_t i) {
    Connection& c = conns_[i];
    if (c.busy || c.due.empty()) return;
    if (c.fd < 0 && !Connect(i)) {
      failed_ += c.due.size();
      c.due.clear();
      return;
    }
    // A request this small always fits an idle socket's buffer; short means broken.
    c.busy = true;
    if (send(c.fd, request_.data(), request_.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request_.size())) {
      Fail(i);
    }
  }

  void OnReadable(size_t i) {
    Connection& c = conns_[i];
    char buf[16384];
    ssize_t n = read(c.fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {  // closed: a request in flight failed; an idle one reconnects when needed
      if (c.busy) return Fail(i);
      return Close(c);
    }
    c.in.append(buf, static_cast<size_t>(n));
    Framing f = Frame(c.in);
    if (f.state == Framing::kIncomplete) return;
    if (f.state == Framing::kBad || !c.busy) return Fail(i);
    last_done_ = Now();
    if (f.status >= 200 && f.status < 400) {
      latencies_.push_back(last_done_ - c.due.front());
    } else if (f.status >= 500 && f.status < 600) {
      ++answers_5xx_;
    } else {
      ++answers_other_;
    }
    c.due.pop_front();
    c.busy = false;
    c.in.erase(0, f.length);
    if (f.close) Close(c);
    Send(i);
  }

  // The p-quantile of `ns` (sorted here), nearest rank, in ms; 0 when empty.
  static double QuantileMs(std::vector<Ns>& ns, double p) {
    if (ns.empty()) return 0.0;
    std::sort(ns.begin(), ns.end());
    size_t k = static_cast<size_t>(std::ceil(p * ns.size()));
    return ns[std::clamp<size_t>(k, 1, ns.size()) - 1] / 1e6;
  }

  void Report(Ns until) {
    const double seconds = static_cast<double>(until - start_) / kSecond;
    const double rate = seconds > 0 ? latencies_.size() / seconds : 0.0;
    const size_t errors = answers_5xx_ + answers_other_ + failed_;
    std::printf("%.0f %.3f %.3f %.3f %zu %zu %zu %zu %.3f\n", rate, QuantileMs(latencies_, 0.50),
                QuantileMs(latencies_, 0.99), QuantileMs(latencies_, 0.999), errors, answers_5xx_,
                answers_other_, failed_, QuantileMs(late_, 0.99));
  }

  const Options o_;
  std::vector<Connection> conns_;
  std::string request_, addr_;
  int family_ = AF_INET, epoll_ = -1;
  Ns start_ = 0, last_done_ = 0;
  std::vector<Ns> latencies_;  // of the 2xx/3xx answers
  std::vector<Ns> late_;       // of every request sent: from due to its turn here
  size_t answers_5xx_ = 0, answers_other_ = 0, failed_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (std::optional<int> code = ParseArgs(argc, argv, o)) return *code;
  struct sigaction stop {};
  stop.sa_handler = FixedRateOnStop;  // no SA_RESTART: the wait returns at once
  sigaction(SIGTERM, &stop, nullptr);
  sigaction(SIGINT, &stop, nullptr);
  return Load(o).Run();
}
