// SqliteStore: the embedded durable Store, one SQLite file in WAL mode with
// synchronous=FULL, so a Commit that returned survives a crash of the process
// (and, as far as the disk honours fsync, of the machine).
//
// It is the TxnEngine (txn_engine.h) over a SQLite backend: objects are stored
// as model/codec.h JSON; the schema is versioned (see migrations.h). The store
// assumes it is the only writer of its file: the backend keeps the log state in
// memory between commits. One connection, used under the engine's lock, serves
// all threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "store/txn_engine.h"

namespace skiff::store {

class SqliteStore final : public TxnEngine {
 public:
  struct Options {
    // How many of the newest changes ChangesSince can replay (see EngineOptions).
    size_t change_retention = 100'000;
    // How many of the newest events are kept.
    size_t event_retention = 10'000;
    // How long a statement waits for a lock held by another connection.
    int busy_timeout_ms = 5'000;
  };

  // Opens (creating if needed) the database at path and migrates its schema.
  // Errors: kUnavailable when the file cannot be opened or written;
  // kFailedPrecondition when it was written by a newer schema version.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, Options options);

 private:
  SqliteStore(std::unique_ptr<Backend> backend, Options options);
};

}  // namespace skiff::store
