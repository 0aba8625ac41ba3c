#include "fakes/fake_docker_engine.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <utility>

namespace skiff::testing {
namespace {

// Writes all of `data` (false when the peer is gone); never raises SIGPIPE.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The request head (up to the blank line); empty when the peer went first.
std::string ReadHead(int fd) {
  std::string head;
  char buffer[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return {};
    head.append(buffer, static_cast<size_t>(n));
  }
  return head;
}

std::string Chunk(std::string_view data) {
  return fmt::format("{:x}\r\n{}\r\n", data.size(), data);
}

constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace

FakeDockerEngine::FakeDockerEngine(std::string socket_path) : path_(std::move(socket_path)) {
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (listen_fd_ < 0 || path_.size() >= sizeof(address.sun_path)) {
    throw std::runtime_error("fake docker engine: cannot make a socket at " + path_);
  }
  std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("fake docker engine: cannot listen at " + path_ + ": " +
                             std::strerror(errno));
  }
  acceptor_ = std::thread([this] { Accept(); });
}

FakeDockerEngine::~FakeDockerEngine() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    // Wakes every thread blocked on a connection; each closes its own.
    for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
  }
  cv_.notify_all();
  ::shutdown(listen_fd_, SHUT_RDWR);  // ends the accept
  acceptor_.join();
  std::vector<std::thread> servers;
  {
    std::lock_guard lock(mu_);
    servers.swap(servers_);
  }
  for (std::thread& server : servers) server.join();
  ::close(listen_fd_);
  ::unlink(path_.c_str());
}

void FakeDockerEngine::Accept() {
  while (true) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    std::lock_guard lock(mu_);
    if (fd < 0 || stopping_) {
      if (fd >= 0) ::close(fd);
      if (stopping_) return;
      continue;
    }
    connections_.insert(fd);
    servers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeDockerEngine::Reply(int fd, int status, const std::string& body) {
  const char* reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Error";
  WriteAll(fd, fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\n"
                           "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                           status, reason, body.size(), body));
}

void FakeDockerEngine::Serve(int fd) {
  const std::string head = ReadHead(fd);
  const size_t space = head.find(' ');
  const size_t end = head.find(' ', space + 1);
  const std::string target = space == std::string::npos || end == std::string::npos
                                 ? ""
                                 : head.substr(space + 1, end - space - 1);
  const std::string error = R"({"message":"fake engine says no"})";
  if (target.starts_with("/v1.41/containers/json")) {
    std::unique_lock lock(mu_);
    ++listings_;
    cv_.wait(lock, [&] { return !hold_listings_ || stopping_; });
    if (!stopping_) {
      std::string body = "[";
      for (const auto& [id, state] : containers_) {
        if (body.size() > 1) body += ",";
        body += fmt::format(R"({{"Id":"{}","State":"{}","Labels":{{}}}})", id, state);
      }
      body += "]";
      const int status = list_status_;
      lock.unlock();
      Reply(fd, status, status == 200 ? body : error);
    }
  } else if (target.starts_with("/v1.41/containers/")) {
    const std::string id = target.substr(18, target.find('/', 18) - 18);
    std::unique_lock lock(mu_);
    ++inspections_;
    auto it = containers_.find(id);
    const int status = inspect_status_ != 0 ? inspect_status_ : it == containers_.end() ? 404 : 200;
    const std::string state = it == containers_.end() ? "" : it->second;
    lock.unlock();
    Reply(fd, status,
          status != 200 ? error
                        : fmt::format(R"({{"Id":"{}","Name":"/{}","State":{{"Status":"{}",)"
                                      R"("Running":{},"ExitCode":0}},"Config":{{"Labels":{{}}}}}})",
                                      id, id, state, state == "running" ? "true" : "false"));
  } else if (target.starts_with("/v1.41/events")) {
    {
      std::lock_guard lock(mu_);
      ++streams_opened_;
      last_events_target_ = target;
      WriteAll(fd,
               "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\n");
      if (end_at_once_) {
        WriteAll(fd, kLastChunk);
        ::shutdown(fd, SHUT_WR);
      } else {
        streams_.insert(fd);
      }
    }
    // Open until the client goes, EndStreams ends it, or the engine goes.
    char buffer[256];
    while (::recv(fd, buffer, sizeof(buffer), 0) > 0) {
    }
  } else if (!head.empty()) {
    Reply(fd, 404, error);
  }
  {
    std::lock_guard lock(mu_);
    streams_.erase(fd);
    connections_.erase(fd);
  }
  ::close(fd);
}

void FakeDockerEngine::SetContainer(const std::string& id, const std::string& state) {
  std::lock_guard lock(mu_);
  containers_[id] = state;
}

void FakeDockerEngine::SetListStatus(int status) {
  std::lock_guard lock(mu_);
  list_status_ = status;
}

void FakeDockerEngine::SetInspectStatus(int status) {
  std::lock_guard lock(mu_);
  inspect_status_ = status;
}

void FakeDockerEngine::HoldListings(bool hold) {
  {
    std::lock_guard lock(mu_);
    hold_listings_ = hold;
  }
  cv_.notify_all();
}

void FakeDockerEngine::EndStreamsAtOnce(bool at_once) {
  std::lock_guard lock(mu_);
  end_at_once_ = at_once;
}

void FakeDockerEngine::Send(std::string_view data) {
  std::lock_guard lock(mu_);
  for (int fd : streams_) WriteAll(fd, Chunk(data));
}

void FakeDockerEngine::EndStreams() {
  std::lock_guard lock(mu_);
  for (int fd : streams_) {
    WriteAll(fd, kLastChunk);
    ::shutdown(fd, SHUT_WR);
  }
  streams_.clear();
}

int FakeDockerEngine::listings() const {
  std::lock_guard lock(mu_);
  return listings_;
}

int FakeDockerEngine::inspections() const {
  std::lock_guard lock(mu_);
  return inspections_;
}

int FakeDockerEngine::streams_opened() const {
  std::lock_guard lock(mu_);
  return streams_opened_;
}

int FakeDockerEngine::streams_open() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(streams_.size());
}

int FakeDockerEngine::connections() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(connections_.size());
}

std::string FakeDockerEngine::last_events_target() const {
  std::lock_guard lock(mu_);
  return last_events_target_;
}

}  // namespace skiff::testing
