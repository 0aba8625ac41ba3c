// Router: (method, path pattern) -> handler. Patterns are literal segments and
// `{name}` placeholders, one path segment each: "/v1/apps/{name}/scale".
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/permission.h"
#include "auth/identity.h"
#include "net/http.h"
#include "net/http_server.h"

namespace skiff::api {

namespace asio = boost::asio;

using PathParams = std::map<std::string, std::string>;

// A handler answers through the sink; most answer with one Send. `caller` is
// who the router identified: for a public route and for one whose handler
// checks its caller itself (CheckedByHandler), an anonymous viewer of no
// project.
using Handler =
    std::function<asio::awaitable<void>(const net::HttpRequest&, const PathParams&,
                                        const auth::Identity& caller, net::ResponseWriter&)>;
// "Request in, response out": the common case, wrapped into a Handler by Router.
using UnaryHandler = std::function<net::HttpResponse(const net::HttpRequest&, const PathParams&,
                                                     const auth::Identity& caller)>;

struct Route {
  std::string method;
  std::string pattern;
  Permission permission;  // what the caller needs (api/permission.h)
  Handler handler;
  // The same, for a route added with AddUnary: called synchronously, it never
  // suspends (ApiServer audits the writes made within it). Empty otherwise.
  UnaryHandler unary;
};

class Router {
 public:
  // REQUIRES (checked): a pattern starting with '/', no duplicate (method, pattern).
  void Add(std::string method, std::string pattern, Permission permission, Handler handler);
  void AddUnary(std::string method, std::string pattern, Permission permission,
                UnaryHandler handler);

  // Every route, in the order added.
  const std::vector<Route>& routes() const { return routes_; }

  struct Match {
    const Route* route = nullptr;  // null: no route matched
    PathParams params;
    // When the path matched but not the method: the methods that would ("GET, PUT").
    std::string allowed;
  };
  // Not thread-safe against Add; Find alone is safe from any thread.
  Match Find(const std::string& method, const std::string& path) const;

 private:
  std::vector<Route> routes_;
};

// Splits "/a/b/" into {"a", "b"} (empty segments dropped).
std::vector<std::string> SplitPath(const std::string& path);

}  // namespace skiff::api
