// The process's limit of open files (RLIMIT_NOFILE). The soft limit is often
// 1024 while every instance costs the agent a few descriptors (its pidfd, log
// files, pipes, probe sockets): the server and the agent raise it to the hard
// limit at start, as Go's runtime does for its programs. Like Go, they give
// the programs they start the soft limit they found: many mishandle a high
// one (select() with descriptors >= 1024, loops closing every descriptor up
// to the limit).
#pragma once

#include <sys/resource.h>

#include <optional>

#include "common/result.h"

namespace skiff {

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now
// in force. When it raises it, the soft limit it found is remembered for
// FileLimitForChildren. Errors: kInternal when the limit cannot be read or
// set. Thread-safe (the limit is the process's).
Result<long> RaiseFileLimit();

// The RLIMIT_NOFILE a program this process starts should get: the soft limit
// RaiseFileLimit found the last time it raised it (at most the hard limit
// now), and the hard limit now. nullopt when RaiseFileLimit never raised it
// (children then inherit the limit as is) or the limit cannot be read.
// Prepared before fork: the child only sets it (setrlimit is a plain system
// call). Thread-safe.
std::optional<rlimit> FileLimitForChildren();

}  // namespace skiff
