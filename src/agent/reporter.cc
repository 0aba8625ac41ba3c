#include "agent/reporter.h"

#include <utility>

#include "agent/outage_log.h"
#include "common/logging.h"

namespace skiff::agent {

Reporter::Reporter(protocol::ControlPlane* control_plane, Duration retry, const Clock* clock,
                   std::function<void()> credential_refused)
    : control_plane_(control_plane),
      retry_(retry),
      clock_(clock),
      credential_refused_(std::move(credential_refused)) {}

Reporter::~Reporter() { Stop(); }

void Reporter::Start() {
  std::lock_guard lock(mu_);
  stopping_ = false;
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void Reporter::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Reporter::Report(protocol::InstanceReport report) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      SKIFF_LOG_WARN("agent: report queue full, dropping the oldest report");
      queue_.erase(queue_.begin() + (in_flight_ ? 1 : 0));
    }
    queue_.push_back(std::move(report));
  }
  cv_.notify_all();
}

size_t Reporter::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void Reporter::DrainLocked(std::unique_lock<std::mutex>& lock) {
  const MonoTime deadline = clock_->MonotonicNow() + kDrainBudget;
  while (!queue_.empty() && clock_->MonotonicNow() < deadline) {
    protocol::InstanceReport report = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Status sent = control_plane_->ReportInstance(report);
    lock.lock();
    if (!sent && (sent.error().code == ErrorCode::kUnavailable ||
                  sent.error().code == ErrorCode::kUnauthenticated)) {
      break;
    }
  }
}

void Reporter::Run() {
  OutageLog outage("reporting instance states");
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) {
      DrainLocked(lock);
      return;
    }
    protocol::InstanceReport report = queue_.front();
    in_flight_ = true;
    lock.unlock();
    Status sent = control_plane_->ReportInstance(report);
    lock.lock();
    in_flight_ = false;
    if (sent) {
      outage.Succeeded();
      queue_.pop_front();
      continue;
    }
    if (sent.error().code == ErrorCode::kNotFound) {
      // The instance was deleted meanwhile: nobody is left to tell.
      SKIFF_LOG_DEBUG("agent: report for deleted instance {} dropped", report.instance_id);
      queue_.pop_front();
      continue;
    }
    if (sent.error().code == ErrorCode::kUnauthenticated) {
      // Not the report's fault: the node's credential. Kept, and sent again
      // once the node has joined again.
      if (credential_refused_) {
        lock.unlock();
        credential_refused_();
        lock.lock();
      }
    } else if (sent.error().code != ErrorCode::kUnavailable) {
      SKIFF_LOG_WARN("agent: report for {} refused: {}", report.instance_id,
                     sent.error().ToString());
      queue_.pop_front();
      continue;
    }
    outage.Failed(sent.error());
    clock_->WaitFor(cv_, lock, retry_, [&] { return stopping_; });
  }
}

}  // namespace skiff::agent
