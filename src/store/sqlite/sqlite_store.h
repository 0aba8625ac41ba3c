// SqliteStore: the embedded durable Store, one SQLite file in WAL mode with
// synchronous=FULL, so a Commit that returned survives a crash of the process
// (and, as far as the disk honours fsync, of the machine).
//
// Objects are stored as model/codec.h JSON; the schema is versioned (see
// migrations.h). The store assumes it is the only writer of its file: it keeps
// the current revision in memory between commits. One connection, guarded by one
// mutex, serves all threads; commits are serialised by it anyway.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "store/sqlite/statement.h"
#include "store/store.h"
#include "store/subscribers.h"

namespace skiff::store {

class SqliteStore final : public Store {
 public:
  struct Options {
    // How many of the newest changes ChangesSince can replay (see MemoryStore).
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

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Store:
  Result<int64_t> Commit(const Txn& txn) override;
  int64_t Revision() const override;
  Result<model::App> GetApp(const std::string& name) const override;
  Result<std::vector<model::App>> ListApps() const override;
  Result<model::Deployment> GetDeployment(const std::string& app, int64_t revision) const override;
  Result<std::vector<model::Deployment>> ListDeployments(const std::string& app) const override;
  Result<model::Instance> GetInstance(const std::string& id) const override;
  Result<std::vector<model::Instance>> ListInstances(const InstanceFilter& filter) const override;
  Result<model::Node> GetNode(const std::string& id) const override;
  Result<std::vector<model::Node>> ListNodes() const override;
  Result<std::vector<model::Event>> ListEvents(const EventFilter& filter) const override;
  Result<Snapshot> GetSnapshot() const override;
  Result<std::vector<Change>> ChangesSince(int64_t since, size_t limit) const override;
  std::unique_ptr<Subscription> Subscribe(std::function<void(int64_t)> on_commit) override;

 private:
  // Every statement the store runs, prepared once at Open.
  struct Statements {
    sqlite::Statement begin;
    sqlite::Statement commit;
    sqlite::Statement rollback;
    sqlite::Statement get_object;     // (kind, key) -> version, data
    sqlite::Statement list_kind;      // (kind) -> version, data, by key
    sqlite::Statement list_prefix;    // (kind, lo, hi) -> version, data, lo <= key < hi
    sqlite::Statement put_object;     // (kind, key, version, data)
    sqlite::Statement delete_object;  // (kind, key)
    sqlite::Statement add_event;      // (id, app, data)
    sqlite::Statement list_events;    // (after_id, app or '', limit) -> id, data, newest first
    sqlite::Statement list_events_forward;  // the same, oldest first
    sqlite::Statement trim_events;          // (count): drops the oldest count events
    sqlite::Statement add_change;           // (revision, kind, key, deleted, version, data)
    sqlite::Statement changes_since;    // (since, limit) -> revision, kind, deleted, version, data
    sqlite::Statement compact_changes;  // (upto): drops revisions <= upto
    sqlite::Statement update_meta;      // (revision, compacted)
  };

  SqliteStore(sqlite3* db, Options options);
  Status Prepare();
  Status LoadMeta();

  // REQUIRES: mu_ held.
  Result<std::optional<Object>> ReadObject(Kind kind, const std::string& key) const;
  template <typename T>
  Result<T> Get(Kind kind, const std::string& key) const;
  template <typename T>
  Result<std::vector<T>> ListKind(Kind kind) const;
  Status WriteChanges(const std::vector<Change>& changes, int64_t* compacted, int64_t* event_count);

  const Options options_;
  const std::shared_ptr<SubscriberHub> hub_;

  mutable std::mutex mu_;
  sqlite3* db_;               // GUARDED_BY(mu_); owned
  mutable Statements stmts_;  // GUARDED_BY(mu_)
  int64_t revision_ = 0;      // GUARDED_BY(mu_): mirrors meta.revision
  int64_t compacted_ = 0;     // GUARDED_BY(mu_): mirrors meta.compacted
  int64_t event_count_ = 0;   // GUARDED_BY(mu_): rows in events
};

}  // namespace skiff::store
