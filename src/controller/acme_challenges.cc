#include "controller/acme_challenges.h"

#include <spdlog/fmt/fmt.h>

#include <boost/json.hpp>

#include "common/logging.h"
#include "controller/certificate_store.h"

namespace skiff::controller {
namespace json = boost::json;
using store::RecordKind;

AcmeChallengeStore::AcmeChallengeStore(store::Store* store, const Clock* clock)
    : store_(store), clock_(clock != nullptr ? clock : SystemClock::Get()) {}

Result<int64_t> AcmeChallengeStore::Publish(const std::string& domain,
                                            const protocol::AcmeChallenge& challenge,
                                            int64_t fence_epoch) {
  SKIFF_RETURN_IF_ERROR(store_->PutRecord(
      RecordKind::kCertificate, std::string(kAcmeChallengePrefix) + challenge.token,
      json::serialize(
          json::object{{"domain", domain}, {"key_authorization", challenge.key_authorization}})));
  model::Event event;
  event.time = clock_->Now();
  event.kind = "certificate.challenge";
  event.message = fmt::format("HTTP-01 challenge for {} published to the edges", domain);
  event.details["domain"] = domain;
  store::Txn txn;
  txn.AddEvent(std::move(event));
  if (fence_epoch > 0) txn.Fenced(fence_epoch);
  auto committed = store_->Commit(txn);
  if (!committed)
    (void)store_->DeleteRecord(RecordKind::kCertificate,
                               std::string(kAcmeChallengePrefix) + challenge.token);
  return committed;
}

Status AcmeChallengeStore::Withdraw(const std::string& token) {
  return store_->DeleteRecord(RecordKind::kCertificate, std::string(kAcmeChallengePrefix) + token);
}

Result<std::vector<protocol::AcmeChallenge>> AcmeChallengeStore::List() const {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records,
                         store_->ListRecords(RecordKind::kCertificate));
  std::vector<protocol::AcmeChallenge> out;
  for (const store::Record& record : records) {
    if (!record.key.starts_with(kAcmeChallengePrefix)) continue;
    boost::system::error_code ec;
    json::value doc = json::parse(record.value, ec);
    const json::object* o = ec ? nullptr : doc.if_object();
    const json::value* key = o ? o->if_contains("key_authorization") : nullptr;
    if (key == nullptr || !key->is_string()) {
      SKIFF_LOG_WARN("the ACME challenge record {} does not parse: left out", record.key);
      continue;
    }
    out.push_back({record.key.substr(kAcmeChallengePrefix.size()), std::string(key->as_string())});
  }
  return out;
}

std::vector<protocol::AcmeChallenge> ChallengesForRoutes(const AcmeChallengeStore* challenges) {
  if (challenges == nullptr) return {};
  auto listed = challenges->List();
  if (!listed) {
    SKIFF_LOG_WARN("routes: cannot read the ACME challenges: {}", listed.error().ToString());
    return {};
  }
  return std::move(*listed);
}

}  // namespace skiff::controller
