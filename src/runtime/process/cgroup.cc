#include "runtime/process/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace skiff::runtime::process {
namespace {

constexpr int64_t kCpuPeriodUs = 100000;
constexpr int64_t kMinCpuQuotaUs = 1000;  // the kernel's floor for cpu.max

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes to an existing control file (never creates one: a missing file means
// this is not a cgroup directory). Returns errno text on failure.
std::optional<std::string> WriteControl(const std::string& path, const std::string& value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return std::string(std::strerror(errno));
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size())) return std::string(std::strerror(err));
  return std::nullopt;
}

bool HasWord(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w) {
    if (w == word) return true;
  }
  return false;
}

std::string Parent(const std::string& dir) {
  size_t slash = dir.find_last_of('/');
  return slash == std::string::npos || slash == 0 ? "/" : dir.substr(0, slash);
}

}  // namespace

std::string CpuMaxValue(int64_t cpu_millis) {
  if (cpu_millis <= 0) return "max " + std::to_string(kCpuPeriodUs);
  int64_t quota = std::max(kMinCpuQuotaUs, cpu_millis * kCpuPeriodUs / 1000);
  return std::to_string(quota) + " " + std::to_string(kCpuPeriodUs);
}

std::string MemoryMaxValue(int64_t memory_bytes) {
  return memory_bytes <= 0 ? "max" : std::to_string(memory_bytes);
}

Result<CgroupParent> CgroupParent::Probe(const std::string& parent_dir) {
  std::string dir = parent_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string above = Parent(dir);
  auto controllers = ReadFile(above + "/cgroup.controllers");
  if (!controllers) {
    return FailedPrecondition("cgroup v2 not available at " + above +
                              " (no cgroup.controllers; cgroup v1 or not mounted)");
  }
  for (const char* c : {"cpu", "memory"}) {
    if (!HasWord(*controllers, c)) {
      return FailedPrecondition(std::string("cgroup v2 controller ") + c + " not available at " +
                                above);
    }
    auto enabled = ReadFile(above + "/cgroup.subtree_control");
    if (!enabled || !HasWord(*enabled, c)) {
      if (auto err = WriteControl(above + "/cgroup.subtree_control", std::string("+") + c)) {
        return FailedPrecondition(std::string("cannot enable ") + c + " in " + above + ": " + *err);
      }
    }
  }
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return FailedPrecondition("cannot create cgroup " + dir + ": " + std::strerror(errno));
  }
  if (auto err = WriteControl(dir + "/cgroup.subtree_control", "+cpu +memory")) {
    return FailedPrecondition("cannot enable cpu and memory in " + dir + ": " + *err);
  }
  return CgroupParent(dir);
}

Result<std::string> CgroupParent::CreateTaskGroup(const std::string& name,
                                                  const model::Resources& limits) const {
  std::string group = dir_ + "/" + name;
  if (mkdir(group.c_str(), 0755) != 0 && errno != EEXIST) {
    return Unavailable("cannot create cgroup " + group + ": " + std::strerror(errno));
  }
  if (auto err = WriteControl(group + "/memory.max", MemoryMaxValue(limits.memory_bytes))) {
    return Unavailable("cannot set memory.max in " + group + ": " + *err);
  }
  if (auto err = WriteControl(group + "/cpu.max", CpuMaxValue(limits.cpu_millis))) {
    return Unavailable("cannot set cpu.max in " + group + ": " + *err);
  }
  return group;
}

std::optional<std::string> CgroupParent::GroupOf(pid_t pid) const {
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/cgroup");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    // The v2 line names the group relative to the mount; match it by suffix
    // against our parent, whose mount point we do not need to know.
    std::string rel = line.substr(3);
    size_t slash = rel.find_last_of('/');
    if (slash == std::string::npos) return std::nullopt;
    std::string parent_rel = rel.substr(0, slash);
    std::string name = rel.substr(slash + 1);
    if (name.empty() || parent_rel.empty()) return std::nullopt;
    if (dir_.size() >= parent_rel.size() &&
        dir_.compare(dir_.size() - parent_rel.size(), parent_rel.size(), parent_rel) == 0) {
      return dir_ + "/" + name;
    }
  }
  return std::nullopt;
}

Result<CgroupUsage> ReadCgroupUsage(const std::string& group_dir) {
  auto stat = ReadFile(group_dir + "/cpu.stat");
  auto current = ReadFile(group_dir + "/memory.current");
  if (!stat || !current) return NotFound("cgroup " + group_dir + " is gone");
  CgroupUsage usage;
  std::istringstream in(*stat);
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) {
    if (key == "usage_usec") usage.cpu_usec = value;
  }
  usage.memory_bytes = std::strtoll(current->c_str(), nullptr, 10);
  return usage;
}

void RemoveCgroup(const std::string& group_dir) { rmdir(group_dir.c_str()); }

}  // namespace skiff::runtime::process
