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
#include "common/logging.h"

namespace skiff::api {
namespace {

// The key of the one admin token record.
constexpr const char* kAdminRecord = "admin";

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
        "{} is readable by others (mode {:o}); restart with --new-admin-token to get a new "
        "token, or chmod 600 it",
        path, st.st_mode & 0777));
  }
  std::ifstream in(path);
  if (!in) return Unavailable(fmt::format("cannot read {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = Trim(ss.str());
  if (token.empty()) {
    return FailedPrecondition(fmt::format("{} is empty; restart with --new-admin-token", path));
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

namespace {

// Writes a new token to DATA/admin.token (replacing any there) and keeps its
// hash, replacing the kept one: the old token stops working.
Result<std::string> RenewAdminToken(store::Store* store, const std::string& path) {
  const std::string token = RandomHex(kTokenBytes);
  SKIFF_RETURN_IF_ERROR(WriteFileAtomically(path, token + "\n", 0600));
  const std::string hash = Sha256Hex(token);
  SKIFF_RETURN_IF_ERROR(store->PutRecord(store::RecordKind::kAdminToken, kAdminRecord, hash));
  return hash;
}

// One server (SQLite, memory): DATA/admin.token is the truth. Absent (deleted
// to get a new token), a new one is made; its hash replaces any kept one.
Result<std::string> LoadOrCreateLocalAdminTokenHash(store::Store* store,
                                                    const std::string& data_dir, bool* created) {
  bool made = false;
  SKIFF_ASSIGN_OR_RETURN(std::string token, LoadOrCreateAdminToken(data_dir, &made));
  const std::string hash = Sha256Hex(token);
  auto kept = store->GetRecord(store::RecordKind::kAdminToken, kAdminRecord);
  if (!kept && kept.error().code != ErrorCode::kNotFound) return tl::unexpected(kept.error());
  if (!kept || !SecureEquals(*kept, hash)) {
    SKIFF_RETURN_IF_ERROR(store->PutRecord(store::RecordKind::kAdminToken, kAdminRecord, hash));
  }
  if (created != nullptr) *created = made;
  return hash;
}

}  // namespace

Result<std::string> LoadOrCreateClusterAdminTokenHash(store::Store* store,
                                                      const std::string& data_dir,
                                                      const AdminTokenOptions& options,
                                                      bool* created) {
  if (created != nullptr) *created = false;
  const std::string path = data_dir + "/" + kAdminTokenFile;
  if (options.renew) {
    SKIFF_ASSIGN_OR_RETURN(std::string hash, RenewAdminToken(store, path));
    if (created != nullptr) *created = true;
    return hash;
  }
  if (!options.shared_store) return LoadOrCreateLocalAdminTokenHash(store, data_dir, created);
  // Twice at most: a lost race to keep the first hash is settled by reading the winner's.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto kept = store->GetRecord(store::RecordKind::kAdminToken, kAdminRecord);
    if (kept) {
      if (::access(path.c_str(), F_OK) != 0) {
        SKIFF_LOG_INFO(
            "the admin token was made by another server of this database: use the "
            "token in that server's {} (or start one server with --new-admin-token)",
            kAdminTokenFile);
        return std::move(*kept);
      }
      SKIFF_ASSIGN_OR_RETURN(std::string token, ReadToken(path));
      if (!SecureEquals(Sha256Hex(token), *kept)) {
        SKIFF_LOG_WARN(
            "{} is not this database's admin token (another server made that one) "
            "and is not accepted: use the token in that server's {}, or restart this "
            "server once with --new-admin-token to make a new one",
            path, kAdminTokenFile);
      }
      return std::move(*kept);
    }
    if (kept.error().code != ErrorCode::kNotFound) return tl::unexpected(kept.error());
    bool made = false;
    SKIFF_ASSIGN_OR_RETURN(std::string token, LoadOrCreateAdminToken(data_dir, &made));
    const std::string hash = Sha256Hex(token);
    Status keep = store->CreateRecord(store::RecordKind::kAdminToken, kAdminRecord, hash);
    if (keep) {
      if (created != nullptr) *created = made;
      return hash;
    }
    // Never unlink on an error: the write may have landed (a lost reply), and
    // the file is the only copy of the token.
    if (keep.error().code != ErrorCode::kAlreadyExists) return tl::unexpected(keep.error());
    // "Exists" may be this very write, retried after its reply was lost, or a
    // server sharing this data directory: the kept hash says whose token won.
    auto winner = store->GetRecord(store::RecordKind::kAdminToken, kAdminRecord);
    if (!winner) {
      if (winner.error().code == ErrorCode::kNotFound) continue;  // deleted meanwhile
      return tl::unexpected(winner.error());
    }
    if (SecureEquals(*winner, hash)) {
      if (created != nullptr) *created = made;
      return hash;
    }
    if (made) ::unlink(path.c_str());  // another server's token won
    return std::move(*winner);
  }
  return Unavailable("the admin token in the store changed while it was read; start again");
}

bool AdminTokenFileHolds(const std::string& data_dir, const std::string& hash) {
  auto token = ReadToken(data_dir + "/" + kAdminTokenFile);
  return token && SecureEquals(Sha256Hex(*token), hash);
}

}  // namespace skiff::api
