#include "common/dir_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace skiff {

Result<DirLock> DirLock::Acquire(const std::string& dir) {
  auto lock = AcquireFile(dir + "/lock", Mode::kExclusive);
  if (!lock && lock.error().code == ErrorCode::kFailedPrecondition) {
    return FailedPrecondition(
        fmt::format("another skiff process uses the data directory {}: give each server its "
                    "own --data",
                    dir));
  }
  return lock;
}

Result<DirLock> DirLock::AcquireFile(const std::string& path, Mode mode) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  const int how = mode == Mode::kShared ? LOCK_SH : LOCK_EX;
  if (::flock(fd, how | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) {
      return FailedPrecondition(fmt::format("another process holds the lock {}", path));
    }
    return Unavailable(fmt::format("cannot lock {}: {}", path, std::strerror(error)));
  }
  return DirLock(fd);
}

DirLock::DirLock(DirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace skiff
