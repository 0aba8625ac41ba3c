// Keyring: the keys that seal secrets Skiff keeps at rest (apps' secrets,
// certificate and ACME account keys, the shared-trust check), with
// AES-256-GCM through OpenSSL EVP.
//
// The keys live in one file (mode 0600): DATA/keyring.json (kKeyringFile) by
// default, or wherever `--keys-file` says, so that a copy of the data
// directory (which on SQLite holds the database) does not open the secrets.
// The server makes it on its first start. Each key has an id; one is active
// and seals, the others are kept so that what they sealed still opens.
// `skiff keys rotate` (server/key_rotation.h) adds a new active key
// (WithNewKey), seals everything in the store again under it, and then keeps
// the new key alone (ActiveOnly).
//
// Every server of one database must hold the same keys (docs/postgres.md:
// copy the file); Open names the key id it lacks and the file it was loaded
// from, so a server without it can say what to copy.
//
// An envelope is text, so that it fits in a JSON value:
//   "skiff-aes256gcm:<key id>:<base64(12-byte nonce | ciphertext | 16-byte tag)>"
// The associated data (what the secret belongs to: its kind, and the names
// of its owner, made by AssociatedData) is authenticated, not stored: an
// envelope moved to another owner does not open.
//
// Thread-safety: a Keyring is immutable once loaded; its methods may be
// called from any thread. Save's callers serialise writers of one file (the
// data directory's lock, common/dir_lock.h).
#pragma once

#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace skiff::crypto {

// The keyring's file name in the data directory, when no --keys-file is given.
inline constexpr const char* kKeyringFile = "keyring.json";

// The keyring file of a server: `keys_file` (--keys-file) when it is not
// empty, else DATA/keyring.json.
std::string KeyringPath(const std::string& data_dir, const std::string& keys_file);

// Told how far a re-seal of one kind of record went: `done` of `total`
// records looked at (for `skiff keys rotate`'s progress).
using ResealProgress = std::function<void(int done, int total)>;

// The key ids the envelopes in `text` name (text holding envelopes: a
// record's JSON, say), so that what still needs a key can be found without
// knowing the record's shape. Only ids of 16 lowercase hex digits count.
std::set<std::string> KeyIdsNamedIn(std::string_view text);

// The associated data binding a secret to its owner: `kind` (what sort of
// secret: "certificate-key") then `owner`'s parts (a domain, a fingerprint),
// each length-prefixed ("15:certificate-key7:web.com…"), so that no two
// different lists give the same bytes. REQUIRES: `kind` is not empty.
std::string AssociatedData(std::string_view kind, std::initializer_list<std::string_view> owner);

class Keyring {
 public:
  struct Key {
    std::string id;     // 16 hex digits
    std::string bytes;  // 32 raw bytes
  };

  // The keyring of the file `path` (KeyringPath); made (0600, a first key,
  // written atomically and durably, never over a file another process made
  // first: then that one is read) when the file does not exist.
  // Errors: kFailedPrecondition naming the file when it is a symbolic link,
  // not a regular file, another user's, open to its group or others (with
  // its mode and `chmod 600 PATH`: the keys must be private) or does not
  // parse (naming what is wrong); kUnavailable when it cannot be read or
  // written (its directory missing, say).
  static Result<Keyring> LoadOrCreate(const std::string& path);

  // The keyring of the file `path`, which must exist. Errors: kNotFound
  // naming it when it does not; else as LoadOrCreate.
  static Result<Keyring> Load(const std::string& path);

  // A keyring of `keys` with `active` the sealing one, kept in the file
  // `path` ("": made in memory, tests). REQUIRES: `active` is the id of one
  // of `keys`; every key is 32 bytes.
  Keyring(std::vector<Key> keys, std::string active, std::string path = "");

  // A keyring with one new random key. Aborts when OpenSSL's random
  // generator fails (nothing can be sealed safely then).
  static Keyring Generate();

  // Seals `plaintext` under the active key with a fresh random nonce,
  // binding `associated_data` (AssociatedData's). REQUIRES: it is not empty.
  // Errors: kInternal when OpenSSL fails (its random generator included).
  Result<std::string> Seal(std::string_view plaintext, std::string_view associated_data) const;

  // The plaintext `envelope` sealed with `associated_data`. REQUIRES: it is
  // not empty. Errors: kInvalidArgument when the envelope is not one;
  // kFailedPrecondition naming the key id (and path()) when this keyring
  // lacks it, and
  // when the envelope does not authenticate (tampered, or sealed with other
  // associated data or another key of that id): what was kept is wrong, and
  // the caller names the record it came from.
  Result<std::string> Open(std::string_view envelope, std::string_view associated_data) const;

  // The key id an envelope names. kInvalidArgument when it is not an envelope.
  static Result<std::string> KeyIdOf(std::string_view envelope);

  // This keyring's keys and a new random one, made active (its id none of
  // theirs), for the same file. Aborts as Generate.
  Keyring WithNewKey() const;
  // The active key alone, for the same file: the others are dropped.
  Keyring ActiveOnly() const;

  // Replaces the file path() with this keyring, atomically and durably
  // (0600): a crash leaves the old file or the new one. REQUIRES: path() is
  // not empty. Errors: kUnavailable naming the file and the system's reason.
  Status Save() const;

  bool Has(std::string_view key_id) const;
  const std::string& active_id() const { return active_; }
  const std::vector<Key>& keys() const { return keys_; }
  // The file this keyring is kept in; "" for one made in memory.
  const std::string& path() const { return path_; }

  // The file's text (JSON; the keys in base64).
  std::string ToFile() const;
  // Parses ToFile's text. kFailedPrecondition naming what is wrong (key ids
  // must be unique, of 16 lowercase hex digits).
  static Result<Keyring> FromFile(std::string_view text);

 private:
  const Key* Find(std::string_view id) const;

  std::vector<Key> keys_;
  std::string active_;
  std::string path_;
};

}  // namespace skiff::crypto
