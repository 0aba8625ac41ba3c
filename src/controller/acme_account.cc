#include "controller/acme_account.h"

#include <spdlog/fmt/fmt.h>

#include <boost/json.hpp>

#include "controller/certificate_store.h"
#include "crypto/keyring.h"

namespace skiff::controller {
namespace json = boost::json;
using store::RecordKind;

namespace {

// What the key is sealed to: a key copied under another directory does not open.
std::string AssociatedData(const std::string& directory_url) {
  return crypto::AssociatedData("acme-account-key", {directory_url});
}

struct AccountRecord {
  std::string sealed_key;
  std::string url;
};

std::string Serialize(const AccountRecord& r) {
  return json::serialize(json::object{{"sealed_key", r.sealed_key}, {"url", r.url}});
}

Result<AccountRecord> Parse(const std::string& directory_url, const std::string& value) {
  boost::system::error_code ec;
  json::value doc = json::parse(value, ec);
  const json::object* o = ec ? nullptr : doc.if_object();
  const json::value* key = o ? o->if_contains("sealed_key") : nullptr;
  if (key == nullptr || !key->is_string()) {
    return Internal(
        fmt::format("the ACME account record of {} does not parse: no sealed_key", directory_url));
  }
  AccountRecord r;
  r.sealed_key = std::string(key->as_string());
  if (const json::value* url = o->if_contains("url"); url && url->is_string()) {
    r.url = std::string(url->as_string());
  }
  return r;
}

// The account key's PEM. kFailedPrecondition naming the directory when it
// does not open.
Result<std::string> OpenAccountKey(const crypto::Keyring& keyring, const std::string& directory_url,
                                   const std::string& sealed_key) {
  auto pem = keyring.Open(sealed_key, AssociatedData(directory_url));
  if (!pem) {
    return FailedPrecondition(fmt::format("the ACME account key of {} does not open: {}",
                                          directory_url, pem.error().message));
  }
  return pem;
}

}  // namespace

AcmeAccountStore::AcmeAccountStore(store::Store* store, const crypto::Keyring* keyring,
                                   std::string directory_url)
    : store_(store), keyring_(keyring), directory_url_(std::move(directory_url)) {}

std::string AcmeAccountStore::Key() const {
  return std::string(kAcmeAccountPrefix) + directory_url_;
}

Result<AcmeAccountKey> AcmeAccountStore::LoadOrCreate() {
  auto value = store_->GetRecord(RecordKind::kCertificate, Key());
  if (!value && value.error().code == ErrorCode::kNotFound) {
    SKIFF_ASSIGN_OR_RETURN(crypto::PKeyPtr key, crypto::GenerateP256Key());
    AccountRecord made;
    SKIFF_ASSIGN_OR_RETURN(made.sealed_key, keyring_->Seal(crypto::PrivateKeyPem(key.get()),
                                                           AssociatedData(directory_url_)));
    Status created = store_->CreateRecord(RecordKind::kCertificate, Key(), Serialize(made));
    if (created) return AcmeAccountKey{std::move(key), ""};
    if (created.error().code != ErrorCode::kAlreadyExists) return tl::unexpected(created.error());
    // Another server made it first: use that one.
    value = store_->GetRecord(RecordKind::kCertificate, Key());
  }
  if (!value) return tl::unexpected(value.error());
  SKIFF_ASSIGN_OR_RETURN(AccountRecord kept, Parse(directory_url_, *value));
  SKIFF_ASSIGN_OR_RETURN(std::string pem,
                         OpenAccountKey(*keyring_, directory_url_, kept.sealed_key));
  SKIFF_ASSIGN_OR_RETURN(crypto::PKeyPtr key, crypto::ParsePrivateKeyPem(pem));
  return AcmeAccountKey{std::move(key), kept.url};
}

Status AcmeAccountStore::SetUrl(const std::string& url) {
  SKIFF_ASSIGN_OR_RETURN(std::string value, store_->GetRecord(RecordKind::kCertificate, Key()));
  SKIFF_ASSIGN_OR_RETURN(AccountRecord kept, Parse(directory_url_, value));
  if (kept.url == url) return OkStatus();
  kept.url = url;
  return store_->PutRecord(RecordKind::kCertificate, Key(), Serialize(kept));
}

Result<int> ResealAcmeAccounts(store::Store* store, const crypto::Keyring& keyring,
                               const crypto::ResealProgress& progress) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> all,
                         store->ListRecords(RecordKind::kCertificate));
  std::vector<store::Record> records;
  for (store::Record& record : all) {
    if (record.key.starts_with(kAcmeAccountPrefix)) records.push_back(std::move(record));
  }
  const int total = static_cast<int>(records.size());
  int resealed = 0;
  for (int done = 0; done < total; ++done) {
    if (progress) progress(done, total);
    const store::Record& record = records[done];
    const std::string directory_url = record.key.substr(kAcmeAccountPrefix.size());
    SKIFF_ASSIGN_OR_RETURN(AccountRecord kept, Parse(directory_url, record.value));
    auto id = crypto::Keyring::KeyIdOf(kept.sealed_key);
    if (id && *id == keyring.active_id()) continue;
    SKIFF_ASSIGN_OR_RETURN(std::string pem,
                           OpenAccountKey(keyring, directory_url, kept.sealed_key));
    SKIFF_ASSIGN_OR_RETURN(kept.sealed_key, keyring.Seal(pem, AssociatedData(directory_url)));
    SKIFF_RETURN_IF_ERROR(store->PutRecord(RecordKind::kCertificate, record.key, Serialize(kept)));
    ++resealed;
  }
  if (progress) progress(total, total);
  return resealed;
}

}  // namespace skiff::controller
