// ProjectStore: the projects apps belong to (issue 15). Every app is in one
// (its spec's `project`, default "default"); roles below admin act only
// within theirs (auth/identity.h). The default project always exists and
// cannot be deleted; others are made by an admin and deleted once empty.
//
// Kept in the store's records (kind project, keyed by name), so every server
// of one database knows them.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "store/store.h"

namespace skiff::auth {

struct Project {
  std::string name;
  Time created_at{};  // the epoch for the default project
};

class ProjectStore {
 public:
  // `store` and `clock` are not owned and must outlive this object (clock
  // null: the system clock).
  explicit ProjectStore(store::Store* store, const Clock* clock = nullptr);

  // Makes project `name` (a DNS label). kInvalidArgument (field "name") for a
  // bad name; kAlreadyExists when it exists (the default project always does);
  // kUnavailable when the store cannot be written.
  Result<Project> Create(const std::string& name);

  // Deletes project `name`. kNotFound when it does not exist; kFailedPrecondition
  // for the default project, and when an app is still in it (naming the app:
  // delete or move it first). The check that it is empty commits with the
  // delete (store::Txn::RequireNoApp), so an app applied meanwhile into the
  // project keeps it.
  Status Delete(const std::string& name);

  // Every project, the default one first, then by name.
  Result<std::vector<Project>> List() const;

  // Whether project `name` exists (the default one always does). kUnavailable
  // when the store cannot be read.
  Result<bool> Exists(const std::string& name) const;

 private:
  store::Store* const store_;
  const Clock* const clock_;
};

}  // namespace skiff::auth
