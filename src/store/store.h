// Store: the durable state of the control plane and its change log.
//
// Every write goes through Commit(Txn): all of a transaction's operations apply
// or none do, with its record writes and audit entries. Each object operation
// takes the next global revision (so revisions are unique per change and
// strictly increasing); an object's `version` is the revision of its last write. Optimistic
// concurrency: every Put/Delete states the version it expects, and a transaction whose expectations
// do not hold writes nothing. Once Commit returns, the write is durable (SqliteStore: fsynced WAL).
//
// The change log lets anyone replay every change after a revision, in order
// (ChangesSince), and be told of new ones (Subscribe): the etcd / Kubernetes
// resourceVersion model. Old entries are compacted; a reader behind the
// compaction gets kFailedPrecondition and must re-list (GetSnapshot) first.
//
// Thread-safety: all methods are safe to call from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "model/resources.h"
#include "store/audit.h"

namespace skiff::store {

enum class Kind { kApp, kDeployment, kInstance, kNode, kEvent };
std::string_view ToString(Kind kind);  // "app", "deployment", "instance", "node", "event"

using Object =
    std::variant<model::App, model::Deployment, model::Instance, model::Node, model::Event>;

// The key of an object within its kind: app name, "app/revision", instance id,
// node id, event id (decimal).
std::string KeyOf(const Object& object);

// Sorts deployments by (app, revision): the order every listing promises.
// (Their keys sort "app/10" before "app/9"; the contract is numeric order.)
void SortDeployments(std::vector<model::Deployment>& deployments);
Kind KindOf(const Object& object);

// Records: small values kept beside the objects but outside the change log: a
// record write takes no revision, wakes no subscriber and shows in no watch or
// snapshot. They hold what every server of one database must share and nobody
// watches: the hashes of join tokens, node credentials and the admin token
// and the servers' own edges' credentials (never a secret in clear), the
// standalone edges' last reports, and the edges' TLS certificates (their keys
// sealed, controller/certificate_store.h; their writes commit an event so that
// the edges hear of them); and what says who may do what (src/auth/): API
// tokens (hashed) and when each was last used, projects, users (their
// passwords hashed) and their sessions (hashed), and apps' secrets (sealed).
enum class RecordKind {
  kJoinToken,
  kNodeCredential,
  kAdminToken,
  kEdge,
  kEdgeCredential,
  kCertificate,
  kApiToken,
  kApiTokenUse,
  kProject,
  kUser,
  kSession,
  kSecret
};
inline constexpr size_t kRecordKinds = 12;  // how many there are
static_assert(kRecordKinds == static_cast<size_t>(RecordKind::kSecret) + 1,
              "kRecordKinds must count RecordKind: a kind added last changes both");
// "join_token", "node_credential", "admin_token", "edge", "edge_credential",
// "certificate", "api_token", "api_token_use", "project", "user", "session", "secret"
std::string_view ToString(RecordKind kind);

struct Record {
  std::string key;
  std::string value;
  friend bool operator==(const Record&, const Record&) = default;
};

// Expected versions for Put/Delete.
inline constexpr int64_t kMustNotExist = 0;  // create
inline constexpr int64_t kAnyVersion = -1;   // unconditional (use sparingly)

class Txn {
 public:
  struct Op {
    Object object;  // for a delete: only its kind and key matter
    bool is_delete = false;
    int64_t expected_version = kAnyVersion;
  };

  // Create (expected_version == kMustNotExist) or replace (== the current version).
  // The object's own `version` field is ignored; the store sets it.
  Txn& Put(Object object, int64_t expected_version);
  // Deletes the object of object's kind and key.
  Txn& Delete(Object object, int64_t expected_version);
  // Appends an event (its id is set to its revision; time is kept if set, else now).
  Txn& AddEvent(model::Event event);

  // A precondition: once the txn's ops are applied, no app but `app` lists any
  // of `domains` in its spec. The store checks it atomically with the writes
  // (no other commit comes between), so of two txns claiming one domain for
  // different apps at most one commits. When another app lists domains[i],
  // Commit fails with kAlreadyExists, field "domains[i]", and a message naming
  // the domain and that app.
  struct DomainClaim {
    std::string app;
    std::vector<std::string> domains;
  };
  Txn& ClaimDomains(std::string app, std::vector<std::string> domains);

  // A precondition: the txn commits only while `epoch` is the leader lease's
  // current epoch (store/leader_lease.h), checked inside the same transaction
  // as its writes. The writes of the loops only the leader runs carry their
  // term's epoch, so a leader deposed meanwhile (frozen past its lease, say)
  // writes nothing: Commit fails with kFailedPrecondition. REQUIRES: epoch > 0,
  // and the txn has no RequireNoApp (below).
  Txn& Fenced(int64_t epoch);

