// AuditingStore: puts the audit entry of the API request being handled into
// the transaction of the change that request makes (issue 15: no change is
// committed without its record; a request whose record cannot be written
// fails, for its change fails with it).
//
// The server hands every part that writes (the app service, the token,
// project, user and secret stores, the join tokens, the certificates...) the
// AuditingStore rather than the store itself. While an AuditScope is open on
// a thread, the first Commit on that thread carries the scope's entry
// (Txn::Audit), and a record write on that thread (PutRecord, CreateRecord,
// DeleteRecord) becomes a transaction of that write and the entry. Writes of
// other threads (the leader's loops) and writes outside a scope go through
// unchanged.
//
// A scope is open only around synchronous code (ApiServer opens one around
// a unary handler's call, which never suspends), so no other request's
// writes can run on the thread meanwhile.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "store/store.h"

namespace skiff::auth {

class AuditScope {
 public:
  // Opens the scope on this thread with `entry` (its code 0: the answer is
  // not known yet). REQUIRES: no scope is open on this thread.
  explicit AuditScope(store::AuditEntry entry);
  ~AuditScope();  // closes it
  AuditScope(const AuditScope&) = delete;
  AuditScope& operator=(const AuditScope&) = delete;

  // Whether a write committed the entry (then its code is to be set with
  // Store::SetAuditCode; else it is to be appended alone with its code).
  bool committed() const { return committed_; }

  // The scope open on this thread whose entry no write has taken yet; null
  // when there is none. For AuditingStore.
  static AuditScope* Pending();
  const store::AuditEntry& entry() const { return entry_; }
  void MarkCommitted() { committed_ = true; }
  // What only the handler knows, said before its write: the project a new
  // app goes into.
  void set_project(std::string project) { entry_.project = std::move(project); }

 private:
  store::AuditEntry entry_;
  bool committed_ = false;
};

// Forwards every call to `inner` (not owned; must outlive this object),
// adding the pending AuditScope's entry to the first write made on the
// scope's thread (above). Thread-safety: as `inner`.
class AuditingStore final : public store::Store {
 public:
  explicit AuditingStore(store::Store* inner) : inner_(inner) {}

  // store::Store:
  Result<int64_t> Commit(const store::Txn& txn) override;
  int64_t Revision() const override { return inner_->Revision(); }
  Result<model::App> GetApp(const std::string& name) const override { return inner_->GetApp(name); }
  Result<std::vector<model::App>> ListApps() const override { return inner_->ListApps(); }
  Result<model::Deployment> GetDeployment(const std::string& app, int64_t revision) const override {
    return inner_->GetDeployment(app, revision);
  }
  Result<std::vector<model::Deployment>> ListDeployments(const std::string& app) const override {
    return inner_->ListDeployments(app);
  }
  Result<model::Instance> GetInstance(const std::string& id) const override {
    return inner_->GetInstance(id);
  }
  Result<std::vector<model::Instance>> ListInstances(
      const store::InstanceFilter& filter) const override {
    return inner_->ListInstances(filter);
  }
  Result<model::Node> GetNode(const std::string& id) const override { return inner_->GetNode(id); }
  Result<std::vector<model::Node>> ListNodes() const override { return inner_->ListNodes(); }
  Result<std::vector<model::Event>> ListEvents(const store::EventFilter& filter) const override {
    return inner_->ListEvents(filter);
  }
  Result<store::Snapshot> GetSnapshot() const override { return inner_->GetSnapshot(); }
  Result<std::vector<store::Change>> ChangesSince(int64_t since, size_t limit) const override {
    return inner_->ChangesSince(since, limit);
  }
  Status PutRecord(store::RecordKind kind, const std::string& key,
                   const std::string& value) override;
  Status CreateRecord(store::RecordKind kind, const std::string& key,
                      const std::string& value) override;
  Result<std::string> GetRecord(store::RecordKind kind, const std::string& key) const override {
    return inner_->GetRecord(kind, key);
  }
  Result<std::vector<store::Record>> ListRecords(store::RecordKind kind) const override {
    return inner_->ListRecords(kind);
  }
  Status DeleteRecord(store::RecordKind kind, const std::string& key) override;
  Result<int64_t> AppendAudit(store::AuditEntry entry) override {
    return inner_->AppendAudit(std::move(entry));
  }
  Status SetAuditCode(const std::string& request_id, int code) override {
    return inner_->SetAuditCode(request_id, code);
  }
  Result<std::vector<store::AuditEntry>> ListAudit(
      const store::AuditFilter& filter) const override {
    return inner_->ListAudit(filter);
  }
  Result<int64_t> PruneAudit(Time before) override { return inner_->PruneAudit(before); }
  std::unique_ptr<store::Subscription> Subscribe(std::function<void(int64_t)> on_commit) override {
    return inner_->Subscribe(std::move(on_commit));
  }

 private:
  // Commits `txn` with the pending scope's entry when there is one.
  Result<int64_t> CommitAudited(store::Txn txn);

  store::Store* const inner_;
};

}  // namespace skiff::auth
