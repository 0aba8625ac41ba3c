// TrafficReporter: hands an edge's per-app counters (EdgeProxy::Traffic) to
// the control plane every interval: into the server's own traffic book for
// the all-in-one edge on SQLite, or posted to POST /v1/edges/{name}/traffic
// (PostTraffic) by a standalone edge and by a server's own edge when servers
// share a database (the leader must hear it). Runs its own thread; a failed hand-in is logged once
// and tried again at the next interval.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/result.h"
#include "edge/edge_proxy.h"
#include "metrics/traffic.h"
#include "net/server_pool.h"

namespace skiff::edge {

class TrafficReporter {
 public:
  using Sink = std::function<Status(const metrics::TrafficSnapshot&)>;

  // `proxy` must outlive the reporter.
  TrafficReporter(const EdgeProxy* proxy, Sink sink, Duration interval);
  // Stop().
  ~TrafficReporter();
  TrafficReporter(const TrafficReporter&) = delete;
  TrafficReporter& operator=(const TrafficReporter&) = delete;

  // Reports at once, then every interval. REQUIRES: called once.
  void Start();
  // Ends the thread (after a last report). Idempotent.
  void Stop();

 private:
  void Run();

  const EdgeProxy* const proxy_;
  const Sink sink_;
  const Duration interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// A TrafficReporter::Sink posting each snapshot to POST
// /v1/edges/{name}/traffic through `servers` (to the leader: the others answer
// 503), with `token` as the bearer and the edge's routes (`routes`, asked at
// each report, thread-safe) reported every `interval`. Each post is bounded by
// about one interval (1 to 5 s) and goes on to the next server after any
// transport error. Errors: the call's
// (kUnavailable when no server takes it), or the server's answer's.
TrafficReporter::Sink PostTraffic(net::ServerPool servers, std::string token,
                                  const std::string& name,
                                  std::function<metrics::EdgeRoutes()> routes, Duration interval);

}  // namespace skiff::edge
