// FakeProber: a Prober for tests whose answer is set by the test. Header-only.
// Thread-safety: all methods are thread-safe.
#pragma once

#include <mutex>
#include <string>

#include "agent/prober.h"

namespace skiff::agent {

class FakeProber final : public Prober {
 public:
  // Prober:
  ProbeResult Probe(const model::HealthCheck& check, const std::string& host, int port) override {
    std::lock_guard lock(mu_);
    ++calls_;
    last_check_ = check;
    last_host_ = host;
    last_port_ = port;
    return result_;
  }

  // What every later probe answers (default: ok).
  void SetResult(bool ok, std::string message) {
    std::lock_guard lock(mu_);
    result_ = ProbeResult{ok, std::move(message)};
  }
  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  int last_port() const {
    std::lock_guard lock(mu_);
    return last_port_;
  }
  std::string last_host() const {
    std::lock_guard lock(mu_);
    return last_host_;
  }
  model::HealthCheck last_check() const {
    std::lock_guard lock(mu_);
    return last_check_;
  }

 private:
  mutable std::mutex mu_;
  ProbeResult result_{true, "GET / returned 200"};  // GUARDED_BY(mu_)
  int calls_ = 0;                                   // GUARDED_BY(mu_)
  model::HealthCheck last_check_;                   // GUARDED_BY(mu_)
  std::string last_host_;                           // GUARDED_BY(mu_)
  int last_port_ = 0;                               // GUARDED_BY(mu_)
};

}  // namespace skiff::agent
