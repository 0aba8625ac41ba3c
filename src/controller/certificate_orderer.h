// CertificateOrderer: the leader's certificate loop (DESIGN.md: the loops
// that must run once per cluster; server/leader_loops.h runs it per term).
// On every store commit, and when the plan next changes, it plans
// (PlanCertificates) over the domains wanted, every host of an app not being
// deleted with edge.tls auto that an ACME CA can issue for (AcmeCanOrder),
// and the kept certificate records, and starts
// an order (acme::ObtainCertificate, a thread each) for every planned domain
// that has none in flight, at most `max_concurrent` at once. An order's end
// is kept on the domain's record (CertificateStore::PutIssued or
// RecordFailure, with their events), which commits and so makes the next
// pass. A domain newly served with no valid certificate gets one
// certificate.pending event. An ACME record of a domain no app serves any
// more is forgotten once it holds no valid certificate (CertificateStore::
// ForgetStale); a valid one stays until it expires, in case the domain
// comes back.
//
// Every event it commits is fenced at `fence_epoch`: once the store refuses
// one (kFailedPrecondition: another server leads) it starts no more orders.
//
// Thread-safety: Start and Stop from one thread; Pass and in_flight from
// any (tests call Pass with a ManualClock instead of Start).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "acme/directory.h"
#include "acme/order_flow.h"
#include "common/clock.h"
#include "controller/acme_account.h"
#include "controller/certificate_plan.h"
#include "controller/certificate_store.h"
#include "store/commit_watcher.h"
#include "store/shared_snapshot_cache.h"
#include "store/store.h"

namespace skiff::controller {

struct CertificateOrdererOptions {
  std::vector<std::string> contact;  // "mailto:ops@example.com"
  int64_t fence_epoch = 0;           // 0: not fenced (tests)
  size_t max_concurrent = 4;         // orders at once, for different domains
  Duration order_timeout = std::chrono::minutes(5);
  Duration poll_interval = std::chrono::seconds(1);
  // The directory is a private CA (--acme-ca-cert): single-label hosts are
  // ordered too (AcmeCanOrder).
  bool private_ca = false;
};

class CertificateOrderer {
 public:
  // Not owned; each must outlive the orderer. `publisher` answers the
  // challenges (the server's: through the store and the edges' routes).
  // `snapshots` (may be null: the store is read whole each pass) is the
  // server's cache of the state, which the routes and the drains read too.
  CertificateOrderer(store::Store* store, CertificateStore* certificates, AcmeAccountStore* account,
                     acme::AcmeDirectory* directory, const Clock* clock,
                     acme::ChallengePublisher publisher, CertificateOrdererOptions options,
                     store::SharedSnapshotCache* snapshots = nullptr);
  ~CertificateOrderer();  // Stops.
  CertificateOrderer(const CertificateOrderer&) = delete;
  CertificateOrderer& operator=(const CertificateOrderer&) = delete;

  // Starts the pass thread (a store::CommitWatcher's). REQUIRES: called once.
  void Start();
  // Stops the passes, asks every order in flight to stop and joins them.
  // Idempotent.
  void Stop();

  // One pass: reads the store, plans, starts the orders due. Returns when the
  // plan next changes (Time::max(): never). A pass that cannot read the store
  // logs and tries again in a few seconds.
  Time Pass();

  // How many orders are in flight now.
  size_t in_flight() const;
  // Whether the store refused a fenced write (this server no longer leads).
  bool deposed() const { return deposed_.load(); }

 private:
  // The hosts served with edge.tls auto, lowercase, each once, sorted: those
  // to order, and those no CA may validate (AcmeCanOrder).
  struct Hosts {
    std::vector<std::string> wanted;
    std::vector<std::string> passed_over;
  };
  static Hosts Wanted(const store::Snapshot& snapshot, bool private_ca);
  // Logs each host passed over the first time it is.
  void NotePassedOver(const std::vector<std::string>& hosts);
  void Order(const std::string& domain, std::stop_token stop);
  // Forgets the ACME records (failures only, or an expired certificate) of
  // domains not in `wanted` (sorted) with no order in flight.
  void ForgetUnserved(const std::vector<std::string>& wanted,
                      const std::vector<StoredCertificate>& kept, Time now);
  // Notes a refused fenced write.
  void Fenced(const Status& status);

  store::Store* const store_;
  store::SharedSnapshotCache* const snapshots_;  // may be null
  CertificateStore* const certificates_;
  AcmeAccountStore* const account_;
  acme::AcmeDirectory* const directory_;
  const Clock* const clock_;
  const acme::ChallengePublisher publisher_;
  const CertificateOrdererOptions options_;

  std::atomic<bool> deposed_{false};
  mutable std::mutex mu_;
  std::map<std::string, std::jthread> orders_;  // GUARDED_BY(mu_): by domain
  std::set<std::string> finished_;              // GUARDED_BY(mu_): orders to join
  std::set<std::string> announced_pending_;     // GUARDED_BY(mu_)
  std::set<std::string> passed_over_;           // GUARDED_BY(mu_): logged already
  bool stopping_ = false;                       // GUARDED_BY(mu_)

  // Last: stopped (its thread joined) before the state its passes use goes.
  store::CommitWatcher watcher_;
};

}  // namespace skiff::controller
