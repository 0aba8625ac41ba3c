// Thin RAII helpers over the SQLite C API for SqliteStore: a connection and a
// prepared statement, with failures turned into skiff::Result. Not thread-safe:
// the owner serialises use (SqliteStore holds one mutex for its connection).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace skiff::store::sqlite {

// The error for a failed SQLite call on db: kUnavailable, since the causes
// (busy, I/O, full disk) are transient or outside the caller's control.
tl::unexpected<Error> SqliteError(sqlite3* db, std::string_view what);

// Runs one or more statements that return no rows.
Status Exec(sqlite3* db, const std::string& sql);

class Statement {
 public:
  Statement() = default;
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  static Result<Statement> Prepare(sqlite3* db, std::string_view sql);

  // Parameters are 1-based, as in SQLite. Text is copied (SQLITE_TRANSIENT).
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);

  // Steps once: true when a row is available, false when done.
  Result<bool> Step();
  // Steps a statement that returns no rows to completion, then resets it.
  Status Run();
  // Makes the statement ready for new bindings; always safe to call.
  void Reset();

  int64_t ColumnInt64(int index) const;
  std::string_view ColumnText(int index) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when leaving a scope, so early returns leave no statement
// mid-step (an unfinished read would keep its snapshot open).
class ScopedReset {
 public:
  explicit ScopedReset(Statement& s) : s_(s) {}
  ~ScopedReset() { s_.Reset(); }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  Statement& s_;
};

}  // namespace skiff::store::sqlite
