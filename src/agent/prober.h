// Prober: how the agent checks one instance's health (spec.health). An
// interface so tests script results and so the agent does not depend on the
// event-loop code in net/.
#pragma once

#include <memory>
#include <string>

#include "model/spec.h"

namespace skiff::agent {

struct ProbeResult {
  bool ok = false;
  std::string message;  // "GET / returned 503", "connect: Connection refused", "timed out after 1s"
};

class Prober {
 public:
  virtual ~Prober() = default;

  // Probes host:port as `check` says (http: GET check.path answering 2xx/3xx;
  // tcp: a connection is accepted; none: always ok) within check.timeout.
  // Blocks the calling thread for at most about check.timeout. Thread-safe.
  virtual ProbeResult Probe(const model::HealthCheck& check, const std::string& host, int port) = 0;
};

// The default prober: a blocking POSIX socket per probe (non-blocking connect
// with a poll deadline, then a minimal HTTP/1.0 GET for http checks).
std::unique_ptr<Prober> NewSocketProber();

}  // namespace skiff::agent
