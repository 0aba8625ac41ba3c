#include "agent/local_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace skiff::agent {
namespace {

namespace json = boost::json;

int64_t ToMillis(Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Internal("write " + path + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

}  // namespace

LocalState::LocalState(std::string path) : path_(std::move(path)) {}

Status LocalState::Load() {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return OkStatus();
  std::ifstream in(path_);
  if (!in) return Internal("read " + path_ + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  std::lock_guard lock(mu_);
  try {
    json::object root = json::parse(text.str()).as_object();
    node_id_.clear();
    instances_.clear();
    if (auto* id = root.if_contains("node_id")) node_id_ = json::value_to<std::string>(*id);
    if (auto* list = root.if_contains("instances")) {
      for (const auto& [key, value] : list->as_object()) {
        const json::object& o = value.as_object();
        LocalInstance local;
        local.driver = json::value_to<std::string>(o.at("driver"));
        local.handle = json::value_to<std::string>(o.at("handle"));
        local.generation = o.at("generation").to_number<int64_t>();
        local.port = o.at("port").to_number<int>();
        local.app = json::value_to<std::string>(o.at("app"));
        local.revision = o.at("revision").to_number<int64_t>();
        local.started_at =
            Time(std::chrono::milliseconds(o.at("started_at_ms").to_number<int64_t>()));
        instances_[std::string(key)] = std::move(local);
      }
    }
  } catch (const std::exception& e) {
    return Internal("parse " + path_ + ": " + e.what());
  }
  return OkStatus();
}

std::string LocalState::node_id() const {
  std::lock_guard lock(mu_);
  return node_id_;
}

Status LocalState::SetNodeId(const std::string& node_id) {
  std::lock_guard lock(mu_);
  node_id_ = node_id;
  return SaveLocked();
}

std::map<std::string, LocalInstance> LocalState::instances() const {
  std::lock_guard lock(mu_);
  return instances_;
}

Status LocalState::Put(const std::string& instance_id, const LocalInstance& instance) {
  std::lock_guard lock(mu_);
  instances_[instance_id] = instance;
  return SaveLocked();
}

Status LocalState::Remove(const std::string& instance_id) {
  std::lock_guard lock(mu_);
  if (instances_.erase(instance_id) == 0) return OkStatus();
  return SaveLocked();
}

Status LocalState::SaveLocked() const {
  json::object instances;
  for (const auto& [id, local] : instances_) {
    instances[id] = json::object{{"driver", local.driver},
                                 {"handle", local.handle},
                                 {"generation", local.generation},
                                 {"port", local.port},
                                 {"app", local.app},
                                 {"revision", local.revision},
                                 {"started_at_ms", ToMillis(local.started_at)}};
  }
  json::object root{{"node_id", node_id_}, {"instances", std::move(instances)}};
  const std::string data = json::serialize(root) + "\n";
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("open " + tmp + ": " + std::strerror(errno));
  Status written = WriteAll(fd, data, tmp);
  // The rename must not overtake the data: a crash would leave an empty file.
  if (written && ::fsync(fd) != 0) written = Internal("fsync " + tmp + ": " + std::strerror(errno));
  ::close(fd);
  if (!written) return written;
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return Internal("rename " + tmp + ": " + std::strerror(errno));
  }
  return OkStatus();
}

}  // namespace skiff::agent
