// Connection: one libpq connection with the statements a user prepares on it,
// reconnected on the next use after it was lost. The PostgreSQL store's
// backend and its commit listener each own one.
//
// Errors: kUnavailable when the server cannot be reached, the connection is
// lost, or the server refuses for a while (shutting down, read-only,
// too many connections, a lock not had within lock_timeout); kAborted for a serialisation failure
// or deadlock; kInternal for anything else (a statement this build got wrong).
//
// Thread-safety: none; one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace skiff::store::postgres {

// The rows of one statement's result, owned.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  std::string_view Text(int row, int column) const;
  // kInternal when the value is not a decimal integer.
  Result<int64_t> Int(int row, int column) const;
  bool Bool(int row, int column) const { return Text(row, column) == "t"; }
  // The command tag ("COMMIT", "ROLLBACK", "INSERT 0 1", ...).
  std::string_view Command() const { return PQcmdStatus(result_.get()); }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

class Connection {
 public:
  struct Statement {
    std::string name;
    std::string sql;
  };

  // Remembers what to connect to and what to prepare; connects on first use.
  // `setup` (SQL, e.g. SETs of timeouts) runs on every new connection.
  Connection(std::string conninfo, std::vector<Statement> statements, std::string setup = "");
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (and prepares every statement) unless connected and healthy.
  // After a failed connect, fails fast with the same error for
  // kConnectRetryDelay instead of trying again: it is called for every use,
  // under the store's lock, and each try may wait out connect_timeout.
  // Errors: kInvalidArgument for a connection string libpq cannot parse;
  // kUnavailable with libpq's message (refused credentials, an unreachable
  // server).
  // REQUIRES: no transaction open (a lost one is not silently replaced).
  Status EnsureConnected();

  // Runs `sql` (no parameters; several statements allowed).
  Result<Rows> Exec(const std::string& sql);
  // Runs the prepared statement `name` with text parameters.
  Result<Rows> Run(const std::string& name, std::initializer_list<std::string> params);

  // Closes the connection (the server rolls back what was open); the next
  // EnsureConnected opens a new one.
  void Drop();

  // The connection, or null when there is none. For LISTEN's socket.
  PGconn* raw() const { return conn_; }

  // How many times it tried to connect (for tests).
  int connect_attempts() const { return connect_attempts_; }

  static constexpr std::chrono::milliseconds kConnectRetryDelay{1000};

 private:
  Result<Rows> Check(PGresult* result, std::string_view what);

  const std::string conninfo_;
  const std::vector<Statement> statements_;
  const std::string setup_;
  PGconn* conn_ = nullptr;
  bool broken_ = false;  // an error said the connection is no good any more
  int connect_attempts_ = 0;
  // After a failed connect: no new try before retry_at_; fail with this.
  std::chrono::steady_clock::time_point retry_at_{};
  std::string connect_error_;
};

// The database a connection string names, for messages: its host, port,
// dbname and user, never its password. Never fails.
std::string DescribeConnInfo(const std::string& conninfo);

}  // namespace skiff::store::postgres
