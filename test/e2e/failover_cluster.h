// The parts of issue 13's failure tests of the leader, real and on loopback,
// shared by test/e2e/leader_kill9_e2e_test.cc and bench/leader_failure.cc:
//
// - FailoverCluster: a fresh database of the test's PostgreSQL, three `skiff
//   server --no-agent --no-edge` on it, two standalone `skiff agent`s
//   (127.0.0.2, 127.0.0.3) and one standalone `skiff edge`, the agents and
//   the edge given every server's URL;
// - WriteLoad: a client applying new apps and scaling them through every
//   server's URL (net::ServerPool, as the CLI), remembering each write it had
//   acknowledged;
// - EdgeProbe: requests through the edge to one app without pause, counting
//   those that did not get the app's answer;
// - the checks after a failure: LostWrites (every acknowledged write is
//   there) and Unconverged (each app runs exactly its replicas, once each).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "fakes/postgres_server.h"
#include "net/http.h"

namespace skiff::testing {

// Whether `r` is the test app's answer to GET /: 200 "hello from ...".
bool IsAppAnswer(const Result<net::HttpResponse>& r);

// Thread-safety: Start() and the destructor on one thread; after Start(),
// the const methods (Edge, Query, Apply, Urls, the servers' Api) from any
// thread, as EdgeProbe does; Kill()/Start() of a server only from the thread
// that owns the cluster.
class FailoverCluster {
 public:
  // `leader_ttl`: the servers' --leader-ttl ("1s", "5s").
  explicit FailoverCluster(std::string leader_ttl);
  ~FailoverCluster();  // the edge, the agents and their instances, the servers
  FailoverCluster(const FailoverCluster&) = delete;
  FailoverCluster& operator=(const FailoverCluster&) = delete;

  // Starts every part on a new database of `pg` and waits for each to be up
  // (the agents' nodes ready). False, after ADD_FAILURE saying which part and
  // why, when one does not come up.
  bool Start(PostgresServer* pg);

  // As the free function, over its servers.
  int WaitForOneLeader(std::chrono::milliseconds timeout, int skip = -1) const {
    return skiff::testing::WaitForOneLeader(servers_, timeout, skip);
  }

  int size() const { return static_cast<int>(servers_.size()); }
  SkiffServer& server(int i) { return *servers_[i]; }
  const SkiffServer& server(int i) const { return *servers_[i]; }
  const std::string& token() const { return servers_[0]->token(); }
  // Every server's URL, comma-separated, server `first`'s first.
  std::string Urls(int first = 0) const;
  // The edge's pid (to tell its requests from the apps').
  pid_t edge_pid() const { return edge_ ? edge_->pid() : 0; }
  std::string EdgeOutput() const;

  // A GET of "/" through the edge with `host` as the Host header.
  Result<net::HttpResponse> Edge(const std::string& host,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(2)) const;

  // Runs `sql` on the cluster's database: the first column of the first row.
  std::string Query(const std::string& sql) const;

  // Applies `spec` (YAML) as app `name` through the servers (ServerPool),
  // server `first` first. The reply, or the error of the last server asked.
  Result<net::HttpResponse> Apply(const std::string& name, const std::string& spec,
                                  int first = 0) const;

 private:
  std::string leader_ttl_;
  PostgresServer* pg_ = nullptr;
  std::string database_;
  std::vector<std::unique_ptr<SkiffServer>> servers_;
  std::vector<std::unique_ptr<SkiffAgent>> agents_;
  TempDir edge_dir_;
  std::string edge_addr_;
  std::unique_ptr<Subprocess> edge_;
};

// A write the client had acknowledged (2xx): the app's revision and replicas
// in the answer's terms.
struct AckedWrite {
  std::string app;
  int64_t revision = 0;
  int replicas = 0;
};

// WriteLoad: one client thread that, until stopped, applies a new app (one
// replica of the test app, named PREFIX-N) every other write while fewer than
// `max_apps` were applied, and otherwise scales one whose apply was
// acknowledged to 0, 1 or 2 replicas; every write goes through
// net::ServerPool over `urls` (sent on to the next server when one cannot be
// reached or answers 503, as the CLI does).
//
// Thread-safety: every method may be called from any thread.
class WriteLoad {
 public:
  WriteLoad(std::string urls, std::string token, std::string prefix, int max_apps);
  ~WriteLoad();  // Stop()
  WriteLoad(const WriteLoad&) = delete;
  WriteLoad& operator=(const WriteLoad&) = delete;

