#include "e2e/failover_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "net/http_client.h"
#include "net/server_pool.h"

namespace skiff::testing {
namespace {

namespace json = boost::json;

constexpr auto kWriteTimeout = std::chrono::seconds(5);

std::optional<json::object> JsonObject(const Result<net::HttpResponse>& r) {
  if (!r || r->status != 200) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

net::HttpHeaders Bearer(const std::string& token, const std::string& content_type) {
  net::HttpHeaders headers{{"Authorization", "Bearer " + token}};
  if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
  return headers;
}

// The revision of an apply's or a scale's answer ({"app","revision",...}).
int64_t RevisionOf(const net::HttpResponse& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("revision")) return 0;
  return v.at("revision").to_number<int64_t>();
}

// The port `process` says it listens on, in the log line starting with
// `marker` and ending with the port; 0 when it does not say so within 20 s
// or exits.
int PollForListenedPort(Subprocess& process, const std::string& marker) {
  int port = 0;
  PollUntil(
      [&] {
        const std::string output = process.Output();
        if (const size_t at = output.find(marker); at != std::string::npos) {
          port = std::atoi(output.c_str() + at + marker.size());
          return true;
        }
        return !process.Running();
      },
      std::chrono::seconds(20), std::chrono::milliseconds(20));
  return port;
}

}  // namespace

bool IsAppAnswer(const Result<net::HttpResponse>& r) {
  return r && r->status == 200 && r->body.rfind("hello from ", 0) == 0;
}

FailoverCluster::FailoverCluster(std::string leader_ttl) : leader_ttl_(std::move(leader_ttl)) {}

FailoverCluster::~FailoverCluster() {
  edge_.reset();    // SIGKILL
  agents_.clear();  // with their instances
  servers_.clear();
}

bool FailoverCluster::Start(PostgresServer* pg) {
  pg_ = pg;
  auto db = pg_->CreateDatabase();
  if (!db) {
    ADD_FAILURE() << "no database: " << db.error().ToString();
    return false;
  }
  database_ = PostgresServer::DatabaseOf(*db);
  for (int i = 1; i <= 3; ++i) {
    auto server = std::make_unique<SkiffServer>();
    server->AddArgs({"--store", pg_->Uri(database_), "--no-agent", "--no-edge", "--server-id",
                     "s" + std::to_string(i), "--leader-ttl", leader_ttl_});
    // The first server makes the admin token, CA and keyring; the others share them.
    if (i > 1) server->JoinClusterOf(*servers_[0]);
    if (!server->Start()) return false;
    servers_.push_back(std::move(server));
  }
  // Agents join through the leader: a node is ready once the leader heard it.
  const int leader = WaitForOneLeader(std::chrono::seconds(20));
  if (leader < 0) {
    ADD_FAILURE() << "no single leader among the servers";
    return false;
  }
  CommandResult join = servers_[0]->Skiff({"nodes", "join-token"});
  if (join.exit_code != 0) {
    ADD_FAILURE() << "no join token: " << join.output;
    return false;
  }
  const std::string join_token = join.output.substr(0, join.output.find('\n'));
  for (int i = 0; i < 2; ++i) {
    auto agent = std::make_unique<SkiffAgent>(*servers_[leader], "node-" + std::to_string(i + 1),
                                              "127.0.0." + std::to_string(i + 2));
    agent->SetServers(Urls());
    if (!agent->Start(join_token)) return false;
    agents_.push_back(std::move(agent));
  }
  // Port 0, read back from its log: a port picked free beforehand could be
  // taken by another test before the edge binds it.
  edge_ = std::make_unique<Subprocess>(
      std::vector<std::string>{SKIFF_BIN, "edge", "--server", Urls(), "--listen", "127.0.0.1:0",
                               "--data", edge_dir_.File("edge"), "--log-level", "debug"},
      std::map<std::string, std::string>{{"SKIFF_TOKEN", token()}}, edge_dir_.File("edge.log"));
  const int port = PollForListenedPort(*edge_, "skiff edge: serving on port ");
  if (port > 0) edge_addr_ = "127.0.0.1:" + std::to_string(port);
  // Up once it answers (404: it knows no route for that host).
  if (port <= 0 ||
      !PollUntil([&] { return Edge("nobody.test").has_value() || !edge_->Running(); },
                 std::chrono::seconds(20), std::chrono::milliseconds(20)) ||
      !edge_->Running()) {
    ADD_FAILURE() << "skiff edge did not come up; its output:\n" << EdgeOutput();
    return false;
  }
  return true;
}

std::string FailoverCluster::Urls(int first) const {
  std::string urls;
  for (int k = 0; k < size(); ++k) {
    if (!urls.empty()) urls += ",";
    urls += "http://" + servers_[(first + k) % size()]->addr();
  }
  return urls;
}

std::string FailoverCluster::EdgeOutput() const { return edge_ ? edge_->Output() : std::string(); }

Result<net::HttpResponse> FailoverCluster::Edge(const std::string& host,
                                                std::chrono::milliseconds timeout) const {
  return net::HttpClient("http://" + edge_addr_).Do("GET", "/", {}, {{"Host", host}}, timeout);
}

std::string FailoverCluster::Query(const std::string& sql) const {
  return pg_->Query(database_, sql).value_or("?");
}

Result<net::HttpResponse> FailoverCluster::Apply(const std::string& name, const std::string& spec,
                                                 int first) const {
  return net::ServerPool(Urls(first))
      .Do("PUT", "/v1/apps/" + name, spec, Bearer(token(), "application/yaml"), kWriteTimeout);
}

WriteLoad::WriteLoad(std::string urls, std::string token, std::string prefix, int max_apps)
    : urls_(std::move(urls)),
      token_(std::move(token)),
      prefix_(std::move(prefix)),
      max_apps_(max_apps) {}

WriteLoad::~WriteLoad() { Stop(); }

void WriteLoad::Start() {
  thread_ = std::thread([this] { Run(); });
}

void WriteLoad::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<AckedWrite> WriteLoad::Acked() const {
  std::lock_guard lock(mu_);
  return acked_;
}

size_t WriteLoad::AckedCount() const {
  std::lock_guard lock(mu_);
  return acked_.size();
}

std::vector<std::string> WriteLoad::FirstFailures() const {
  std::lock_guard lock(mu_);
  return first_failures_;
}

std::map<std::string, int> WriteLoad::FailuresByStatus() const {
  std::lock_guard lock(mu_);
  return failures_by_status_;
}

std::chrono::milliseconds WriteLoad::LongestPause() const {
  std::lock_guard lock(mu_);
  return std::chrono::duration_cast<std::chrono::milliseconds>(longest_pause_);
}

void WriteLoad::Run() {
  {
    std::lock_guard lock(mu_);
    last_ack_ = std::chrono::steady_clock::now();
  }
  const net::ServerPool pool(urls_);
  std::mt19937 random(std::random_device{}());
  int applied = 0;                // apps it applied, acknowledged or not
  std::vector<std::string> apps;  // those acknowledged: only they are scaled
  for (int i = 0; !stop_; ++i) {
    AckedWrite write;
    Result<net::HttpResponse> r;
    const bool apply = apps.empty() || (applied < max_apps_ && i % 2 == 0);
    if (apply) {
      write.app = prefix_ + "-" + std::to_string(++applied);
      write.replicas = 1;
      r = pool.Do("PUT", "/v1/apps/" + write.app, TestAppSpec(write.app, 1, "[]"),
                  Bearer(token_, "application/yaml"), kWriteTimeout);
    } else {
      write.app = apps[random() % apps.size()];
      write.replicas = static_cast<int>(random() % 3);
      r = pool.Do("POST", "/v1/apps/" + write.app + "/scale",
                  R"({"replicas":)" + std::to_string(write.replicas) + "}",
                  Bearer(token_, "application/json"), kWriteTimeout);
    }
    if (r && r->status >= 200 && r->status < 300) {
      write.revision = RevisionOf(*r);
      if (apply) apps.push_back(write.app);
      std::lock_guard lock(mu_);
      const auto now = std::chrono::steady_clock::now();
      longest_pause_ = std::max(longest_pause_, now - last_ack_);
      last_ack_ = now;
      acked_.push_back(std::move(write));
    } else {
      ++failed_;
      std::lock_guard lock(mu_);
      ++failures_by_status_[r ? "status " + std::to_string(r->status) : "no answer"];
      if (first_failures_.size() < 5) {
        first_failures_.push_back(
            write.app + ": " +
            (r ? "status " + std::to_string(r->status) + ": " + r->body.substr(0, 200)
               : r.error().ToString()));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // pacing, not syncing
  }
}

EdgeProbe::EdgeProbe(const FailoverCluster& cluster, std::string host)
    : cluster_(cluster), host_(std::move(host)) {}

EdgeProbe::~EdgeProbe() { Stop(); }

void EdgeProbe::Start() {
  thread_ = std::thread([this] {
    while (!stop_) {
      auto r = cluster_.Edge(host_);
      ++requests_;
      std::string failure;
      if (!r) {
        failure = r.error().ToString();
      } else if (!IsAppAnswer(r)) {
        failure = "status " + std::to_string(r->status) + ": " + r->body.substr(0, 200);
      }
      if (!failure.empty()) {
        ++failures_;
        std::lock_guard lock(mu_);
        if (first_failures_.size() < 5) first_failures_.push_back(std::move(failure));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // pacing, not syncing
    }
  });
}

void EdgeProbe::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> EdgeProbe::FirstFailures() const {
  std::lock_guard lock(mu_);
  return first_failures_;
}

DuplicateWatch::DuplicateWatch(std::string prefix) : prefix_(std::move(prefix)) {}

DuplicateWatch::~DuplicateWatch() { Stop(); }

void DuplicateWatch::Start() {
  thread_ = std::thread([this] {
    while (!stop_) {
      std::map<std::string, int> per_instance;
      for (const auto& [app, id] : AppProcessInstancesWithPrefix(prefix_)) {
        ++per_instance[app + "/" + id];
      }
      ++scans_;
      {
        std::lock_guard lock(mu_);
        for (const auto& [instance, count] : per_instance) {
          if (count > 1) duplicates_[instance] = std::max(duplicates_[instance], count);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // pacing, not syncing
    }
  });
}

void DuplicateWatch::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> DuplicateWatch::Duplicates() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> found;
  for (const auto& [instance, count] : duplicates_) {
    found.push_back(instance + " in " + std::to_string(count) + " processes");
  }
  return found;
}

std::vector<std::string> LostWrites(const SkiffServer& server,
                                    const std::vector<AckedWrite>& acked) {
  std::vector<std::string> lost;
  // Each app's history, fetched once: revision -> replicas.
  std::map<std::string, std::optional<std::map<int64_t, int>>> histories;
  // The replicas first acknowledged at each (app, revision).
  std::map<std::pair<std::string, int64_t>, int> acked_at;
  for (const AckedWrite& w : acked) {
    const std::string acknowledged = w.app + ": acknowledged at revision " +
                                     std::to_string(w.revision) + " with " +
                                     std::to_string(w.replicas) + " replicas";
    if (w.revision <= 0) {
      lost.push_back(acknowledged + ": the answer named no revision");
      continue;
    }
    auto [other, first] = acked_at.emplace(std::pair(w.app, w.revision), w.replicas);
    if (!first && other->second != w.replicas) {
      lost.push_back(acknowledged + ", and also with " + std::to_string(other->second));
    }
    auto it = histories.find(w.app);
    if (it == histories.end()) {
      std::optional<std::map<int64_t, int>> history;
      if (auto d = JsonObject(server.Api("GET", "/v1/apps/" + w.app + "/deployments"))) {
        history.emplace();
        for (const json::value& r : d->at("deployments").as_array()) {
          (*history)[r.at("revision").to_number<int64_t>()] =
              r.at("spec").at("replicas").to_number<int>();
        }
      }
      it = histories.emplace(w.app, std::move(history)).first;
    }
    if (!it->second) {
      lost.push_back(acknowledged + ": the app's deployments not found");
      continue;
    }
    auto revision = it->second->find(w.revision);
    if (revision == it->second->end()) {
      lost.push_back(acknowledged + ": no such revision in its deployments");
    } else if (revision->second != w.replicas) {
      lost.push_back(acknowledged + ": that revision has " + std::to_string(revision->second) +
                     " replicas");
    }
  }
  return lost;
}

namespace {

// What runs of `app` against its desired replicas; "" when exactly those run.
std::string Mismatch(const SkiffServer& server, const std::string& app, int desired,
                     int* duplicates) {
  std::multiset<std::string> listed;  // instances the agents reported running
  for (const json::value& i : Instances(server, app)) {
    if (i.at("state") == "running") listed.insert(std::string(i.at("id").as_string()));
  }
  std::vector<std::string> processes = AppProcessInstances(app);
  std::map<std::string, int> per_id;
  for (const std::string& id : processes) ++per_id[id];
  std::string problems;
  int extra = std::max(0, static_cast<int>(processes.size()) - desired);
  if (static_cast<int>(listed.size()) != desired) {
    problems += " " + std::to_string(listed.size()) + " running instances listed;";
  }
  if (static_cast<int>(processes.size()) != desired) {
    problems += " " + std::to_string(processes.size()) + " live processes;";
  }
  for (const auto& [id, count] : per_id) {
    if (count > 1) {
      problems += " instance " + id + " runs in " + std::to_string(count) + " processes;";
      extra += count - 1;
    }
    if (listed.count(id) == 0) problems += " a process of instance " + id + " not listed running;";
  }
  if (duplicates != nullptr) *duplicates += extra;
  if (problems.empty()) return "";
  return app + ": desired " + std::to_string(desired) + ":" + problems;
}

}  // namespace

std::vector<std::string> Unconverged(const SkiffServer& server, const std::string& prefix,
                                     std::chrono::milliseconds timeout, int* duplicates) {
  std::vector<std::string> problems;
  auto check = [&](int* extra) {
    problems.clear();
    auto list = server.Api("GET", "/v1/apps");
    auto apps = JsonObject(list);
    if (!apps) {
      problems.push_back("GET /v1/apps failed");
      return false;
    }
    for (const json::value& a : apps->at("apps").as_array()) {
      const std::string name(a.at("name").as_string());
      if (name.rfind(prefix, 0) != 0) continue;
      std::string mismatch =
          Mismatch(server, name, a.at("spec").at("replicas").to_number<int>(), extra);
      if (!mismatch.empty()) problems.push_back(std::move(mismatch));
    }
    return problems.empty();
  };
  int ignored = 0;
  if (PollUntil([&] { return check(&ignored); }, timeout, std::chrono::milliseconds(100))) {
    return {};
  }
  // Counted once, on what runs at the end.
  int extra = 0;
  check(&extra);
  if (duplicates != nullptr) *duplicates += extra;
  return problems;
}

}  // namespace skiff::testing
