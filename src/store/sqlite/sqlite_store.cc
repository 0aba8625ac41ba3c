#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <tuple>
#include <utility>

#include "model/codec.h"
#include "store/sqlite/migrations.h"
#include "store/txn_plan.h"

namespace skiff::store {
namespace {

using sqlite::ScopedReset;
using sqlite::Statement;

std::optional<Kind> ParseKind(std::string_view s) {
  for (Kind k : {Kind::kApp, Kind::kDeployment, Kind::kInstance, Kind::kNode, Kind::kEvent}) {
    if (ToString(k) == s) return k;
  }
  return std::nullopt;
}

template <typename T>
Result<Object> AsObject(Result<T> r) {
  if (!r) return tl::unexpected(r.error());
  return Object(std::move(*r));
}

// The stored JSON back to an object whose version (an event's id) is `version`:
// the column is the truth, whatever the JSON says.
Result<Object> Decode(Kind kind, std::string_view data, int64_t version) {
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(data, ec);
  if (ec) {
    return Internal("stored " + std::string(ToString(kind)) + " is not JSON: " + ec.message());
  }
  Result<Object> object = [&]() -> Result<Object> {
    switch (kind) {
      case Kind::kApp:
        return AsObject(model::AppFromJson(json));
      case Kind::kDeployment:
        return AsObject(model::DeploymentFromJson(json));
      case Kind::kInstance:
        return AsObject(model::InstanceFromJson(json));
      case Kind::kNode:
        return AsObject(model::NodeFromJson(json));
      case Kind::kEvent:
        return AsObject(model::EventFromJson(json));
    }
    return Internal("unknown kind");
  }();
  if (!object) {
    return Internal("stored " + std::string(ToString(kind)) +
                    " does not decode: " + object.error().ToString());
  }
  SetVersion(*object, version);
  return object;
}

std::string Encode(const Object& object) {
  return std::visit([](const auto& o) { return boost::json::serialize(model::ToJson(o)); }, object);
}

// SQLite's LIMIT is a signed 64-bit integer; "no limit" callers pass SIZE_MAX.
int64_t ClampLimit(size_t limit) {
  return static_cast<int64_t>(
      std::min<size_t>(limit, static_cast<size_t>(std::numeric_limits<int64_t>::max())));
}

std::string KindName(Kind kind) { return std::string(ToString(kind)); }

void SortDeployments(std::vector<model::Deployment>& deployments) {
  // Keys sort "app/10" before "app/9"; the contract is numeric order.
  std::sort(deployments.begin(), deployments.end(), [](const auto& a, const auto& b) {
    return std::tie(a.app, a.revision) < std::tie(b.app, b.revision);
  });
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  return Open(path, Options{});
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, Options options) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  // From here the store owns db, even when opening failed (sqlite3_close frees it).
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, options));
  if (rc != SQLITE_OK) return sqlite::SqliteError(db, "open " + path);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  {
    // journal_mode answers with the mode in force; anything but WAL (e.g. on a
    // file system without shared memory) would silently weaken the guarantees.
    SKIFF_ASSIGN_OR_RETURN(Statement wal, Statement::Prepare(db, "PRAGMA journal_mode=WAL"));
    SKIFF_ASSIGN_OR_RETURN(bool row, wal.Step());
    if (!row || wal.ColumnText(0) != "wal") {
      return Unavailable("sqlite: " + path + ": cannot switch to WAL journal mode");
    }
  }
  // FULL: the WAL is fsynced at every commit, so an acknowledged Commit survives.
  SKIFF_RETURN_IF_ERROR(sqlite::Exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF"));
  SKIFF_RETURN_IF_ERROR(sqlite::Migrate(db));
  SKIFF_RETURN_IF_ERROR(store->Prepare());
  SKIFF_RETURN_IF_ERROR(store->LoadMeta());
  return store;
}

SqliteStore::SqliteStore(sqlite3* db, Options options)
    : options_(options), hub_(SubscriberHub::Create()), db_(db) {}

SqliteStore::~SqliteStore() {
  // Statements must be finalised before the connection closes.
  stmts_ = Statements{};
  sqlite3_close(db_);
}

