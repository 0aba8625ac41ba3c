#include "fakes/postgres_server.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "store/postgres/connection.h"

namespace skiff::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kPort = 5432;  // only names the socket file: nothing listens on TCP
constexpr const char* kUser = "skiff";
constexpr const char* kUnprivileged = "nobody";

std::string FindBinaries() {
  if (const char* dir = std::getenv("SKIFF_TEST_PG_BIN"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return "/usr/lib/postgresql/15/bin";
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  return text.size() > 1500 ? text.substr(text.size() - 1500) : text;
}

}  // namespace

PostgresServer* PostgresServer::Shared(std::string* why) {
  static std::mutex mu;
  static std::unique_ptr<PostgresServer> server;
  static std::string error;
  static bool tried = false;
  std::lock_guard lock(mu);
  if (!tried) {
    tried = true;
    std::unique_ptr<PostgresServer> s(new PostgresServer());
    Status up = s->Init();
    if (up) {
      server = std::move(s);
    } else {
      error = up.error().message;
    }
  }
  if (server == nullptr && why != nullptr) *why = error;
  return server.get();
}

PostgresServer::~PostgresServer() { (void)PgCtl("stop -m immediate"); }

Status PostgresServer::Init() {
  bin_ = FindBinaries();
  if (!fs::exists(bin_ + "/initdb") || !fs::exists(bin_ + "/pg_ctl")) {
    return Unavailable("no initdb/pg_ctl in " + bin_ +
                       " (install Debian's postgresql-15: scripts/setup.sh; or set "
                       "SKIFF_TEST_PG_BIN)");
  }
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam(kUnprivileged);
    if (pw == nullptr) return Unavailable("running as root and there is no user nobody");
    if (::chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Unavailable("cannot chown " + dir_.path() + " to nobody");
    }
    as_user_ = std::string("runuser -u ") + kUnprivileged + " -- ";
  }
  const std::string data = dir_.File("data");
  const std::string init = as_user_ + bin_ + "/initdb -D " + data + " -U " + kUser +
                           " --auth=trust -E UTF8 --locale=C --no-sync >> " +
                           dir_.File("initdb.log") + " 2>&1";
  if (std::system(init.c_str()) != 0) {
    return Unavailable("initdb failed: " + Tail(dir_.File("initdb.log")));
  }
  // Tests need neither durability across a machine crash nor TCP, and several
  // test binaries may each run one at once (ctest -j): a small footprint.
  std::ofstream conf(data + "/postgresql.conf", std::ios::app);
  conf << "listen_addresses = ''\n"
       << "unix_socket_directories = '" << dir_.path() << "'\n"
       << "port = " << kPort << "\n"
       << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
       << "max_connections = 200\nshared_buffers = 16MB\n";
  conf.close();
  if (!conf) return Unavailable("cannot write postgresql.conf");
  return Start();
}

Status PostgresServer::PgCtl(const std::string& args) {
  const std::string cmd = as_user_ + bin_ + "/pg_ctl -D " + dir_.File("data") + " -l " +
                          dir_.File("postgres.log") + " -w -t 60 " + args + " >> " +
                          dir_.File("pg_ctl.log") + " 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    return Unavailable("pg_ctl " + args + " failed: " + Tail(dir_.File("pg_ctl.log")) +
                       Tail(dir_.File("postgres.log")));
  }
  return OkStatus();
}

Status PostgresServer::Stop() { return PgCtl("stop -m fast"); }
Status PostgresServer::Start() { return PgCtl("start"); }
Status PostgresServer::Kill() { return PgCtl("stop -m immediate"); }

Status PostgresServer::Restart() {
  SKIFF_RETURN_IF_ERROR(Stop());
  return Start();
}

std::string PostgresServer::ConnInfo(const std::string& database) const {
  return "host=" + dir_.path() + " port=" + std::to_string(kPort) + " user=" + kUser +
         " dbname=" + database;
}

std::string PostgresServer::Uri(const std::string& database) const {
  std::string host;
  for (char c : dir_.path()) host += c == '/' ? std::string("%2F") : std::string(1, c);
  return std::string("postgresql://") + kUser + "@" + host + ":" + std::to_string(kPort) + "/" +
         database;
}

std::string PostgresServer::DatabaseOf(const std::string& conninfo) {
  const size_t at = conninfo.rfind("dbname=");
  if (at == std::string::npos) return "";
  const std::string rest = conninfo.substr(at + 7);
  return rest.substr(0, rest.find(' '));
}

Result<std::string> PostgresServer::Query(const std::string& database, const std::string& sql) {
  store::postgres::Connection c(ConnInfo(database), {});
  SKIFF_RETURN_IF_ERROR(c.EnsureConnected());
  SKIFF_ASSIGN_OR_RETURN(store::postgres::Rows rows, c.Exec(sql));
  if (rows.size() == 0) return std::string();
  return std::string(rows.Text(0, 0));
}

Result<std::string> PostgresServer::CreateDatabase() {
  std::string name;
  {
    std::lock_guard lock(mu_);
    name = "test_" + std::to_string(::getpid()) + "_" + std::to_string(++databases_);
  }
  SKIFF_RETURN_IF_ERROR(Query("postgres", "CREATE DATABASE " + name));
  return ConnInfo(name);
}

Result<int> PostgresServer::TerminateConnections(const std::string& database) {
  SKIFF_ASSIGN_OR_RETURN(
      std::string n,
      Query("postgres",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" +
                database + "' AND pid <> pg_backend_pid()"));
  return std::atoi(n.c_str());
}

}  // namespace skiff::testing
