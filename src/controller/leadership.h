// Leadership: which server runs the loops that must run once (DESIGN.md,
// "Several servers"). It holds or seeks the lease (store/leader_lease.h, judged
// by the database's clock) and tells its owner when this server's term starts
// (Elected(epoch): start the loops, their writes fenced at epoch) and when it
// ends (Deposed: stop them).
//
// Two threads, so that a database that hangs never keeps a deposed server
// acting:
//   - the renewer talks to the lease: every ttl/3 it renews the term it holds
//     (or, holding none, tries to acquire one: at once when the holder's lease
//     runs out sooner, as the database says), and sends this server's
//     heartbeat; while leading, it also prunes the servers' list;
//   - the actor calls Elected and Deposed. It deposes as soon as the term is
//     lost (a renewal refused) or its local deadline passes, whatever the
//     renewer is waiting on.
//
// The local deadline. A renewal (or acquisition) that succeeds extends the
// lease to the database's now() + ttl, where the database's now() is read
// after the request was sent. The renewer notes, on this process's monotonic
// clock, the moment it SENT the request (before any of that), and the actor
// stops acting at sent + ttl - margin. Since sent comes before the database's
// now(), sent + ttl comes no later than the lease's expiry, in real time: this
// server stops before any other can take the lease, whatever the clocks' wall
// times are; only their rates matter (parts per million), and the margin
// (ttl/5) covers them and the time stopping the loops takes. The monotonic
// clock is steady_clock (CLOCK_MONOTONIC), which keeps counting while the
// process is stopped (SIGSTOP), so a process that wakes up finds its deadline
// passed at once. (It does not count while the whole machine is suspended;
// a suspended machine's loops do not run either, and on waking the actor
// deposes as soon as a renewal is refused.) Even so the deadline is a courtesy
// to the others, not what keeps the state safe: every write of the loops is
// fenced at the term's epoch, which the store checks in the write's own
// transaction.
//
// Thread-safety: Start and Stop from one thread; state() from any. Elected
// and Deposed run on the actor thread, never at once, and alternate (each
// Elected is followed by one Deposed, by Stop at the latest).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "store/leader_lease.h"

namespace skiff::controller {

struct LeadershipOptions {
  // This server: its id (with a nonce of this process) holds the lease; all of
  // it is its heartbeat.
  store::ServerInfo server;
  Duration ttl = std::chrono::seconds(5);
  // While leading, the servers' list forgets a server not seen for this long
  // (LeaderLease::PruneServers). 0: the longer of 10 ttls and a day, so a
  // server that went away stays listed, with its last heartbeat, long enough
  // for someone to notice.
  Duration forget_servers_after{0};
};

class Leadership {
 public:
  struct Callbacks {
    std::function<void(int64_t epoch)> elected;  // a term starts: act, fenced at epoch
    std::function<void()> deposed;               // it ended: stop acting (return when stopped)
  };

  // How long before its lease could expire a leader stops acting (ttl/5).
  static Duration Margin(Duration ttl) { return ttl / 5; }
  // How long a server goes unseen before the leader forgets it, by default:
  // the longer of 10 ttls and a day.
  static Duration ForgetServersAfter(Duration ttl) {
    return std::max<Duration>(10 * ttl, std::chrono::hours(24));
  }

  // `lease` and `clock` are not owned and must outlive this.
  // REQUIRES: options.ttl >= 3 ms; options.server.id is not empty.
  Leadership(store::LeaderLease* lease, const Clock* clock, LeadershipOptions options,
             Callbacks callbacks);
  ~Leadership();  // Stops.
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  // Starts both threads. REQUIRES: called once.
  void Start();
  // Deposes (waiting for Deposed to return), then releases the lease so that
  // another server takes it at once, and joins. Idempotent.
  void Stop();

  struct State {
    bool leading = false;  // between Elected and Deposed
    int64_t epoch = 0;     // the term's, while leading
  };
  State state() const;

 private:
  void Renew();
  void Act();
  // Ends the term `epoch` locally (refused or past its deadline). REQUIRES: mu_ held.
  void LoseTermLocked(int64_t epoch);

  store::LeaderLease* const lease_;
  const Clock* const clock_;
  const LeadershipOptions options_;
  // This process's holder of the lease: the server's id and a random nonce,
  // so that a second server started under the same id does not take the
  // lease as its own (store::LeaseHolder).
  const std::string holder_;
  const Callbacks callbacks_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  int64_t term_ = 0;       // GUARDED_BY(mu_): the term the renewer holds; 0: none
  MonoTime deadline_;      // GUARDED_BY(mu_): act no later than this in term_
  int64_t acting_ = 0;     // GUARDED_BY(mu_): the term Elected was called for; 0: none
  std::thread renewer_;
  std::thread actor_;
};

}  // namespace skiff::controller
