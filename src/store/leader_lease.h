// LeaderLease: the database's half of electing the one server that runs the
// loops that must run once (the controller loop, the drain tracker: DESIGN.md,
// "Several servers"). controller/leadership.h holds the timing half: when to
// renew, and when a server that could not renew must stop acting.
//
// The lease is one record: the holder's server id, the epoch of its term and
// when it expires. Every judgement of time (has it expired? until when does a
// renewal hold?) is made with the database's clock alone, inside the one
// statement that reads and writes the record: servers' clocks may disagree
// with each other and with the database, but each statement sees one clock.
// A server never compares a local timestamp with a stored one.
//
// Each successful TryAcquire starts a new term with a higher epoch. A write
// made for a term carries its epoch (Txn::Fenced) and the store commits it
// only while that epoch is still the current one, checked in the same
// transaction (store.h): a leader that was frozen past its lease cannot write
// once another server has taken the lease.
//
// Implementations: PostgresLeaderLease (postgres/postgres_leader_lease.h),
// which any number of servers share; SingleServerLease
// (single_server_lease.h) for SQLite and memory stores, which one server owns.
//
// Errors of every method: kUnavailable when the database cannot be reached (the
// caller tries again later; nothing changed, or the outcome of a renewal is
// unknown and the caller must act as if it failed).
//
// Thread-safety: all methods are safe to call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace skiff::store {

// The epoch of the one term of a store that one server owns (SQLite, memory):
// that server leads from start to end, and its writes are fenced at it.
inline constexpr int64_t kSingleServerEpoch = 1;

// The lease's holder for the server `server_id` in this process: the id, '#'
// and `nonce` (random per process; no '#' in it). The servers' list shows the
// id alone.
inline std::string LeaseHolder(std::string_view server_id, std::string_view nonce) {
  return std::string(server_id) + "#" + std::string(nonce);
}
// The server id of a holder: what comes before its last '#' (all of it when
// it has none).
inline std::string_view ServerIdOfHolder(std::string_view holder) {
  const size_t hash = holder.rfind('#');
  return hash == std::string_view::npos ? holder : holder.substr(0, hash);
}

// What a server says of itself in the servers' list.
struct ServerInfo {
  std::string id;       // --server-id
  std::string address;  // --advertise: the URL others reach its API at
  std::string version;  // the build's version
};

// One server as the servers' list shows it.
struct ServerRecord {
  std::string id;
  std::string address;
  std::string version;
  Time last_seen;  // its last heartbeat, by the database's clock
  // How long ago that was when the list was read, by the database's clock
  // too: whether a server is alive is judged without any clock of this machine.
  Duration silent{0};
  bool leader = false;  // holds the lease now (by the database's clock)
  int64_t epoch = 0;    // the epoch of its term when it leads; 0 otherwise
};

class LeaderLease {
 public:
  virtual ~LeaderLease() = default;

  // Takes the lease for `holder` for `ttl` when nobody else holds it (never
  // held, released, or expired by the database's clock), starting a new term:
  // the epoch is higher than the last term's and never one an earlier term
  // had, even where the database lost the last takeovers (a failover to a
  // standby that lacked them): PostgresLeaderLease takes it from the
  // database's clock as well as the last epoch: epochs are not a count of
  // terms. `holder` itself holding it
  // (a server restarted at once under the same id, or one that stopped acting
  // on its own deadline) starts a new term too, which fences the old one's
  // writes. When another server holds it, says who and for how much longer
  // (by the database's clock), so a follower can try again right then.
  // A holder is a server's id and a nonce of its process (LeaseHolder), so
  // two servers started under one id by mistake are two holders: one leads,
  // the other follows.
  // REQUIRES: ttl > 0.
  struct Acquired {
    bool acquired = false;
    int64_t epoch = 0;      // the new term's when acquired, else the current one's
    std::string holder;     // who holds it when not acquired
    Duration remaining{0};  // how long the holder's term lasts yet, when not acquired
  };
  virtual Result<Acquired> TryAcquire(const std::string& holder, Duration ttl) = 0;

  // Extends the term `epoch` that `holder` holds to `ttl` from now (the
  // database's now). kFailedPrecondition when that term is over (expired,
  // released, or another term began): the holder has lost the lease.
  // REQUIRES: ttl > 0.
  virtual Status Renew(const std::string& holder, int64_t epoch, Duration ttl) = 0;

  // Ends the term `epoch` of `holder` at once, so that another server may take
  // the lease without waiting for it to expire. OK when that term is over
  // already. The caller must have stopped its fenced writes first (those still
  // in flight are refused once another term begins anyway).
  virtual Status Release(const std::string& holder, int64_t epoch) = 0;

  // Records that `server` is alive now (the database's now), creating or
  // updating its entry in the servers' list.
  virtual Status Heartbeat(const ServerInfo& server) = 0;

  // Every server that has sent a heartbeat, by id, with which one leads.
  virtual Result<std::vector<ServerRecord>> ListServers() = 0;

  // Forgets the servers whose last heartbeat is `unseen_for` or longer ago
  // (by the database's clock), so that the list does not keep every server
  // that ever ran. The leader calls it (controller/leadership.h).
  // REQUIRES: unseen_for > 0.
  virtual Status PruneServers(Duration unseen_for) = 0;
};

}  // namespace skiff::store
