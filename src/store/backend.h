// Backend: the I/O half of a store, all that a store adds to the shared
// TxnEngine (txn_engine.h). The engine holds every rule of the Store contract
// (validation, optimistic concurrency, preconditions, revisions, the change
// log's compaction, event retention, snapshots, subscriptions); a backend only
// keeps what it is given: objects by (kind, key), events by id, the change log
// by revision, the log state, records and audit entries. It decides nothing.
//
// Thread-safety: the engine calls its backend from one thread at a time (under
// the engine's lock), so a backend needs no locking of its own. Other
// processes (other servers) may write the same database between calls, except
// between BeginWrite and its end, which keeps every other writer out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/leader_lease.h"
#include "store/store.h"

namespace skiff::store {

// The counters of the change log, persisted with every commit.
struct LogState {
  int64_t revision = 0;   // the last committed revision (0: none yet)
  int64_t compacted = 0;  // the newest revision dropped from the change log (0: none)
  int64_t events = 0;     // how many events are kept
  friend bool operator==(const LogState&, const LogState&) = default;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // --- Writes: BeginWrite, then Write / CompactLog / DropOldestEvents, then
  // CommitWrite or AbortWrite. The engine reads (below) only before it writes.

  // Starts a write transaction and returns the log state as of its start.
  // Another writer of the same data (another process) is kept out until the
  // write ends. kUnavailable on I/O failure.
  virtual Result<LogState> BeginWrite() = 0;
  // Records `changes` (consecutive revisions after the log state's): each in
  // the change log, and its object as written (a put), gone (a delete) or
  // appended (an event, keyed by its id). `epoch` is the leader's term the
  // write is fenced at (Txn::Fenced), 0 when it is not: a backend may record
  // it with each change (PostgreSQL does: which term wrote what).
  virtual Status Write(const std::vector<Change>& changes, int64_t epoch) = 0;
  // The leader lease's current epoch (store/leader_lease.h), read inside the
  // write, after everything else it does and just before CommitWrite, so that
  // no term can begin between this read and the commit: a database several
  // servers share holds the lease's row against a takeover until the write
  // ends (and only from this read on, so the leader's renewal of the row waits
  // for no more than the commit). The default is for a store one server owns:
  // its one term, kSingleServerEpoch.
  virtual Result<int64_t> ReadLeaderEpoch();
  // Drops the change log's entries with revision <= upto.
  virtual Status CompactLog(int64_t upto) = 0;
  // Drops the `count` oldest events (after the ones Write appended).
  virtual Status DropOldestEvents(int64_t count) = 0;
  // Makes everything written since BeginWrite durable and visible at once,
  // with `state` as the new log state. On error nothing of it remains. A
  // `state` equal to the one BeginWrite returned means the write changed no
  // object (records and audit entries only): nobody need be told of it.
  virtual Status CommitWrite(const LogState& state) = 0;
  // Drops everything written since BeginWrite. Cannot fail: a backend that
  // cannot roll back logs why and drops its connection, so that the database
  // ends the transaction and the next use starts afresh.
  virtual void AbortWrite() = 0;

  // --- A consistent read: between BeginRead and EndRead, reads see one
  // committed state, whatever other connections commit meanwhile. The default
  // does nothing, for a backend that only this engine writes (its lock is
  // enough). kUnavailable on I/O failure (then EndRead is not called).
  virtual Status BeginRead() { return OkStatus(); }
  virtual void EndRead() {}

  // --- Reads of committed state. Errors: kUnavailable (I/O), kInternal (a
  // stored row that does not decode).

  virtual Result<LogState> ReadLogState() = 0;
  // std::nullopt when absent. REQUIRES: kind is not kEvent.
  virtual Result<std::optional<Object>> ReadObject(Kind kind, const std::string& key) = 0;
  // The objects of `kind` whose key starts with `key_prefix` ("" = all),
  // ascending by key (bytewise). REQUIRES: kind is not kEvent.
  virtual Result<std::vector<Object>> ReadObjects(Kind kind, const std::string& key_prefix) = 0;
  // As Store::ListEvents.
  virtual Result<std::vector<model::Event>> ReadEvents(const EventFilter& filter) = 0;
  // The change log's entries with revision > since, ascending, at most `limit`.
  // REQUIRES: since >= the log state's `compacted`.
  virtual Result<std::vector<Change>> ReadChanges(int64_t since, size_t limit) = 0;

  // --- Records (store.h). Outside a write, each call is a durable
  // transaction of its own, apart from the log (it takes no lock another
  // writer's BeginWrite waits for). Between BeginWrite and its end, the calls
  // but ReadRecords are part of that write: later calls of it see their
  // effect, and it is kept only if CommitWrite succeeds.
  // REQUIRES: the key is not empty. kUnavailable on I/O failure.

  // Writes `value` under (kind, key): replacing what is there when `replace`,
  // else only if absent. Returns whether it wrote.
  virtual Result<bool> WriteRecord(RecordKind kind, const std::string& key,
                                   const std::string& value, bool replace) = 0;
  // Removes (kind, key); returns whether it was there.
  virtual Result<bool> EraseRecord(RecordKind kind, const std::string& key) = 0;
  virtual Result<std::optional<std::string>> ReadRecord(RecordKind kind,
                                                        const std::string& key) = 0;
  // Ascending by key (bytewise). REQUIRES: no write is in progress.
  virtual Result<std::vector<Record>> ReadRecords(RecordKind kind) = 0;
  // Whether (kind, key) is present, as the write in progress left it, and
  // keeps it so until the write ends: no other writer (another server's
  // record call included) changes or removes it meanwhile.
  // REQUIRES: a write is in progress.
  virtual Result<bool> HoldRecord(RecordKind kind, const std::string& key) = 0;

  // --- The audit trail (store/audit.h). Outside a write, each call is a
  // durable transaction of its own that takes no lock another writer's
  // BeginWrite waits for; AppendAudit between BeginWrite and its end is part
  // of that write. kUnavailable on I/O failure.

  // Appends `entry` as given, but for its id, which the backend sets: unique
  // and never reused (after a prune too), increasing in the order ids are
  // taken. Returns the id.
  virtual Result<int64_t> AppendAudit(const AuditEntry& entry) = 0;
  // Sets `code` on the entries of `request_id` whose code is 0; returns how
  // many. REQUIRES: no write is in progress.
  virtual Result<int64_t> SetAuditCode(const std::string& request_id, int code) = 0;
  // As Store::ListAudit; entry times compare at millisecond precision, and
  // filter.since is a whole millisecond (the engine rounds). REQUIRES: no
  // write is in progress.
  virtual Result<std::vector<AuditEntry>> ReadAudit(const AuditFilter& filter) = 0;
  // Removes the entries with time < before (a whole millisecond); returns
  // how many. REQUIRES: no write is in progress.
  virtual Result<int64_t> PruneAudit(Time before) = 0;
};

inline Result<int64_t> Backend::ReadLeaderEpoch() { return kSingleServerEpoch; }

}  // namespace skiff::store
