// SecretStore: apps' secrets (`skiff secrets set APP KEY`), given to their
// instances as environment variables when they start (agent/task_config.h).
//
// Each lives in one store record (store/store.h, kind "secret", key
// "APP/KEY"), so every server of one database has it: a JSON object
// {envelope, version, updated_at} whose envelope is the value sealed under the
// server's keyring (crypto/keyring.h, AES-256-GCM) bound to the app and the
// key (AssociatedData("app-secret", {app, key})): the database never holds a
// value in clear, and an envelope moved to another app's or key's record does
// not open. Only the latest value of a key is kept; its version counts its
// values (1, 2, ...; a key unset and set again starts at 1).
//
// A value leaves this class only through Values, for the instances of its
// app (the agent of their node, api/agent_secrets.h): never in an error
// message, a log line, an event or an API answer. Changing a secret does not
// roll anything out by itself: the caller then makes a revision naming the
// new versions (controller::AppService::SetSecretVersions), so that the
// instances are replaced like for any change.
//
// Thread-safety: every method may be called from any thread. Set and Unset
// are serialised within this object, so that two sets of one key give two
// versions; servers sharing a database may still race (the last write wins,
// and both may name the same version).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/keyring.h"
#include "store/store.h"

namespace skiff::auth {

// The largest value a secret may have.
inline constexpr size_t kMaxSecretBytes = 64 * 1024;

// What is listed of a secret: never its value.
struct SecretInfo {
  std::string key;
  int64_t version = 0;
  Time updated_at;
  friend bool operator==(const SecretInfo&, const SecretInfo&) = default;
};

// Whether `key` may name a secret: an environment variable's name
// ([A-Za-z_][A-Za-z0-9_]*, at most 256 characters) that Skiff does not set
// itself (PORT, HOST, SKIFF_*). kInvalidArgument on field "key" saying why.
Status ValidateSecretKey(std::string_view key);

// Whether `value` may be a secret's value: not empty, at most
// kMaxSecretBytes, no NUL byte (an environment variable cannot hold one).
// kInvalidArgument on field "value" saying why, never quoting the value.
Status ValidateSecretValue(std::string_view value);

class SecretStore {
 public:
  // Not owned; they must outlive this object (clock null: the system clock).
  SecretStore(store::Store* store, const crypto::Keyring* keyring, const Clock* clock = nullptr);

  // Keeps `value` as the secret `key` of `app` (sealed under the active key),
  // replacing its value; durable once it returns. Returns its new version.
  // REQUIRES: `app` is an app's name (the caller checked that it exists).
  // Errors: as ValidateSecretKey and ValidateSecretValue (nothing written);
  // kInternal when sealing fails or the record kept does not parse;
  // kUnavailable when the store cannot be read or written.
  Result<int64_t> Set(const std::string& app, const std::string& key, std::string_view value);

  // The secrets of `app`, by key. Errors: kUnavailable; kInternal naming a
  // record that does not parse.
  Result<std::vector<SecretInfo>> List(const std::string& app) const;

  // Forgets the secret `key` of `app`. kNotFound when it has none of that
  // name; kUnavailable.
  Status Unset(const std::string& app, const std::string& key);

  // Forgets every secret of `app` (the app is being deleted); returns how
  // many. kUnavailable.
  Result<int> RemoveApp(const std::string& app);

  // The value of each secret of `app`, by key, for its instances. Errors:
  // kFailedPrecondition naming the record whose envelope does not open (a
  // key id this keyring lacks: copy the keyring file of the server that
  // sealed it; or a tampered record); kUnavailable; kInternal as List.
  Result<std::map<std::string, std::string>> Values(const std::string& app) const;

  // The version of each secret of `app`, by key (what a revision names).
  // Errors as List.
  Result<std::map<std::string, int64_t>> Versions(const std::string& app) const;

  // Seals every secret not sealed under the keyring's active key again under
  // it, one store write each (for `skiff keys rotate`, so that the old keys
  // can be dropped); versions and times are kept, and a secret already under
  // the active key is not written. Tells `progress` (when given) after each
  // record. Returns how many were sealed again. Meant for a store no server
  // writes meanwhile: a secret set by another writer between its read and its
  // write here would be overwritten.
  // Errors: kFailedPrecondition naming the first record whose envelope does
  // not open (a key id this keyring lacks, or a tampered record): it stops
  // there, and those done stay done (they open under the active key);
  // kUnavailable; kInternal as List.
  Result<int> Reseal(const crypto::ResealProgress& progress = {});

 private:
  struct Kept {
    std::string envelope;
    int64_t version = 0;
    Time updated_at;
  };
  // A secret record's fields; kInternal naming it when it does not parse.
  static Result<Kept> Parse(const store::Record& record);
  // Every secret record of `app`, by key.
  Result<std::map<std::string, Kept>> Read(const std::string& app) const;

  store::Store* const store_;
  const crypto::Keyring* const keyring_;
  const Clock* const clock_;
  std::mutex write_mu_;  // serialises Set and Unset
};

}  // namespace skiff::auth
