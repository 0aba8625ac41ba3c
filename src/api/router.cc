#include "api/router.h"

#include "common/check.h"

namespace skiff::api {
namespace {

bool IsPlaceholder(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool MatchPattern(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
                  PathParams* params) {
  if (pattern.size() != path.size()) return false;
  PathParams out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (IsPlaceholder(pattern[i])) {
      out[pattern[i].substr(1, pattern[i].size() - 2)] = path[i];
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  *params = std::move(out);
  return true;
}

asio::awaitable<void> SendUnary(const UnaryHandler& handler, const net::HttpRequest& request,
                                const PathParams& params, const auth::Identity& caller,
                                net::ResponseWriter& sink) {
  co_await sink.Send(handler(request, params, caller));
}

}  // namespace

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

void Router::Add(std::string method, std::string pattern, Permission permission, Handler handler) {
  SKIFF_CHECK(!pattern.empty() && pattern.front() == '/');
  for (const Route& r : routes_) SKIFF_CHECK(!(r.method == method && r.pattern == pattern));
  routes_.push_back(
      Route{std::move(method), std::move(pattern), permission, std::move(handler), nullptr});
}

void Router::AddUnary(std::string method, std::string pattern, Permission permission,
                      UnaryHandler handler) {
  // The Route owns `handler`; the coroutine refers to it, and routes live as
  // long as the router (longer than any request).
  auto shared = std::make_shared<UnaryHandler>(std::move(handler));
  Add(std::move(method), std::move(pattern), permission,
      [shared](const net::HttpRequest& request, const PathParams& params,
               const auth::Identity& caller, net::ResponseWriter& sink) {
        return SendUnary(*shared, request, params, caller, sink);
      });
  routes_.back().unary = [shared](const net::HttpRequest& request, const PathParams& params,
                                  const auth::Identity& caller) {
    return (*shared)(request, params, caller);
  };
}

Router::Match Router::Find(const std::string& method, const std::string& path) const {
  Match match;
  std::vector<std::string> segments = SplitPath(path);
  for (const Route& r : routes_) {
    PathParams params;
    if (!MatchPattern(SplitPath(r.pattern), segments, &params)) continue;
    if (r.method == method) {
      match.route = &r;
      match.params = std::move(params);
      match.allowed.clear();
      return match;
    }
    if (!match.allowed.empty()) match.allowed += ", ";
    match.allowed += r.method;
  }
  return match;
}

}  // namespace skiff::api
