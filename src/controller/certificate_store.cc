#include "controller/certificate_store.h"

#include <spdlog/fmt/fmt.h>

#include <boost/json.hpp>

#include "common/logging.h"
#include "common/quantity.h"
#include "crypto/certificate.h"
#include "crypto/x509.h"

namespace skiff::controller {
namespace json = boost::json;
using store::RecordKind;

namespace {

std::string RecordOf(const StoredCertificate& c) {
  json::array names;
  for (const std::string& name : c.names) names.emplace_back(name);
  return json::serialize(json::object{
      {"domain", c.domain},
      {"cert", c.cert_pem},
      {"sealed_key", c.sealed_key},
      {"issuer", c.issuer},
      {"names", std::move(names)},
      {"fingerprint", c.fingerprint},
      {"not_before", FormatTime(c.not_before)},
      {"not_after", FormatTime(c.not_after)},
      {"source", ToString(c.source)},
      {"last_error", c.last_error},
      {"failures", c.failures},
      {"last_failure", FormatTime(c.last_failure)},
      {"updated", FormatTime(c.updated)},
  });
}

Result<StoredCertificate> ParseRecord(const store::Record& record) {
  const auto bad = [&](std::string_view what) {
    return Internal(
        fmt::format("the certificate record of {} does not parse: {}", record.key, what));
  };
  boost::system::error_code ec;
  json::value doc = json::parse(record.value, ec);
  if (ec || !doc.is_object()) return bad("not a JSON object");
  const json::object& o = doc.as_object();
  const auto text = [&](const char* key) -> std::string {
    const json::value* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : "";
  };
  StoredCertificate c;
  c.domain = text("domain");
  c.cert_pem = text("cert");
  c.sealed_key = text("sealed_key");
  c.issuer = text("issuer");
  c.fingerprint = text("fingerprint");
  c.last_error = text("last_error");
  if (const json::value* failures = o.if_contains("failures"); failures && failures->is_int64()) {
    c.failures = static_cast<int>(failures->as_int64());
  }
  c.last_failure = ParseTime(text("last_failure")).value_or(Time{});
  // A record with no certificate is one whose first ACME orders failed.
  if (c.domain != record.key || c.cert_pem.empty() != c.sealed_key.empty() ||
      (c.cert_pem.empty() && c.failures == 0)) {
    return bad("no domain, cert or sealed_key");
  }
  if (const json::value* names = o.if_contains("names"); names && names->is_array()) {
    for (const json::value& n : names->as_array()) {
      if (n.is_string()) c.names.emplace_back(n.as_string());
    }
  }
  auto not_after = ParseTime(text("not_after"));
  if (!not_after && c.has_certificate()) return bad("not_after");
  c.not_after = not_after.value_or(Time{});
  c.not_before = ParseTime(text("not_before")).value_or(Time{});
  c.updated = ParseTime(text("updated")).value_or(Time{});
  c.source = text("source") == "acme" ? CertificateSource::kAcme : CertificateSource::kManual;
  return c;
}

// What a certificate's sealed key is bound to: its domain and the leaf it is
// the key of, so that it opens neither in another domain's record nor beside
// another certificate.
std::string KeyBinding(std::string_view domain, std::string_view fingerprint) {
  return crypto::AssociatedData("certificate-key", {domain, fingerprint});
}

// Whether `kept` is a manual certificate valid at `now`: ACME never writes
// over one (one added while an order ran stays as it was given).
bool ValidManual(const std::optional<StoredCertificate>& kept, Time now) {
  return kept && kept->source == CertificateSource::kManual && kept->has_certificate() &&
         now < kept->not_after;
}

tl::unexpected<Error> ManualKept(std::string_view domain) {
  return Aborted(fmt::format(
      "a manual certificate for {} was added while the order ran: it is kept, and the order's "
      "outcome dropped",
      domain));
}

}  // namespace

std::string_view ToString(CertificateSource source) {
  return source == CertificateSource::kAcme ? "acme" : "manual";
}

CertificateStore::CertificateStore(store::Store* store, const crypto::Keyring* keyring,
                                   const Clock* clock)
    : store_(store), keyring_(keyring), clock_(clock != nullptr ? clock : SystemClock::Get()) {}

Result<StoredCertificate> CertificateStore::Make(std::string_view domain, std::string_view cert_pem,
                                                 std::string_view key_pem,
                                                 CertificateSource source) {
  const Time now = clock_->Now();
  SKIFF_ASSIGN_OR_RETURN(crypto::CertificateInfo info,
                         crypto::ValidateCertificate(cert_pem, key_pem, domain, now));
  StoredCertificate c;
  c.domain = info.domain;
  c.cert_pem = std::move(info.chain_pem);  // re-encoded: nothing but the certificates
  SKIFF_ASSIGN_OR_RETURN(c.sealed_key,
                         keyring_->Seal(key_pem, KeyBinding(c.domain, info.fingerprint)));
  c.issuer = info.issuer;
  c.names = info.names;
  c.fingerprint = info.fingerprint;
  c.not_before = info.not_before;
  c.not_after = info.not_after;
  c.source = source;
  c.updated = now;
  return c;
}

Result<StoredCertificate> CertificateStore::Put(std::string_view domain, std::string_view cert_pem,
                                                std::string_view key_pem,
                                                CertificateSource source) {
  SKIFF_ASSIGN_OR_RETURN(StoredCertificate c, Make(domain, cert_pem, key_pem, source));
  SKIFF_RETURN_IF_ERROR(store_->PutRecord(RecordKind::kCertificate, c.domain, RecordOf(c)));
  // Kept: the event tells the edges (and the trail); its failure leaves the
  // certificate kept, to reach the edges with the next change.
  (void)Announce(
      "certificate.added",
      fmt::format("certificate for {} ({}) from {}, valid until {}", c.domain, ToString(source),
                  c.issuer.empty() ? "an unnamed issuer" : c.issuer, FormatTime(c.not_after)),
      c.domain);
  return c;
}

Result<std::optional<StoredCertificate>> CertificateStore::Get(const std::string& domain) const {
  auto value = store_->GetRecord(RecordKind::kCertificate, domain);
  if (!value) {
    if (value.error().code == ErrorCode::kNotFound) return std::optional<StoredCertificate>();
    return tl::unexpected(value.error());
  }
  SKIFF_ASSIGN_OR_RETURN(StoredCertificate c, ParseRecord({domain, *value}));
  return std::optional<StoredCertificate>(std::move(c));
}

Result<StoredCertificate> CertificateStore::PutIssued(std::string_view domain,
                                                      std::string_view chain_pem,
                                                      std::string_view key_pem,
                                                      int64_t fence_epoch) {
  SKIFF_ASSIGN_OR_RETURN(StoredCertificate c,
                         Make(domain, chain_pem, key_pem, CertificateSource::kAcme));
  SKIFF_ASSIGN_OR_RETURN(std::optional<StoredCertificate> before, Get(c.domain));
  if (ValidManual(before, clock_->Now())) return ManualKept(c.domain);
  const bool renewed = before && before->has_certificate();
  SKIFF_RETURN_IF_ERROR(store_->PutRecord(RecordKind::kCertificate, c.domain, RecordOf(c)));
  SKIFF_RETURN_IF_ERROR(Announce(
      renewed ? "certificate.renewed" : "certificate.issued",
      fmt::format("certificate for {} {} by {}, valid until {}", c.domain,
                  renewed ? "renewed" : "issued", c.issuer.empty() ? "an unnamed issuer" : c.issuer,
                  FormatTime(c.not_after)),
      c.domain, fence_epoch, {{"not_after", FormatTime(c.not_after)}}));
  return c;
}

Status CertificateStore::RecordFailure(std::string_view domain, std::string_view error,
                                       int64_t fence_epoch) {
  const Time now = clock_->Now();
  SKIFF_ASSIGN_OR_RETURN(std::optional<StoredCertificate> kept, Get(std::string(domain)));
  if (ValidManual(kept, now)) return ManualKept(domain);
  StoredCertificate c;
  if (kept) {
    c = std::move(*kept);
  } else {
    c.domain = std::string(domain);
    c.source = CertificateSource::kAcme;
  }
  c.failures += 1;
  c.last_failure = now;
  c.last_error = std::string(error);
  c.updated = now;
  SKIFF_RETURN_IF_ERROR(store_->PutRecord(RecordKind::kCertificate, c.domain, RecordOf(c)));
  return Announce(
      "certificate.failed",
      fmt::format("certificate order for {} failed ({} in a row): {}", c.domain, c.failures, error),
      c.domain, fence_epoch, {{"error", std::string(error)}});
}

Status CertificateStore::AnnouncePending(std::string_view domain, int64_t fence_epoch) {
  return Announce("certificate.pending",
                  fmt::format("no valid certificate for {} yet: the edges answer with the fallback "
                              "certificate until one is issued",
                              domain),
                  domain, fence_epoch);
}

Result<std::vector<StoredCertificate>> CertificateStore::List() const {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records,
                         store_->ListRecords(RecordKind::kCertificate));
  std::vector<StoredCertificate> out;
  out.reserve(records.size());
  for (const store::Record& record : records) {
    if (record.key.find(':') != std::string::npos) continue;  // the ACME account, challenges
    SKIFF_ASSIGN_OR_RETURN(StoredCertificate c, ParseRecord(record));
    out.push_back(std::move(c));
  }
  return out;
}

