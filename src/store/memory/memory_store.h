// MemoryStore: a Store held entirely in memory. The test fake of every component
// above the store, and the reference the SqliteStore is checked against by the
// shared contract suite (store_contract_test.cc). Nothing survives the process.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "store/store.h"
#include "store/subscribers.h"

namespace skiff::store {

class MemoryStore final : public Store {
 public:
  struct Options {
    // How many of the newest changes ChangesSince can replay; older ones are
    // compacted away and a reader behind them gets kFailedPrecondition.
    size_t change_retention = 100'000;
    // How many of the newest events are kept; older ones are dropped.
    size_t event_retention = 10'000;
  };

  MemoryStore();
  explicit MemoryStore(Options options);
  ~MemoryStore() override;

  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

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
  // Objects of one kind by key. Events live apart: they are keyed by id.
  using Table = std::map<std::string, Object>;

  // REQUIRES: mu_ held.
  Table& TableOf(Kind kind);
  const Table& TableOf(Kind kind) const;
  template <typename T>
  Result<T> Get(Kind kind, const std::string& key) const;
  template <typename T>
  std::vector<T> ListAll(Kind kind) const;

  const Options options_;
  const std::shared_ptr<SubscriberHub> hub_;

  mutable std::mutex mu_;
  int64_t revision_ = 0;                    // GUARDED_BY(mu_)
  int64_t compacted_ = 0;                   // GUARDED_BY(mu_): newest revision dropped from log_
  std::array<Table, 4> tables_;             // GUARDED_BY(mu_): indexed by Kind, events excluded
  std::map<int64_t, model::Event> events_;  // GUARDED_BY(mu_)
  std::deque<Change> log_;                  // GUARDED_BY(mu_): revisions compacted_+1 .. revision_
};

}  // namespace skiff::store
