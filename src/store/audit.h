// The audit trail (issue 15): who did what through the API, kept beside the
// objects but apart from both records and events. An entry is written in the
// same transaction as the change it records (Txn::Audit), or alone
// (Store::AppendAudit) for a request that changed nothing or was refused; the
// answer's status is filled in afterwards (Store::SetAuditCode), once known.
// Entries take no revision, show in no change log, watch or snapshot, and are
// kept until pruned by time (Store::PruneAudit): unlike events, no count
// bounds them, so a busy server cannot push an entry out before its time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/clock.h"

namespace skiff::store {

struct AuditEntry {
  int64_t id = 0;  // set by the store: increasing, unique (never reused, pruning included)
  // Kept as given (callers set it), at millisecond precision: the store
  // rounds it down, as events' times are kept.
  Time time;
  std::string who, role, credential, source, method, path, project, app, request_id;
  int code = 0;          // HTTP status; 0 = not known yet (committed, the answer not yet sent)
  int64_t revision = 0;  // the revision of the change it was committed with, 0 when none
  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

// Which entries Store::ListAudit returns: those matching every field that is
// set, ascending by id. As EventFilter: at most `limit`, the newest of those
// that match, or the oldest when `oldest_first` (to page forward from after_id).
struct AuditFilter {
  Time since{};          // time >= since; Time{} = any
  std::string who;       // exact; empty = any
  std::string app;       // exact; empty = any
  int64_t after_id = 0;  // only entries with id > after_id
  size_t limit = 1000;
  bool oldest_first = false;
};

}  // namespace skiff::store
