#include "edge/remote_routes.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "common/logging.h"
#include "net/http_client.h"
#include "net/server_pool.h"
#include "protocol/routes_codec.h"

namespace skiff::edge {

struct RemoteRoutes::Shared {
  RemoteRoutesOptions options;
  std::mutex mu;
  std::condition_variable cv;
  EdgeProxy* proxy = nullptr;  // GUARDED_BY(mu); null once stopped
  std::string served_tag;      // GUARDED_BY(mu): of the document served
  EdgeStates states;           // used by the poller thread only (and LoadCache before it)

  // Builds and swaps in the table of `document`, as of store revision
  // `revision` (0: unknown); false when it does not parse.
  bool Serve(const std::string& document, int64_t revision) {
    auto routes = protocol::ParseRoutesDocument(document);
    if (!routes) {
      SKIFF_LOG_WARN("edge: ignoring a bad routes document: {}", routes.error().ToString());
      return false;
    }
    routes->revision = revision;
    auto table = RoutingTable::Build(*routes, &states);
    std::lock_guard lock(mu);
    if (proxy == nullptr) return false;
    proxy->SetTable(std::move(table));
    // After the table: a reader that sees this tag sees that table or a newer one.
    served_tag = protocol::RoutesTag(document);
    states.Prune();
    return true;
  }

  // Replaces the cache atomically (a crash leaves the old file or the new one,
  // never half of one), readable by the edge's user alone: the document
  // carries the certificates' private keys.
  void Save(const std::string& document) {
    const std::string& path = options.cache_path;
    if (path.empty()) return;
    if (Status saved = WriteFileAtomically(path, document, 0600); !saved) {
      SKIFF_LOG_WARN("edge: cannot save the routes: {}", saved.error().message);
    }
  }

  bool Stopped() {
    std::lock_guard lock(mu);
    return proxy == nullptr;
  }

  void Poll() {
    const net::ServerPool client(options.server, options.trust);
    const net::HttpHeaders headers = {{"Authorization", "Bearer " + options.token}};
    std::string tag;
    Duration backoff = std::chrono::milliseconds(250);
    bool failing = false;
    while (!Stopped()) {
      const auto wait = std::chrono::duration_cast<std::chrono::seconds>(options.wait);
      auto reply =
          client.Do("GET", "/v1/routes?wait=" + std::to_string(wait.count()) + "&unless=" + tag, {},
                    headers, options.wait + std::chrono::seconds(10));
      if (reply && (reply->status == 200 || reply->status == 304)) {
        if (failing) SKIFF_LOG_INFO("edge: the server answers again; routes are live");
        failing = false;
        backoff = std::chrono::milliseconds(250);
        int64_t revision = 0;
        const std::string_view header = reply->Header(protocol::kRevisionHeader);
        std::from_chars(header.data(), header.data() + header.size(), revision);
        if (reply->status == 200) {
          // Even a document this edge cannot read is waited past: asking again
          // at once would only fetch the same one, as fast as the server answers.
          tag = std::string(reply->Header("ETag"));
          if (Serve(reply->body, revision)) Save(reply->body);
        }
        continue;
      }
      if (!failing) {
        SKIFF_LOG_WARN("edge: cannot get routes from {} ({}); serving the last ones",
                       options.server,
                       reply ? net::ErrorFromResponse(reply->status, reply->body).ToString()
                             : reply.error().ToString());
      }
      failing = true;
      std::unique_lock lock(mu);
      cv.wait_for(lock, backoff, [&] { return proxy == nullptr; });
      backoff = std::min<Duration>(backoff * 2, std::chrono::seconds(5));
    }
  }
};

RemoteRoutes::RemoteRoutes(RemoteRoutesOptions options, EdgeProxy* proxy)
    : shared_(std::make_shared<Shared>()) {
  shared_->options = std::move(options);
  shared_->proxy = proxy;
}

RemoteRoutes::~RemoteRoutes() { Stop(); }

bool RemoteRoutes::LoadCache() {
  if (shared_->options.cache_path.empty()) return false;
  std::ifstream in(shared_->options.cache_path);
  if (!in) return false;
  std::stringstream text;
  text << in.rdbuf();
  return shared_->Serve(text.str(), 0);
}

std::string RemoteRoutes::tag() const {
  std::lock_guard lock(shared_->mu);
  return shared_->served_tag;
}

void RemoteRoutes::Start() {
  // Detached: the thread owns a share of the state, and after Stop it only
  // finishes the request it is in.
  std::thread([shared = shared_] { shared->Poll(); }).detach();
}

void RemoteRoutes::Stop() {
  {
    std::lock_guard lock(shared_->mu);
    shared_->proxy = nullptr;
  }
  shared_->cv.notify_all();
}

}  // namespace skiff::edge
