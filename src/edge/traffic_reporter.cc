#include "edge/traffic_reporter.h"

#include "common/logging.h"

namespace skiff::edge {

TrafficReporter::TrafficReporter(const EdgeProxy* proxy, Sink sink, Duration interval)
    : proxy_(proxy), sink_(std::move(sink)), interval_(interval) {}

TrafficReporter::~TrafficReporter() { Stop(); }

void TrafficReporter::Start() {
  thread_ = std::thread([this] { Run(); });
}

void TrafficReporter::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TrafficReporter::Run() {
  bool failing = false;
  std::unique_lock lock(mu_);
  for (;;) {
    const bool stopping = stop_;
    lock.unlock();
    Status reported = sink_(proxy_->Traffic());
    if (!reported && !failing) {
      SKIFF_LOG_WARN("edge: cannot report traffic to the control plane (will retry): {}",
                     reported.error().message);
    } else if (reported && failing) {
      SKIFF_LOG_INFO("edge: reporting traffic to the control plane again");
    }
    failing = !reported;
    lock.lock();
    if (stopping) return;
    cv_.wait_for(lock, interval_, [this] { return stop_; });
  }
}

}  // namespace skiff::edge
