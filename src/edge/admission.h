// Admission: the edge's first decision about a request, before any instance
// is tried — the route that serves it, or the refusal its client gets (no
// app: 404; over the app's rate limit: 429; a body over edge.max_body: 413;
// no instance to send it to: 503; or, for an app that sleeps, held until it
// wakes: docs/scale-to-zero.md). A function of the request head, the
// routing table and the client, tested with tables of cases; the session
// (proxy_session.h) carries the decision out. The circuit breaker
// (edge.max_in_flight) is not here: it counts requests as they go.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "edge/http1.h"
#include "edge/routing_table.h"

namespace skiff::edge {

struct Refusal {
  int status = 0;
  std::string message;  // for the client, one line
  // The connection ends after the answer: the request's body cannot be
  // skipped (it is not all at hand), or it must not be read (too large).
  bool close = false;
  int retry_after = 1;  // seconds, for a 429
};

struct Admission {
  // The route serving the request; set also for refusals after routing (the
  // app's metrics count them). Null for a 404.
  const Route* route = nullptr;
  std::optional<Refusal> refusal;  // none: admitted
  // Admitted, but the app sleeps (or is waking) and has no instance yet: the
  // session holds the request (at most edge.wake_queue of them, each at most
  // edge.wake_timeout) and the edge asks the control plane to wake the app.
  bool hold = false;
};

// Whether the client may make a request to `route`'s app now (its
// edge.rate_limit); when not, sets *retry_after. Only asked of routes with
// a rate limit.
using RateCheck = std::function<bool(const Route& route, std::chrono::seconds* retry_after)>;

// `whole`: the request's body (if any) is all at hand, so a refusal can keep
// the connection.
Admission Admit(const http1::RequestHead& head, bool whole, const RoutingTable& table,
                const RateCheck& within_rate);

// What a client waits before trying again a request it could not be held
// for: a process starts in well under a second, a container in a few.
inline constexpr int kWakeRetryAfterSeconds = 5;

// The refusal of a request for `route`'s sleeping app when edge.wake_queue
// requests are held for it already (`whole` as for Admit).
Refusal WakeQueueFull(const Route& route, bool whole);
// The refusal of a held request that waited edge.wake_timeout for `route`'s
// app to wake.
Refusal WakeTimedOut(const Route& route, bool whole);
// The refusal of a request held for `route`'s app when `latest` (the newest
// routing table) no longer has that app for it: deleted, or replaced by
// another app at the host. Answered as the request would be now: 404 as for
// any host no app serves, or 503 (try again: the new app takes it).
Refusal WakeAppGone(const Route& route, const http1::RequestHead& head, const RoutingTable& latest,
                    bool whole);

}  // namespace skiff::edge
