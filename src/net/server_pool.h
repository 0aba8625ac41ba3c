// ServerPool: the API of several Skiff servers on one database, any of which
// answers any request the same. A call goes to the server that answered last;
// when that one cannot be reached, or answers 503 (it cannot reach its store,
// so it wrote nothing), the next in the list gets the call, each at most once.
//
// A write is only sent on when the first server cannot have acted on it: its
// connection was never made, or it said 503. A read (GET, HEAD) is sent on
// after any transport error too (a dropped connection, a timeout): asking
// again changes nothing. So is a write its caller calls idempotent
// (Resend::kAlways: a heartbeat, a report that may be counted twice), so
// that a server frozen with its port open (SIGSTOP) holds it one timeout only.
//
// The list may be replaced while calls go on (SetUrls): a server that serves
// several servers of one database learns of them from the servers' list.
//
// Thread-safe: calls from several threads, and the copies of a pool, share
// which server is current and the list.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "net/http.h"
#include "net/http_client.h"

namespace skiff::net {

// Base URLs as one list, the form ServerPool takes and ToString gives:
// comma-separated ("http://a:7070,http://b:7070").
std::string JoinUrls(const std::vector<std::string>& urls);

class ServerPool {
 public:
  // `urls`: one base URL or several separated by commas
  // ("http://a:7070,http://b:7070"), as HttpClient takes them. As with
  // HttpClient, a list that does not parse makes every call fail with
  // kInvalidArgument; Check() says so up front. https:// servers are trusted
  // as `trust` says (HttpClient), for this list and those SetUrls gives.
  explicit ServerPool(std::string_view urls, TlsTrust trust = {});

  // OK when the list names at least one server and each entry is a base URL;
  // else kInvalidArgument naming the entry.
  Status Check() const;

  // When a call that failed in transport goes to the next server.
  enum class Resend {
    kByMethod,  // a read after any transport error; a write only when never sent
    kAlways,    // after any transport error: the caller calls it idempotent
  };

  // As HttpClient::Do, sent on as the header says. When no server answers,
  // the last server's error or 503.
  Result<HttpResponse> Do(std::string_view method, std::string_view path,
                          std::string_view body = {}, const HttpHeaders& headers = {},
                          Duration timeout = HttpClient::kDefaultTimeout,
                          Resend resend = Resend::kByMethod) const;

  // As HttpClient::Stream (body-less). Sent on only until the first bytes of
  // a body arrived; a stream that broke after that is the caller's to open
  // again (it goes to the next server then, if this one is gone).
  Result<int> Stream(std::string_view method, std::string_view path, const HttpHeaders& headers,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     Duration timeout = HttpClient::kDefaultTimeout,
                     std::stop_token stop = {}) const;

  // Replaces the list, parsed as the constructor does. Calls in progress
  // finish on the list they began with. The server that answered last stays
  // the first to get calls when the new list names it; otherwise the new
  // list's first does. Copies of this pool get the new list too.
  void SetUrls(std::string_view urls);

  // The base URL calls go to first now.
  std::string current() const;
  // Every base URL, in the order given.
  std::vector<std::string> urls() const;
  // The list as given, for messages ("http://a:7070,http://b:7070").
  std::string ToString() const;

 private:
  using Clients = std::vector<HttpClient>;
  // Shared by copies: a pool copied into a lambda still learns which answers,
  // and the list SetUrls gives.
  struct State {
    std::mutex mu;
    std::shared_ptr<const Clients> clients;  // GUARDED_BY(mu); never null, never empty
    size_t current = 0;                      // GUARDED_BY(mu); an index into clients
    TlsTrust trust;                          // set at construction only
  };

  // The list now and the index calls go to first.
  std::pair<std::shared_ptr<const Clients>, size_t> Load() const;
  // Makes the server at `at` of `clients` current; when the list was replaced
  // meanwhile, the same server (by URL) in the new list, if it names it.
  void Answered(const std::shared_ptr<const Clients>& clients, size_t at) const;

  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace skiff::net
