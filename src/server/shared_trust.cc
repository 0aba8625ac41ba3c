#include "server/shared_trust.h"

#include <filesystem>

namespace skiff::server {

namespace {

using store::RecordKind;

// What the keyring check seals: nothing secret, only whether it opens.
constexpr std::string_view kCheckText = "skiff keyring check";

std::string CheckData() { return crypto::AssociatedData("keyring-check", {"cluster"}); }

// The record `key` holds, made `made` when there is none (a concurrent
// first start may make it first: then theirs is read).
Result<std::string> GetOrCreate(store::Store* store, std::string_view key,
                                const std::string& made) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto kept = store->GetRecord(RecordKind::kCertificate, std::string(key));
    if (kept) return *kept;
    if (kept.error().code != ErrorCode::kNotFound) return tl::unexpected(kept.error());
    Status created = store->CreateRecord(RecordKind::kCertificate, std::string(key), made);
    if (created) return made;
    if (created.error().code != ErrorCode::kAlreadyExists) return tl::unexpected(created.error());
  }
  return Unavailable("the record " + std::string(key) + " keeps changing: try the start again");
}

}  // namespace

Status CheckSharedTrust(store::Store* store, const crypto::Keyring& keyring,
                        const std::string& ca_fingerprint, const std::string& data_dir) {
  const auto in_data = [&](const char* file) {
    return (std::filesystem::path(data_dir) / file).string();
  };
  SKIFF_ASSIGN_OR_RETURN(std::string shared_ca,
                         GetOrCreate(store, kSharedCaRecord, ca_fingerprint));
  if (shared_ca != ca_fingerprint) {
    return FailedPrecondition(
        "this server's CA (" + in_data("ca.crt") + ", fingerprint " + ca_fingerprint +
        ") is not the CA of the other servers of this database (fingerprint " + shared_ca +
        "): agents and edges joined to them would refuse this one. Stop it, copy ca.crt and "
        "ca.key from another server's data directory into " +
        data_dir + ", remove its server.crt and server.key, and start it again (docs/postgres.md)");
  }
  SKIFF_ASSIGN_OR_RETURN(std::string check, keyring.Seal(kCheckText, CheckData()));
  SKIFF_ASSIGN_OR_RETURN(std::string shared_check, GetOrCreate(store, kSharedKeyringRecord, check));
  auto opened = keyring.Open(shared_check, CheckData());
  if (!opened || *opened != kCheckText) {
    const auto key_id = crypto::Keyring::KeyIdOf(shared_check);
    return FailedPrecondition(
        "this server's keyring (" + in_data("keyring.json") + ") lacks the key " +
        (key_id ? *key_id : std::string("(unreadable)")) +
        " the other servers of this database seal with: it could not open their certificates' "
        "keys. Stop it, copy keyring.json from another server's data directory into " +
        data_dir + " (mode 0600), and start it again (docs/postgres.md)");
  }
  return OkStatus();
}

}  // namespace skiff::server