  // --- Records (above), written atomically with the txn's other ops: all or
  // nothing, as durable as they. A record op takes no revision and shows in
  // no change log, watch, snapshot or subscription. Record ops apply in
  // order, each seeing the earlier record ops of this txn.
  struct RecordOp {
    enum class Type { kPut, kCreate, kDelete };
    Type type = Type::kPut;
    RecordKind kind = RecordKind::kJoinToken;
    std::string key;
    std::string value;  // empty for a delete
  };
  // Writes `value` under (kind, key), replacing any value there.
  Txn& PutRecord(RecordKind kind, std::string key, std::string value);
  // Writes `value` under (kind, key); when the key is present, Commit fails
  // with kAlreadyExists (a message naming kind and key).
  Txn& CreateRecord(RecordKind kind, std::string key, std::string value);
  // Removes (kind, key); when it is absent, Commit fails with kNotFound.
  Txn& DeleteRecord(RecordKind kind, std::string key);

  // A precondition: (kind, key) is present once the txn's ops are applied,
  // checked atomically with the writes (no other writer, another server's
  // record call included, removes it before the txn commits). When absent,
  // Commit fails with kNotFound, a message naming kind and key.
  struct RecordRequirement {
    RecordKind kind = RecordKind::kJoinToken;
    std::string key;
  };
  Txn& RequireRecord(RecordKind kind, std::string key);

  // A precondition: once the txn's ops are applied, no stored app matches
  // `matches` (a predicate on the app, e.g. "its spec is in project P"),
  // checked atomically with the writes like ClaimDomains. Otherwise Commit
  // fails with kFailedPrecondition, message "<what>: app <name>" naming the
  // first matching app by name. `matches` is called under the store's lock:
  // it must be quick and must not call the store. Leader-loop (fenced) txns
  // never carry one (see Store::Commit). REQUIRES: matches is not empty, and
  // the txn is not fenced.
  struct AppExclusion {
    std::string what;
    std::function<bool(const model::App&)> matches;
  };
  Txn& RequireNoApp(std::string what, std::function<bool(const model::App&)> matches);

  // Adds an audit entry (store/audit.h), written in the same transaction as
  // the txn's ops: if it cannot be written, nothing of the txn is. The store
  // sets its id, and its revision to the txn's last (0 when the txn has no
  // object op or event).
  Txn& Audit(AuditEntry entry);

  const std::vector<Op>& ops() const { return ops_; }
  const std::vector<DomainClaim>& domain_claims() const { return claims_; }
  const std::vector<RecordOp>& record_ops() const { return record_ops_; }
  const std::vector<RecordRequirement>& required_records() const { return required_records_; }
  const std::vector<AppExclusion>& app_exclusions() const { return app_exclusions_; }
  const std::vector<AuditEntry>& audit_entries() const { return audit_; }
  // The epoch the txn is fenced at; 0 when it is not fenced.
  int64_t fence_epoch() const { return fence_epoch_; }
  // Writes nothing: no op of any sort (preconditions alone write nothing).
  // Committing an empty txn is kInvalidArgument.
  bool empty() const { return ops_.empty() && record_ops_.empty() && audit_.empty(); }
  // Has object ops or events: its commit takes revisions, shows in the change
  // log and tells subscribers. A txn of records and audit entries alone does
  // none of that.
  bool has_changes() const { return !ops_.empty(); }

 private:
  std::vector<Op> ops_;
  std::vector<DomainClaim> claims_;
  std::vector<RecordOp> record_ops_;
  std::vector<RecordRequirement> required_records_;
  std::vector<AppExclusion> app_exclusions_;
  std::vector<AuditEntry> audit_;
  int64_t fence_epoch_ = 0;
};

struct Change {
  int64_t revision = 0;
  bool deleted = false;
  Object object;  // the object as written (for a delete: as it was before)
};

// A consistent view of everything but events, as of `revision`. Deployments
// come in (app, revision) order; callers must not rely on the order of the
// other kinds (a SnapshotCache keeps them in no particular order).
struct Snapshot {
  int64_t revision = 0;
  std::vector<model::App> apps;
  std::vector<model::Deployment> deployments;
  std::vector<model::Instance> instances;
  std::vector<model::Node> nodes;
};

struct InstanceFilter {
  std::string app;   // empty = any
  std::string node;  // empty = any
};

struct EventFilter {
  std::string app;            // empty = all
  int64_t after_id = 0;       // only events with id > after_id
  size_t limit = 1000;        // at most this many: the newest of those that match...
  bool oldest_first = false;  // ...or the oldest, to page forward from after_id
};

// An active subscription; destroying it unsubscribes (and waits for a callback
// that is running on another thread to return).
class Subscription {
 public:
  virtual ~Subscription() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies txn atomically: its object ops and events, record ops and audit
  // entries, all or none. Returns the revision of its last object op or
  // event; for a txn with none (records and audit entries only,
  // !txn.has_changes()) the store's current revision, which it does not bump:
  // no subscriber is told of such a txn.
  // Errors (nothing written):
  //   kAlreadyExists  a Put with kMustNotExist found the object (no field), a
  //                   domain claim failed (field "domains[i]"), or a
  //                   Txn::CreateRecord found its key;
  //   kNotFound       a Put/Delete with a version found no object, a
  //                   Txn::DeleteRecord found no record, or a required record
  //                   (Txn::RequireRecord) is absent;
  //   kAborted        the object's version differs from the expected one;
  //   kInvalidArgument an empty txn (Txn::empty) or a malformed object or
  //                   record op (e.g. empty key);
  //   kFailedPrecondition the txn is fenced (Txn::Fenced) at an epoch that is
  //                   not the lease's current one: its writer no longer leads;
  //                   or an app matches a Txn::RequireNoApp. Leader-loop
  //                   (fenced) txns never carry RequireNoApp, so for a fenced
  //                   txn this code still means only "deposed": stop acting,
  //                   do not retry; a deposed writer gets it whatever else
  //                   its txn got wrong;
  //   kUnavailable    I/O failure.
  virtual Result<int64_t> Commit(const Txn& txn) = 0;

