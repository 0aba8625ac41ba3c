// PostgresSession: one libpq connection a test drives statement by statement,
// to hold a transaction (and its locks) open while the code under test runs,
// as another server's write or a slow commit would (PostgresServer::Query
// commits each statement).
//
// Thread-safety: one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "fakes/postgres_server.h"

namespace skiff::testing {

class PostgresSession {
 public:
  // Connects to `conninfo`; ok() says whether that worked, error() why not.
  explicit PostgresSession(const std::string& conninfo);

  bool ok() const;
  std::string error() const;

  // Runs `sql` (one statement, no parameters) and returns its status
  // (PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_FATAL_ERROR...).
  ExecStatusType Exec(const std::string& sql);

 private:
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
};

// How many sessions of `database` wait for a lock (pg_stat_activity): a
// test polls it to know that the statement it started is held up; -1 when it
// cannot be read.
int WaitingOnLocks(PostgresServer& server, const std::string& database);

}  // namespace skiff::testing