Status SqliteStore::Prepare() {
  auto prepare = [this](Statement& s, std::string_view sql) -> Status {
    SKIFF_ASSIGN_OR_RETURN(s, Statement::Prepare(db_, sql));
    return OkStatus();
  };
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.begin, "BEGIN IMMEDIATE"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.commit, "COMMIT"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.rollback, "ROLLBACK"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.get_object, "SELECT version, data FROM objects WHERE kind = ?1 AND key = ?2"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.list_kind, "SELECT version, data FROM objects WHERE kind = ?1 ORDER BY key"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.list_prefix,
                                "SELECT version, data FROM objects "
                                "WHERE kind = ?1 AND key >= ?2 AND key < ?3 ORDER BY key"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.put_object,
                                "INSERT OR REPLACE INTO objects (kind, key, version, data) "
                                "VALUES (?1, ?2, ?3, ?4)"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.delete_object, "DELETE FROM objects WHERE kind = ?1 AND key = ?2"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.add_event, "INSERT INTO events (id, app, data) VALUES (?1, ?2, ?3)"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.list_events,
                                "SELECT id, data FROM events WHERE id > ?1 "
                                "AND (?2 = '' OR app = ?2) ORDER BY id DESC LIMIT ?3"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.list_events_forward,
                                "SELECT id, data FROM events WHERE id > ?1 "
                                "AND (?2 = '' OR app = ?2) ORDER BY id LIMIT ?3"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.trim_events,
              "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?1)"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.add_change,
                                "INSERT INTO changes (revision, kind, key, deleted, version, data) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.changes_since,
                                "SELECT revision, kind, deleted, version, data FROM changes "
                                "WHERE revision > ?1 ORDER BY revision LIMIT ?2"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.compact_changes, "DELETE FROM changes WHERE revision <= ?1"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.update_meta, "UPDATE meta SET revision = ?1, compacted = ?2 WHERE id = 1"));
  return OkStatus();
}

Status SqliteStore::LoadMeta() {
  std::lock_guard lock(mu_);
  {
    SKIFF_ASSIGN_OR_RETURN(Statement s,
                           Statement::Prepare(db_, "SELECT revision, compacted FROM meta"));
    SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Internal("sqlite store: meta row missing");
    revision_ = s.ColumnInt64(0);
    compacted_ = s.ColumnInt64(1);
  }
  SKIFF_ASSIGN_OR_RETURN(Statement s, Statement::Prepare(db_, "SELECT COUNT(*) FROM events"));
  SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
  event_count_ = row ? s.ColumnInt64(0) : 0;
  return OkStatus();
}

Result<std::optional<Object>> SqliteStore::ReadObject(Kind kind, const std::string& key) const {
  Statement& s = stmts_.get_object;
  ScopedReset reset(s);
  s.Bind(1, KindName(kind)).Bind(2, key);
  SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<Object>();
  SKIFF_ASSIGN_OR_RETURN(Object object, Decode(kind, s.ColumnText(1), s.ColumnInt64(0)));
  return std::optional<Object>(std::move(object));
}