  // The newest revision this store has seen committed (0 for an empty store):
  // its own commits, and those of other writers of the same database once it
  // heard of them (a notification, a snapshot, ChangesSince). Does no I/O,
  // so it is safe on an event loop; never decreases.
  virtual int64_t Revision() const = 0;

  // kNotFound when absent.
  virtual Result<model::App> GetApp(const std::string& name) const = 0;
  virtual Result<std::vector<model::App>> ListApps() const = 0;  // by name
  virtual Result<model::Deployment> GetDeployment(const std::string& app,
                                                  int64_t revision) const = 0;
  // Ascending by revision; empty when the app has none.
  virtual Result<std::vector<model::Deployment>> ListDeployments(const std::string& app) const = 0;
  virtual Result<model::Instance> GetInstance(const std::string& id) const = 0;
  virtual Result<std::vector<model::Instance>> ListInstances(
      const InstanceFilter& filter) const = 0;
  virtual Result<model::Node> GetNode(const std::string& id) const = 0;
  virtual Result<std::vector<model::Node>> ListNodes() const = 0;
  // Ascending by id.
  virtual Result<std::vector<model::Event>> ListEvents(const EventFilter& filter) const = 0;

  virtual Result<Snapshot> GetSnapshot() const = 0;

  // Changes with revision > since, ascending, at most `limit`.
  // kFailedPrecondition when since is older than the compacted part of the
  // log, or newer than its newest revision (the database went back: a
  // failover that lost commits, a restored backup): either way the reader
  // must re-list (GetSnapshot) rather than wait for revisions it already saw.
  virtual Result<std::vector<Change>> ChangesSince(int64_t since, size_t limit) const = 0;

  // --- Records (above), one at a time (Txn::PutRecord and the like write
  // them with other ops at once). Each call is atomic on its own and durable
  // once it returns; concurrent writers of one key (other servers too): the
  // last wins.
  // Errors: kInvalidArgument for an empty key, kUnavailable on I/O failure,
  // and as said.

  // Writes `value` under (kind, key), replacing any value there.
  virtual Status PutRecord(RecordKind kind, const std::string& key, const std::string& value) = 0;
  // Writes `value` under (kind, key) only if the key is absent: of several
  // servers creating one key at once exactly one succeeds; kAlreadyExists for
  // the others (nothing written).
  virtual Status CreateRecord(RecordKind kind, const std::string& key,
                              const std::string& value) = 0;
  // kNotFound when absent.
  virtual Result<std::string> GetRecord(RecordKind kind, const std::string& key) const = 0;
  // Every record of `kind`, ascending by key (bytewise).
  virtual Result<std::vector<Record>> ListRecords(RecordKind kind) const = 0;
  // Removes (kind, key); kNotFound when absent.
  virtual Status DeleteRecord(RecordKind kind, const std::string& key) = 0;

  // --- The audit trail (store/audit.h): entries beside the objects, outside
  // the change log. Errors: kUnavailable on I/O failure, kInternal for a
  // stored row that does not decode, and as said.

  // Appends `entry` alone (its id and revision are ignored: the store sets
  // the id, the revision stays as given), durable once it returns. Returns
  // its id.
  virtual Result<int64_t> AppendAudit(AuditEntry entry) = 0;
  // Sets `code` on every entry of `request_id` whose code is 0 (its answer
  // was not known when it was written). kNotFound when there is none;
  // kInvalidArgument for an empty request_id or a code <= 0.
  virtual Status SetAuditCode(const std::string& request_id, int code) = 0;
  // The entries `filter` matches (store/audit.h), ascending by id.
  virtual Result<std::vector<AuditEntry>> ListAudit(const AuditFilter& filter) const = 0;
  // Removes the entries with time < before; returns how many.
  virtual Result<int64_t> PruneAudit(Time before) = 0;

  // Calls `on_commit(revision)` after every successful Commit that has
  // changes (Txn::has_changes), on the committing
  // thread, with no store lock held. The callback must be quick and must not
  // destroy its own subscription; it typically wakes a waiter. A store that
  // other servers write too (PostgresStore) also calls it, from a thread of its
  // own, with the newest revision after their commits (one call may stand for
  // several, and a revision may be told twice): a subscriber learns "something
  // up to `revision` is committed" and reads ChangesSince for what.
  virtual std::unique_ptr<Subscription> Subscribe(std::function<void(int64_t)> on_commit) = 0;
};

}  // namespace skiff::store
