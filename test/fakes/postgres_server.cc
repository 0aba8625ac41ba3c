#include "fakes/postgres_server.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// The first line of `cmd`'s output ("" when it fails).
std::string FirstLine(const std::string& cmd) {
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) return "";
  char buf[256];
  std::string line = std::fgets(buf, sizeof buf, f) != nullptr ? buf : "";
  ::pclose(f);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

// `text` with every character but [A-Za-z0-9.] replaced by '_': a file name.
std::string FileNamePart(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' ? c : '_';
  return out;
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

PostgresServer::~PostgresServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGQUIT);  // postgres' immediate shutdown
    Reap();
  }
}

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
  SKIFF_RETURN_IF_ERROR(MakeCluster(data));
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

Status PostgresServer::PrivateDir(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Unavailable("cannot stat " + path + ": " + std::strerror(errno));
    // Made whole under a name no one can guess, then renamed into place: if
    // another process (of this user, or another) made `path` meanwhile, the
    // rename fails or replaces an empty one, and the check below judges it.
    std::string made = path + ".XXXXXX";
    if (::mkdtemp(made.data()) == nullptr) {
      return Unavailable("cannot create " + made + ": " + std::strerror(errno));
    }
    ::chmod(made.c_str(), 0700);  // mkdtemp's 0700 less the umask
    if (::rename(made.c_str(), path.c_str()) != 0) ::rmdir(made.c_str());
    if (::lstat(path.c_str(), &st) != 0) {
      return Unavailable("cannot stat " + path + ": " + std::strerror(errno));
    }
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 07777) != 0700) {
    return FailedPrecondition(path + " is not a directory of uid " + std::to_string(::geteuid()) +
                              " with mode 0700 (someone else may have made it): not using it; "
                              "remove it if it is not yours");
  }
  return OkStatus();
}

Status PostgresServer::MakeCluster(const std::string& data) {
  const std::string log = dir_.File("initdb.log");
  const std::string version = FirstLine(bin_ + "/postgres -V");
  if (version.empty()) return Unavailable("cannot run " + bin_ + "/postgres -V");
  const char* tmp = std::getenv("TMPDIR");
  const fs::path root = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  const fs::path parent = root / ("skiff-pg-" + std::to_string(::geteuid()));
  SKIFF_RETURN_IF_ERROR(PrivateDir(parent.string()));
  const fs::path cached = parent / FileNamePart(version);
  // cp -a keeps the owner (nobody, when root made it) and the mode 0700.
  if (fs::exists(cached / "data" / "PG_VERSION")) {
    const std::string copy =
        "cp -a " + (cached / "data").string() + " " + data + " >> " + log + " 2>&1";
    if (std::system(copy.c_str()) != 0) {
      return Unavailable("cannot copy the template cluster: " + Tail(log));
    }
    return OkStatus();
  }
  // initdb runs in this server's own directory: as root it runs as nobody,
  // who cannot enter `parent`.
  const std::string init = as_user_ + bin_ + "/initdb -D " + data + " -U " + kUser +
                           " --auth=trust -E UTF8 --locale=C --no-sync >> " + log + " 2>&1";
  if (std::system(init.c_str()) != 0) return Unavailable("initdb failed: " + Tail(log));
  // Kept whole once renamed into place (rename is atomic): a half-made one is
  // never seen, and of test binaries making it at once the first rename wins.
  std::string building = (parent / "building.XXXXXX").string();
  if (::mkdtemp(building.data()) == nullptr) {
    return Unavailable("cannot create " + building + ": " + std::strerror(errno));
  }
  const std::string keep = "cp -a " + data + " " + building + "/data >> " + log + " 2>&1";
  std::error_code ec;
  if (std::system(keep.c_str()) != 0 || ::rename(building.c_str(), cached.c_str()) != 0) {
    fs::remove_all(building, ec);  // another binary's came first, or none: the next one tries
  }
  return OkStatus();
}

Status PostgresServer::Start() {
  const std::string log = dir_.File("postgres.log");
  const std::string postgres = bin_ + "/postgres";
  const std::string data = dir_.File("data");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Unavailable("fork failed");
  if (pid == 0) {
    // The child: postgres, killed when this process goes. setpriv sets the
    // signal again after changing user (a uid change clears it).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // the test died before the prctl
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (as_user_.empty()) {
      ::execl("/usr/bin/setpriv", "setpriv", "--pdeathsig", "KILL", "--", postgres.c_str(), "-D",
              data.c_str(), static_cast<char*>(nullptr));
    } else {
      ::execl("/usr/bin/setpriv", "setpriv", "--reuid", kUnprivileged, "--regid", "nogroup",
              "--clear-groups", "--pdeathsig", "KILL", "--", postgres.c_str(), "-D", data.c_str(),
              static_cast<char*>(nullptr));
    }
    ::_exit(127);
  }
  pid_ = pid;
  bool exited = false;
  const bool up = PollUntil(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          exited = true;
          return true;
        }
        store::postgres::Connection c(ConnInfo("postgres"), {});
        return static_cast<bool>(c.EnsureConnected());
      },
      std::chrono::seconds(60), std::chrono::milliseconds(20));
  if (exited || !up) {
    if (!exited) {
      ::kill(pid_, SIGKILL);
      Reap();
    }
    pid_ = -1;
    return Unavailable("postgres did not start: " + Tail(log));
  }
  return OkStatus();
}

void PostgresServer::Reap() {
  if (pid_ <= 0) return;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

Status PostgresServer::Stop() {
  Status stopped = PgCtl("stop -m fast");
  if (stopped) Reap();
  return stopped;
}

Status PostgresServer::Kill() {
  Status killed = PgCtl("stop -m immediate");
  if (killed) Reap();
  return killed;
}

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
