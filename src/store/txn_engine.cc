#include "store/txn_engine.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <tuple>
#include <utility>

#include "common/check.h"
#include "common/logging.h"
#include "store/txn_plan.h"

namespace skiff::store {
namespace {

// A retention as a revision or event count; "keep everything" (SIZE_MAX) must
// not overflow when subtracted.
int64_t AsCount(size_t retention) {
  return static_cast<int64_t>(
      std::min<size_t>(retention, static_cast<size_t>(std::numeric_limits<int64_t>::max() / 2)));
}

// An audit entry's time as every store keeps it: whole milliseconds, as
// events' times are kept (their JSON), so all stores answer alike.
Time StoredAuditTime(Time t) { return std::chrono::floor<std::chrono::milliseconds>(t); }

// A bound on stored (whole-millisecond) times: t >= bound and t < bound hold
// exactly when they hold against the bound rounded up to a millisecond.
Time AuditBound(Time t) { return std::chrono::ceil<std::chrono::milliseconds>(t); }

}  // namespace

TxnEngine::TxnEngine(std::unique_ptr<Backend> backend, EngineOptions options)
    : options_(options), hub_(SubscriberHub::Create()), backend_(std::move(backend)) {
  SKIFF_CHECK(backend_ != nullptr);
  // The one read of the revision outside a write, snapshot or change read:
  // Revision() does no I/O.
  Result<LogState> state = backend_->ReadLogState();
  if (state) {
    revision_ = state->revision;
  } else {
    SKIFF_LOG_WARN("store: cannot read the revision at open: {}", state.error().ToString());
  }
}

TxnEngine::~TxnEngine() = default;

Result<int64_t> TxnEngine::Commit(const Txn& txn) {
  Committed committed;
  {
    std::lock_guard lock(mu_);
    SKIFF_ASSIGN_OR_RETURN(committed, CommitLocked(txn));
    Saw(committed.revision);
    // Records and audit entries alone: no revision to tell.
    if (!committed.changed) return committed.revision;
    told_ = committed.revision;
  }
  hub_->Notify(committed.revision);
  return committed.revision;
}

Result<TxnEngine::Committed> TxnEngine::CommitLocked(const Txn& txn) {
  // Aborts the write on every way out but a successful CommitWrite, an
  // exception included (one from BeginWrite after its BEGIN, an allocation
  // failing while encoding, a throwing reader): a write left open would hold
  // the database's write lock and keep every later commit, of this server and
  // of others, waiting. AbortWrite is safe with no write open.
  struct AbortUnlessCommitted {
    Backend& backend;
    bool done = false;
    ~AbortUnlessCommitted() noexcept {
      if (done) return;
      try {
        backend.AbortWrite();
      } catch (const std::exception& e) {
        SKIFF_LOG_ERROR("store: aborting a write threw: {}", e.what());
      } catch (...) {
        SKIFF_LOG_ERROR("store: aborting a write threw");
      }
    }
  } guard{*backend_};
  // The log state is read inside the write (never a cached one): another
  // engine on the same database may have committed since this one last did.
  Result<LogState> begun = backend_->BeginWrite();
  if (!begun) {
    guard.done = true;  // a BeginWrite that fails ends what it started
    return tl::unexpected(begun.error());
  }
  LogState state = *begun;
  // The fence, read last (below): a database several servers share holds the
  // lease's row from this read to the end of the write (a takeover waits for
  // it), and the shorter that is, the less the leader's own renewal of the row
  // waits behind it.
  auto check_fence = [&]() -> Status {
    if (txn.fence_epoch() == 0) return OkStatus();
    SKIFF_ASSIGN_OR_RETURN(int64_t current, backend_->ReadLeaderEpoch());
    if (current != txn.fence_epoch()) {
      return FailedPrecondition("fenced: the write is of epoch " +
                                std::to_string(txn.fence_epoch()) + ", the leader's is now " +
                                std::to_string(current) + "; this server no longer leads");
    }
    return OkStatus();
  };
  Result<Committed> written = [&]() -> Result<Committed> {
    auto planned = PlanTxn(txn, state.revision, [this](Kind kind, const std::string& key) {
      return backend_->ReadObject(kind, key);
    });
    Status checked = planned ? CheckAppPreconditions(
                                   txn, *planned, [this] { return List<model::App>(Kind::kApp); })
                             : Status(tl::unexpected(planned.error()));
    // Record ops write as they check (a create is an insert that may find its
    // key), so they come after the checks that write nothing.
    if (checked) checked = ApplyRecordOps(txn, *backend_);
    if (!checked) {
      // A writer that no longer leads learns that first, whatever else it got
      // wrong (the contract's one code for "stop acting").
      if (checked.error().code != ErrorCode::kUnavailable) SKIFF_RETURN_IF_ERROR(check_fence());
      return tl::unexpected(checked.error());
    }
    const std::vector<Change>& changes = *planned;
    if (!changes.empty()) {
      SKIFF_RETURN_IF_ERROR(backend_->Write(changes, txn.fence_epoch()));
      state.revision = changes.back().revision;
      state.events += std::count_if(changes.begin(), changes.end(), [](const Change& c) {
        return KindOf(c.object) == Kind::kEvent;
      });
    }
    for (AuditEntry entry : txn.audit_entries()) {
      entry.time = StoredAuditTime(entry.time);
      entry.revision = changes.empty() ? 0 : state.revision;
      SKIFF_RETURN_IF_ERROR(backend_->AppendAudit(entry));
    }
    // Revisions are contiguous, so keeping the newest N changes is a floor.
    const int64_t floor = state.revision - AsCount(options_.change_retention);
    if (floor > state.compacted) {
      state.compacted = floor;
      SKIFF_RETURN_IF_ERROR(backend_->CompactLog(floor));
    }
    const int64_t excess = state.events - AsCount(options_.event_retention);
    if (excess > 0) {
      SKIFF_RETURN_IF_ERROR(backend_->DropOldestEvents(excess));
      state.events -= excess;
    }
    SKIFF_RETURN_IF_ERROR(check_fence());  // last, just before the commit
    SKIFF_RETURN_IF_ERROR(backend_->CommitWrite(state));
    return Committed{state.revision, !changes.empty()};
  }();
  guard.done = written.has_value();
  return written;
}

int64_t TxnEngine::Revision() const { return revision_.load(); }

void TxnEngine::Saw(int64_t revision) const {
  int64_t seen = revision_.load();
  while (seen < revision && !revision_.compare_exchange_weak(seen, revision)) {
  }
}

template <typename T>
Result<T> TxnEngine::Get(Kind kind, const std::string& key) const {
  std::lock_guard lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(std::optional<Object> object, backend_->ReadObject(kind, key));
  if (!object) return NotFound(std::string(ToString(kind)) + " \"" + key + "\" not found");
  return std::get<T>(std::move(*object));
}

template <typename T>
Result<std::vector<T>> TxnEngine::List(Kind kind, const std::string& key_prefix) const {
  SKIFF_ASSIGN_OR_RETURN(std::vector<Object> objects, backend_->ReadObjects(kind, key_prefix));
  std::vector<T> out;
  out.reserve(objects.size());
  for (Object& object : objects) out.push_back(std::get<T>(std::move(object)));
  return out;
}

Result<model::App> TxnEngine::GetApp(const std::string& name) const {
  return Get<model::App>(Kind::kApp, name);
}

Result<std::vector<model::App>> TxnEngine::ListApps() const {
  std::lock_guard lock(mu_);
  return List<model::App>(Kind::kApp);
}

Result<model::Deployment> TxnEngine::GetDeployment(const std::string& app, int64_t revision) const {
  return Get<model::Deployment>(Kind::kDeployment, app + "/" + std::to_string(revision));
}

Result<std::vector<model::Deployment>> TxnEngine::ListDeployments(const std::string& app) const {
  std::vector<model::Deployment> out;
  {
    std::lock_guard lock(mu_);
    SKIFF_ASSIGN_OR_RETURN(out, List<model::Deployment>(Kind::kDeployment, app + "/"));
  }
  SortDeployments(out);
  return out;
}

Result<model::Instance> TxnEngine::GetInstance(const std::string& id) const {
  return Get<model::Instance>(Kind::kInstance, id);
}

Result<std::vector<model::Instance>> TxnEngine::ListInstances(const InstanceFilter& filter) const {
  std::vector<model::Instance> out;
  {
    std::lock_guard lock(mu_);
    SKIFF_ASSIGN_OR_RETURN(out, List<model::Instance>(Kind::kInstance));
  }
  std::erase_if(out, [&](const model::Instance& i) {
    return (!filter.app.empty() && i.app != filter.app) ||
           (!filter.node.empty() && i.node != filter.node);
  });
  return out;
}

Result<model::Node> TxnEngine::GetNode(const std::string& id) const {
  return Get<model::Node>(Kind::kNode, id);
}

Result<std::vector<model::Node>> TxnEngine::ListNodes() const {
  std::lock_guard lock(mu_);
  return List<model::Node>(Kind::kNode);
}

Result<std::vector<model::Event>> TxnEngine::ListEvents(const EventFilter& filter) const {
  std::lock_guard lock(mu_);
  return backend_->ReadEvents(filter);
}

Result<Snapshot> TxnEngine::GetSnapshot() const {
  Snapshot snapshot;
  {
    // One read transaction: other servers may commit between the reads, and
    // the revision must be the one the objects are as of.
    std::lock_guard lock(mu_);
    SKIFF_RETURN_IF_ERROR(backend_->BeginRead());
    struct EndRead {
      Backend& backend;
      ~EndRead() { backend.EndRead(); }
    } end{*backend_};
    SKIFF_ASSIGN_OR_RETURN(LogState state, backend_->ReadLogState());
    snapshot.revision = state.revision;
    Saw(state.revision);
    SKIFF_ASSIGN_OR_RETURN(snapshot.apps, List<model::App>(Kind::kApp));
    SKIFF_ASSIGN_OR_RETURN(snapshot.deployments, List<model::Deployment>(Kind::kDeployment));
    SKIFF_ASSIGN_OR_RETURN(snapshot.instances, List<model::Instance>(Kind::kInstance));
    SKIFF_ASSIGN_OR_RETURN(snapshot.nodes, List<model::Node>(Kind::kNode));
  }
  SortDeployments(snapshot.deployments);
  return snapshot;
}

Result<std::vector<Change>> TxnEngine::ChangesSince(int64_t since, size_t limit) const {
  if (since < 0) return InvalidArgument("since must be >= 0 (got " + std::to_string(since) + ")");
  std::lock_guard lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(LogState state, backend_->ReadLogState());
  Saw(state.revision);
  if (since < state.compacted) return Compacted(since, state.compacted);
  if (since > state.revision) {
    return FailedPrecondition("revision " + std::to_string(since) +
                              " is newer than the log's newest, " + std::to_string(state.revision) +
                              ": the database went back (a failover that lost commits, a restored "
                              "backup); re-list, then go on from the revision listed");
  }
  SKIFF_ASSIGN_OR_RETURN(std::vector<Change> changes, backend_->ReadChanges(since, limit));
  // The log is the truth only if it has no hole: revisions are contiguous, so
  // anything but since + 1, since + 2, ... means another server compacted past
  // `since` between the two reads (or the log lost entries). Either way the
  // reader must re-list rather than skip changes it never sees.
  int64_t expected = since + 1;
  for (const Change& change : changes) {
    if (change.revision != expected) {
      Result<LogState> now = backend_->ReadLogState();
      return Compacted(since, now ? now->compacted : expected - 1);
    }
    ++expected;
  }
  return changes;
}

Status TxnEngine::PutRecord(RecordKind kind, const std::string& key, const std::string& value) {
  SKIFF_RETURN_IF_ERROR(CheckRecordKey(key));
  std::lock_guard lock(mu_);
  return backend_->WriteRecord(kind, key, value, /*replace=*/true).map([](bool) {});
}

Status TxnEngine::CreateRecord(RecordKind kind, const std::string& key, const std::string& value) {
  SKIFF_RETURN_IF_ERROR(CheckRecordKey(key));
  std::lock_guard lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(bool wrote, backend_->WriteRecord(kind, key, value, /*replace=*/false));
  if (!wrote) return AlreadyExists(DescribeRecord(kind, key) + " exists");
  return OkStatus();
}

Result<std::string> TxnEngine::GetRecord(RecordKind kind, const std::string& key) const {
  SKIFF_RETURN_IF_ERROR(CheckRecordKey(key));
  std::lock_guard lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(std::optional<std::string> value, backend_->ReadRecord(kind, key));
  if (!value) return NotFound(DescribeRecord(kind, key) + " not found");
  return std::move(*value);
}

Result<std::vector<Record>> TxnEngine::ListRecords(RecordKind kind) const {
  std::lock_guard lock(mu_);
  return backend_->ReadRecords(kind);
}

Status TxnEngine::DeleteRecord(RecordKind kind, const std::string& key) {
  SKIFF_RETURN_IF_ERROR(CheckRecordKey(key));
  std::lock_guard lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(bool erased, backend_->EraseRecord(kind, key));
  if (!erased) return NotFound(DescribeRecord(kind, key) + " not found");
  return OkStatus();
}

Result<int64_t> TxnEngine::AppendAudit(AuditEntry entry) {
  entry.time = StoredAuditTime(entry.time);
  std::lock_guard lock(mu_);
  return backend_->AppendAudit(entry);
}

Status TxnEngine::SetAuditCode(const std::string& request_id, int code) {
  if (request_id.empty()) return InvalidArgument("an audit code needs a request id", "request_id");
  if (code <= 0) {
    return InvalidArgument("an audit code must be > 0 (got " + std::to_string(code) + ")", "code");
  }
  std::lock_guard lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(int64_t set, backend_->SetAuditCode(request_id, code));
  if (set == 0) return NotFound("no audit entry of request " + request_id + " awaits its code");
  return OkStatus();
}

Result<std::vector<AuditEntry>> TxnEngine::ListAudit(const AuditFilter& filter) const {
  AuditFilter bounded = filter;
  bounded.since = AuditBound(filter.since);
  std::lock_guard lock(mu_);
  return backend_->ReadAudit(bounded);
}

Result<int64_t> TxnEngine::PruneAudit(Time before) {
  std::lock_guard lock(mu_);
  return backend_->PruneAudit(AuditBound(before));
}

tl::unexpected<Error> TxnEngine::Compacted(int64_t since, int64_t compacted) {
  return FailedPrecondition("revision " + std::to_string(since) +
                            " is compacted (oldest replayable: " + std::to_string(compacted) +
                            "); re-list first");
}

void TxnEngine::NotifyCommitted(int64_t revision) {
  {
    std::lock_guard lock(mu_);
    // This engine's own commits are told by their committing thread (told_
    // moved past them under the lock that covered their COMMIT, so a listener
    // that read them from the database finds them told).
    if (revision <= told_) return;
    told_ = revision;
    Saw(revision);
  }
  hub_->Notify(revision);
}

std::unique_ptr<Subscription> TxnEngine::Subscribe(std::function<void(int64_t)> on_commit) {
  return hub_->Subscribe(std::move(on_commit));
}

}  // namespace skiff::store
