// CommitListener: how a server hears of the commits of other servers on the
// same PostgreSQL database. Its own connection LISTENs on the channel every
// commit NOTIFYs (inside the committing transaction, so a notification means
// "committed"); it then reads the newest revision from the database and hands
// it on.
//
// A notification only wakes it: the revision it hands on is always read from
// log_state, so notifications lost with a dropped connection, coalesced or
// arriving during a restart of PostgreSQL cost nothing. It also reads after
// every (re)connect and every `safety_interval` without one. Readers then take
// the changes themselves from the log (ChangesSince): the log is the truth.
//
// Thread-safety: constructed and destroyed on one thread; `on_revision` runs
// on the listener's own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "common/clock.h"

namespace skiff::store::postgres {

// The channel every commit notifies, its payload the revision.
inline constexpr const char* kCommitChannel = "skiff_commit";

class CommitListener {
 public:
  // Starts listening at once (connecting in the background).
  CommitListener(std::string conninfo, Duration safety_interval,
                 std::function<void(int64_t revision)> on_revision);
  // Stops and joins; no call of on_revision runs afterwards.
  ~CommitListener();
  CommitListener(const CommitListener&) = delete;
  CommitListener& operator=(const CommitListener&) = delete;

  // How many times it has (re)connected: for tests.
  int connects() const { return connects_.load(); }

 private:
  void Loop();
  // Waits on `fd` (if >= 0) and the wake-up event for at most `timeout`;
  // returns whether `fd` is readable.
  bool Wait(int fd, Duration timeout);

  const std::string conninfo_;
  const Duration safety_interval_;
  const std::function<void(int64_t)> on_revision_;
  const int wake_fd_;  // an eventfd written by the destructor
  std::atomic<bool> stopping_{false};
  std::atomic<int> connects_{0};
  std::thread thread_;
};

}  // namespace skiff::store::postgres
