// StandaloneEdge: `skiff edge`, the edge router on a machine that only routes.
// It serves apps at their domains like the all-in-one server's edge, with its
// routes from a Skiff server (RemoteRoutes) and the last ones kept on disk.
//
// Thread-safety: Start once; Wait and Shutdown from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"
#include "edge/event_loop.h"

namespace skiff::edge {

struct StandaloneOptions {
  // The Skiff API, "http://10.0.0.1:7070", or several servers' comma-separated.
  std::string server;
  std::string token;  // its bearer token
  // Whom an https:// server must be: the CAs in `ca_file` (--ca), else the
  // CA of fingerprint `ca_fingerprint` (--ca-fingerprint, as a join token
  // carries it), else the system's roots. An http:// server off loopback is
  // refused (the token would go in clear).
  std::string ca_file;
  std::string ca_fingerprint;
  std::string listen = "127.0.0.1:8080";
  // Where apps are served over TLS (HTTPS); none when empty.
  std::string tls_listen;
  std::string data_dir = ".skiff-edge";  // routes.json: the last routes
  int io_threads = 1;                    // threads serving requests, each its own event loop
  IoEngine io_engine = IoEngine::kAuto;  // their I/O engine (event_loop.h)
  std::string access_log;                // a JSON line per request: a file, "-" (stdout), or none
  // Where GET /metrics (Prometheus) and GET /health are served; none when empty.
  std::string metrics_listen;
  // The edge's name in the server's traffic book; empty: "<hostname>:<port>".
  std::string name;
  // How often the per-app counters are posted to the server.
  std::chrono::milliseconds report_interval{5000};
};

class StandaloneEdge {
 public:
  explicit StandaloneEdge(StandaloneOptions options);
  ~StandaloneEdge();  // Shuts down.
  StandaloneEdge(const StandaloneEdge&) = delete;
  StandaloneEdge& operator=(const StandaloneEdge&) = delete;

  // Serves the routes on disk at once (when there are some), binds, and starts
  // following the server. An unreachable server is no error. Errors:
  // kInvalidArgument / kUnavailable for the listen address, kUnavailable for a
  // data directory that cannot be created.
  Status Start();
  // Blocks until Shutdown() finished.
  void Wait();
  // Stops taking requests, lets those in flight finish. Idempotent.
  void Shutdown();

  uint16_t port() const;
  uint16_t tls_port() const;      // 0 without tls_listen
  uint16_t metrics_port() const;  // 0 without metrics_listen
  // Whether it started from routes on disk.
  bool started_from_cache() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::edge
