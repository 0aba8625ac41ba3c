// RouteWatcher: keeps an EdgeProxy's routing table current inside the
// all-in-one server. Every store commit wakes it (a store::CommitWatcher); it
// rebuilds the table from the routes of a snapshot (controller/routes.h) and
// swaps it in, coalescing a burst of commits into one rebuild, so a new domain
// or a newly healthy instance takes traffic within milliseconds.
//
// Thread-safety: Start and Stop from one thread.
#pragma once

#include "controller/acme_challenges.h"
#include "controller/certificate_store.h"
#include "edge/edge_proxy.h"
#include "edge/endpoint_state.h"
#include "store/commit_watcher.h"
#include "store/shared_snapshot_cache.h"
#include "store/store.h"

namespace skiff::server {

class RouteWatcher {
 public:
  // store, snapshots, proxy and certificates are not owned and must outlive
  // the watcher. `snapshots` is the server's cache of the store's state,
  // shared with the API (one copy, brought up to date from the change log,
  // not read whole). `certificates` (null: none) are the TLS certificates the
  // routes carry (controller/certificate_store.h), `challenges` (null: none)
  // the ACME challenges they carry (controller/acme_challenges.h).
  RouteWatcher(store::Store* store, store::SharedSnapshotCache* snapshots, edge::EdgeProxy* proxy,
               const controller::CertificateStore* certificates = nullptr,
               const controller::AcmeChallengeStore* challenges = nullptr);
  ~RouteWatcher();  // Stops.
  RouteWatcher(const RouteWatcher&) = delete;
  RouteWatcher& operator=(const RouteWatcher&) = delete;

  // Builds the first table (before returning) and starts following changes.
  void Start();
  // Idempotent; joins the thread (waits for a rebuild in progress).
  void Stop();

 private:
  // Swaps in a table of the store now; returns its revision (-1 on failure).
  int64_t Rebuild();

  store::SharedSnapshotCache* const snapshots_;
  edge::EdgeProxy* const proxy_;
  const controller::CertificateStore* const certificates_;
  const controller::AcmeChallengeStore* const challenges_;
  edge::EdgeStates states_;  // Start's, then the watcher thread's
  // Last: stopped (its thread joined) before what its rounds use goes.
  store::CommitWatcher watcher_;
};

}  // namespace skiff::server
