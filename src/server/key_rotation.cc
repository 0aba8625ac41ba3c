#include "server/key_rotation.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>

#include "auth/secrets.h"
#include "common/dir_lock.h"
#include "common/quantity.h"
#include "controller/acme_account.h"
#include "controller/certificate_store.h"
#include "crypto/keyring.h"
#include "server/open_store.h"
#include "server/shared_trust.h"

namespace skiff::server {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// The store's record naming a key `keyring` lacks: kFailedPrecondition
// naming both, before anything changed.
Status RefuseKeysTheFileLacks(const std::map<std::string, std::string>& named,
                              const crypto::Keyring& keyring) {
  for (const auto& [id, record] : named) {
    if (keyring.Has(id)) continue;
    return FailedPrecondition(fmt::format(
        "the store's record {} is sealed under key {}, which the keyring file {} lacks: give the "
        "keyring file the servers of this store use (--keys-file); nothing was changed",
        record, id, keyring.path()));
  }
  return OkStatus();
}

// A failure after the new key was added: the file holds every key, so
// everything still opens, and another run completes the job.
Error AfterNewKey(Error error, const std::string& path) {
  error.message = fmt::format(
      "{}\n  the keyring file {} holds the old keys and the new one meanwhile, so everything "
      "still opens: mend or remove that record (or start the server and fix it), then run `skiff "
      "keys rotate` again",
      error.message, path);
  return error;
}

std::string Plural(int n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string NextStep(const KeyRotation& r) {
  if (r.shared) {
    return fmt::format(
        "copy {} to every other server of this database (mode 0600) before starting them",
        r.keys_file);
  }
  return "start the server again: it seals under the new key";
}

// kFailedPrecondition naming the servers of a shared database heard within
// the leader TTL: they may still run, with the keys they loaded. `then`
// says what was (not) changed.
Status RefuseLiveServers(store::LeaderLease* lease, Duration leader_ttl, std::string_view then) {
  auto servers = lease->ListServers();
  if (!servers) {
    Error error = servers.error();
    error.message += "\n  is --store the database of the server whose keys to rotate?";
    return tl::unexpected(std::move(error));
  }
  if (std::string running = LiveServers(*servers, "", leader_ttl); !running.empty()) {
    return FailedPrecondition(fmt::format(
        "servers of this database were heard within the last {} ({}): stop them first: a "
        "running server keeps the keys it loaded ({})",
        FormatDuration(leader_ttl), running, then));
  }
  return OkStatus();
}

}  // namespace

Result<KeyRotation> RotateKeys(const KeyRotationOptions& options,
                               const RotationProgress& progress) {
  const std::string& data = options.data_dir;
  std::error_code ec;
  if (!fs::is_directory(data, ec)) {
    return NotFound(fmt::format(
        "no data directory {}: give the --data of the server whose keys to rotate", data));
  }
  SKIFF_RETURN_IF_ERROR(CheckStoreSpec(options.store));
  auto lock = DirLock::Acquire(data);
  if (!lock) {
    if (lock.error().code != ErrorCode::kFailedPrecondition) return tl::unexpected(lock.error());
    return FailedPrecondition(fmt::format(
        "a server runs on the data directory {}: stop it first: a running server keeps the keys "
        "it loaded (nothing was changed)",
        data));
  }
  const std::string path = crypto::KeyringPath(data, options.keys_file);
  if (!fs::exists(path, ec)) {
    return NotFound(fmt::format(
        "no keyring file {}: give the --data and --keys-file the server was started with", path));
  }
  // Every server using this file holds PATH.lock (shared) while it runs,
  // whatever its data directory or database.
  auto keys_lock = DirLock::AcquireFile(path + ".lock", DirLock::Mode::kExclusive);
  if (!keys_lock) {
    if (keys_lock.error().code != ErrorCode::kFailedPrecondition) {
      return tl::unexpected(keys_lock.error());
    }
    return FailedPrecondition(fmt::format(
        "a server runs with this keys file ({}): stop it first: a running server keeps the keys "
        "it loaded (nothing was changed)",
        path));
  }
  SKIFF_ASSIGN_OR_RETURN(crypto::Keyring keyring, crypto::Keyring::Load(path));
  // Never a new, empty database where the server keeps none.
  if (options.store == "sqlite" && !fs::exists(fs::path(data) / "skiff.db", ec)) {
    return NotFound(fmt::format(
        "no database in {} (skiff.db): give the --data of the server whose keys to rotate, and "
        "its --store when it uses PostgreSQL",
        data));
  }
  KeyRotation done;
  done.keys_file = path;
  done.shared = options.store != "sqlite";
  // Before OpenStore: it migrates a PostgreSQL schema, and a refused
  // rotation changes nothing.
  std::unique_ptr<store::LeaderLease> lease;
  if (done.shared) {
    lease = OpenLease(options.store, SystemClock::Get(), options.leader_ttl);
    SKIFF_RETURN_IF_ERROR(
        RefuseLiveServers(lease.get(), options.leader_ttl, "nothing was changed"));
  }
  SKIFF_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store,
                         OpenStore(options.store, data, options.leader_ttl));
  SKIFF_ASSIGN_OR_RETURN(auto named, KeyIdsInStore(store.get()));
  SKIFF_RETURN_IF_ERROR(RefuseKeysTheFileLacks(named, keyring));