Status SqliteStore::WriteChanges(const std::vector<Change>& changes, int64_t* compacted,
                                 int64_t* event_count) {
  for (const Change& change : changes) {
    const Kind kind = KindOf(change.object);
    const std::string key = KeyOf(change.object);
    const std::string data = Encode(change.object);
    if (kind == Kind::kEvent) {
      const auto& event = std::get<model::Event>(change.object);
      SKIFF_RETURN_IF_ERROR(
          stmts_.add_event.Bind(1, event.id).Bind(2, event.app).Bind(3, data).Run());
      ++*event_count;
    } else if (change.deleted) {
      SKIFF_RETURN_IF_ERROR(stmts_.delete_object.Bind(1, KindName(kind)).Bind(2, key).Run());
    } else {
      SKIFF_RETURN_IF_ERROR(stmts_.put_object.Bind(1, KindName(kind))
                                .Bind(2, key)
                                .Bind(3, change.revision)
                                .Bind(4, data)
                                .Run());
    }
    SKIFF_RETURN_IF_ERROR(stmts_.add_change.Bind(1, change.revision)
                              .Bind(2, KindName(kind))
                              .Bind(3, key)
                              .Bind(4, int64_t{change.deleted ? 1 : 0})
                              .Bind(5, VersionOf(change.object))
                              .Bind(6, data)
                              .Run());
  }
  const int64_t last = changes.back().revision;
  const auto retention = static_cast<int64_t>(
      std::min<size_t>(options_.change_retention, std::numeric_limits<int64_t>::max() / 2));
  // Revisions are contiguous, so keeping the newest N changes is a floor.
  if (last - retention > *compacted) {
    *compacted = last - retention;
    SKIFF_RETURN_IF_ERROR(stmts_.compact_changes.Bind(1, *compacted).Run());
  }
  const auto event_retention = static_cast<int64_t>(
      std::min<size_t>(options_.event_retention, std::numeric_limits<int64_t>::max() / 2));
  if (*event_count > event_retention) {
    SKIFF_RETURN_IF_ERROR(stmts_.trim_events.Bind(1, *event_count - event_retention).Run());
    *event_count = event_retention;
  }
  return stmts_.update_meta.Bind(1, last).Bind(2, *compacted).Run();
}

Result<int64_t> SqliteStore::Commit(const Txn& txn) {
  int64_t last = 0;
  {
    std::lock_guard lock(mu_);
    SKIFF_RETURN_IF_ERROR(stmts_.begin.Run());
    auto fail = [this](const Error& error) {
      // Nothing of the txn may remain; a failed ROLLBACK (SQLite already rolled
      // back after an I/O error) leaves nothing either.
      (void)stmts_.rollback.Run();
      return tl::unexpected(error);
    };
    auto planned = PlanTxn(txn, revision_, [this](Kind kind, const std::string& key) {
      return ReadObject(kind, key);
    });
    if (!planned) return fail(planned.error());
    int64_t compacted = compacted_;
    int64_t event_count = event_count_;
    if (auto written = WriteChanges(*planned, &compacted, &event_count); !written) {
      return fail(written.error());
    }
    if (auto committed = stmts_.commit.Run(); !committed) return fail(committed.error());
    revision_ = last = planned->back().revision;
    compacted_ = compacted;
    event_count_ = event_count;
  }
  hub_->Notify(last);
  return last;
}

int64_t SqliteStore::Revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

template <typename T>
Result<T> SqliteStore::Get(Kind kind, const std::string& key) const {
  std::lock_guard lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(std::optional<Object> object, ReadObject(kind, key));
  if (!object) return NotFound(KindName(kind) + " \"" + key + "\" not found");
  return std::get<T>(std::move(*object));
}

template <typename T>
Result<std::vector<T>> SqliteStore::ListKind(Kind kind) const {
  Statement& s = stmts_.list_kind;
  ScopedReset reset(s);
  s.Bind(1, KindName(kind));
  std::vector<T> out;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    SKIFF_ASSIGN_OR_RETURN(Object object, Decode(kind, s.ColumnText(1), s.ColumnInt64(0)));
    out.push_back(std::get<T>(std::move(object)));
  }
  return out;
}

Result<model::App> SqliteStore::GetApp(const std::string& name) const {
  return Get<model::App>(Kind::kApp, name);
}

Result<std::vector<model::App>> SqliteStore::ListApps() const {
  std::lock_guard lock(mu_);
  return ListKind<model::App>(Kind::kApp);
}

Result<model::Deployment> SqliteStore::GetDeployment(const std::string& app,
                                                     int64_t revision) const {
  return Get<model::Deployment>(Kind::kDeployment, app + "/" + std::to_string(revision));
}

Result<std::vector<model::Deployment>> SqliteStore::ListDeployments(const std::string& app) const {
  std::lock_guard lock(mu_);
  Statement& s = stmts_.list_prefix;
  ScopedReset reset(s);
  // Keys "app/<revision>": those in ["app/", "app0"), '0' being the byte after '/'.
  s.Bind(1, KindName(Kind::kDeployment)).Bind(2, app + "/").Bind(3, app + "0");
  std::vector<model::Deployment> out;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    SKIFF_ASSIGN_OR_RETURN(Object object,
                           Decode(Kind::kDeployment, s.ColumnText(1), s.ColumnInt64(0)));
    out.push_back(std::get<model::Deployment>(std::move(object)));
  }
  SortDeployments(out);
  return out;
}

