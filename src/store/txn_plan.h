// The rules of Store::Commit that do not depend on where objects live: validation,
// the optimistic-concurrency checks, the revision each op takes, record ops
// and the preconditions (domain claims, app exclusions, required records). Every store
// plans a txn with PlanTxn and then writes the resulting changes, so all stores
// fail the same txns with the same codes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/backend.h"
#include "store/store.h"

namespace skiff::store {

// Reads the committed object of (kind, key) as of before the txn; std::nullopt
// when absent. Errors are passed through to the caller of PlanTxn.
using CurrentObjectFn =
    std::function<Result<std::optional<Object>>(Kind kind, const std::string& key)>;

// Returns one Change per op of txn (none for a txn of record ops and audit
// entries alone), in order, with revisions base_revision + 1,
// base_revision + 2, ...; a put's object has version (an event: id) set to its
// revision, a delete's object is the one it removes. Later ops see the effect of
// earlier ops of the same txn. Errors are those of Store::Commit; on error the
// caller must write nothing. Events are append-only: a delete of one is
// kInvalidArgument. Does not call `current` for events.
Result<std::vector<Change>> PlanTxn(const Txn& txn, int64_t base_revision,
                                    const CurrentObjectFn& current);

// Every stored app as of before the txn. Errors are passed through.
using ListAppsFn = std::function<Result<std::vector<model::App>>()>;

// Checks txn's domain claims (Txn::ClaimDomains) and app exclusions
// (Txn::RequireNoApp) against the stored apps as `changes` (PlanTxn's for
// txn) leave them. Errors: kAlreadyExists (a claim) and kFailedPrecondition
// (an exclusion) as Store::Commit says; those of `list_apps`, which is called
// at most once, and not at all when the txn has neither.
Status CheckAppPreconditions(const Txn& txn, const std::vector<Change>& changes,
                             const ListAppsFn& list_apps);

// Writes txn's record ops in order through `backend`, then checks its
// required records (Txn::RequireRecord) as the ops left them. Errors, as
// Store::Commit says: kInvalidArgument (an empty key; checked before any
// write), kAlreadyExists (a create found its key), kNotFound (a delete or a
// requirement found none), and the backend's. On error the caller must abort
// the write. REQUIRES: a write of `backend` is in progress.
Status ApplyRecordOps(const Txn& txn, Backend& backend);

// A record as messages name it: "<kind> <key>".
std::string DescribeRecord(RecordKind kind, const std::string& key);
// kInvalidArgument (field "key") for an empty record key.
Status CheckRecordKey(const std::string& key);

// The object's version (an event's id, which is its revision).
int64_t VersionOf(const Object& object);
// Sets the object's version (an event's id).
void SetVersion(Object& object, int64_t version);

}  // namespace skiff::store
