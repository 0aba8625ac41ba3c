#include "common/fd_limit.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

namespace skiff {
namespace {

// The soft limit RaiseFileLimit found when it last raised it; RLIM_INFINITY
// (never a soft limit below the hard one) while it has not.
std::atomic<rlim_t> found_soft{RLIM_INFINITY};

}  // namespace

Result<long> RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Internal(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  if (limit.rlim_cur != limit.rlim_max) {
    const rlim_t found = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return Internal(std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
    }
    found_soft.store(found);
  }
  return static_cast<long>(limit.rlim_cur);
}

std::optional<rlimit> FileLimitForChildren() {
  const rlim_t found = found_soft.load();
  if (found == RLIM_INFINITY) return std::nullopt;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  limit.rlim_cur = std::min(found, limit.rlim_max);
  return limit;
}

}  // namespace skiff
