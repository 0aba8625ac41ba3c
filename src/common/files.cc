#include "common/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/ids.h"

namespace skiff {

Status WriteNewFile(const std::string& path, std::string_view content, int mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) return MakeError(ErrorCode::kAlreadyExists, fmt::format("{} exists", path));
    return Unavailable(fmt::format("cannot create {}: {}", path, std::strerror(err)));
  }
  int err = 0;
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = errno != 0 ? errno : EIO;
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  // Durable before anyone renames or links it into place: a crash must not
  // leave an empty file under the final name.
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(path.c_str());
    return Unavailable(fmt::format("cannot write {}: {}", path, std::strerror(err)));
  }
  return OkStatus();
}

namespace {

// A rename or link into `path`'s directory is durable once the directory is:
// a failure here means the change may not survive a crash, so it is told.
Status SyncDirectoryOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    return Unavailable(
        fmt::format("cannot open directory {} to sync {}: {}", dir, path, std::strerror(errno)));
  }
  int err = 0;
  if (::fsync(dfd) != 0) err = errno;
  ::close(dfd);
  if (err != 0) {
    return Unavailable(fmt::format("cannot sync directory {} after writing {}: {}", dir, path,
                                   std::strerror(err)));
  }
  return OkStatus();
}

}  // namespace

Status RemoveFileDurably(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return OkStatus();
    return Unavailable("cannot remove " + path + ": " + std::strerror(errno));
  }
  return SyncDirectoryOf(path);
}

Status WriteFileAtomically(const std::string& path, std::string_view content, int mode) {
  const std::string tmp = path + ".tmp-" + RandomHex(6);
  SKIFF_RETURN_IF_ERROR(WriteNewFile(tmp, content, mode));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Unavailable(fmt::format("cannot write {}: {}", path, std::strerror(err)));
  }
  return SyncDirectoryOf(path);
}

Status WriteNewFileAtomically(const std::string& path, std::string_view content, int mode) {
  const std::string tmp = path + ".tmp-" + RandomHex(6);
  SKIFF_RETURN_IF_ERROR(WriteNewFile(tmp, content, mode));
  // link(), unlike rename(), never replaces what is at `path`.
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    if (err == EEXIST) return MakeError(ErrorCode::kAlreadyExists, fmt::format("{} exists", path));
    return Unavailable(fmt::format("cannot create {}: {}", path, std::strerror(err)));
  }
  return SyncDirectoryOf(path);
}

Result<std::string> ReadPrivateFile(const std::string& path, bool private_only) {
  // Checked on the descriptor that is read, not on the name (which a link
  // could point elsewhere between a stat and an open); a private file may not
  // be a symbolic link.
  const int flags = O_RDONLY | O_CLOEXEC | (private_only ? O_NOFOLLOW : 0);
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound(fmt::format("{} does not exist", path));
    if (err == ELOOP) {
      return FailedPrecondition(fmt::format(
          "{} is a symbolic link; give the file itself, readable by its owner alone", path));
    }
    return Unavailable(fmt::format("cannot open {}: {}", path, std::strerror(err)));
  }
  std::string out;
  struct stat st;
  Status checked = OkStatus();
  if (::fstat(fd, &st) != 0) {
    checked = Unavailable(fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
  } else if (private_only && !S_ISREG(st.st_mode)) {
    checked = FailedPrecondition(fmt::format("{} is not a regular file", path));
  } else if (private_only && st.st_uid != ::geteuid()) {
    checked = FailedPrecondition(
        fmt::format("{} belongs to user {}, not to this process's user {}; chown it", path,
                    st.st_uid, ::geteuid()));
  } else if (private_only && (st.st_mode & 077) != 0) {
    checked = FailedPrecondition(
        fmt::format("{} is open to its group or others (mode {:o}): chmod 600 {}", path,
                    st.st_mode & 0777, path));
  }
  while (checked) {
    char buf[8192];
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      checked = Unavailable(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
      break;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!checked) return tl::unexpected(checked.error());
  return out;
}

}  // namespace skiff
