// CertificateStore: the TLS certificates the edges serve, one per domain
// ("web.com" or "*.web.com"), given by hand (`skiff certs add`, POST
// /v1/certificates) or got by ACME. Each is checked before it is kept
// (crypto/certificate.h), so what the edges receive is known good.
//
// They live in the store's records (store/store.h, kind "certificate", keyed
// by domain), so every server of one database has them; the private key is
// sealed under the server's keyring (crypto/keyring.h) bound to the domain
// and the leaf's fingerprint, so the database never holds it in clear and a
// sealed key opens beside no other domain or certificate. Records take no
// revision, so every write also commits an event (certificate.added /
// certificate.removed): that wakes the edges' routes (the routes document
// carries the certificates, controller/routes.h) as any other change does.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/keyring.h"
#include "protocol/routes.h"
#include "store/store.h"

namespace skiff::controller {

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
  std::string last_error;  // the last renewal's failure (ACME); "" when none
  Time updated;
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

  // Every kept certificate, by domain. kUnavailable when the store cannot be
  // read; kInternal for a record that does not parse.
  Result<std::vector<StoredCertificate>> List() const;

  // Forgets the certificate of `domain`. kNotFound when there is none;
  // kUnavailable as for Put.
  Status Remove(std::string_view domain);

  // Notes why the certificate of `domain` could not be renewed ("" clears
  // it), for `skiff certs`. kNotFound when there is none; kUnavailable as for Put.
  Status SetLastError(std::string_view domain, std::string_view error);

  // Every kept certificate with its key opened, for the routes (one domain
  // each). An expired certificate, or one whose key does not open, is left
  // out and logged (its domain gets the edges' fallback rather than no
  // routes at all).
  Result<std::vector<protocol::RouteCertificate>> ForEdges() const;

  // Whether this server's keyring opens every kept key: kFailedPrecondition
  // naming the first domain and key id it lacks (a server of a shared
  // database started without the others' keyring file); kUnavailable as for
  // List. Checked at the server's start.
  Status CheckKeys() const;

 private:
  Status Announce(std::string kind, std::string message, std::string_view domain);

  store::Store* const store_;
  const crypto::Keyring* const keyring_;
  const Clock* const clock_;
};

// What the routes carry (controller/routes.h): `certificates`' ForEdges, or
// none when it is null or cannot be read (logged: the routes go on without
// them, the edges keep what they serve until the store answers again). Read
// it after the snapshot the routes are built of: a certificate kept before
// the event that made the snapshot's revision is then in it.
std::vector<protocol::RouteCertificate> CertificatesForRoutes(const CertificateStore* certificates);

}  // namespace skiff::controller
