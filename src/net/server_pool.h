// ServerPool: the API of several Skiff servers on one database, any of which
// answers any request the same. A call goes to the server that answered last;
// when that one cannot be reached, or answers 503 (it cannot reach its store,
// so it wrote nothing), the next in the list gets the call, each at most once.
//
// A write is only sent on when the first server cannot have acted on it: its
// connection was never made, or it said 503. A read (GET, HEAD) is sent on
// after any transport error too (a dropped connection, a timeout): asking
// again changes nothing.
//
// Thread-safe: calls from several threads share which server is current.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "net/http.h"
#include "net/http_client.h"

namespace skiff::net {

class ServerPool {
 public:
  // `urls`: one base URL or several separated by commas
  // ("http://a:7070,http://b:7070"), as HttpClient takes them. As with
  // HttpClient, a list that does not parse makes every call fail with
  // kInvalidArgument; Check() says so up front.
  explicit ServerPool(std::string_view urls);

  // OK when the list names at least one server and each entry is a base URL;
  // else kInvalidArgument naming the entry.
  Status Check() const;

  // As HttpClient::Do, sent on as the header says. When no server answers,
  // the last server's error or 503.
  Result<HttpResponse> Do(std::string_view method, std::string_view path,
                          std::string_view body = {}, const HttpHeaders& headers = {},
                          Duration timeout = HttpClient::kDefaultTimeout) const;

  // As HttpClient::Stream (body-less). Sent on only until the first bytes of
  // a body arrived; a stream that broke after that is the caller's to open
  // again (it goes to the next server then, if this one is gone).
  Result<int> Stream(std::string_view method, std::string_view path, const HttpHeaders& headers,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     Duration timeout = HttpClient::kDefaultTimeout,
                     std::stop_token stop = {}) const;

  // The base URL calls go to first now.
  const std::string& current() const;
  // Every base URL, in the order given.
  std::vector<std::string> urls() const;
  // The list as given, for messages ("http://a:7070,http://b:7070").
  std::string ToString() const;

 private:
  std::vector<HttpClient> clients_;
  // Shared by copies: a pool copied into a lambda still learns which answers.
  std::shared_ptr<std::atomic<size_t>> current_ = std::make_shared<std::atomic<size_t>>(0);
};

}  // namespace skiff::net
