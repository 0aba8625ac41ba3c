#include "crypto/keyring.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <memory>

#include "common/check.h"
#include "common/files.h"
#include "common/ids.h"
#include "crypto/x509.h"

namespace skiff::crypto {
namespace json = boost::json;
namespace {

constexpr std::string_view kScheme = "skiff-aes256gcm";
constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

std::string Base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(Bytes(out), Bytes(raw), static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// The bytes of canonical base64 `text` into `raw`; false when it is not that.
bool Unbase64(std::string_view text, std::string& raw) {
  if (text.empty() || text.size() % 4 != 0) return false;
  raw.assign(3 * text.size() / 4, '\0');
  const int n = EVP_DecodeBlock(Bytes(raw), Bytes(text), static_cast<int>(text.size()));
  if (n < 0) return false;
  size_t size = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding's zero bytes.
  if (text.ends_with("==")) {
    size -= 2;
  } else if (text.ends_with('=')) {
    size -= 1;
  }
  raw.resize(size);
  return Base64(raw) == text;
}

// `n` random bytes. Errors: kInternal when OpenSSL's generator fails.
Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(Bytes(out), static_cast<int>(n)) != 1) {
    return Internal("RAND_bytes: " + TakeOpensslErrors());
  }
  return out;
}

// The ciphertext and tag of `plaintext` under `key` and `nonce`, or the
// plaintext of `sealed` (ciphertext | tag): one EVP path for both ways.
Result<std::string> Gcm(bool seal, const std::string& key, std::string_view nonce,
                        std::string_view input, std::string_view associated_data) {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return Internal("EVP_CIPHER_CTX_new: " + TakeOpensslErrors());
  std::string_view body = input;
  std::string tag;
  if (!seal) {
    body = input.substr(0, input.size() - kTagBytes);
    tag = std::string(input.substr(input.size() - kTagBytes));
  }
  if (EVP_CipherInit_ex2(ctx.get(), EVP_aes_256_gcm(), Bytes(key), Bytes(nonce), seal ? 1 : 0,
                         nullptr) != 1) {
    return Internal("AES-256-GCM init: " + TakeOpensslErrors());
  }
  int n = 0;
  if (!associated_data.empty() && EVP_CipherUpdate(ctx.get(), nullptr, &n, Bytes(associated_data),
                                                   static_cast<int>(associated_data.size())) != 1) {
    return Internal("AES-256-GCM associated data: " + TakeOpensslErrors());
  }
  std::string out(body.size() + kTagBytes, '\0');
  if (EVP_CipherUpdate(ctx.get(), Bytes(out), &n, Bytes(body), static_cast<int>(body.size())) !=
      1) {
    return Internal("AES-256-GCM update: " + TakeOpensslErrors());
  }
  size_t size = static_cast<size_t>(n);
  if (!seal && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                                   tag.data()) != 1) {
    return Internal("AES-256-GCM tag: " + TakeOpensslErrors());
  }
  if (EVP_CipherFinal_ex(ctx.get(), Bytes(out) + size, &n) != 1) {
    TakeOpensslErrors();
    if (!seal) {
      // Not the caller's mistake: what was kept is wrong (changed, or moved
      // from what it was sealed for), and only putting it back mends it.
      return FailedPrecondition(
          "the sealed secret does not authenticate: it was changed, or belongs to something "
          "else");
    }
    return Internal("AES-256-GCM final");
  }
  size += static_cast<size_t>(n);
  if (seal) {
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                            out.data() + size) != 1) {
      return Internal("AES-256-GCM tag: " + TakeOpensslErrors());
    }
    size += kTagBytes;
  }
  out.resize(size);
  return out;
}

// Whether `id` is a key id as Generate makes them: 16 lowercase hex digits.
bool IsKeyId(std::string_view id) {
  return id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

struct Parsed {
  std::string key_id;
  std::string sealed;  // nonce | ciphertext | tag
};

Result<Parsed> ParseEnvelope(std::string_view envelope) {
  const auto bad = [] {
    return InvalidArgument("not a sealed secret (expected \"skiff-aes256gcm:<key id>:<data>\")");
  };
  const size_t first = envelope.find(':');
  if (first == std::string_view::npos || envelope.substr(0, first) != kScheme) return bad();
  const size_t second = envelope.find(':', first + 1);
  if (second == std::string_view::npos || second == first + 1) return bad();
  Parsed parsed;
  parsed.key_id = std::string(envelope.substr(first + 1, second - first - 1));
  if (!Unbase64(envelope.substr(second + 1), parsed.sealed) ||
      parsed.sealed.size() < kNonceBytes + kTagBytes) {
    return bad();
  }
  return parsed;
}

}  // namespace

