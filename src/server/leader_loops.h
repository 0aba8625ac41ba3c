// LeaderLoops: the loops of `skiff server` that must run once however many
// servers share the store (the controller loop, the drain tracker), run only
// while this server leads. A controller::Leadership calls Elected(epoch) when
// this server's term starts, which builds and starts the loops fenced at the
// term's epoch (every write of theirs: store::Txn::Fenced), and Deposed when it
// ends, which stops and drops them; a later term builds them afresh (a loop's
// CommitWatcher starts once). The certificate orderer (ACME, when the server
// has a directory) and the autoscaler run here too.
//
// Thread-safety: Elected and Deposed from the Leadership's actor thread (one
// at a time); health() from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "controller/autoscale_loop.h"
#include "controller/certificate_orderer.h"
#include "controller/controller_loop.h"
#include "controller/drain_tracker.h"
#include "store/store.h"

namespace skiff::server {

class LeaderLoops {
 public:
  struct Deps {
    store::Store* store = nullptr;                     // required
    controller::NodeService* nodes = nullptr;          // may be null (no node is marked down)
    const Clock* clock = nullptr;                      // required
    controller::ControllerLoopOptions loop;            // its fence_epoch is set per term
    controller::DrainTracker::EdgesFn edges;           // required
    controller::DrainTracker::RoutesTagFn routes_tag;  // required
    // The server's cache of the store's state, for the drains' routes tag;
    // optional (null: a whole read per store revision while something drains).
    store::SharedSnapshotCache* snapshots = nullptr;
    // Makes the certificate orderer of the term `epoch` (fenced at it), not
    // yet started; empty when the server orders no certificate (no ACME
    // directory).
    std::function<std::unique_ptr<controller::CertificateOrderer>(int64_t epoch)> certificates;
    // The apps' signals (the leader's live metrics) for the autoscaler; empty:
    // no autoscaler runs.
    controller::AutoscaleLoop::SignalsFn autoscale_signals;
    // How often the autoscaler looks (a pass over the apps).
    Duration autoscale_interval = std::chrono::seconds(5);
    // How often the signals are sampled (--sample-interval): the shortest
    // autoscale.window the autoscaler takes without a warning.
    Duration sample_interval = std::chrono::seconds(5);
  };

  // Everything in deps must outlive this.
  explicit LeaderLoops(Deps deps);
  ~LeaderLoops();  // Stops the loops.
  LeaderLoops(const LeaderLoops&) = delete;
  LeaderLoops& operator=(const LeaderLoops&) = delete;

  // Starts the loops of the term `epoch`. REQUIRES: none running.
  void Elected(int64_t epoch);
  // Stops them (waiting for a pass in progress) and drops them. Idempotent.
  void Deposed();

  // For GET /health's "reconciler": the loop's health while this server leads;
  // "ok" while it does not (another server's loop runs).
  std::string health() const;

  // The epoch of the term whose loops run; 0 when none do.
  int64_t epoch() const;

 private:
  const Deps deps_;
  mutable std::mutex mu_;  // guards the pointers (health() reads the loop)
  std::unique_ptr<controller::ControllerLoop> loop_;              // GUARDED_BY(mu_)
  std::unique_ptr<controller::DrainTracker> drains_;              // GUARDED_BY(mu_)
  std::unique_ptr<controller::CertificateOrderer> certificates_;  // GUARDED_BY(mu_)
  std::unique_ptr<controller::AutoscaleLoop> autoscaler_;         // GUARDED_BY(mu_)
  int64_t epoch_ = 0;                                             // GUARDED_BY(mu_)
};

}  // namespace skiff::server
