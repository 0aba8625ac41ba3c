#include "auth/projects.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "common/quantity.h"
#include "model/spec.h"
#include "model/spec_parse.h"

namespace skiff::auth {
namespace json = boost::json;
using store::RecordKind;

namespace {

Result<Project> ProjectOf(const store::Record& record) {
  Project p{.name = record.key};
  boost::system::error_code ec;
  json::value v = json::parse(record.value, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* at = o != nullptr ? o->if_contains("created_at") : nullptr;
  auto time = at != nullptr && at->is_string() ? ParseTime(at->get_string())
                                               : Result<Time>(tl::unexpected(Error{}));
  if (!time) {
    return tl::unexpected(
        Error{ErrorCode::kInternal, fmt::format("project record {} does not parse", record.key)});
  }
  p.created_at = *time;
  return p;
}

}  // namespace

ProjectStore::ProjectStore(store::Store* store, const Clock* clock)
    : store_(store), clock_(clock != nullptr ? clock : SystemClock::Get()) {}

Result<Project> ProjectStore::Create(const std::string& name) {
  SKIFF_RETURN_IF_ERROR(model::ValidateName(name, "name"));
  if (name == model::kDefaultProject) {
    return tl::unexpected(
        Error{ErrorCode::kAlreadyExists, "the default project always exists", "name"});
  }
  Project p{.name = name, .created_at = clock_->Now()};
  json::object value{{"created_at", FormatTime(p.created_at)}};
  Status created = store_->CreateRecord(RecordKind::kProject, name, json::serialize(value));
  if (!created && created.error().code == ErrorCode::kAlreadyExists) {
    return tl::unexpected(
        Error{ErrorCode::kAlreadyExists, fmt::format("project {} already exists", name), "name"});
  }
  SKIFF_RETURN_IF_ERROR(created);
  return p;
}

Status ProjectStore::Delete(const std::string& name) {
  if (name == model::kDefaultProject) {
    return FailedPrecondition("the default project cannot be deleted");
  }
  SKIFF_ASSIGN_OR_RETURN(bool exists, Exists(name));
  if (!exists) return NotFound(fmt::format("project {} not found", name));
  // The emptiness check commits with the delete: an app applied into the
  // project meanwhile keeps it.
  store::Txn txn;
  txn.RequireNoApp(fmt::format("project {} is not empty: delete or move its apps first", name),
                   [name](const model::App& app) { return app.spec.project == name; });
  txn.DeleteRecord(RecordKind::kProject, name);
  Result<int64_t> committed = store_->Commit(txn);
  if (!committed && committed.error().code == ErrorCode::kNotFound) {
    return NotFound(fmt::format("project {} not found", name));  // deleted meanwhile
  }
  SKIFF_RETURN_IF_ERROR(committed);
  return OkStatus();
}

Result<std::vector<Project>> ProjectStore::List() const {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records,
                         store_->ListRecords(RecordKind::kProject));
  std::vector<Project> out{Project{.name = model::kDefaultProject}};
  for (const store::Record& record : records) {
    SKIFF_ASSIGN_OR_RETURN(Project p, ProjectOf(record));
    out.push_back(std::move(p));
  }
  return out;
}

Result<bool> ProjectStore::Exists(const std::string& name) const {
  if (name == model::kDefaultProject) return true;
  auto value = store_->GetRecord(RecordKind::kProject, name);
  if (value) return true;
  if (value.error().code == ErrorCode::kNotFound) return false;
  return tl::unexpected(value.error());
}

}  // namespace skiff::auth