std::string KeyringPath(const std::string& data_dir, const std::string& keys_file) {
  if (!keys_file.empty()) return keys_file;
  return (std::filesystem::path(data_dir) / kKeyringFile).string();
}

std::set<std::string> KeyIdsNamedIn(std::string_view text) {
  std::set<std::string> ids;
  const std::string prefix = std::string(kScheme) + ":";
  for (size_t at = text.find(prefix); at != std::string_view::npos;
       at = text.find(prefix, at + 1)) {
    const size_t start = at + prefix.size();
    const size_t end = text.find(':', start);
    if (end == std::string_view::npos) break;
    // Only what Generate could have named: other text is no envelope.
    if (IsKeyId(text.substr(start, end - start))) ids.emplace(text.substr(start, end - start));
  }
  return ids;
}

std::string AssociatedData(std::string_view kind, std::initializer_list<std::string_view> owner) {
  SKIFF_CHECK(!kind.empty());
  std::string out = fmt::format("{}:{}", kind.size(), kind);
  for (std::string_view part : owner) out += fmt::format("{}:{}", part.size(), part);
  return out;
}

Keyring::Keyring(std::vector<Key> keys, std::string active, std::string path)
    : keys_(std::move(keys)), active_(std::move(active)), path_(std::move(path)) {
  SKIFF_CHECK(Find(active_) != nullptr);
  for (const Key& key : keys_) SKIFF_CHECK(key.bytes.size() == kKeyBytes);
}

namespace {

// A new random key. Aborts when OpenSSL's generator fails: no keyring can be
// made without randomness, and nothing sensible can go on.
Keyring::Key NewKey() {
  auto bytes = RandomBytes(kKeyBytes);
  SKIFF_CHECK(bytes.has_value());
  return Keyring::Key{RandomHex(8), std::move(*bytes)};
}

}  // namespace

Keyring Keyring::Generate() {
  Key key = NewKey();
  std::string id = key.id;
  return Keyring({std::move(key)}, std::move(id));
}

Keyring Keyring::WithNewKey() const {
  Key added = NewKey();
  while (Has(added.id)) added = NewKey();
  std::vector<Key> keys = keys_;
  std::string active = added.id;
  keys.push_back(std::move(added));
  return Keyring(std::move(keys), std::move(active), path_);
}

Keyring Keyring::ActiveOnly() const { return Keyring({*Find(active_)}, active_, path_); }

Status Keyring::Save() const {
  SKIFF_CHECK(!path_.empty());
  return WriteFileAtomically(path_, ToFile(), 0600);
}

const Keyring::Key* Keyring::Find(std::string_view id) const {
  for (const Key& key : keys_) {
    if (key.id == id) return &key;
  }
  return nullptr;
}

bool Keyring::Has(std::string_view key_id) const { return Find(key_id) != nullptr; }

Result<std::string> Keyring::Seal(std::string_view plaintext,
                                  std::string_view associated_data) const {
  SKIFF_CHECK(!associated_data.empty());  // a secret bound to nothing could be moved anywhere
  const Key* key = Find(active_);
  SKIFF_ASSIGN_OR_RETURN(const std::string nonce, RandomBytes(kNonceBytes));
  SKIFF_ASSIGN_OR_RETURN(std::string sealed,
                         Gcm(true, key->bytes, nonce, plaintext, associated_data));
  return fmt::format("{}:{}:{}", kScheme, key->id, Base64(nonce + sealed));
}

Result<std::string> Keyring::Open(std::string_view envelope,
                                  std::string_view associated_data) const {
  SKIFF_CHECK(!associated_data.empty());
  SKIFF_ASSIGN_OR_RETURN(Parsed parsed, ParseEnvelope(envelope));
  const Key* key = Find(parsed.key_id);
  if (key == nullptr) {
    return FailedPrecondition(fmt::format(
        "the secret is sealed under key {}, which this server's keyring{} does not hold (copy the "
        "keyring file of a server that holds it{})",
        parsed.key_id, path_.empty() ? "" : " (" + path_ + ")",
        path_.empty() ? "" : " to " + path_ + ", mode 0600"));
  }
  const std::string_view sealed = parsed.sealed;
  return Gcm(false, key->bytes, sealed.substr(0, kNonceBytes), sealed.substr(kNonceBytes),
             associated_data);
}

