// ScriptedUpstream: an instance on raw loopback sockets whose every answer a
// test scripts, for what a real app cannot be made to do on cue (reset a kept
// connection just as a request arrives, hold an answer until the client did
// something). Each connection is served by its own thread; requests are
// HTTP/1.1 heads with an optional Content-Length body.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace skiff::testing {

class ScriptedUpstream {
 public:
  struct Request {
    int connection = 0;  // which accepted connection (0, 1, …)
    int index = 0;       // which request on that connection (0, 1, …)
    std::string line;    // the request line, "POST /x HTTP/1.1"
    std::string body;
  };
  // What to do with a request: send `answer` (bytes as they go on the wire)
  // and keep the connection, or reset the connection (an RST, as a server
  // that closed a kept connection answers a request arriving on it).
  struct Action {
    std::string answer;
    bool reset = false;
  };
  // Called on the connection's thread; may block (to hold an answer).
  using Script = std::function<Action(const Request&)>;

  explicit ScriptedUpstream(Script script);
  // Closes the listener and every connection, and joins the threads.
  ~ScriptedUpstream();
  ScriptedUpstream(const ScriptedUpstream&) = delete;
  ScriptedUpstream& operator=(const ScriptedUpstream&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The requests seen so far, in order of arrival.
  std::vector<Request> requests() const;
  int accepted() const { return accepted_.load(); }
  // The bytes of answers the kernel has taken so far, over all connections
  // (an answer goes out in pieces: a client that reads none of it holds the
  // rest back).
  size_t sent() const { return sent_.load(); }

  // A 200 answer with `body`.
  static Action Ok(const std::string& body);

 private:
  void Serve(int conn, int connection);

  const Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<size_t> sent_{0};
  mutable std::mutex mu_;
  std::vector<Request> requests_;  // GUARDED_BY(mu_)
  std::vector<int> open_;          // GUARDED_BY(mu_): connections being served
  std::thread acceptor_;
  std::vector<std::thread> serving_;  // touched by the acceptor thread only, then joined
};

}  // namespace skiff::testing
