// PeerPool: the servers sharing this server's database as one net::ServerPool,
// for the server's own agent and edge when the store is shared
// (docs/postgres.md): they reach the leader over HTTP as standalone agents
// and edges do, because the leader judges nodes by the heartbeats and drains
// by the edges' reports it holds in memory. The list is this server's own URL
// first, then the leader's, then the other servers alive, read from the
// servers' list (store::LeaderLease::ListServers) and read again every
// `interval`, so that a server that joins is reached and one long gone is no
// longer tried. A failover needs no new read: every live server is listed,
// and the pool moves on from one that does not answer or does not lead (503).
//
// Thread-safety: Start and Stop from one thread; pool() and Refresh from any.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "net/server_pool.h"
#include "store/leader_lease.h"

namespace skiff::server {

// The base URLs in the order the pool tries them: `own` first, then the
// leader's, then the others whose last heartbeat is within `alive` of the
// newest one listed (all by the database's clock: no clock of this machine
// enters), by id. Servers without an address and repeats are left out, and
// so, when `own` is https:// (this server serves TLS), is a server
// advertising plain http:// off loopback (net::SendsInClear): the agent's and
// the edge's credentials would cross the network in clear. Those left out so
// are added to `in_clear` when given, as "<id> (<address>)".
std::vector<std::string> PeerUrls(const std::string& own,
                                  const std::vector<store::ServerRecord>& servers, Duration alive,
                                  std::vector<std::string>* in_clear = nullptr);

class PeerPool {
 public:
  // `lease` and `clock` are not owned and must outlive the pool. `own_url`:
  // this server's advertised URL; `interval`: how often the list is read
  // again; servers not seen for `alive` are left out (PeerUrls); https://
  // peers are trusted as `trust` says (the servers' shared CA).
  PeerPool(store::LeaderLease* lease, const Clock* clock, std::string own_url, Duration interval,
           Duration alive, net::TlsTrust trust = {});
  ~PeerPool();  // Stops.
  PeerPool(const PeerPool&) = delete;
  PeerPool& operator=(const PeerPool&) = delete;

  // Reads the list once (a failure leaves the own URL alone: the next read
  // may do better), then starts reading it every interval. REQUIRES: once.
  void Start();
  // Idempotent; joins the thread.
  void Stop();

  // The pool: its copies share the lists this object gives it.
  const net::ServerPool& pool() const { return pool_; }

  // Reads the servers' list and gives the pool its URLs. kUnavailable (or the
  // lease's error) when the list cannot be read; the pool keeps its list then.
  Status Refresh();

 private:
  void Run();

  store::LeaderLease* const lease_;
  const Clock* const clock_;
  const std::string own_url_;
  const Duration interval_;
  const Duration alive_;
  net::ServerPool pool_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::string last_;       // GUARDED_BY(mu_): the list given last, given again only changed
  std::thread thread_;
};

}  // namespace skiff::server
