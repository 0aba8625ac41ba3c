// CertificateStore: the TLS certificates the edges serve, one per domain
// ("web.com" or "*.web.com"), given by hand (`skiff certs add`, POST
// /v1/certificates) or got by ACME. Each is checked before it is kept
// (crypto/certificate.h), so what the edges receive is known good.
//
// They live in the store's records (store/store.h, kind "certificate", keyed
// by domain; the ACME account and challenges share the kind under keys no
// domain has, kAcmeAccountPrefix and kAcmeChallengePrefix, as do the shared
// CA and keyring checks (server/shared_trust.h): List skips every key with a
// ':'), so
// every server of one database has them; the private key is sealed under the
// server's keyring (crypto/keyring.h) bound to the domain and the leaf's
// fingerprint, so the database never holds it in clear and a sealed key opens
// beside no other domain or certificate. Records take no
// revision, so every write also commits an event (certificate.added /
// certificate.removed): that wakes the edges' routes (the routes document
// carries the certificates, controller/routes.h) as any other change does.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/keyring.h"
#include "protocol/routes.h"
#include "store/store.h"

namespace skiff::controller {

// Keys of the certificate records that hold no certificate: ':' is in no
// domain. (A record kind of their own would change store/store.h, which
// nearly every file includes.)
inline constexpr std::string_view kAcmeAccountPrefix = "acme-account:";
inline constexpr std::string_view kAcmeChallengePrefix = "acme-challenge:";

enum class CertificateSource { kManual, kAcme };
std::string_view ToString(CertificateSource source);  // "manual", "acme"

// A kept certificate, as listed: never its key in clear.
struct StoredCertificate {
  std::string domain;  // lowercase; "*.web.com" for a wildcard
  std::string cert_pem;
  std::string sealed_key;  // crypto::Keyring's envelope
  std::string issuer;      // CN, O
  std::vector<std::string> names;
  std::string fingerprint;
  Time not_before;  // the leaf's validity (renewal is planned from it)
  Time not_after;
  CertificateSource source = CertificateSource::kManual;
  std::string last_error;  // the last order's failure (ACME, the server's words); "" when none
  // ACME orders that failed in a row since the last issued certificate, and
  // when the last of them ended. A record of an ACME domain whose first orders
  // failed holds no certificate yet (cert_pem and sealed_key empty).
  int failures = 0;
  Time last_failure{};
  Time updated;

  bool has_certificate() const { return !cert_pem.empty(); }
};

class CertificateStore {
 public:
  // Not owned; they must outlive this object (clock null: the system clock).
  CertificateStore(store::Store* store, const crypto::Keyring* keyring,
                   const Clock* clock = nullptr);

  // Checks the certificate for `domain` (crypto::ValidateCertificate) and
  // keeps it, replacing the one the domain had; durable once it returns.
  // Errors: kInvalidArgument naming the field ("domain", "cert", "key") and
  // what is wrong, nothing written; kUnavailable when the store cannot be
  // written.
  Result<StoredCertificate> Put(std::string_view domain, std::string_view cert_pem,
                                std::string_view key_pem, CertificateSource source);

  // Keeps a certificate ACME issued for `domain` as Put does (source acme,
  // failures cleared), replacing the record's certificate in one write, and
  // commits certificate.issued (certificate.renewed when the record held one)
  // fenced at `fence_epoch` (store::Txn::Fenced, unless 0). Records are not
  // fenced by the store: a deposed leader's certificate is kept, but its
  // event is refused (kFailedPrecondition, returned so the caller stops).
  // Errors: as Put; the event's commit error after the certificate is kept.
  Result<StoredCertificate> PutIssued(std::string_view domain, std::string_view chain_pem,
                                      std::string_view key_pem, int64_t fence_epoch);

  // Notes a failed ACME order for `domain` (lowercase): failures + 1,
  // last_failure now, last_error `error`, on its record (made, with no
  // certificate, when there is none), then commits certificate.failed
  // fenced as PutIssued's event. kUnavailable when the store cannot be
  // written; kFailedPrecondition when the fence refuses the event.
  Status RecordFailure(std::string_view domain, std::string_view error, int64_t fence_epoch);

  // Commits certificate.pending for `domain`: served with edge.tls auto and
  // no valid certificate, so the edges answer with the fallback. Fenced as
  // PutIssued's event.
  Status AnnouncePending(std::string_view domain, int64_t fence_epoch);

