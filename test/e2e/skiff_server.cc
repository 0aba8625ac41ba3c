#include "e2e/skiff_server.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/files.h"
#include "net/http_client.h"

namespace skiff::testing {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Processes whose stdout is a file under `dir`: the instances a server with
// that data dir started (the process driver sends their output to its logs).
std::vector<int> ProcessesLoggingUnder(const std::string& dir) {
  std::vector<int> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code link_ec;
    fs::path out = fs::read_symlink(entry.path() / "fd" / "1", link_ec);
    if (!link_ec && out.string().rfind(dir, 0) == 0) pids.push_back(std::stoi(name));
  }
  return pids;
}

// A range of instance ports of its own, so servers and agents of tests that
// run side by side never race for one port; `salt` tells apart those of one test.
std::string PortRange(int port_count, int salt) {
  const int slots = 30000 / port_count;
  const int first = 30000 + static_cast<int>((getpid() + salt) % slots) * port_count;
  return std::to_string(first) + "-" + std::to_string(first + port_count - 1);
}

// Kills the instances a server or agent with data dir `data` started.
void KillInstancesUnder(const std::string& data) {
  for (int pid : ProcessesLoggingUnder(data)) {
    ::kill(-pid, SIGKILL);  // its process group (the driver makes one per instance)
    ::kill(pid, SIGKILL);
  }
}

}  // namespace

SkiffServer::SkiffServer(int port_count) : data_(dir_.File("data")) {
  addr_ = "127.0.0.1:" + std::to_string(FreePort());
  edge_addr_ = "127.0.0.1:" + std::to_string(FreePort());
  ports_ = PortRange(port_count, 0);
}

SkiffServer::~SkiffServer() {
  Kill();
  KillInstancesUnder(data_);
}

