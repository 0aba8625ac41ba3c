#include "runtime/process/proc_stat.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace skiff::runtime::process {
namespace {

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

Result<ProcStat> ParseProcStat(std::string_view text) {
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return InvalidArgument("not a /proc stat line: no command name");
  }
  ProcStat st;
  std::string_view pid_text = text.substr(0, open);
  while (!pid_text.empty() && pid_text.back() == ' ') pid_text.remove_suffix(1);
  if (!ParseNumber(pid_text, &st.pid)) return InvalidArgument("not a /proc stat line: bad pid");

  // Split the rest on spaces; fields[0] is field 3 (state).
  std::vector<std::string_view> fields;
  std::string_view rest = text.substr(close + 1);
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\n')) ++i;
    size_t j = i;
    while (j < rest.size() && rest[j] != ' ' && rest[j] != '\n') ++j;
    if (j > i) fields.push_back(rest.substr(i, j - i));
    i = j;
  }
  auto field = [&](int n) { return fields[static_cast<size_t>(n - 3)]; };
  if (fields.size() < 22 || field(3).size() != 1) {
    return InvalidArgument("not a /proc stat line: too few fields");
  }
  st.state = field(3)[0];
  if (!ParseNumber(field(4), &st.ppid) || !ParseNumber(field(5), &st.pgrp) ||
      !ParseNumber(field(6), &st.session) || !ParseNumber(field(14), &st.utime_ticks) ||
      !ParseNumber(field(15), &st.stime_ticks) || !ParseNumber(field(22), &st.start_ticks) ||
      !ParseNumber(field(24), &st.rss_pages)) {
    return InvalidArgument("not a /proc stat line: bad number");
  }
  return st;
}

Result<ProcStat> ReadProcStat(pid_t pid) {
  // One open and one read into the stack: a sampling pass reads this for
  // every process on the machine, every interval (bench/collection_cost.cc).
  char path[32];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound("no process " + std::to_string(pid));
  // A stat line is a few hundred bytes; the command name is at most 64.
  char buffer[1024];
  ssize_t n;
  do {
    n = read(fd, buffer, sizeof(buffer));
  } while (n < 0 && errno == EINTR);
  close(fd);
  // The file exists but reads empty (or fails) when the process vanished in between.
  if (n <= 0) return NotFound("no process " + std::to_string(pid));
  return ParseProcStat(std::string_view(buffer, static_cast<size_t>(n)));
}

std::vector<pid_t> ListPids() {
  std::vector<pid_t> pids;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* e = readdir(dir)) {
    pid_t pid = 0;
    std::string_view name(e->d_name);
    if (ParseNumber(name, &pid) && pid > 0) pids.push_back(pid);
  }
  closedir(dir);
  return pids;
}

std::vector<ProcStat> ProcessGroupMembers(pid_t pgrp) {
  std::vector<ProcStat> members;
  for (pid_t pid : ListPids()) {
    auto st = ReadProcStat(pid);
    if (st && st->pgrp == pgrp && !st->Finished()) members.push_back(*st);
  }
  return members;
}

int64_t ClockTicksPerSecond() {
  static const int64_t ticks = [] {
    long v = sysconf(_SC_CLK_TCK);
    return v > 0 ? static_cast<int64_t>(v) : int64_t{100};
  }();
  return ticks;
}

int64_t PageSizeBytes() {
  static const int64_t size = [] {
    long v = sysconf(_SC_PAGESIZE);
    return v > 0 ? static_cast<int64_t>(v) : int64_t{4096};
  }();
  return size;
}

int64_t BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      int64_t v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

double UptimeSeconds() {
  std::ifstream in("/proc/uptime");
  double v = 0;
  if (!(in >> v)) return 0;
  return v;
}

}  // namespace skiff::runtime::process