  // Every kept certificate, by domain (records with no certificate yet too).
  // kUnavailable when the store cannot be
  // read; kInternal for a record that does not parse.
  Result<std::vector<StoredCertificate>> List() const;

  // Forgets the certificate of `domain`. kNotFound when there is none;
  // kUnavailable as for Put.
  Status Remove(std::string_view domain);

  // Forgets the record of `domain` (lowercase) when it is ACME's and holds
  // no certificate valid at `now` (only failures, or an expired one): the
  // orderer's cleanup of domains no app serves any more, which would stay
  // in `skiff certs` forever. Read again just before it is deleted, so a
  // manual certificate put meanwhile is kept (a put in the moment between
  // that read and the delete is not: records have no conditional delete).
  // Commits certificate.removed fenced as PutIssued's event (another failure
  // of that event is logged, not returned). Returns whether it was forgotten;
  // kUnavailable when the store cannot be read or written; kFailedPrecondition
  // when the fence refuses the event (the record is gone).
  Result<bool> ForgetStale(std::string_view domain, Time now, int64_t fence_epoch);

  // Notes why the certificate of `domain` could not be renewed ("" clears
  // it), for `skiff certs`. kNotFound when there is none; kUnavailable as for Put.
  Status SetLastError(std::string_view domain, std::string_view error);

  // Every kept certificate with its key opened, for the routes (one domain
  // each). An expired certificate, or one whose key does not open, is left
  // out and logged (its domain gets the edges' fallback rather than no
  // routes at all).
  // A read that fails gives the last set that did not (kept here), so a
  // store that stops answering for a moment does not take every
  // certificate away from the edges; a record that does not parse is left
  // out and logged, not a failure of all. kUnavailable only before any read
  // succeeded.
  Result<std::vector<protocol::RouteCertificate>> ForEdges() const;

  // Whether this server's keyring opens every kept key: kFailedPrecondition
  // naming the first domain and key id it lacks, and the keyring's file (a
  // server of a shared database started without the others' keyring file);
  // kUnavailable as for List. Checked at the server's start.
  Status CheckKeys() const;

  // Seals every certificate's key not sealed under the keyring's active key
  // again under it, one store write each, the rest of its record as it was
  // (for `skiff keys rotate`, so that the old keys can be dropped); a key
  // already under the active key is not written. Tells `progress` (when
  // given) after each record. Returns how many were sealed again. Meant for a
  // store no server writes meanwhile: a certificate put by another writer
  // between its read and its write here would be overwritten. No event is
  // committed: the certificate and its key do not change.
  // Errors: kFailedPrecondition naming the first domain whose key does not
  // open (a key id this keyring lacks, or a tampered record): it stops
  // there, and those done stay done; kInternal naming a record that does not
  // parse; kUnavailable as for List.
  Result<int> Reseal(const crypto::ResealProgress& progress = {});

 private:
  Status Announce(std::string kind, std::string message, std::string_view domain,
                  int64_t fence_epoch = 0, std::map<std::string, std::string> details = {});
  // Checks and seals a certificate into a record (not written).
  Result<StoredCertificate> Make(std::string_view domain, std::string_view cert_pem,
                                 std::string_view key_pem, CertificateSource source);
  // The record of `domain`; std::nullopt when there is none.
  Result<std::optional<StoredCertificate>> Get(const std::string& domain) const;

  store::Store* const store_;
  const crypto::Keyring* const keyring_;
  const Clock* const clock_;
  // ForEdges' certificates opened at its last call, by record key, with the
  // record they were opened from: reused while the record is unchanged.
  struct Opened {
    std::string record;
    Time not_after;
    protocol::RouteCertificate certificate;
  };
  mutable std::mutex opened_mu_;
  mutable std::map<std::string, Opened> opened_;  // GUARDED_BY(opened_mu_)
  mutable std::mutex last_mu_;
  // ForEdges' last answer from a read that succeeded.
  mutable std::optional<std::vector<protocol::RouteCertificate>>
      last_for_edges_;  // GUARDED_BY(last_mu_)
};

// What the routes carry (controller/routes.h): `certificates`' ForEdges
// (its last good answer when the store does not answer), or none when it is
// null or no read has succeeded yet (logged). Read
// it after the snapshot the routes are built of: a certificate kept before
// the event that made the snapshot's revision is then in it.
std::vector<protocol::RouteCertificate> CertificatesForRoutes(const CertificateStore* certificates);

}  // namespace skiff::controller
