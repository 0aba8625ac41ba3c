#include "fakes/postgres_session.h"

namespace skiff::testing {

PostgresSession::PostgresSession(const std::string& conninfo)
    : conn_(PQconnectdb(conninfo.c_str()), &PQfinish) {}

bool PostgresSession::ok() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

std::string PostgresSession::error() const { return PQerrorMessage(conn_.get()); }

ExecStatusType PostgresSession::Exec(const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn_.get(), sql.c_str()), &PQclear);
  return PQresultStatus(result.get());
}

int WaitingOnLocks(PostgresServer& server, const std::string& database) {
  auto count = server.Query(database,
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND datname = current_database()");
  return count ? std::stoi(*count) : -1;
}

}  // namespace skiff::testing
