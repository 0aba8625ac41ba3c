// SkiffServer: a real `skiff server` process for end-to-end tests, in a temp
// data directory, on a free API port and its own range of instance ports, and
// the `skiff` client pointed at it.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "e2e/subprocess.h"
#include "fakes/testing.h"
#include "net/http.h"
#include "net/http_client.h"

namespace skiff::testing {

class SkiffServer {
 public:
  // `port_count`: how many instance ports its range holds (at most 1000).
  explicit SkiffServer(int port_count = 100);
  ~SkiffServer();  // kills the server and every instance it started

  // Starts the server (again, after Kill) on the same data dir and port, and
  // waits until GET /health answers. Returns false (with the server's output
  // added to the test failure) when it does not come up.
  bool Start();
  // SIGKILL, no chance to clean up.
  void Kill();
  // Puts `token` in its DATA/admin.token (mode 0600) before it starts, as an
  // operator does for a server of a shared database that did not make the
  // admin token: such a server writes none (docs/postgres.md).
  void GiveToken(const std::string& token);
  // Makes this server one more of `first`'s database, as docs/postgres.md
  // says: `first`'s admin token (GiveToken), CA and keyring copied into its
  // data directory before it starts. REQUIRES: `first` has started.
  void JoinClusterOf(const SkiffServer& first);
  // Flags given to `skiff server` at every later Start ("--no-agent", ...).
  void AddArgs(std::vector<std::string> args) {
    extra_args_.insert(extra_args_.end(), args.begin(), args.end());
  }
  // Serve the API over HTTPS (--https) from the next Start on: clients here
  // trust the CA the server keeps in its data directory.
  void UseHttps() {
    https_ = true;
    AddArgs({"--https"});
  }
  // The API's URL: http:// or https://, and addr().
  std::string url() const { return (https_ ? "https://" : "http://") + addr_; }
  // A client of the API (trusting DATA/ca.crt over HTTPS).
  net::HttpClient Client() const;

  // A new join token (`skiff nodes join-token`); "" (and a test failure) when
  // it cannot be made.
  std::string JoinToken() const;

  // Runs `skiff ARGS...` against this server.
  CommandResult Skiff(std::vector<std::string> args, int timeout_seconds = 120) const;
  // Runs `skiff ARGS... -o json` and parses its output; null on failure.
  boost::json::value SkiffJson(std::vector<std::string> args) const;

  // One API request with the admin token (or `token` when given).
  Result<net::HttpResponse> Api(std::string_view method, std::string_view path,
                                std::string_view body = {}, const std::string* token = nullptr,
                                std::string content_type = "application/json") const;

  // Writes a spec file in the data dir's sibling and returns its path.
  std::string WriteFile(const std::string& name, const std::string& text) const;

  const std::string& addr() const { return addr_; }
  const std::string& edge_addr() const { return edge_addr_; }
  int pid() const { return process_ ? process_->pid() : 0; }
  const std::string& data_dir() const { return data_; }
  const std::string& token() const { return token_; }
  std::string Output() const;

 private:
  TempDir dir_;
  std::string data_;
  std::string addr_;
  std::string edge_addr_;
  std::string token_;
  std::string ports_;
  std::vector<std::string> extra_args_;
  std::unique_ptr<Subprocess> process_;
  int starts_ = 0;
  bool https_ = false;
};

// SkiffAgent: a real `skiff agent` process joined to a SkiffServer, in a temp
// data directory, its instances bound to `address` (a loopback address).
class SkiffAgent {
 public:
  SkiffAgent(const SkiffServer& server, std::string name, std::string address,
             int port_count = 100);
  ~SkiffAgent();  // kills the agent and every instance it started

  // Starts `skiff agent` (with --join-token when `join_token` is not empty)
  // and waits until its node is ready at the server. False (with the agent's
  // output added to the test failure) when it does not come up.
  bool Start(const std::string& join_token);
  // SIGTERM and wait: the agent stops, its instances keep running.
  void Stop();
  // SIGKILL and wait: the agent dies at once (a machine whose agent crashed);
  // its instances keep running.
  void Kill();
  // Kill(), then SIGKILL to every instance it started: the whole machine lost.
  void KillWithInstances();
  // Flags given to `skiff agent` at every later Start ("--labels", ...).
  void AddArgs(std::vector<std::string> args) {
    extra_args_.insert(extra_args_.end(), args.begin(), args.end());
  }
  // The --server list it starts with at every later Start (default: its
  // server's URL), "http://a:1,http://b:2" for an agent of several servers.
  void SetServers(std::string urls) { servers_ = std::move(urls); }
  // The node id the agent keeps in its data dir ("" before its first start).
  std::string NodeId() const;
  // The output of its latest start.
  std::string Output() const;
  const std::string& data_dir() const { return data_; }

 private:
  const SkiffServer& server_;
  TempDir dir_;
  std::string name_;
  std::string address_;
  std::string servers_;
  std::string data_;
  std::string ports_;
  std::vector<std::string> extra_args_;
  int starts_ = 0;
  std::unique_ptr<Subprocess> process_;

  std::string LogPath() const;
};

// A spec of the test app (process driver, bound to $HOST:$PORT) with `replicas`
// and `domains` (YAML, "[a.test, b.test]"), health-checked over http every
// `health_every` with that timeout (a duration, "200ms", "1s").
std::string TestAppSpec(const std::string& name, int replicas, const std::string& domains,
                        const std::string& health_every = "200ms");

// A JSON spec of an app of `replicas` processes that sleep (no port, no
// health check): for tests of the control plane, not of serving.
std::string SleeperSpec(const std::string& name, int replicas);

// The instances of `app` as the API lists them.
boost::json::array Instances(const SkiffServer& server, const std::string& app);
// The string field `key` of the JSON object `v`; "" when it is missing or not
// a string.
std::string StringField(const boost::json::value& v, std::string_view key);
// Running, healthy instances of `app` (the API's view).
int HealthyCount(const SkiffServer& server, const std::string& app);
// The pid in a process driver handle "pid:<pid>:<start>"; 0 when none.
int HandlePid(const boost::json::value& instance);
// Live processes whose environment has SKIFF_APP=app.
std::vector<int> AppProcesses(const std::string& app);
// The SKIFF_INSTANCE of each of those processes (one entry per process).
std::vector<std::string> AppProcessInstances(const std::string& app);
// The SKIFF_APP and SKIFF_INSTANCE of each live process whose SKIFF_APP starts
// with `prefix` (one entry per process), in one scan of /proc.
std::vector<std::pair<std::string, std::string>> AppProcessInstancesWithPrefix(
    const std::string& prefix);
// GET http://address/path; the body, or "" when it fails.
std::string HttpGet(const std::string& address, const std::string& path);

// How many times `what` occurs in `text` (a server's log lines of one kind).
int CountOccurrences(const std::string& text, const std::string& what);

// What a server's /health says of leading: `answered` when it answered with
// the fields of a server of a shared store (or of one alone).
struct Leading {
  bool answered = false;
  bool leader = false;
  int64_t epoch = 0;
};
Leading HealthOf(const SkiffServer& server);
// Whether the server's /health says it leads (false when it does not answer).
bool Leads(const SkiffServer& server);
// The index in `servers` of the one server that leads, `skip` left out, once
// exactly one does; -1 when that is not so within `timeout`.
int WaitForOneLeader(const std::vector<std::unique_ptr<SkiffServer>>& servers,
                     std::chrono::milliseconds timeout, int skip = -1);

}  // namespace skiff::testing