Status CertificateStore::Remove(std::string_view domain) {
  // Named as it was kept: lowercase.
  auto normal = crypto::NormaliseCertificateDomain(domain);
  const std::string key = normal ? *normal : std::string(domain);
  // The ACME account and challenges are no certificate to remove.
  if (key.find(':') != std::string::npos)
    return NotFound(fmt::format("no certificate for {}", domain));
  Status removed = store_->DeleteRecord(RecordKind::kCertificate, key);
  if (!removed) {
    if (removed.error().code == ErrorCode::kNotFound) {
      return NotFound(fmt::format("no certificate for {}", domain));
    }
    return removed;
  }
  (void)Announce("certificate.removed", fmt::format("certificate for {} removed", key), key);
  return OkStatus();
}

Result<bool> CertificateStore::ForgetStale(std::string_view domain, Time now, int64_t fence_epoch) {
  SKIFF_ASSIGN_OR_RETURN(std::optional<StoredCertificate> kept, Get(std::string(domain)));
  if (!kept || kept->source != CertificateSource::kAcme) return false;
  if (kept->has_certificate() && now < kept->not_after) return false;
  Status removed = store_->DeleteRecord(RecordKind::kCertificate, kept->domain);
  if (!removed) {
    if (removed.error().code == ErrorCode::kNotFound) return false;
    return tl::unexpected(removed.error());
  }
  Status announced = Announce("certificate.removed",
                              fmt::format("certificate record for {} removed: no app serves it "
                                          "and it holds no valid certificate",
                                          kept->domain),
                              kept->domain, fence_epoch);
  // Only a refused fence is the caller's business; another failure leaves a
  // removal without its event, which nothing waits for.
  if (!announced && announced.error().code == ErrorCode::kFailedPrecondition) {
    return tl::unexpected(announced.error());
  }
  return true;
}

