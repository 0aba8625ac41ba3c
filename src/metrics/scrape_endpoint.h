// What a `--metrics-listen ADDR` listener serves, for Prometheus to scrape
// without a token on an address of its own (loopback, or a private
// network): GET /metrics (the registry's exposition) and GET /health
// ("ok"), 404 for anything else. The server's and the standalone edge's.
#pragma once

#include "metrics/registry.h"
#include "net/http_server.h"

namespace skiff::metrics {

// `registry` is not owned and must outlive every request the handler serves.
net::HttpHandler ScrapeHandler(const Registry* registry);

}  // namespace skiff::metrics
