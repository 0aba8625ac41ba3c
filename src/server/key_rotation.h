// `skiff keys rotate`: seals everything a server's store keeps sealed under
// a new key of its keyring (crypto/keyring.h), and with --drop-old-keys
// retires the old keys (one that may have leaked) from the keyring file.
//
// Old keys are kept by default: nothing binds a keyring file to one store
// (two data directories, or a PostgreSQL server whose stale DATA/skiff.db
// was rotated instead, may share it), and dropping a key another store's
// records name loses them. Dropping is for a file that serves this store
// alone.
//
// An operator command, run while the servers of the store are stopped (the
// apps' instances keep running, standalone edges keep routing to them): a
// running server keeps the keys it loaded, and would go on sealing under the
// old one. It holds the data directory's lock and PATH.lock beside the
// keyring file (which every server using the file holds while it runs), so
// no server starts on either meanwhile.
//
// The steps, each durable before the next, so that a kill -9 anywhere
// leaves a keyring file holding every key a record names, and running the
// command again completes the job (it adds another key and seals everything
// under that one):
//   1. check that no server runs (with a shared database: none heard within
//      the leader TTL, before the database is opened, which may migrate it),
//      and that every key id the store's records name is in the file (else
//      nothing is changed);
//   2. add a new random key to the file and make it active;
//   3. seal again under it, record by record: the shared-trust check, apps'
//      secrets, certificate keys, the ACME account keys;
//   4. with drop_old_keys only: once no record names another key and still
//      no server of a shared database was heard, write the file with the new
//      key alone (the old ones dropped).
//
// Thread-safety: RotateKeys is called from one thread; `progress` is called
// on it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace skiff::server {

struct KeyRotationOptions {
  std::string data_dir = ".skiff";  // the server's --data
  std::string store = "sqlite";     // its --store
  std::string keys_file;            // its --keys-file ("": DATA/keyring.json)
  // The servers' --leader-ttl: a server of a shared database heard within it
  // may still run.
  Duration leader_ttl = std::chrono::seconds(5);
  // Drop the old keys from the file once no record of this store names
  // them (--drop-old-keys). REQUIRES of the caller: the file serves this
  // store alone.
  bool drop_old_keys = false;
};

// What a rotation did.
struct KeyRotation {
  std::string keys_file;             // the keyring file, rewritten
  std::string key;                   // the id of the new, active key
  std::vector<std::string> kept;     // the old keys' ids, still in the file
  std::vector<std::string> dropped;  // or dropped from it (drop_old_keys)
  // Records sealed again, by kind.
  int secrets = 0;
  int certificate_keys = 0;
  int acme_account_keys = 0;
  int shared_trust_checks = 0;
  bool shared = false;  // a shared database: the other servers need the new file
};

// Told how far the re-sealing of one kind went: `what` ("secrets",
// "certificate keys", "ACME account keys", "the shared-trust check"), `done`
// of `total` records looked at.
using RotationProgress = std::function<void(std::string_view what, int done, int total)>;

// Rotates the keyring of the server of `options` (the steps above).
// Errors, each saying what to do:
//   kNotFound: no data directory, no keyring file, or no SQLite database
//     there (nothing changed);
//   kFailedPrecondition: a server runs on the data directory or with the
//     keyring file (its PATH.lock held), or a server of the shared database
//     was heard within the leader TTL (naming it), or a record names a key the file lacks (naming
//     the record and the key) — nothing changed; or a record does not open (naming it: the file
//     then holds the old keys and the new one, so everything still opens;
//     mend that record and run again);
//   kAborted (drop_old_keys): records written meanwhile still name an old
//     key (a server ran after all): the old keys are kept; run again with
//     every server stopped; kFailedPrecondition (drop_old_keys) likewise
//     when a server of the shared database was heard before the drop;
//   kInvalidArgument, kUnavailable: as the server's start for --store, the
//     keyring file and the database.
Result<KeyRotation> RotateKeys(const KeyRotationOptions& options,
                               const RotationProgress& progress = {});

// A RotationProgress writing "re-sealing secrets: 120/450" lines to `out`:
// for each kind that has records, its first, at most one a second of
// `clock`'s time, and when it is done. `out` and `clock` must outlive what
// is returned.
RotationProgress ProgressLines(std::ostream& out, const Clock* clock = SystemClock::Get());

// What `skiff keys rotate` prints: for people (lines), or one JSON object
// {"keys_file", "key", "resealed": {"secrets", "certificate_keys",
// "acme_account_keys", "shared_trust_checks"}, "kept": [ids], "dropped":
// [ids], "shared", "next"}.
std::string RotationText(const KeyRotation& rotation);
std::string RotationJson(const KeyRotation& rotation);

}  // namespace skiff::server
