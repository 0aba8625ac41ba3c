#include "fakes/scripted_upstream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "fakes/testing.h"

namespace skiff::testing {
namespace {

// The value of Content-Length in `head` (0 without one); names in any case.
size_t ContentLength(std::string_view head) {
  std::string lower(head);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const size_t at = lower.find("\r\ncontent-length:");
  if (at == std::string::npos) return 0;
  size_t from = at + std::strlen("\r\ncontent-length:");
  while (from < head.size() && head[from] == ' ') ++from;
  size_t length = 0;
  std::from_chars(head.data() + from, head.data() + head.size(), length);
  return length;
}

}  // namespace

ScriptedUpstream::ScriptedUpstream(Script script) : script_(std::move(script)) {
  listen_fd_ = ListenLoopback(&port_);
  acceptor_ = std::thread([this] {
    while (true) {
      const int conn = accept(listen_fd_, nullptr, nullptr);
      if (conn < 0) return;
      const int connection = accepted_++;
      {
        std::lock_guard lock(mu_);
        open_.push_back(conn);
      }
      serving_.emplace_back([this, conn, connection] { Serve(conn, connection); });
    }
  });
}

ScriptedUpstream::~ScriptedUpstream() {
  shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  close(listen_fd_);
  {
    std::lock_guard lock(mu_);
    for (int conn : open_) shutdown(conn, SHUT_RDWR);  // their threads close them
  }
  for (std::thread& t : serving_) t.join();
}

std::vector<ScriptedUpstream::Request> ScriptedUpstream::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

ScriptedUpstream::Action ScriptedUpstream::Ok(const std::string& body) {
  return {"HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body};
}

void ScriptedUpstream::Serve(int conn, int connection) {
  std::string got;
  char buf[4096];
  for (int index = 0;; ++index) {
    size_t head_end;
    size_t length = 0;
    while ((head_end = got.find("\r\n\r\n")) == std::string::npos ||
           got.size() < head_end + 4 + (length = ContentLength(got.substr(0, head_end + 2)))) {
      const ssize_t n = recv(conn, buf, sizeof buf, 0);
      if (n <= 0) {
        std::lock_guard lock(mu_);
        std::erase(open_, conn);
        close(conn);
        return;
      }
      got.append(buf, static_cast<size_t>(n));
    }
    Request request{connection, index, got.substr(0, got.find("\r\n")),
                    got.substr(head_end + 4, length)};
    got.erase(0, head_end + 4 + length);
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
    }
    const Action action = script_(request);
    if (action.reset) {
      // Closing with a zero linger sends an RST instead of a FIN.
      linger abort{1, 0};
      setsockopt(conn, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
      std::lock_guard lock(mu_);
      std::erase(open_, conn);
      close(conn);
      return;
    }
    for (size_t done = 0; done < action.answer.size();) {
      const size_t piece = std::min(action.answer.size() - done, size_t{64} << 10);
      const ssize_t n = send(conn, action.answer.data() + done, piece, MSG_NOSIGNAL);
      if (n <= 0) break;  // closed: the next recv fails and ends the connection
      done += static_cast<size_t>(n);
      sent_ += static_cast<size_t>(n);
    }
  }
}

}  // namespace skiff::testing
