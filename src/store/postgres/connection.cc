#include "store/postgres/connection.h"

#include <charconv>
#include <cstring>
#include <utility>

namespace skiff::store::postgres {
namespace {

// libpq's messages end with a newline and may span indented lines: one line.
std::string Trim(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool space = c == '\n' || c == '\t' || c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Error classes (the SQLSTATE's first two characters) that say "try again
// later, maybe on another connection" rather than "this statement is wrong".
bool IsTransient(std::string_view sqlstate) {
  const std::string_view cls = sqlstate.substr(0, 2);
  return cls == "08"              // connection exception
         || cls == "53"           // insufficient resources (too many connections)
         || cls == "57"           // operator intervention (shutdown, cancel)
         || cls == "58"           // system error (I/O)
         || sqlstate == "25006"   // read-only transaction: a standby after a failover
         || sqlstate == "55000";  // object not in prerequisite state (recovery)
}

}  // namespace

std::string_view Rows::Text(int row, int column) const {
  return std::string_view(PQgetvalue(result_.get(), row, column),
                          static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

Result<int64_t> Rows::Int(int row, int column) const {
  const std::string_view text = Text(row, column);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Internal("postgres: not an integer: \"" + std::string(text) + "\"");
  }
  return value;
}

Connection::Connection(std::string conninfo, std::vector<Statement> statements, std::string setup)
    : conninfo_(std::move(conninfo)),
      statements_(std::move(statements)),
      setup_(std::move(setup)) {}

Connection::~Connection() { Drop(); }

void Connection::Drop() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  broken_ = false;
}

Status Connection::EnsureConnected() {
  if (conn_ != nullptr && !broken_ && PQstatus(conn_) == CONNECTION_OK) return OkStatus();
  Drop();
  // A string libpq cannot parse is the user's mistake, not the server's
  // absence: no retry makes it work.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo_.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = parse_error != nullptr ? Trim(parse_error) : "out of memory";
    if (parse_error != nullptr) PQfreemem(parse_error);
    return InvalidArgument("postgres: malformed connection string: " + why);
  }
  PQconninfoFree(parsed);
  const auto now = std::chrono::steady_clock::now();
  if (now < retry_at_) return Unavailable(connect_error_);
  ++connect_attempts_;
  // Set on every way out but success (cleared at its end).
  retry_at_ = now + kConnectRetryDelay;
  // Defaults the connection string may override (it is expanded after them):
  // without them a host that drops packets would hang a connect for minutes
  // and a dead peer a statement until the kernel gives up (tcp_user_timeout:
  // unacknowledged data, which keepalives do not cover).
  const char* keywords[] = {"connect_timeout",     "keepalives",       "keepalives_idle",
                            "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                            "application_name",    "dbname",           nullptr};
  const char* values[] = {"10", "1", "10", "5", "3", "30000", "skiff", conninfo_.c_str(), nullptr};
  conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn_ == nullptr) {
    connect_error_ = "postgres: out of memory connecting";
    return Unavailable(connect_error_);
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = Trim(PQerrorMessage(conn_));
    Drop();
    connect_error_ = "postgres: cannot connect to " + DescribeConnInfo(conninfo_) + ": " + message;
    return Unavailable(connect_error_);
  }
  // Notices ("relation already exists, skipping", a terminated session's
  // FATAL) would go to stderr; the errors that matter come back as results.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  if (!setup_.empty()) {
    Result<Rows> set = Check(PQexec(conn_, setup_.c_str()), "session setup");
    if (!set) {
      Drop();
      connect_error_ = set.error().message;
      return tl::unexpected(set.error());
    }
  }
  for (const Statement& s : statements_) {
    PGresult* prepared = PQprepare(conn_, s.name.c_str(), s.sql.c_str(), 0, nullptr);
    Result<Rows> checked = Check(prepared, "prepare " + s.name);
    if (!checked) {
      Drop();
      connect_error_ = checked.error().message;
      return tl::unexpected(checked.error());
    }
  }
  retry_at_ = {};
  return OkStatus();
}

Result<Rows> Connection::Exec(const std::string& sql) {
  if (conn_ == nullptr) return Unavailable("postgres: not connected");
  return Check(PQexec(conn_, sql.c_str()), sql);
}

Result<Rows> Connection::Run(const std::string& name, std::initializer_list<std::string> params) {
  if (conn_ == nullptr) return Unavailable("postgres: not connected");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  return Check(PQexecPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(),
                              nullptr, nullptr, 0),
               name);
}

Result<Rows> Connection::Check(PGresult* result, std::string_view what) {
  Rows rows(result);
  const ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string sqlstate = state == nullptr ? "" : state;
  std::string message =
      Trim(result != nullptr && *PQresultErrorMessage(result) != '\0' ? PQresultErrorMessage(result)
                                                                      : PQerrorMessage(conn_));
  message = "postgres: " + std::string(what) + ": " + message;
  // Another session held a lock past lock_timeout: worth a retry, and the
  // connection is fine.
  if (sqlstate == "55P03" && PQstatus(conn_) == CONNECTION_OK) {
    return Unavailable(std::move(message));
  }
  if (PQstatus(conn_) != CONNECTION_OK || sqlstate.empty() || IsTransient(sqlstate)) {
    broken_ = true;
    return Unavailable(std::move(message));
  }
  if (sqlstate.starts_with("40")) return Aborted(std::move(message));
  return Internal(std::move(message) + " (SQLSTATE " + sqlstate + ")");
}

std::string DescribeConnInfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    if (error != nullptr) PQfreemem(error);
    return "an unparsable connection string";
  }
  std::string out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0' || std::strcmp(o->keyword, "password") == 0) continue;
    const std::string_view keyword = o->keyword;
    if (keyword != "host" && keyword != "hostaddr" && keyword != "port" && keyword != "dbname" &&
        keyword != "user") {
      continue;
    }
    if (!out.empty()) out += ' ';
    out += keyword;
    out += '=';
    out += o->val;
  }
  PQconninfoFree(options);
  return out.empty() ? "the default database" : "\"" + out + "\"";
}

}  // namespace skiff::store::postgres
