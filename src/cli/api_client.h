// ApiClient: the client side of the HTTP API, for the commands. Adds the
// bearer token, decodes JSON, turns non-2xx answers into Errors (the server's
// error shape, through net::ErrorFromResponse), and splits streams into lines.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "net/http.h"
#include "net/server_pool.h"

namespace skiff::cli {

// How requests reach the server: HttpTransport in the binary, fakes in tests.
// Blocking; used from the command's thread only.
class Transport {
 public:
  virtual ~Transport() = default;
  // As net::HttpClient::Do: any HTTP answer is a value; errors are transport ones.
  virtual Result<net::HttpResponse> Do(std::string_view method, std::string_view path,
                                       std::string_view body, const net::HttpHeaders& headers) = 0;
  // As net::HttpClient::Stream (GET), with no inactivity limit once the header is in.
  virtual Result<int> Stream(std::string_view path, const net::HttpHeaders& headers,
                             const std::function<bool(std::string_view)>& on_data) = 0;
};

class HttpTransport final : public Transport {
 public:
  // `base_urls`: one server's URL or several, comma-separated (net::ServerPool).
  // https:// servers are trusted as `trust` says.
  explicit HttpTransport(std::string_view base_urls, net::TlsTrust trust = {})
      : client_(base_urls, std::move(trust)) {}

  // Transport:
  Result<net::HttpResponse> Do(std::string_view method, std::string_view path,
                               std::string_view body, const net::HttpHeaders& headers) override;
  Result<int> Stream(std::string_view path, const net::HttpHeaders& headers,
                     const std::function<bool(std::string_view)>& on_data) override;

 private:
  net::ServerPool client_;
};

struct Reply {
  int status = 0;
  boost::json::value body;  // null for an empty or non-JSON body
  std::string text;         // the raw body
};

class ApiClient {
 public:
  // `transport` must outlive this.
  ApiClient(Transport* transport, std::string token);

  // One call. `content_type` defaults to JSON when a body is given.
  // Errors: the transport's (kUnavailable, kDeadlineExceeded, ...), or the
  // error a non-2xx answer stands for (kNotFound, kUnauthenticated, ...).
  Result<Reply> Call(std::string_view method, std::string_view path, std::string_view body = {},
                     std::string content_type = {});
  // Streams the body of a GET as lines (without '\n'), until it ends or
  // on_line returns false.
  Status StreamLines(std::string_view path, const std::function<bool(std::string_view)>& on_line);

 private:
  net::HttpHeaders Headers() const;

  Transport* transport_;
  std::string token_;
};

// What to tell the user about an error of a call to `addr`: says what to do.
//   kUnavailable     cannot reach the Skiff server at ADDR: ... — is `skiff server`
//                    running? set SKIFF_ADDR to point elsewhere
//   kUnauthenticated 401: the token was refused — set SKIFF_TOKEN or --token ...
//   others           "<code>: <message>" (field included when set)
std::string Explain(const Error& error, const std::string& addr);

}  // namespace skiff::cli