Result<std::string> Keyring::KeyIdOf(std::string_view envelope) {
  SKIFF_ASSIGN_OR_RETURN(Parsed parsed, ParseEnvelope(envelope));
  return parsed.key_id;
}

std::string Keyring::ToFile() const {
  json::array keys;
  for (const Key& key : keys_) keys.push_back({{"id", key.id}, {"key", Base64(key.bytes)}});
  return json::serialize(json::object{{"active", active_}, {"keys", std::move(keys)}}) + "\n";
}

Result<Keyring> Keyring::FromFile(std::string_view text) {
  const auto bad = [](std::string what) {
    return FailedPrecondition("the keyring does not parse: " + what);
  };
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return bad("not a JSON object");
  const json::object& o = doc.as_object();
  const json::value* active = o.if_contains("active");
  const json::value* keys = o.if_contains("keys");
  if (!active || !active->is_string()) return bad("\"active\" is not a key id");
  if (!keys || !keys->is_array() || keys->as_array().empty()) return bad("\"keys\" is empty");
  std::vector<Key> out;
  for (const json::value& k : keys->as_array()) {
    const json::object* key = k.if_object();
    const json::value* id = key ? key->if_contains("id") : nullptr;
    const json::value* bytes = key ? key->if_contains("key") : nullptr;
    if (!id || !id->is_string() || id->as_string().empty() || !bytes || !bytes->is_string()) {
      return bad("a key without an \"id\" and a \"key\"");
    }
    Key parsed{std::string(id->as_string()), {}};
    // Ids name keys in envelopes kept in the store: each must be one
    // Generate could have made, and name one key only.
    if (!IsKeyId(parsed.id)) {
      return bad(fmt::format("key id \"{}\" is not 16 lowercase hex digits", parsed.id));
    }
    for (const Key& seen : out) {
      if (seen.id == parsed.id) return bad(fmt::format("key id {} is there twice", parsed.id));
    }
    if (!Unbase64(bytes->as_string(), parsed.bytes) || parsed.bytes.size() != kKeyBytes) {
      return bad(fmt::format("key {} is not 32 bytes of base64", parsed.id));
    }
    out.push_back(std::move(parsed));
  }
  std::string active_id(active->as_string());
  bool found = false;
  for (const Key& key : out) found = found || key.id == active_id;
  if (!found) return bad(fmt::format("the active key {} is not among the keys", active_id));
  return Keyring(std::move(out), std::move(active_id));
}

namespace {

// The keyring in the file `path`; kNotFound when there is none.
Result<Keyring> ReadKeyringFile(const std::string& path) {
  auto text = ReadPrivateFile(path);
  if (!text) {
    Error error = text.error();
    if (error.code == ErrorCode::kFailedPrecondition) {
      error.message = fmt::format(
          "{}; it holds the keys that seal apps' secrets and certificate keys, so it must be its "
          "owner's alone",
          error.message);
    }
    return tl::unexpected(std::move(error));
  }
  auto keyring = Keyring::FromFile(*text);
  if (!keyring) {
    return FailedPrecondition(fmt::format("{}: {}", path, keyring.error().message));
  }
  return Keyring(keyring->keys(), keyring->active_id(), path);
}

}  // namespace

Result<Keyring> Keyring::Load(const std::string& path) { return ReadKeyringFile(path); }

Result<Keyring> Keyring::LoadOrCreate(const std::string& path) {
  auto loaded = ReadKeyringFile(path);
  if (loaded || loaded.error().code != ErrorCode::kNotFound) return loaded;
  Keyring made = Generate();
  // Whole or absent after a crash (an empty file would stop the server), and
  // never over one another process made meanwhile.
  Status written = WriteNewFileAtomically(path, made.ToFile(), 0600);
  if (written) return Keyring(made.keys(), made.active_id(), path);
  // Another process made it first: read theirs.
  if (written.error().code != ErrorCode::kAlreadyExists) return tl::unexpected(written.error());
  return ReadKeyringFile(path);
}

}  // namespace skiff::crypto
