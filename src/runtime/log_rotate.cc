#include "runtime/log_rotate.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace skiff::runtime {
namespace fs = std::filesystem;

namespace {

std::string Numbered(const std::string& path, int n) { return path + "." + std::to_string(n); }

}  // namespace

Result<bool> RotateLogIfLarger(const std::string& path, int64_t max_bytes, int keep) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return false;
    return Unavailable("log " + path + ": " + ec.message());
  }
  if (static_cast<int64_t>(size) <= max_bytes) return false;

  if (keep > 0) {
    fs::remove(Numbered(path, keep), ec);
    for (int n = keep - 1; n >= 1; --n) {
      if (!fs::exists(Numbered(path, n), ec)) continue;
      fs::rename(Numbered(path, n), Numbered(path, n + 1), ec);
      if (ec) return Unavailable("rotate " + Numbered(path, n) + ": " + ec.message());
    }
    fs::copy_file(path, Numbered(path, 1), fs::copy_options::overwrite_existing, ec);
    if (ec) return Unavailable("copy " + path + ": " + ec.message());
  }
  // truncate(2) on the path, not a new open with O_TRUNC: same effect, no fd to leak.
  if (truncate(path.c_str(), 0) != 0) {
    return Unavailable("truncate " + path + ": " + std::strerror(errno));
  }
  return true;
}

}  // namespace skiff::runtime
