// TxnEngine: the one implementation of the Store contract (store.h) over a
// Backend (backend.h) that does the I/O. Every store is a TxnEngine with its
// own backend (MemoryStore, SqliteStore), so they fail the same transactions
// with the same codes, number revisions alike, compact the same way and notify
// subscribers alike; a new store writes only a Backend.
//
// A commit runs, under the engine's lock: BeginWrite; the txn's plan
// (txn_plan.h: validation, optimistic concurrency, one revision per op) and
// its preconditions (the fence's epoch, domain claims, app exclusions), from
// reads of the state as it was; its record ops and required records; the
// writes, the audit entries, the log's compaction and the events' retention;
// CommitWrite. A txn without object ops or events (records and audit entries
// alone) takes no revision and tells no subscriber. Any failure (an exception
// too) aborts the write, so a failed Commit leaves nothing. Subscribers are
// told after the lock is released.
//
// Several engines may share one database (PostgreSQL, several servers): the
// log state is read inside each write, never cached; Revision() is the newest
// revision this engine has seen (its own commits, NotifyCommitted, snapshots,
// ChangesSince), cached with no I/O because it is read on event loops; a
// store whose database others write calls NotifyCommitted for their commits;
// GetSnapshot reads in one read transaction; ChangesSince never returns a
// log with a hole.
//
// Thread-safety: all methods are safe to call from any thread. One lock
// serialises every call into the backend.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/backend.h"
#include "store/store.h"
#include "store/subscribers.h"

namespace skiff::store {

struct EngineOptions {
  // How many of the newest changes ChangesSince can replay; older ones are
  // compacted away and a reader behind them gets kFailedPrecondition.
  size_t change_retention = 100'000;
  // How many of the newest events are kept; older ones are dropped.
  size_t event_retention = 10'000;
};

class TxnEngine : public Store {
 public:
  // REQUIRES: backend is not null.
  TxnEngine(std::unique_ptr<Backend> backend, EngineOptions options);
  ~TxnEngine() override;
  TxnEngine(const TxnEngine&) = delete;
  TxnEngine& operator=(const TxnEngine&) = delete;

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
  Status PutRecord(RecordKind kind, const std::string& key, const std::string& value) override;
  Status CreateRecord(RecordKind kind, const std::string& key, const std::string& value) override;
  Result<std::string> GetRecord(RecordKind kind, const std::string& key) const override;
  Result<std::vector<Record>> ListRecords(RecordKind kind) const override;
  Status DeleteRecord(RecordKind kind, const std::string& key) override;
  Result<int64_t> AppendAudit(AuditEntry entry) override;
  Status SetAuditCode(const std::string& request_id, int code) override;
  Result<std::vector<AuditEntry>> ListAudit(const AuditFilter& filter) const override;
  Result<int64_t> PruneAudit(Time before) override;
  std::unique_ptr<Subscription> Subscribe(std::function<void(int64_t)> on_commit) override;

 protected:
  // For a store whose database other servers write too: tells subscribers that
  // `revision` (another server's commit, or the newest seen after a lost
  // connection) is committed, unless they were told of it or a later one
  // already. Any thread; no store lock may be held.
  void NotifyCommitted(int64_t revision);

 private:
  static tl::unexpected<Error> Compacted(int64_t since, int64_t compacted);
  // Raises revision_ to `revision` if that is newer. Any thread, lock or not.
  void Saw(int64_t revision) const;
  struct Committed {
    int64_t revision = 0;  // the txn's last, or the current one when it has no changes
    bool changed = false;  // it took revisions (Txn::has_changes)
  };
  // REQUIRES: mu_ held.
  Result<Committed> CommitLocked(const Txn& txn);
  template <typename T>
  Result<T> Get(Kind kind, const std::string& key) const;
  template <typename T>
  Result<std::vector<T>> List(Kind kind, const std::string& key_prefix = "") const;

  const EngineOptions options_;
  const std::shared_ptr<SubscriberHub> hub_;

  mutable std::mutex mu_;
  const std::unique_ptr<Backend> backend_;  // GUARDED_BY(mu_)
  // The newest revision read or written; atomic so Revision() takes no lock
  // (a commit may hold mu_ for as long as the database takes to time out).
  mutable std::atomic<int64_t> revision_ = 0;
  int64_t told_ = 0;  // GUARDED_BY(mu_): the newest revision subscribers were told of
};

}  // namespace skiff::store
