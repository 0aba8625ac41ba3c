// RemoteRoutes: keeps a standalone edge's routing table current from a Skiff
// server (`skiff edge --server URL`). It long-polls GET /v1/routes, so a change
// reaches the edge within milliseconds, and writes every document it gets to
// a file; an edge that starts while the server is unreachable serves from that
// file, and a running one keeps its table through any outage.
//
// Thread-safety: Start and Stop from one thread. Stop returns at once: the
// poller thread may still be inside one request, but it never touches the
// proxy after Stop returned.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "edge/edge_proxy.h"
#include "net/tls.h"

namespace skiff::edge {

struct RemoteRoutesOptions {
  std::string server;                        // "http://127.0.0.1:7070", or several comma-separated
  std::string token;                         // bearer token for the API
  net::TlsTrust trust;                       // whom https:// servers must be
  std::string cache_path;                    // where the last document is kept; empty: none
  Duration wait = std::chrono::seconds(25);  // how long one poll may wait for a change
};

class RemoteRoutes {
 public:
  // `proxy` must outlive Stop().
  RemoteRoutes(RemoteRoutesOptions options, EdgeProxy* proxy);
  ~RemoteRoutes();  // Stops.
  RemoteRoutes(const RemoteRoutes&) = delete;
  RemoteRoutes& operator=(const RemoteRoutes&) = delete;

  // Serves the cached document, if there is a readable one; returns whether.
  bool LoadCache();
  // Starts polling the server.
  void Start();
  // Stops polling (see the thread-safety note). Idempotent.
  void Stop();
  // The tag of the document the table was last built from ("" before one);
  // the table is that one or newer. Any thread.
  std::string tag() const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace skiff::edge
