#include "api/admin_token.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/files.h"
#include "common/ids.h"

namespace skiff::api {
namespace {

// 32 random bytes: 256 bits, beyond guessing.
constexpr size_t kTokenBytes = 32;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Result<std::string> ReadToken(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Unavailable(fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    return FailedPrecondition(fmt::format(
        "{} is readable by others (mode {:o}); delete it and restart to get a new token, "
        "or chmod 600 it",
        path, st.st_mode & 0777));
  }
  std::ifstream in(path);
  if (!in) return Unavailable(fmt::format("cannot read {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = Trim(ss.str());
  if (token.empty()) {
    return FailedPrecondition(fmt::format("{} is empty; delete it and restart", path));
  }
  return token;
}

}  // namespace

Result<std::string> LoadOrCreateAdminToken(const std::string& data_dir, bool* created) {
  if (created != nullptr) *created = false;
  std::string path = data_dir + "/" + kAdminTokenFile;
  if (::access(path.c_str(), F_OK) == 0) return ReadToken(path);

  // Written whole to a private temporary file, then linked into place: link()
  // fails on an existing name, so a concurrent start never sees a half-written
  // token, and O_EXCL with 0600 means the file is never readable by others.
  std::string token = RandomHex(kTokenBytes);
  std::string tmp = path + ".tmp-" + RandomHex(8);
  SKIFF_RETURN_IF_ERROR(WriteNewFile(tmp, token + "\n", 0600));
  int err = ::link(tmp.c_str(), path.c_str()) != 0 ? errno : 0;
  ::unlink(tmp.c_str());
  if (err == EEXIST) return ReadToken(path);  // another process won the race
  if (err != 0) {
    return Unavailable(fmt::format("cannot write {}: {}", path, std::strerror(err)));
  }
  if (created != nullptr) *created = true;
  return token;
}

}  // namespace skiff::api