Status CertificateStore::SetLastError(std::string_view domain, std::string_view error) {
  auto value = store_->GetRecord(RecordKind::kCertificate, std::string(domain));
  if (!value) {
    if (value.error().code == ErrorCode::kNotFound) {
      return NotFound(fmt::format("no certificate for {}", domain));
    }
    return tl::unexpected(value.error());
  }
  SKIFF_ASSIGN_OR_RETURN(StoredCertificate c, ParseRecord({std::string(domain), *value}));
  c.last_error = std::string(error);
  c.updated = clock_->Now();
  return store_->PutRecord(RecordKind::kCertificate, c.domain, RecordOf(c));
}

Result<std::vector<protocol::RouteCertificate>> CertificateStore::ForEdges() const {
  auto records = store_->ListRecords(RecordKind::kCertificate);
  if (!records) {
    std::lock_guard lock(last_mu_);
    if (!last_for_edges_) return tl::unexpected(records.error());
    SKIFF_LOG_WARN("routes: cannot read the certificates ({}): the last ones read stay",
                   records.error().ToString());
    return *last_for_edges_;
  }
  const Time now = clock_->Now();
  std::vector<protocol::RouteCertificate> out;
  std::lock_guard opened_lock(opened_mu_);
  std::map<std::string, Opened> opened;  // what the next call may reuse
  for (const store::Record& record : *records) {
    if (record.key.find(':') != std::string::npos) continue;  // the ACME account, challenges
    // A record as it was at the last call was opened then: routes are built
    // on every commit, and parsing and opening every key each time would
    // cost a large server most of its time.
    if (auto was = opened_.find(record.key);
        was != opened_.end() && was->second.record == record.value && now < was->second.not_after) {
      out.push_back(was->second.certificate);
      opened.insert(opened_.extract(was));
      continue;
    }
    auto parsed = ParseRecord(record);
    if (!parsed) {
      SKIFF_LOG_ERROR("certificate record {} not sent to the edges: {}", record.key,
                      parsed.error().message);
      continue;
    }
    StoredCertificate& c = *parsed;
    if (!c.has_certificate()) continue;
    // An expired certificate only fails handshakes: its domain gets the
    // edges' fallback instead, and `skiff certs` still lists it with its
    // not-after date, for whoever replaces it.
    if (c.not_after <= now) {
      SKIFF_LOG_WARN("certificate for {} not sent to the edges: it expired on {}", c.domain,
                     FormatTime(c.not_after));
      continue;
    }
    // Bound to the leaf kept beside it, not to the record's fingerprint
    // field: a record whose certificate was swapped does not open.
    auto leaf = crypto::ParseCertificatePem(c.cert_pem);
    if (!leaf) {
      SKIFF_LOG_ERROR("certificate for {} not sent to the edges: it does not parse: {}", c.domain,
                      leaf.error().message);
      continue;
    }
    auto key = keyring_->Open(c.sealed_key,
                              KeyBinding(c.domain, crypto::CertificateFingerprint(leaf->get())));
    if (!key) {
      SKIFF_LOG_ERROR(
          "certificate for {} not sent to the edges: the sealed key of its record does not open: "
          "{}",
          c.domain, key.error().message);
      continue;
    }
    out.push_back({{c.domain}, std::move(c.cert_pem), std::move(*key)});
    opened[record.key] = Opened{record.value, c.not_after, out.back()};
  }
  opened_ = std::move(opened);
  std::lock_guard lock(last_mu_);
  last_for_edges_ = out;
  return out;
}

