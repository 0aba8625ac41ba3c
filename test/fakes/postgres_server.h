// PostgresServer: a real PostgreSQL 15 for tests, started by the test itself
// (CI starts no service): initdb into a temp dir, postgres listening only on a
// unix socket in it, trust authentication for the user "skiff". As root (the
// CI machine), initdb and postgres refuse to run, so they run as `nobody`,
// which then owns the temp dir.
//
// One server per test binary (starting one costs seconds); each test takes a
// fresh database of its own (CreateDatabase). initdb, the slow part, runs once
// per machine, user and PostgreSQL version: its cluster is kept as a template
// in a directory of the user's own in the temp dir (skiff-pg-UID/VERSION, see
// PrivateDir) and each server starts on a copy.
//
// postgres runs as a child of the test process (not daemonised by pg_ctl) with
// a parent-death signal (setpriv --pdeathsig KILL), so a test that crashes or
// is killed leaves no server behind. The signal follows the thread that
// started it: call Shared, Start and Restart from the test's main thread.
//
// Thread-safety: all methods may be called from any thread, but Stop/Start/
// Restart/Kill from one at a time.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"
#include "fakes/testing.h"

namespace skiff::testing {

class PostgresServer {
 public:
  // The binary's server, brought up at the first call; null when it cannot be
  // (no PostgreSQL installed, initdb failed...), with the reason in *why. It is
  // stopped when the process exits.
  static PostgresServer* Shared(std::string* why);

  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // A new empty database; returns its libpq connection string (key=value).
  Result<std::string> CreateDatabase();
  // The connection string of `database`, and the same as a postgresql:// URI.
  std::string ConnInfo(const std::string& database) const;
  std::string Uri(const std::string& database) const;
  // The name of the database of a connection string CreateDatabase returned.
  static std::string DatabaseOf(const std::string& conninfo);

  // Fast shutdown (clients are disconnected; what committed stays).
  Status Stop();
  // Starts it again after Stop or Kill, on the same socket; waits until it
  // accepts connections.
  Status Start();
  // Stop then Start.
  Status Restart();
  // Immediate shutdown, as a crash: no checkpoint, clients cut.
  Status Kill();

  // Terminates every connection to `database` but the one asking
  // (pg_terminate_backend); returns how many it terminated.
  Result<int> TerminateConnections(const std::string& database);

  // Runs `sql` on `database`; the first column of the first row, "" if none.
  Result<std::string> Query(const std::string& database, const std::string& sql);

  // Makes sure `path` is a directory of this user's (the effective uid) that
  // no one else may enter: made with mkdtemp (mode 0700) and renamed into
  // place when absent; kFailedPrecondition, naming it, when what is there is
  // not a directory (a symbolic link included), is another user's, or has a
  // mode other than 0700. The template cluster is kept at a name anyone can
  // guess: one another user planted there would start with their
  // configuration (archive_command, preloaded libraries), as this user.
  static Status PrivateDir(const std::string& path);

 private:
  PostgresServer() = default;
  Status Init();
  Status PgCtl(const std::string& args);
  // Makes this server's cluster in `data`: a copy of the template, or initdb's
  // when no test made the template yet (then kept as the template).
  Status MakeCluster(const std::string& data);
  // Waits for the postgres child to exit, once it was told to.
  void Reap();

  TempDir dir_;  // the socket, the log; data/ the cluster
  std::string bin_;
  std::string as_user_;  // "runuser -u nobody -- " when root, else ""
  pid_t pid_ = -1;       // the postgres child, while it runs
  std::mutex mu_;
  int databases_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace skiff::testing

// In a test body: `server` is the shared PostgreSQL, or the test skips (fails
// under CI=true) saying why there is none.
#define SKIFF_REQUIRE_POSTGRES(server)                                          \
  std::string skiff_pg_why_;                                                    \
  ::skiff::testing::PostgresServer* server =                                    \
      ::skiff::testing::PostgresServer::Shared(&skiff_pg_why_);                 \
  if (server == nullptr) {                                                      \
    if (::skiff::testing::InCi()) FAIL() << "no PostgreSQL: " << skiff_pg_why_; \
    GTEST_SKIP() << "no PostgreSQL: " << skiff_pg_why_;                         \
  }
