#include "auth/audit_scope.h"

#include "common/check.h"

namespace skiff::auth {
namespace {

thread_local AuditScope* open_scope = nullptr;

}  // namespace

AuditScope::AuditScope(store::AuditEntry entry) : entry_(std::move(entry)) {
  SKIFF_CHECK(open_scope == nullptr);
  open_scope = this;
}

AuditScope::~AuditScope() { open_scope = nullptr; }

AuditScope* AuditScope::Pending() {
  return open_scope != nullptr && !open_scope->committed_ ? open_scope : nullptr;
}

Result<int64_t> AuditingStore::CommitAudited(store::Txn txn) {
  AuditScope* scope = AuditScope::Pending();
  if (scope == nullptr) return inner_->Commit(txn);
  txn.Audit(scope->entry());
  Result<int64_t> committed = inner_->Commit(txn);
  if (committed) scope->MarkCommitted();
  return committed;
}

Result<int64_t> AuditingStore::Commit(const store::Txn& txn) {
  if (AuditScope::Pending() == nullptr) return inner_->Commit(txn);
  return CommitAudited(txn);
}

Status AuditingStore::PutRecord(store::RecordKind kind, const std::string& key,
                                const std::string& value) {
  if (AuditScope::Pending() == nullptr) return inner_->PutRecord(kind, key, value);
  SKIFF_RETURN_IF_ERROR(CommitAudited(store::Txn().PutRecord(kind, key, value)));
  return OkStatus();
}

Status AuditingStore::CreateRecord(store::RecordKind kind, const std::string& key,
                                   const std::string& value) {
  if (AuditScope::Pending() == nullptr) return inner_->CreateRecord(kind, key, value);
  SKIFF_RETURN_IF_ERROR(CommitAudited(store::Txn().CreateRecord(kind, key, value)));
  return OkStatus();
}

Status AuditingStore::DeleteRecord(store::RecordKind kind, const std::string& key) {
  if (AuditScope::Pending() == nullptr) return inner_->DeleteRecord(kind, key);
  SKIFF_RETURN_IF_ERROR(CommitAudited(store::Txn().DeleteRecord(kind, key)));
  return OkStatus();
}

}  // namespace skiff::auth