Status CertificateStore::CheckKeys() const {
  SKIFF_ASSIGN_OR_RETURN(std::vector<StoredCertificate> kept, List());
  for (const StoredCertificate& c : kept) {
    if (!c.has_certificate()) continue;
    auto id = crypto::Keyring::KeyIdOf(c.sealed_key);
    if (!id) return Internal(fmt::format("certificate for {}: {}", c.domain, id.error().message));
    if (!keyring_->Has(*id)) {
      return FailedPrecondition(fmt::format(
          "the store holds a certificate for {} whose key is sealed under key {}, which this "
          "server's keyring ({}) lacks: copy the keyring file of a server of this database there "
          "(mode 0600)",
          c.domain, *id, keyring_->path().empty() ? "in memory" : keyring_->path()));
    }
  }
  return OkStatus();
}

Result<int> CertificateStore::Reseal(const crypto::ResealProgress& progress) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> all,
                         store_->ListRecords(RecordKind::kCertificate));
  std::vector<store::Record> records;
  for (store::Record& record : all) {
    // Not the ACME account, challenges, or shared-trust check.
    if (record.key.find(':') == std::string::npos) records.push_back(std::move(record));
  }
  const int total = static_cast<int>(records.size());
  int resealed = 0;
  for (int done = 0; done < total; ++done) {
    if (progress) progress(done, total);
    const store::Record& record = records[done];
    SKIFF_ASSIGN_OR_RETURN(StoredCertificate c, ParseRecord(record));
    if (!c.has_certificate()) continue;
    auto id = crypto::Keyring::KeyIdOf(c.sealed_key);
    if (id && *id == keyring_->active_id()) continue;
    // Bound to the leaf kept beside it, as ForEdges opens it.
    auto leaf = crypto::ParseCertificatePem(c.cert_pem);
    if (!leaf) {
      return Internal(fmt::format("the certificate record of {} does not parse: {}", c.domain,
                                  leaf.error().message));
    }
    const std::string binding = KeyBinding(c.domain, crypto::CertificateFingerprint(leaf->get()));
    auto key = keyring_->Open(c.sealed_key, binding);
    if (!key) {
      return FailedPrecondition(
          fmt::format("the key of the certificate for {}: {}", c.domain, key.error().message));
    }
    auto sealed = keyring_->Seal(*key, binding);
    if (!sealed) {
      return Internal(fmt::format("cannot seal the key of the certificate for {}", c.domain));
    }
    c.sealed_key = std::move(*sealed);
    SKIFF_RETURN_IF_ERROR(store_->PutRecord(RecordKind::kCertificate, c.domain, RecordOf(c)));
    ++resealed;
  }
  if (progress) progress(total, total);
  return resealed;
}

std::vector<protocol::RouteCertificate> CertificatesForRoutes(
    const CertificateStore* certificates) {
  if (certificates == nullptr) return {};
  auto opened = certificates->ForEdges();
  if (!opened) {
    SKIFF_LOG_WARN("routes: cannot read the certificates: {}", opened.error().ToString());
    return {};
  }
  return std::move(*opened);
}

Status CertificateStore::Announce(std::string kind, std::string message, std::string_view domain,
                                  int64_t fence_epoch, std::map<std::string, std::string> details) {
  model::Event event;
  event.time = clock_->Now();
  event.kind = std::move(kind);
  event.message = std::move(message);
  event.details = std::move(details);
  event.details["domain"] = std::string(domain);
  store::Txn txn;
  txn.AddEvent(std::move(event));
  if (fence_epoch > 0) txn.Fenced(fence_epoch);
  auto committed = store_->Commit(txn);
  if (!committed) {
    SKIFF_LOG_WARN("certificate for {}: the change is kept but its event could not be: {}", domain,
                   committed.error().ToString());
    return tl::unexpected(committed.error());
  }
  return OkStatus();
}

}  // namespace skiff::controller
