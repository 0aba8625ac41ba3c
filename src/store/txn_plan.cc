#include "store/txn_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>

namespace skiff::store {
namespace {

Status ValidateKey(const Object& object, const std::string& key) {
  if (const auto* d = std::get_if<model::Deployment>(&object)) {
    if (d->app.empty()) return InvalidArgument("deployment: empty app name", "app");
    if (d->revision <= 0) {
      return InvalidArgument(
          "deployment: revision must be > 0 (got " + std::to_string(d->revision) + ")", "revision");
    }
    return OkStatus();
  }
  if (key.empty()) return InvalidArgument(std::string(ToString(KindOf(object))) + ": empty key");
  return OkStatus();
}

std::string Describe(Kind kind, const std::string& key) {
  return std::string(ToString(kind)) + " \"" + key + "\"";
}

}  // namespace

int64_t VersionOf(const Object& object) {
  if (const auto* e = std::get_if<model::Event>(&object)) return e->id;
  return std::visit(
      [](const auto& o) -> int64_t {
        if constexpr (requires { o.version; }) {
          return o.version;
        } else {
          return 0;
        }
      },
      object);
}

void SetVersion(Object& object, int64_t version) {
  if (auto* e = std::get_if<model::Event>(&object)) {
    e->id = version;
    return;
  }
  std::visit(
      [version](auto& o) {
        if constexpr (requires { o.version; }) o.version = version;
      },
      object);
}

Result<std::vector<Change>> PlanTxn(const Txn& txn, int64_t base_revision,
                                    const CurrentObjectFn& current) {
  if (txn.empty()) return InvalidArgument("empty transaction");
  // What earlier ops of this txn did to a key; nullopt = deleted by them.
  std::map<std::pair<Kind, std::string>, std::optional<Object>> overlay;
  std::vector<Change> changes;
  changes.reserve(txn.ops().size());
  int64_t revision = base_revision;
  for (const Txn::Op& op : txn.ops()) {
    ++revision;
    const Kind kind = KindOf(op.object);
    if (op.expected_version < kAnyVersion) {
      return InvalidArgument("expected version must be >= -1 (got " +
                             std::to_string(op.expected_version) + ")");
    }
    if (kind == Kind::kEvent) {
      if (op.is_delete) return InvalidArgument("events are append-only and cannot be deleted");
      if (op.expected_version > 0) {
        return InvalidArgument("an event is appended; it has no version to expect");
      }
      Change change{revision, false, op.object};
      SetVersion(change.object, revision);
      changes.push_back(std::move(change));
      continue;
    }
    std::string key = KeyOf(op.object);
    SKIFF_RETURN_IF_ERROR(ValidateKey(op.object, key));
    auto slot = std::make_pair(kind, key);
    std::optional<Object> existing;
    if (auto it = overlay.find(slot); it != overlay.end()) {
      existing = it->second;
    } else {
      SKIFF_ASSIGN_OR_RETURN(existing, current(kind, key));
    }

    if (op.is_delete) {
      if (op.expected_version == kMustNotExist) {
        return InvalidArgument("a delete needs an expected version (or kAnyVersion)");
      }
      if (!existing) return NotFound(Describe(kind, key) + " not found");
      if (op.expected_version != kAnyVersion && VersionOf(*existing) != op.expected_version) {
        return Aborted(Describe(kind, key) + " is at version " +
                       std::to_string(VersionOf(*existing)) + ", expected " +
                       std::to_string(op.expected_version));
      }
      overlay[slot] = std::nullopt;
      changes.push_back(Change{revision, true, std::move(*existing)});
      continue;
    }

    if (op.expected_version == kMustNotExist) {
      if (existing) return AlreadyExists(Describe(kind, key) + " already exists");
    } else if (op.expected_version != kAnyVersion) {
      if (!existing) return NotFound(Describe(kind, key) + " not found");
      if (VersionOf(*existing) != op.expected_version) {
        return Aborted(Describe(kind, key) + " is at version " +
                       std::to_string(VersionOf(*existing)) + ", expected " +
                       std::to_string(op.expected_version));
      }
    }
    Change change{revision, false, op.object};
    SetVersion(change.object, revision);
    overlay[slot] = change.object;
    changes.push_back(std::move(change));
  }
  return changes;
}

Status CheckAppPreconditions(const Txn& txn, const std::vector<Change>& changes,
                             const ListAppsFn& list_apps) {
  const auto& claims = txn.domain_claims();
  if (txn.app_exclusions().empty() &&
      std::all_of(claims.begin(), claims.end(),
                  [](const Txn::DomainClaim& c) { return c.domains.empty(); })) {
    return OkStatus();
  }
  SKIFF_ASSIGN_OR_RETURN(std::vector<model::App> stored, list_apps());
  // By name, so the first app found serving a domain is the same in every store.
  std::map<std::string, model::App> apps;
  for (model::App& app : stored) apps.emplace(app.name, std::move(app));
  for (const Change& change : changes) {
    const auto* app = std::get_if<model::App>(&change.object);
    if (app == nullptr) continue;
    if (change.deleted) {
      apps.erase(app->name);
    } else {
      apps.insert_or_assign(app->name, *app);
    }
  }
  for (const Txn::DomainClaim& claim : claims) {
    for (size_t i = 0; i < claim.domains.size(); ++i) {
      const std::string& domain = claim.domains[i];
      for (const auto& [name, other] : apps) {
        if (name == claim.app) continue;
        const auto& theirs = other.spec.domains;
        if (std::find(theirs.begin(), theirs.end(), domain) == theirs.end()) continue;
        return MakeError(
            ErrorCode::kAlreadyExists,
            fmt::format("domains[{}]: {} is already served by app {}{}", i, domain, name,
                        other.deleting ? " (being deleted: try again when it is gone)"
                                       : "; remove it there first"),
            fmt::format("domains[{}]", i));
      }
    }
  }
  for (const Txn::AppExclusion& exclusion : txn.app_exclusions()) {
    for (const auto& [name, app] : apps) {
      if (exclusion.matches(app)) {
        return FailedPrecondition(fmt::format("{}: app {}", exclusion.what, name));
      }
    }
  }
  return OkStatus();
}

Status ApplyRecordOps(const Txn& txn, Backend& backend) {
  for (const Txn::RecordOp& op : txn.record_ops()) {
    SKIFF_RETURN_IF_ERROR(CheckRecordKey(op.key));
  }
  for (const Txn::RecordRequirement& required : txn.required_records()) {
    SKIFF_RETURN_IF_ERROR(CheckRecordKey(required.key));
  }
  for (const Txn::RecordOp& op : txn.record_ops()) {
    using Type = Txn::RecordOp::Type;
    if (op.type == Type::kDelete) {
      SKIFF_ASSIGN_OR_RETURN(bool erased, backend.EraseRecord(op.kind, op.key));
      if (!erased) return NotFound(DescribeRecord(op.kind, op.key) + " not found");
      continue;
    }
    SKIFF_ASSIGN_OR_RETURN(bool wrote, backend.WriteRecord(op.kind, op.key, op.value,
                                                           /*replace=*/op.type == Type::kPut));
    if (!wrote) return AlreadyExists(DescribeRecord(op.kind, op.key) + " exists");
  }
  for (const Txn::RecordRequirement& required : txn.required_records()) {
    SKIFF_ASSIGN_OR_RETURN(bool present, backend.HoldRecord(required.kind, required.key));
    if (!present) {
      return NotFound(DescribeRecord(required.kind, required.key) + " not found (required)");
    }
  }
  return OkStatus();
}

std::string DescribeRecord(RecordKind kind, const std::string& key) {
  return std::string(ToString(kind)) + " " + key;
}

Status CheckRecordKey(const std::string& key) {
  if (key.empty()) return InvalidArgument("a record needs a key", "key");
  return OkStatus();
}

}  // namespace skiff::store
