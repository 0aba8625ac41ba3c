#include "server/shared_trust.h"

#include <boost/json.hpp>
#include <filesystem>

namespace skiff::server {

namespace {

namespace json = boost::json;
using store::RecordKind;

// What the keyring check seals: nothing secret, only whether it opens.
constexpr std::string_view kCheckText = "skiff keyring check";

std::string CheckData() { return crypto::AssociatedData("keyring-check", {"cluster"}); }

struct SharedTrust {
  std::string ca_fingerprint;
  std::string keyring_check;  // kCheckText sealed under the recording server's keyring
};

std::string Encode(const SharedTrust& trust) {
  return json::serialize(json::object{{"ca_fingerprint", trust.ca_fingerprint},
                                      {"keyring_check", trust.keyring_check}});
}

Result<SharedTrust> Decode(const std::string& value) {
  boost::system::error_code ec;
  const json::value doc = json::parse(value, ec);
  const json::object* o = ec ? nullptr : doc.if_object();
  const json::value* ca = o ? o->if_contains("ca_fingerprint") : nullptr;
  const json::value* check = o ? o->if_contains("keyring_check") : nullptr;
  if (!ca || !ca->is_string() || !check || !check->is_string()) {
    return Internal("the store's record " + std::string(kSharedTrustRecord) +
                    " does not parse; start one server with --new-shared-trust to write it anew");
  }
  return SharedTrust{std::string(ca->as_string()), std::string(check->as_string())};
}

// The record, made from `own` when there is none (a concurrent first start
// may make it first: then theirs is read).
Result<SharedTrust> GetOrCreate(store::Store* store, const SharedTrust& own) {
  const std::string key(kSharedTrustRecord);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto kept = store->GetRecord(RecordKind::kCertificate, key);
    if (kept) return Decode(*kept);
    if (kept.error().code != ErrorCode::kNotFound) return tl::unexpected(kept.error());
    Status created = store->CreateRecord(RecordKind::kCertificate, key, Encode(own));
    if (created) return own;
    if (created.error().code != ErrorCode::kAlreadyExists) return tl::unexpected(created.error());
  }
  return Unavailable("the record " + key + " keeps changing: try the start again");
}

// The refusal of a keyring that does not open the database's check
// `check`: which key it lacks, and which file to copy where.
tl::unexpected<Error> KeyringCheckRefused(const crypto::Keyring& keyring,
                                          const std::string& check) {
  const auto key_id = crypto::Keyring::KeyIdOf(check);
  const std::string problem =
      key_id && !keyring.Has(*key_id)
          ? "lacks the key " + *key_id + " the database's keyring check was sealed with"
          : "does not open the database's keyring check (its key " +
                (key_id ? *key_id : std::string("(unreadable)")) + " differs)";
  const std::string& path = keyring.path();
  return FailedPrecondition("this server's keyring (" + path + ") " + problem +
                            ": it could not open the keys the other servers sealed. Stop it, "
                            "copy the keyring file of another server of this database to " +
                            path + " (mode 0600), and start it again (docs/postgres.md)");
}

}  // namespace

Status CheckSharedTrust(store::Store* store, const crypto::Keyring& keyring,
                        const std::string& ca_fingerprint, const std::string& data_dir,
                        bool replace) {
  const auto in_data = [&](const char* file) {
    return (std::filesystem::path(data_dir) / file).string();
  };
  SharedTrust own{ca_fingerprint, ""};
  SKIFF_ASSIGN_OR_RETURN(own.keyring_check, keyring.Seal(kCheckText, CheckData()));
  SKIFF_ASSIGN_OR_RETURN(SharedTrust shared, GetOrCreate(store, own));
  const auto opens = [&](const std::string& check) {
    auto opened = keyring.Open(check, CheckData());
    return opened && *opened == kCheckText;
  };
  if (replace) {
    if (shared.ca_fingerprint == ca_fingerprint && opens(shared.keyring_check)) return OkStatus();
    return store->PutRecord(RecordKind::kCertificate, std::string(kSharedTrustRecord), Encode(own));
  }
  if (shared.ca_fingerprint != ca_fingerprint) {
    return FailedPrecondition(
        "this server's CA (" + in_data("ca.crt") + ", fingerprint " + ca_fingerprint +
        ") is not the CA of the other servers of this database (fingerprint " +
        shared.ca_fingerprint +
        "): agents and edges joined to them would refuse this one. Stop it, copy ca.crt and "
        "ca.key from another server's data directory into " +
        data_dir + ", remove its server.crt and server.key, and start it again (docs/postgres.md)");
  }
  if (!opens(shared.keyring_check)) return KeyringCheckRefused(keyring, shared.keyring_check);
  return OkStatus();
}

Result<int> ResealSharedTrust(store::Store* store, const crypto::Keyring& keyring) {
  auto kept = store->GetRecord(RecordKind::kCertificate, std::string(kSharedTrustRecord));
  if (!kept) {
    if (kept.error().code == ErrorCode::kNotFound) return 0;
    return tl::unexpected(kept.error());
  }
  SKIFF_ASSIGN_OR_RETURN(SharedTrust shared, Decode(*kept));
  auto id = crypto::Keyring::KeyIdOf(shared.keyring_check);
  if (id && *id == keyring.active_id()) return 0;
  auto opened = keyring.Open(shared.keyring_check, CheckData());
  if (!opened || *opened != kCheckText) {
    return KeyringCheckRefused(keyring, shared.keyring_check);
  }
  SKIFF_ASSIGN_OR_RETURN(shared.keyring_check, keyring.Seal(kCheckText, CheckData()));
  SKIFF_RETURN_IF_ERROR(
      store->PutRecord(RecordKind::kCertificate, std::string(kSharedTrustRecord), Encode(shared)));
  return 1;
}

std::string LiveServers(const std::vector<store::ServerRecord>& servers, const std::string& own_id,
                        Duration ttl) {
  std::string running;
  for (const store::ServerRecord& s : servers) {
    if (s.id == own_id || s.silent >= ttl) continue;
    running += (running.empty() ? "" : ", ") + s.id + " at " + s.address;
  }
  return running;
}

Status RefuseReplaceWhileOthersRun(const std::vector<store::ServerRecord>& servers,
                                   const std::string& own_id, Duration ttl,
                                   const std::string& keyring_path) {
  const std::string running = LiveServers(servers, own_id, ttl);
  if (running.empty()) return OkStatus();
  return FailedPrecondition("--new-shared-trust: other servers of this database are running (" +
                            running +
                            ") with the CA and keyring recorded now; stop them first, then copy "
                            "this server's ca.crt, ca.key and keyring file (" +
                            keyring_path + ") to them before they start again");
}

}  // namespace skiff::server
