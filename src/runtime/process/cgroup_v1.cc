#include "runtime/process/cgroup_v1.h"

#include <algorithm>
#include <charconv>
#include <vector>

namespace skiff::runtime::process {
namespace {

std::vector<std::string_view> SplitV1(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = text.find(sep, at);
    if (end == std::string_view::npos) end = text.size();
    parts.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return parts;
}

bool ListsController(std::string_view list, std::string_view controller) {
  for (std::string_view c : SplitV1(list, ',')) {
    if (c == controller) return true;
  }
  return false;
}

int64_t ParseFigure(std::string_view text) {
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

CgroupV1Mounts ParseCgroupV1Mounts(std::string_view mountinfo) {
  CgroupV1Mounts mounts;
  for (std::string_view line : SplitV1(mountinfo, '\n')) {
    // "ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER_OPTIONS"
    std::vector<std::string_view> fields;
    for (std::string_view f : SplitV1(line, ' ')) {
      if (!f.empty()) fields.push_back(f);
    }
    auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || fields.end() - dash < 4) continue;
    if (dash[1] != "cgroup") continue;  // cgroup2 and everything else
    const std::string_view super_options = dash[3];
    CgroupV1Mount mount{std::string(fields[3]), std::string(fields[4])};
    if (ListsController(super_options, "cpuacct") && !mounts.cpuacct) mounts.cpuacct = mount;
    if (ListsController(super_options, "memory") && !mounts.memory) mounts.memory = mount;
  }
  return mounts;
}

CgroupV1Paths ParseCgroupV1Paths(std::string_view proc_cgroup) {
  CgroupV1Paths paths;
  for (std::string_view line : SplitV1(proc_cgroup, '\n')) {
    // "ID:CONTROLLERS:PATH"; the path may hold colons.
    const size_t first = line.find(':');
    if (first == std::string_view::npos) continue;
    const size_t second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string_view path = line.substr(second + 1);
    if (ListsController(controllers, "cpuacct")) paths.cpuacct = std::string(path);
    if (ListsController(controllers, "memory")) paths.memory = std::string(path);
  }
  return paths;
}

std::optional<std::string> CgroupV1Dir(const CgroupV1Mount& mount, const std::string& path) {
  if (path.empty() || path[0] != '/') return std::nullopt;
  std::string root = mount.root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  std::string rest;
  if (root == "/") {
    rest = path;
  } else if (path == root) {
    rest = "";
  } else if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
             path[root.size()] == '/') {
    rest = path.substr(root.size());
  } else {
    return std::nullopt;  // a group outside what is mounted here
  }
  if (rest == "/") rest.clear();
  return mount.mount_point + rest;
}

Result<CgroupUsage> ReadCgroupV1Usage(const CgroupV1Groups& groups) {
  auto cpu = ReadControlFile(groups.cpuacct_dir + "/cpuacct.usage");
  auto used = ReadControlFile(groups.memory_dir + "/memory.usage_in_bytes");
  if (!cpu || !used) {
    return NotFound("cgroup " + groups.cpuacct_dir + " or " + groups.memory_dir + " is gone");
  }
  CgroupUsage usage;
  usage.cpu_usec = ParseFigure(*cpu) / 1000;
  int64_t inactive = 0;
  if (auto stat = ReadControlFile(groups.memory_dir + "/memory.stat")) {
    // total_: of the group and its children (memory.usage_in_bytes counts both).
    inactive = KeyedValue(*stat, "total_inactive_file");
  }
  usage.memory_bytes = std::max<int64_t>(0, ParseFigure(*used) - inactive);
  if (auto limit = ReadControlFile(groups.memory_dir + "/memory.limit_in_bytes")) {
    usage.memory_limit_bytes = ParseLimit(*limit);
  }
  return usage;
}

std::optional<CgroupV1Finder> CgroupV1Finder::Detect(const std::string& proc_root) {
  auto mountinfo = ReadControlFile(proc_root + "/self/mountinfo");
  if (!mountinfo) return std::nullopt;
  CgroupV1Mounts mounts = ParseCgroupV1Mounts(*mountinfo);
  if (!mounts.cpuacct || !mounts.memory) return std::nullopt;
  auto own = ReadControlFile(proc_root + "/self/cgroup");
  return CgroupV1Finder(proc_root, *mounts.cpuacct, *mounts.memory,
                        own ? ParseCgroupV1Paths(*own) : CgroupV1Paths{});
}

std::optional<CgroupV1Groups> CgroupV1Finder::GroupsOf(pid_t pid) const {
  auto text = ReadControlFile(proc_root_ + "/" + std::to_string(pid) + "/cgroup");
  if (!text) return std::nullopt;
  const CgroupV1Paths paths = ParseCgroupV1Paths(*text);
  // A group shared with the agent (or the root, shared with everything)
  // measures more than the task.
  auto own = [](const std::string& path, const std::string& agents) {
    return !path.empty() && path != "/" && path != agents;
  };
  if (!own(paths.cpuacct, own_.cpuacct) || !own(paths.memory, own_.memory)) return std::nullopt;
  auto cpuacct = CgroupV1Dir(cpuacct_, paths.cpuacct);
  auto memory = CgroupV1Dir(memory_, paths.memory);
  if (!cpuacct || !memory) return std::nullopt;
  return CgroupV1Groups{*cpuacct, *memory};
}

}  // namespace skiff::runtime::process
