#include "store/memory/memory_store.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "common/check.h"
#include "store/txn_plan.h"

namespace skiff::store {

MemoryStore::MemoryStore() : MemoryStore(Options{}) {}

MemoryStore::MemoryStore(Options options) : options_(options), hub_(SubscriberHub::Create()) {}

MemoryStore::~MemoryStore() = default;

MemoryStore::Table& MemoryStore::TableOf(Kind kind) {
  SKIFF_CHECK(kind != Kind::kEvent);
  return tables_[static_cast<size_t>(kind)];
}

const MemoryStore::Table& MemoryStore::TableOf(Kind kind) const {
  SKIFF_CHECK(kind != Kind::kEvent);
  return tables_[static_cast<size_t>(kind)];
}

Result<int64_t> MemoryStore::Commit(const Txn& txn) {
  int64_t last = 0;
  {
    std::lock_guard lock(mu_);
    auto current = [this](Kind kind, const std::string& key) -> Result<std::optional<Object>> {
      const Table& table = TableOf(kind);
      auto it = table.find(key);
      if (it == table.end()) return std::optional<Object>();
      return std::optional<Object>(it->second);
    };
    SKIFF_ASSIGN_OR_RETURN(std::vector<Change> changes, PlanTxn(txn, revision_, current));
    for (Change& change : changes) {
      const Kind kind = KindOf(change.object);
      if (kind == Kind::kEvent) {
        const auto& event = std::get<model::Event>(change.object);
        events_[event.id] = event;
      } else if (change.deleted) {
        TableOf(kind).erase(KeyOf(change.object));
      } else {
        TableOf(kind)[KeyOf(change.object)] = change.object;
      }
      log_.push_back(std::move(change));
    }
    last = log_.back().revision;
    revision_ = last;
    while (log_.size() > options_.change_retention) {
      compacted_ = log_.front().revision;
      log_.pop_front();
    }
    while (events_.size() > options_.event_retention) events_.erase(events_.begin());
  }
  hub_->Notify(last);
  return last;
}

int64_t MemoryStore::Revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

template <typename T>
Result<T> MemoryStore::Get(Kind kind, const std::string& key) const {
  std::lock_guard lock(mu_);
  const Table& table = TableOf(kind);
  auto it = table.find(key);
  if (it == table.end()) {
    return NotFound(std::string(ToString(kind)) + " \"" + key + "\" not found");
  }
  return std::get<T>(it->second);
}

template <typename T>
std::vector<T> MemoryStore::ListAll(Kind kind) const {
  std::vector<T> out;
  const Table& table = TableOf(kind);
  out.reserve(table.size());
  for (const auto& [key, object] : table) out.push_back(std::get<T>(object));
  return out;
}

Result<model::App> MemoryStore::GetApp(const std::string& name) const {
  return Get<model::App>(Kind::kApp, name);
}

Result<std::vector<model::App>> MemoryStore::ListApps() const {
  std::lock_guard lock(mu_);
  return ListAll<model::App>(Kind::kApp);
}

Result<model::Deployment> MemoryStore::GetDeployment(const std::string& app,
                                                     int64_t revision) const {
  return Get<model::Deployment>(Kind::kDeployment, app + "/" + std::to_string(revision));
}

Result<std::vector<model::Deployment>> MemoryStore::ListDeployments(const std::string& app) const {
  std::vector<model::Deployment> out;
  {
    std::lock_guard lock(mu_);
    const Table& table = TableOf(Kind::kDeployment);
    const std::string prefix = app + "/";
    for (auto it = table.lower_bound(prefix);
         it != table.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      out.push_back(std::get<model::Deployment>(it->second));
    }
  }
  // Keys order "10" before "9"; the contract is numeric order.
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.revision < b.revision; });
  return out;
}

Result<model::Instance> MemoryStore::GetInstance(const std::string& id) const {
  return Get<model::Instance>(Kind::kInstance, id);
}

Result<std::vector<model::Instance>> MemoryStore::ListInstances(
    const InstanceFilter& filter) const {
  std::lock_guard lock(mu_);
  std::vector<model::Instance> out;
  for (const auto& [key, object] : TableOf(Kind::kInstance)) {
    const auto& instance = std::get<model::Instance>(object);
    if (!filter.app.empty() && instance.app != filter.app) continue;
    if (!filter.node.empty() && instance.node != filter.node) continue;
    out.push_back(instance);
  }
  return out;
}

Result<model::Node> MemoryStore::GetNode(const std::string& id) const {
  return Get<model::Node>(Kind::kNode, id);
}

Result<std::vector<model::Node>> MemoryStore::ListNodes() const {
  std::lock_guard lock(mu_);
  return ListAll<model::Node>(Kind::kNode);
}

Result<std::vector<model::Event>> MemoryStore::ListEvents(const EventFilter& filter) const {
  std::lock_guard lock(mu_);
  std::vector<model::Event> out;
  if (filter.oldest_first) {
    for (auto it = events_.upper_bound(filter.after_id);
         it != events_.end() && out.size() < filter.limit; ++it) {
      if (filter.app.empty() || it->second.app == filter.app) out.push_back(it->second);
    }
    return out;
  }
  // Newest first until the limit, then reversed: the newest N, ascending.
  for (auto it = events_.rbegin(); it != events_.rend() && out.size() < filter.limit; ++it) {
    if (it->first <= filter.after_id) break;
    if (!filter.app.empty() && it->second.app != filter.app) continue;
    out.push_back(it->second);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<Snapshot> MemoryStore::GetSnapshot() const {
  std::lock_guard lock(mu_);
  Snapshot snapshot;
  snapshot.revision = revision_;
  snapshot.apps = ListAll<model::App>(Kind::kApp);
  snapshot.deployments = ListAll<model::Deployment>(Kind::kDeployment);
  snapshot.instances = ListAll<model::Instance>(Kind::kInstance);
  snapshot.nodes = ListAll<model::Node>(Kind::kNode);
  std::sort(snapshot.deployments.begin(), snapshot.deployments.end(),
            [](const auto& a, const auto& b) {
              return std::tie(a.app, a.revision) < std::tie(b.app, b.revision);
            });
  return snapshot;
}

Result<std::vector<Change>> MemoryStore::ChangesSince(int64_t since, size_t limit) const {
  if (since < 0) return InvalidArgument("since must be >= 0 (got " + std::to_string(since) + ")");
  std::lock_guard lock(mu_);
  if (since < compacted_) {
    return FailedPrecondition("revision " + std::to_string(since) +
                              " is compacted (oldest replayable: " + std::to_string(compacted_) +
                              "); re-list first");
  }
  std::vector<Change> out;
  // log_ holds every revision from compacted_ + 1 on, one per slot.
  for (size_t i = static_cast<size_t>(since - compacted_); i < log_.size() && out.size() < limit;
       ++i) {
    out.push_back(log_[i]);
  }
  return out;
}

std::unique_ptr<Subscription> MemoryStore::Subscribe(std::function<void(int64_t)> on_commit) {
  return hub_->Subscribe(std::move(on_commit));
}

}  // namespace skiff::store