  void Start();
  // Waits for the write in flight to end.
  void Stop();

  std::vector<AckedWrite> Acked() const;
  size_t AckedCount() const;
  // Writes that failed (no server took them, or the answer never came).
  size_t Unacknowledged() const { return failed_; }
  // The first few of those, "PUT /v1/apps/NAME: status 404: body" or the
  // transport error.
  std::vector<std::string> FirstFailures() const;
  // Those writes counted by what ended them: "status 404", or "no answer"
  // (no server could be reached, or the answer never came).
  std::map<std::string, int> FailuresByStatus() const;
  // The longest time between two acknowledged writes in a row (from its
  // start to its first when fewer than two were acknowledged).
  std::chrono::milliseconds LongestPause() const;

 private:
  void Run();

  std::string urls_;
  std::string token_;
  std::string prefix_;
  int max_apps_;
  std::atomic<bool> stop_ = false;
  std::atomic<size_t> failed_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<AckedWrite> acked_;                        // GUARDED_BY(mu_)
  std::vector<std::string> first_failures_;              // GUARDED_BY(mu_)
  std::map<std::string, int> failures_by_status_;        // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point last_ack_;       // GUARDED_BY(mu_)
  std::chrono::steady_clock::duration longest_pause_{};  // GUARDED_BY(mu_)
};

// EdgeProbe: one thread sending GET / for `host` through the cluster's edge,
// one request after the other, until stopped. A failure is any request that
// does not get the app's answer: no connection, no answer within 2 s, a status
// other than 200, or a body other than the test app's "hello from ...".
class EdgeProbe {
 public:
  EdgeProbe(const FailoverCluster& cluster, std::string host);
  ~EdgeProbe();  // Stop()
  EdgeProbe(const EdgeProbe&) = delete;
  EdgeProbe& operator=(const EdgeProbe&) = delete;

  void Start();
  void Stop();
  int64_t requests() const { return requests_; }
  int64_t failures() const { return failures_; }
  // The first few failures, as "status 502: body" or the transport error.
  std::vector<std::string> FirstFailures() const;

 private:
  const FailoverCluster& cluster_;
  std::string host_;
  std::atomic<bool> stop_ = false;
  std::atomic<int64_t> requests_ = 0;
  std::atomic<int64_t> failures_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> first_failures_;              // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point last_ack_;       // GUARDED_BY(mu_)
  std::chrono::steady_clock::duration longest_pause_{};  // GUARDED_BY(mu_)
};

// DuplicateWatch: one thread scanning /proc every 50 ms, until stopped, for
// live processes of the apps whose names start with `prefix`, remembering
// each instance id seen in two processes of one scan: an instance running
// twice at any moment of a failure, not only once all converged.
//
// Thread-safety: every method may be called from any thread.
class DuplicateWatch {
 public:
  explicit DuplicateWatch(std::string prefix);
  ~DuplicateWatch();  // Stop()
  DuplicateWatch(const DuplicateWatch&) = delete;
  DuplicateWatch& operator=(const DuplicateWatch&) = delete;

  void Start();
  // Waits for the scan in progress to end.
  void Stop();
  int64_t scans() const { return scans_; }
  // Each instance seen running twice, once: "APP/ID in N processes".
  std::vector<std::string> Duplicates() const;

 private:
  std::string prefix_;
  std::atomic<bool> stop_ = false;
  std::atomic<int64_t> scans_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<std::string, int> duplicates_;  // GUARDED_BY(mu_): "APP/ID" -> most processes seen
};

// The acknowledged writes `server` does not show, one line each (empty when
// none is lost). Each acknowledged write must be in its app's deployment
// history: the revision it was acknowledged at, with the replicas it set. A
// write acknowledged without a revision, or two acknowledged at one revision
// of an app with different replicas, are failures too.
std::vector<std::string> LostWrites(const SkiffServer& server,
                                    const std::vector<AckedWrite>& acked);

// What runs of the apps whose names start with `prefix`, once each runs its
// desired replicas (as `server` has its spec) or `timeout` passed: one line
// per app that does not (running instances the agents reported, live
// processes of it on this machine, an instance id in two processes, a process
// of an instance the server does not list running). Empty when all converged.
// `*duplicates` (when given) counts the processes beyond the desired count
// and the instance ids that run twice.
std::vector<std::string> Unconverged(const SkiffServer& server, const std::string& prefix,
                                     std::chrono::milliseconds timeout, int* duplicates = nullptr);

}  // namespace skiff::testing