Result<model::Instance> SqliteStore::GetInstance(const std::string& id) const {
  return Get<model::Instance>(Kind::kInstance, id);
}

Result<std::vector<model::Instance>> SqliteStore::ListInstances(
    const InstanceFilter& filter) const {
  std::lock_guard lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(std::vector<model::Instance> all,
                         ListKind<model::Instance>(Kind::kInstance));
  std::erase_if(all, [&](const model::Instance& i) {
    return (!filter.app.empty() && i.app != filter.app) ||
           (!filter.node.empty() && i.node != filter.node);
  });
  return all;
}

Result<model::Node> SqliteStore::GetNode(const std::string& id) const {
  return Get<model::Node>(Kind::kNode, id);
}

Result<std::vector<model::Node>> SqliteStore::ListNodes() const {
  std::lock_guard lock(mu_);
  return ListKind<model::Node>(Kind::kNode);
}

Result<std::vector<model::Event>> SqliteStore::ListEvents(const EventFilter& filter) const {
  std::lock_guard lock(mu_);
  Statement& s = filter.oldest_first ? stmts_.list_events_forward : stmts_.list_events;
  ScopedReset reset(s);
  s.Bind(1, filter.after_id).Bind(2, filter.app).Bind(3, ClampLimit(filter.limit));
  std::vector<model::Event> out;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    SKIFF_ASSIGN_OR_RETURN(Object object, Decode(Kind::kEvent, s.ColumnText(1), s.ColumnInt64(0)));
    out.push_back(std::get<model::Event>(std::move(object)));
  }
  // The newest-N query reads backwards.
  if (!filter.oldest_first) std::reverse(out.begin(), out.end());
  return out;
}

Result<Snapshot> SqliteStore::GetSnapshot() const {
  // Consistent because every write goes through this connection under mu_.
  std::lock_guard lock(mu_);
  Snapshot snapshot;
  snapshot.revision = revision_;
  SKIFF_ASSIGN_OR_RETURN(snapshot.apps, ListKind<model::App>(Kind::kApp));
  SKIFF_ASSIGN_OR_RETURN(snapshot.deployments, ListKind<model::Deployment>(Kind::kDeployment));
  SKIFF_ASSIGN_OR_RETURN(snapshot.instances, ListKind<model::Instance>(Kind::kInstance));
  SKIFF_ASSIGN_OR_RETURN(snapshot.nodes, ListKind<model::Node>(Kind::kNode));
  SortDeployments(snapshot.deployments);
  return snapshot;
}

Result<std::vector<Change>> SqliteStore::ChangesSince(int64_t since, size_t limit) const {
  if (since < 0) return InvalidArgument("since must be >= 0 (got " + std::to_string(since) + ")");
  std::lock_guard lock(mu_);
  if (since < compacted_) {
    return FailedPrecondition("revision " + std::to_string(since) +
                              " is compacted (oldest replayable: " + std::to_string(compacted_) +
                              "); re-list first");
  }
  Statement& s = stmts_.changes_since;
  ScopedReset reset(s);
  s.Bind(1, since).Bind(2, ClampLimit(limit));
  std::vector<Change> out;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    auto kind = ParseKind(s.ColumnText(1));
    if (!kind) return Internal("change log: unknown kind \"" + std::string(s.ColumnText(1)) + "\"");
    SKIFF_ASSIGN_OR_RETURN(Object object, Decode(*kind, s.ColumnText(4), s.ColumnInt64(3)));
    out.push_back(Change{s.ColumnInt64(0), s.ColumnInt64(2) != 0, std::move(object)});
  }
  return out;
}

std::unique_ptr<Subscription> SqliteStore::Subscribe(std::function<void(int64_t)> on_commit) {
  return hub_->Subscribe(std::move(on_commit));
}

}  // namespace skiff::store
