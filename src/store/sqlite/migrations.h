// The SqliteStore schema as an ordered list of migration steps. The database's
// PRAGMA user_version is the number of steps applied; opening a database runs the
// missing ones, each in its own transaction together with its user_version bump,
// so a crash mid-migration leaves the previous version intact. A new schema
// version appends a step; existing steps are never edited.
#pragma once

#include <sqlite3.h>

#include "common/result.h"

namespace skiff::store::sqlite {

// The schema version this build writes (the number of steps).
int LatestSchemaVersion();

// Brings db to LatestSchemaVersion(). kFailedPrecondition when the database is
// newer than this build (opened by a later Skiff); kUnavailable on I/O errors.
// REQUIRES: no transaction open on db.
Status Migrate(sqlite3* db);

}  // namespace skiff::store::sqlite