  const crypto::Keyring rotated = keyring.WithNewKey();
  SKIFF_RETURN_IF_ERROR(rotated.Save());
  done.key = rotated.active_id();
  const auto told = [&](std::string_view what) -> crypto::ResealProgress {
    if (!progress) return {};
    return [&progress, what](int n, int total) { progress(what, n, total); };
  };
  const auto resealed = [&](Result<int> count, int* into) -> Status {
    if (!count) return tl::unexpected(AfterNewKey(count.error(), path));
    *into = *count;
    return OkStatus();
  };
  // The check first: it says at once whether this is the database's keyring.
  SKIFF_RETURN_IF_ERROR(
      resealed(ResealSharedTrust(store.get(), rotated), &done.shared_trust_checks));
  if (progress && done.shared) progress("the shared-trust check", 1, 1);
  auth::SecretStore secrets(store.get(), &rotated);
  SKIFF_RETURN_IF_ERROR(resealed(secrets.Reseal(told("secrets")), &done.secrets));
  controller::CertificateStore certificates(store.get(), &rotated);
  SKIFF_RETURN_IF_ERROR(
      resealed(certificates.Reseal(told("certificate keys")), &done.certificate_keys));
  SKIFF_RETURN_IF_ERROR(
      resealed(controller::ResealAcmeAccounts(store.get(), rotated, told("ACME account keys")),
               &done.acme_account_keys));

  // The old keys stay unless asked: nothing binds this file to this store
  // alone, and another store's records may need them.
  if (!options.drop_old_keys) {
    for (const crypto::Keyring::Key& key : keyring.keys()) done.kept.push_back(key.id);
    return done;
  }
  SKIFF_ASSIGN_OR_RETURN(named, KeyIdsInStore(store.get()));
  named.erase(rotated.active_id());
  if (!named.empty()) {
    return Aborted(fmt::format(
        "the store's record {} still names key {} after re-sealing: was a server running? The "
        "keyring file {} keeps the old keys; stop every server of this store and run `skiff keys "
        "rotate --drop-old-keys` again",
        named.begin()->second, named.begin()->first, path));
  }
  if (lease) {
    SKIFF_RETURN_IF_ERROR(RefuseLiveServers(
        lease.get(), options.leader_ttl,
        fmt::format("everything is sealed under the new key {}, and the keyring file {} keeps "
                    "the old keys; stop them and run `skiff keys rotate --drop-old-keys` again",
                    done.key, path)));
  }
  SKIFF_RETURN_IF_ERROR(rotated.ActiveOnly().Save());
  for (const crypto::Keyring::Key& key : keyring.keys()) done.dropped.push_back(key.id);
  return done;
}

RotationProgress ProgressLines(std::ostream& out, const Clock* clock) {
  auto last = std::make_shared<std::optional<MonoTime>>();
  return [&out, clock, last](std::string_view what, int done, int total) {
    const MonoTime now = clock->MonotonicNow();
    if (total == 0) return;
    if (done < total && last->has_value() && now - **last < std::chrono::seconds(1)) return;
    if (done < total) {
      *last = now;
    } else {
      last->reset();  // the next kind starts afresh
    }
    out << "re-sealing " << what << ": " << done << "/" << total << std::endl;
  };
}

std::string RotationText(const KeyRotation& r) {
  const auto keys = [](const std::vector<std::string>& ids) {
    std::vector<std::string> out;
    for (const std::string& id : ids) out.push_back("key " + id);
    return out;
  };
  std::string old_keys;
  if (!r.dropped.empty()) {
    old_keys = fmt::format("dropped: {}\n", fmt::join(keys(r.dropped), ", "));
  } else {
    old_keys = fmt::format(
        "kept: {} (they still open what another store may have sealed; `skiff keys rotate "
        "--drop-old-keys` retires them once this file serves this store alone)\n",
        fmt::join(keys(r.kept), ", "));
  }
  return fmt::format(
      "key {} is now the active key of {}{}\nre-sealed: {}, {}, {}, {}\n{}next: {}\n", r.key,
      r.keys_file, r.dropped.empty() ? "" : ", and its only one",
      Plural(r.secrets, "secret", "secrets"),
      Plural(r.certificate_keys, "certificate key", "certificate keys"),
      Plural(r.acme_account_keys, "ACME account key", "ACME account keys"),
      Plural(r.shared_trust_checks, "shared-trust check", "shared-trust checks"), old_keys,
      NextStep(r));
}

std::string RotationJson(const KeyRotation& r) {
  json::array dropped;
  for (const std::string& id : r.dropped) dropped.emplace_back(id);
  json::array kept;
  for (const std::string& id : r.kept) kept.emplace_back(id);
  return json::serialize(json::object{
             {"keys_file", r.keys_file},
             {"key", r.key},
             {"resealed",
              {{"secrets", r.secrets},
               {"certificate_keys", r.certificate_keys},
               {"acme_account_keys", r.acme_account_keys},
               {"shared_trust_checks", r.shared_trust_checks}}},
             {"kept", std::move(kept)},
             {"dropped", std::move(dropped)},
             {"shared", r.shared},
             {"next", NextStep(r)},
         }) +
         "\n";
}

}  // namespace skiff::server
