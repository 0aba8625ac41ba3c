#include "server/leader_loops.h"

#include "common/check.h"
#include "common/logging.h"

namespace skiff::server {

LeaderLoops::LeaderLoops(Deps deps) : deps_(std::move(deps)) {
  SKIFF_CHECK(deps_.store != nullptr);
  SKIFF_CHECK(deps_.clock != nullptr);
}

LeaderLoops::~LeaderLoops() { Deposed(); }

void LeaderLoops::Elected(int64_t epoch) {
  controller::ControllerLoopOptions options = deps_.loop;
  options.fence_epoch = epoch;
  auto loop =
      std::make_unique<controller::ControllerLoop>(deps_.store, deps_.nodes, deps_.clock, options);
  auto drains = std::make_unique<controller::DrainTracker>(
      deps_.store, deps_.clock, deps_.edges, deps_.routes_tag, epoch, deps_.snapshots);
  std::unique_ptr<controller::CertificateOrderer> certificates;
  if (deps_.certificates) certificates = deps_.certificates(epoch);
  std::unique_ptr<controller::AutoscaleLoop> autoscaler;
  if (deps_.autoscale_signals) {
    autoscaler = std::make_unique<controller::AutoscaleLoop>(
        deps_.store, deps_.clock, deps_.autoscale_signals,
        controller::AutoscaleLoop::Options{.interval = deps_.autoscale_interval,
                                           .fence_epoch = epoch,
                                           .sample_interval = deps_.sample_interval});
  }
  loop->Start();
  drains->Start();
  if (certificates) certificates->Start();
  if (autoscaler) autoscaler->Start();
  std::lock_guard lock(mu_);
  SKIFF_CHECK(loop_ == nullptr);
  loop_ = std::move(loop);
  drains_ = std::move(drains);
  certificates_ = std::move(certificates);
  autoscaler_ = std::move(autoscaler);
  epoch_ = epoch;
  SKIFF_LOG_INFO("leader loops: running for epoch {}", epoch);
}

void LeaderLoops::Deposed() {
  std::unique_ptr<controller::ControllerLoop> loop;
  std::unique_ptr<controller::DrainTracker> drains;
  std::unique_ptr<controller::CertificateOrderer> certificates;
  std::unique_ptr<controller::AutoscaleLoop> autoscaler;
  {
    std::lock_guard lock(mu_);
    loop = std::move(loop_);
    drains = std::move(drains_);
    certificates = std::move(certificates_);
    autoscaler = std::move(autoscaler_);
    epoch_ = 0;
  }
  // Stopped outside the lock: a pass in progress may take a while to end, and
  // health() must not wait for it.
  if (autoscaler) autoscaler->Stop();
  if (certificates) certificates->Stop();
  if (drains) drains->Stop();
  if (loop) loop->Stop();
}

int64_t LeaderLoops::epoch() const {
  std::lock_guard lock(mu_);
  return epoch_;
}

std::string LeaderLoops::health() const {
  std::lock_guard lock(mu_);
  return loop_ ? loop_->health() : "ok";
}

}  // namespace skiff::server
