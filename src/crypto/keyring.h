// Keyring: the keys that seal secrets Skiff keeps at rest (certificate
// private keys today), with AES-256-GCM through OpenSSL EVP.
//
// The keys live in one file in the server's data directory (kKeyringFile,
// mode 0600), made on the first start. Each key has an id; one is active and
// seals, the others are kept so that what they sealed still opens. Rotation
// (RotateKeyringFile) adds a new key and makes it active: what is sealed from
// then on names the new id, what was sealed before keeps opening under its
// old one. Nothing re-seals old envelopes yet, so an old key may only be
// dropped from the file once nothing in the store names it.
//
// Every server of one database must hold the same keys (docs/postgres.md:
// copy the file); Open names the key id it lacks, so a server without it can
// say what to copy.
//
// An envelope is text, so that it fits in a JSON value:
//   "skiff-aes256gcm:<key id>:<base64(12-byte nonce | ciphertext | 16-byte tag)>"
// The associated data (what the secret belongs to: its kind, and the names
// of its owner, made by AssociatedData) is authenticated, not stored: an
// envelope moved to another owner does not open.
//
// Thread-safety: a Keyring is immutable once loaded; its methods may be
// called from any thread.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace skiff::crypto {

// The keyring's file name in the data directory.
inline constexpr const char* kKeyringFile = "keyring.json";

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

  // The keyring of DATA/keyring.json; made (0600, a first key, written
  // atomically and durably, never over a file another process made first:
  // then that one is read) when the file does not exist. Errors: kFailedPrecondition when the file
  // is readable by its group or others (naming it and its mode: the keys must be private) or does
  // not parse (naming what is wrong); kUnavailable when it cannot be read or written.
  static Result<Keyring> LoadOrCreate(const std::string& data_dir);

  // A keyring of `keys` with `active` the sealing one, for tests and for
  // LoadOrCreate. REQUIRES: `active` is the id of one of `keys`; every key
  // is 32 bytes.
  Keyring(std::vector<Key> keys, std::string active);

  // A keyring with one new random key. Aborts when OpenSSL's random
  // generator fails (nothing can be sealed safely then).
  static Keyring Generate();

  // Seals `plaintext` under the active key with a fresh random nonce,
  // binding `associated_data` (AssociatedData's). REQUIRES: it is not empty.
  // Errors: kInternal when OpenSSL fails (its random generator included).
  Result<std::string> Seal(std::string_view plaintext, std::string_view associated_data) const;

  // The plaintext `envelope` sealed with `associated_data`. REQUIRES: it is
  // not empty. Errors: kInvalidArgument when the envelope is not one;
  // kFailedPrecondition naming the key id when this keyring lacks it, and
  // when the envelope does not authenticate (tampered, or sealed with other
  // associated data or another key of that id): what was kept is wrong, and
  // the caller names the record it came from.
  Result<std::string> Open(std::string_view envelope, std::string_view associated_data) const;

  // The key id an envelope names. kInvalidArgument when it is not an envelope.
  static Result<std::string> KeyIdOf(std::string_view envelope);

  bool Has(std::string_view key_id) const;
  const std::string& active_id() const { return active_; }
  const std::vector<Key>& keys() const { return keys_; }

  // The file's text (JSON; the keys in base64).
  std::string ToFile() const;
  // Parses ToFile's text. kFailedPrecondition naming what is wrong (key ids
  // must be unique, of 16 lowercase hex digits).
  static Result<Keyring> FromFile(std::string_view text);

 private:
  const Key* Find(std::string_view id) const;

  std::vector<Key> keys_;
  std::string active_;
};

// Adds a new key to DATA/keyring.json and makes it active (the file replaced
// atomically, 0600); the old keys stay for what they sealed. It holds the
// data directory's lock (common/dir_lock.h) meanwhile, so the server of that
// directory must be stopped: a running server keeps the keyring it loaded.
// Start it again (and every server of a shared database, with the new file
// copied to each) to seal under the new key.
// Errors: as LoadOrCreate; kFailedPrecondition when the directory is locked
// (a server runs on it); kNotFound when there is no keyring yet.
Result<Keyring> RotateKeyringFile(const std::string& data_dir);

}  // namespace skiff::crypto