bool SkiffServer::Start() {
  ++starts_;
  std::vector<std::string> argv{SKIFF_BIN,  "server", "--data",        data_,
                                "--listen", addr_,    "--edge-listen", edge_addr_,
                                "--ports",  ports_,   "--log-level",   "debug"};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  process_ = std::make_unique<Subprocess>(std::move(argv), std::map<std::string, std::string>{},
                                          dir_.File("server.log"));
  bool up = PollUntil(
      [&] {
        if (!process_->Running()) return true;
        // Made anew each time: over HTTPS the CA appears once the server made it.
        auto r = Client().Do("GET", "/health", {}, {}, std::chrono::seconds(1));
        return r && r->status == 200;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(20));
  if (!up || !process_->Running()) {
    ADD_FAILURE() << "skiff server did not come up; its output:\n" << Output();
    return false;
  }
  token_ = ReadWholeFile(data_ + "/admin.token");
  while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r')) token_.pop_back();
  return !token_.empty();
}

net::HttpClient SkiffServer::Client() const {
  if (!https_) return net::HttpClient(url());
  auto trust = net::TlsTrust::FromCaFile(data_ + "/ca.crt");
  return net::HttpClient(url(), trust ? *trust : net::TlsTrust{});
}

void SkiffServer::GiveToken(const std::string& token) {
  fs::create_directories(data_);
  fs::permissions(data_, fs::perms::owner_all, fs::perm_options::replace);
  Status written = WriteFileAtomically(data_ + "/admin.token", token + "\n", 0600);
  EXPECT_TRUE(written) << written.error().ToString();
}

void SkiffServer::JoinClusterOf(const SkiffServer& first) {
  GiveToken(first.token());
  for (const char* file : {"ca.crt", "ca.key", "keyring.json"}) {
    std::ifstream in(first.data_dir() + "/" + file);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_TRUE(in.good() || in.eof()) << "cannot read " << first.data_dir() << "/" << file;
    Status written = WriteFileAtomically(data_ + "/" + file, text.str(), 0600);
    EXPECT_TRUE(written) << written.error().ToString();
  }
}

void SkiffServer::Kill() {
  if (process_) {
    process_->Signal(SIGKILL);
    process_->Wait();
  }
}

CommandResult SkiffServer::Skiff(std::vector<std::string> args, int timeout_seconds) const {
  args.insert(args.begin(), SKIFF_BIN);
  std::map<std::string, std::string> env{{"SKIFF_ADDR", url()}, {"SKIFF_TOKEN", token_}};
  if (https_) env["SKIFF_CA"] = data_ + "/ca.crt";
  return RunCommand(std::move(args), std::move(env), timeout_seconds);
}

std::string SkiffServer::JoinToken() const {
  CommandResult r = Skiff({"nodes", "join-token"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::string token = r.output;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  return token;
}

json::value SkiffServer::SkiffJson(std::vector<std::string> args) const {
  args.push_back("-o");
  args.push_back("json");
  CommandResult r = Skiff(args);
  if (r.exit_code != 0) {
    ADD_FAILURE() << "skiff exited " << r.exit_code << ": " << r.output;
    return nullptr;
  }
  boost::system::error_code ec;
  json::value v = json::parse(r.output, ec);
  if (ec) ADD_FAILURE() << "not JSON: " << r.output;
  return ec ? json::value(nullptr) : v;
}

Result<net::HttpResponse> SkiffServer::Api(std::string_view method, std::string_view path,
                                           std::string_view body, const std::string* token,
                                           std::string content_type) const {
  net::HttpHeaders headers;
  const std::string& bearer = token != nullptr ? *token : token_;
  if (!bearer.empty()) headers.emplace_back("Authorization", "Bearer " + bearer);
  if (!body.empty()) headers.emplace_back("Content-Type", std::move(content_type));
  return Client().Do(method, path, body, headers);
}

std::string SkiffServer::WriteFile(const std::string& name, const std::string& text) const {
  std::string path = dir_.File(name);
  std::ofstream(path) << text;
  return path;
}

std::string SkiffServer::Output() const { return ReadWholeFile(dir_.File("server.log")); }

std::string TestAppSpec(const std::string& name, int replicas, const std::string& domains,
                        const std::string& health_every) {
  return "name: " + name +
         "\nrun:\n  command: [\"" SKIFF_TESTAPP_BIN
         "\", \"--host\", \"${HOST}\", \"--port\", \"${PORT}\"]\n"
         "replicas: " +
         std::to_string(replicas) + "\ndomains: " + domains +
         "\nhealth: {type: http, path: /health, interval: " + health_every +
         ", timeout: " + health_every + "}\n";
}

std::string SleeperSpec(const std::string& name, int replicas) {
  return R"({"name":")" + name + R"(","run":{"command":["sleep","1000"]},"replicas":)" +
         std::to_string(replicas) + "}";
}

json::array Instances(const SkiffServer& server, const std::string& app) {
  auto r = server.Api("GET", "/v1/apps/" + app + "/instances");
  if (!r || r->status != 200) return {};
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("instances")) return {};
  return v.at("instances").as_array();
}

std::string StringField(const json::value& v, std::string_view key) {
  const json::value* f = v.is_object() ? v.as_object().if_contains(key) : nullptr;
  return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
}

int HealthyCount(const SkiffServer& server, const std::string& app) {
  int n = 0;
  for (const json::value& i : Instances(server, app)) {
    n += StringField(i, "state") == "running" && StringField(i, "health") == "healthy";
  }
  return n;
}

int HandlePid(const json::value& instance) {
  const json::value* handle = instance.as_object().if_contains("handle");
  if (handle == nullptr || !handle->is_string()) return 0;
  std::string h(handle->as_string());
  if (h.rfind("pid:", 0) != 0) return 0;
  return std::stoi(h.substr(4, h.find(':', 4) - 4));
}

namespace {

struct AppProcess {
  int pid = 0;
  std::string app;
  std::string instance;  // "" when it has none
};

// Live processes (not zombies) whose environment has SKIFF_APP=app (or, when
// `prefix`, SKIFF_APP starting with `app`), each with its SKIFF_INSTANCE.
std::vector<AppProcess> AppProcessesWithInstances(const std::string& app, bool prefix = false) {
  const std::string needle = "SKIFF_APP=" + app;
  const std::string instance = "SKIFF_INSTANCE=";
  std::vector<AppProcess> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string status = ReadWholeFile(entry.path() / "stat");
    auto close = status.rfind(')');
    if (close != std::string::npos && status.size() > close + 2 && status[close + 2] == 'Z') {
      continue;  // a zombie is no longer running
    }
    std::string env = ReadWholeFile(entry.path() / "environ");
    std::stringstream vars(env);
    std::string var;
    bool of_app = false;
    AppProcess process;
    while (std::getline(vars, var, '\0')) {
      if (prefix ? var.rfind(needle, 0) == 0 : var == needle) {
        of_app = true;
        process.app = var.substr(std::string_view("SKIFF_APP=").size());
      }
      if (var.rfind(instance, 0) == 0) process.instance = var.substr(instance.size());
    }
    if (of_app) {
      process.pid = std::stoi(name);
      found.push_back(std::move(process));
    }
  }
  return found;
}

}  // namespace

std::vector<int> AppProcesses(const std::string& app) {
  std::vector<int> pids;
  for (const AppProcess& p : AppProcessesWithInstances(app)) pids.push_back(p.pid);
  return pids;
}

std::vector<std::string> AppProcessInstances(const std::string& app) {
  std::vector<std::string> ids;
  for (const AppProcess& p : AppProcessesWithInstances(app)) ids.push_back(p.instance);
  return ids;
}

std::vector<std::pair<std::string, std::string>> AppProcessInstancesWithPrefix(
    const std::string& prefix) {
  std::vector<std::pair<std::string, std::string>> found;
  for (AppProcess& p : AppProcessesWithInstances(prefix, /*prefix=*/true)) {
    found.emplace_back(std::move(p.app), std::move(p.instance));
  }
  return found;
}

std::string HttpGet(const std::string& address, const std::string& path) {
  auto r = net::HttpClient("http://" + address).Do("GET", path, {}, {}, std::chrono::seconds(5));
  return r && r->status == 200 ? r->body : std::string();
}

SkiffAgent::SkiffAgent(const SkiffServer& server, std::string name, std::string address,
                       int port_count)
    : server_(server),
      name_(std::move(name)),
      address_(std::move(address)),
      servers_(server.url()),
      data_(dir_.File("data")) {
  static int agents = 0;
  ports_ = PortRange(port_count, ++agents * 7);
}

SkiffAgent::~SkiffAgent() {
  if (process_) {
    process_->Signal(SIGKILL);
    process_->Wait();
  }
  KillInstancesUnder(data_);
}

bool SkiffAgent::Start(const std::string& join_token) {
  std::vector<std::string> argv{SKIFF_BIN, "agent",     "--server",    servers_, "--name",
                                name_,     "--address", address_,      "--data", data_,
                                "--ports", ports_,      "--log-level", "debug"};
  if (!join_token.empty()) {
    argv.push_back("--join-token");
    argv.push_back(join_token);
  }
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  ++starts_;
  process_ = std::make_unique<Subprocess>(std::move(argv), std::map<std::string, std::string>{},
                                          LogPath());
  bool up = PollUntil(
      [&] {
        if (!process_->Running()) return true;
        // Logged once registered (with the join token or the stored credential).
        if (Output().find("skiff agent: node ") == std::string::npos) return false;
        const std::string id = NodeId();
        if (id.empty()) return false;
        auto r = server_.Api("GET", "/v1/nodes");
        if (!r || r->status != 200) return false;
        boost::system::error_code ec;
        json::value v = json::parse(r->body, ec);
        if (ec) return false;
        for (const json::value& n : v.at("nodes").as_array()) {
          if (n.at("id") == id.c_str() && n.at("status") == "ready") return true;
        }
        return false;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50));
  if (!up || !process_->Running()) {
    ADD_FAILURE() << "skiff agent " << name_ << " did not come up; its output:\n" << Output();
    return false;
  }
  return true;
}

void SkiffAgent::Kill() {
  if (!process_) return;
  process_->Signal(SIGKILL);
  process_->Wait();
}

void SkiffAgent::KillWithInstances() {
  Kill();
  KillInstancesUnder(data_);
}

void SkiffAgent::Stop() {
  if (!process_) return;
  process_->Signal(SIGTERM);
  process_->Wait();
}

std::string SkiffAgent::NodeId() const {
  boost::system::error_code ec;
  json::value v = json::parse(ReadWholeFile(data_ + "/agent-state.json"), ec);
  if (ec || !v.is_object()) return "";
  const json::value* id = v.as_object().if_contains("node_id");
  return id != nullptr && id->is_string() ? std::string(id->as_string()) : "";
}

std::string SkiffAgent::LogPath() const {
  return dir_.File("agent-" + std::to_string(starts_) + ".log");
}

std::string SkiffAgent::Output() const { return ReadWholeFile(LogPath()); }

int CountOccurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

Leading HealthOf(const SkiffServer& server) {
  auto r = server.Api("GET", "/health");
  if (!r) return {};
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) return {};
  const json::value* leader = v.as_object().if_contains("leader");
  const json::value* epoch = v.as_object().if_contains("epoch");
  if (leader == nullptr || !leader->is_bool() || epoch == nullptr || !epoch->is_number()) return {};
  return Leading{true, leader->as_bool(), epoch->to_number<int64_t>()};
}

bool Leads(const SkiffServer& server) { return HealthOf(server).leader; }

int WaitForOneLeader(const std::vector<std::unique_ptr<SkiffServer>>& servers,
                     std::chrono::milliseconds timeout, int skip) {
  int leader = -1;
  PollUntil(
      [&] {
        int found = -1;
        int count = 0;
        for (int i = 0; i < static_cast<int>(servers.size()); ++i) {
          if (i != skip && Leads(*servers[i])) {
            found = i;
            ++count;
          }
        }
        if (count != 1) return false;
        leader = found;
        return true;
      },
      timeout, std::chrono::milliseconds(20));
  return leader;
}

}  // namespace skiff::testing
