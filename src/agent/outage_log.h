// OutageLog: logs a control-plane outage once when it starts and once when it
// ends, instead of once per failed attempt. Thread-safety: none; one per loop.
#pragma once

#include <string>

#include "common/logging.h"
#include "common/result.h"

namespace skiff::agent {

class OutageLog {
 public:
  explicit OutageLog(std::string what) : what_(std::move(what)) {}

  void Failed(const Error& error) {
    if (down_) return;
    down_ = true;
    SKIFF_LOG_WARN("agent: {} failed, will retry: {}", what_, error.ToString());
  }
  void Succeeded() {
    if (!down_) return;
    down_ = false;
    SKIFF_LOG_INFO("agent: {} works again", what_);
  }

 private:
  std::string what_;
  bool down_ = false;
};

}  // namespace skiff::agent
