#include "edge/post_wake.h"

#include <atomic>
#include <boost/json.hpp>
#include <memory>

#include "common/logging.h"

namespace skiff::edge {

std::function<void(const std::string& app)> PostWake(net::ServerPool servers, std::string token,
                                                     std::function<std::string()> name) {
  auto failing = std::make_shared<std::atomic<bool>>(false);
  return [servers = std::move(servers), token = std::move(token), name = std::move(name),
          failing](const std::string& app) {
    const std::string path = "/v1/edges/" + name() + "/wake";
    auto reply =
        servers.Do("POST", path, boost::json::serialize(boost::json::object{{"app", app}}),
                   {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}},
                   std::chrono::seconds(2), net::ServerPool::Resend::kAlways);
    Status done = OkStatus();
    if (!reply) {
      done = tl::unexpected(reply.error());
    } else if (reply->status != 200) {
      done = tl::unexpected(net::ErrorFromResponse(reply->status, reply->body));
    }
    if (!done) {
      if (!failing->exchange(true)) {
        SKIFF_LOG_WARN("edge: cannot ask the control plane to wake app {} (will retry): {}", app,
                       done.error().message);
      }
    } else {
      failing->store(false);
    }
  };
}

}  // namespace skiff::edge
