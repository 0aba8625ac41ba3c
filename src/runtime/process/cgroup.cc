#include "runtime/process/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
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

std::optional<std::string> ReadControlFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  // memory.stat, the largest read per sample, is about 1.5 KiB.
  char buffer[8192];
  std::string text;
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return text;
}

int64_t KeyedValue(std::string_view text, std::string_view key) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ' ') {
      int64_t value = 0;
      std::string_view digits = line.substr(key.size() + 1);
      std::from_chars(digits.data(), digits.data() + digits.size(), value);
      return value;
    }
    at = end + 1;
  }
  return 0;
}

int64_t ParseLimit(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "max") return 0;
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  // v1's "no limit" is PAGE_COUNTER_MAX pages: 2^63 - 4096 and the like.
  if (error != std::errc() || value <= 0 || value >= (int64_t{1} << 62)) return 0;
  return value;
}

Result<CgroupUsage> ReadCgroupUsage(const std::string& group_dir) {
  auto stat = ReadControlFile(group_dir + "/cpu.stat");
  auto current = ReadControlFile(group_dir + "/memory.current");
  if (!stat || !current) return NotFound("cgroup " + group_dir + " is gone");
  CgroupUsage usage;
  usage.cpu_usec = KeyedValue(*stat, "usage_usec");
  int64_t used = 0;
  std::from_chars(current->data(), current->data() + current->size(), used);
  int64_t inactive = 0;
  if (auto memory_stat = ReadControlFile(group_dir + "/memory.stat")) {
    inactive = KeyedValue(*memory_stat, "inactive_file");
  }
  usage.memory_bytes = std::max<int64_t>(0, used - inactive);
  if (auto max = ReadControlFile(group_dir + "/memory.max")) {
    usage.memory_limit_bytes = ParseLimit(*max);
  }
  return usage;
}

void RemoveCgroup(const std::string& group_dir) { rmdir(group_dir.c_str()); }

}  // namespace skiff::runtime::process
