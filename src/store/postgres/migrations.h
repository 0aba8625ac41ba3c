// The PostgresStore schema as an ordered list of migration steps. The
// schema_version table holds how many steps the database has; opening runs the
// missing ones in one transaction (PostgreSQL's DDL is transactional, so a
// crash leaves the previous version whole), under an advisory lock so that
// servers starting together migrate once. A new schema version appends a
// step; existing steps are never edited.
#pragma once

#include "common/result.h"
#include "store/postgres/connection.h"

namespace skiff::store::postgres {

// The schema version this build writes (the number of steps).
int LatestSchemaVersion();

// Brings the database to LatestSchemaVersion(). kFailedPrecondition when it
// is newer than this build (written by a later Skiff), naming both versions;
// kUnavailable as Connection says.
// REQUIRES: connection connected, no transaction open.
Status Migrate(Connection& connection);

// Brings the database to `version` as this build's steps 1..version make it,
// and no further (a database already there or past it is left as it is):
// how a test makes the database an older Skiff left, to upgrade it.
// kInvalidArgument for a version this build has no step for; otherwise as
// Migrate.
// REQUIRES: connection connected, no transaction open.
Status MigrateTo(Connection& connection, int version);

}  // namespace skiff::store::postgres
