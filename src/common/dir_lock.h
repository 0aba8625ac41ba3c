// DirLock: one process at a time in a data directory. A server keeps in its
// data directory what makes it one node (the agent's node id, its assignments,
// the labels of its Docker containers): two servers on one directory would
// be one node twice, deleting each other's credentials and containers. The
// lock is an flock(2) on DIR/lock, held while the object lives and released
// by the kernel when the process dies, so a crash leaves nothing to clean up.
//
// Thread-safety: an object is used from one thread.
#pragma once

#include <string>

#include "common/result.h"

namespace skiff {

class DirLock {
 public:
  // Takes the lock of directory `dir` (which must exist), without waiting.
  // Errors: kFailedPrecondition when another process (or another DirLock of
  // this one) holds it, naming the directory; kUnavailable when the lock file
  // cannot be opened or locked.
  static Result<DirLock> Acquire(const std::string& dir);

  // Takes an flock(2) on the file `path` (made 0600 when missing), without
  // waiting: shared (many holders) or exclusive (one). Used for what is not
  // a data directory, e.g. a keys file's sibling PATH.lock. Errors:
  // kFailedPrecondition naming `path` when another holder's lock conflicts;
  // kUnavailable when it cannot be opened or locked.
  enum class Mode { kShared, kExclusive };
  static Result<DirLock> AcquireFile(const std::string& path, Mode mode);

  DirLock(DirLock&& other) noexcept;
  DirLock& operator=(DirLock&& other) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();  // Releases the lock.

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace skiff
