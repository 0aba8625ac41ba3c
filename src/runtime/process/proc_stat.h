// Reading /proc: the few facts ProcessDriver needs about a process (identity,
// state, process group, cpu time, resident memory) without shelling out to ps.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace skiff::runtime::process {

// The fields of /proc/<pid>/stat we use (see proc(5); numbering is 1-based there).
struct ProcStat {
  pid_t pid = 0;
  char state = '?';          // field 3: R S D Z T X ...
  pid_t ppid = 0;            // field 4
  pid_t pgrp = 0;            // field 5
  pid_t session = 0;         // field 6
  uint64_t utime_ticks = 0;  // field 14
  uint64_t stime_ticks = 0;  // field 15
  uint64_t start_ticks = 0;  // field 22: clock ticks after boot; with pid, a process's identity
  int64_t rss_pages = 0;     // field 24

  // A zombie or dead process has finished; only its parent's wait is missing.
  bool Finished() const { return state == 'Z' || state == 'X' || state == 'x'; }
};

// Parses the text of a /proc/<pid>/stat file. The command name (field 2) may
// hold spaces and parentheses, so fields are counted from its last ')'.
// kInvalidArgument when the text is not a stat line.
Result<ProcStat> ParseProcStat(std::string_view text);

// Reads /proc/<pid>/stat. kNotFound when there is no such process.
Result<ProcStat> ReadProcStat(pid_t pid);

// The pids of /proc, in no particular order. A snapshot: processes come and go.
std::vector<pid_t> ListPids();

// Every live (not finished) process whose process group is `pgrp`.
std::vector<ProcStat> ProcessGroupMembers(pid_t pgrp);

// sysconf(_SC_CLK_TCK): the unit of the *_ticks fields.
int64_t ClockTicksPerSecond();

// sysconf(_SC_PAGESIZE).
int64_t PageSizeBytes();

// Boot time, seconds since the epoch ("btime" of /proc/stat); 0 if unreadable.
int64_t BootTimeSeconds();

// Seconds since boot (/proc/uptime), fractional; 0 if unreadable.
double UptimeSeconds();

}  // namespace skiff::runtime::process
