// The process's limit of open files (RLIMIT_NOFILE). The soft limit is often
// 1024 while every instance costs the agent a few descriptors (its pidfd, log
// files, pipes, probe sockets): the server and the agent raise it to the hard
// limit at start, as Go's runtime does for its programs.
#pragma once

#include "common/result.h"

namespace skiff {

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now
// in force. Errors: kInternal when the limit cannot be read or set.
// Thread-safe (the limit is the process's).
Result<long> RaiseFileLimit();

}  // namespace skiff
