// PebbleServer: a real ACME server for tests (Debian's pebble, installed by
// scripts/setup.sh), with pebble-challtestsrv as its DNS server pointing
// every name at 127.0.0.1, so Pebble validates HTTP-01 for real against
// 127.0.0.1:<http01 port>, where the test serves the challenges.
//
// The test makes Pebble's TLS certificate itself (crypto::MakeAuthority, the
// package ships none); Pebble's own issuing root is read from its
// management interface. Everything listens on 127.0.0.1 only; challtestsrv
// runs its DNS and management listeners and none of its challenge servers.
// Both run as children with a parent-death signal (setpriv --pdeathsig
// KILL): a test that crashes leaves none behind. Pebble's settings are set
// explicitly, whatever the test's environment holds: PEBBLE_VA_NOSLEEP=1,
// PEBBLE_VA_ALWAYS_VALID=0, PEBBLE_AUTHZREUSE=0, PEBBLE_WFE_NONCEREJECT=5 (so
// badNonce retries are exercised).
//
// Thread-safety: the accessors may be called from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"
#include "e2e/subprocess.h"
#include "fakes/testing.h"
#include "net/tls.h"

namespace skiff::testing {

class PebbleServer {
 public:
  // Starts challtestsrv and Pebble, validating HTTP-01 on 127.0.0.1:`http01_port`,
  // and waits until both answer; a child that exits at once (a port taken
  // meanwhile) is started again on fresh ports, up to three times.
  // `validity`: how long the certificates it issues are valid (Pebble's
  // certificateValidityPeriod; zero: Pebble's default, five years), short
  // for a test that waits for a renewal.
  // Errors: kUnavailable saying why (not installed: run scripts/setup.sh; did
  // not come up: the end of its output).
  static Result<std::unique_ptr<PebbleServer>> Start(
      int http01_port, std::chrono::seconds validity = std::chrono::seconds(0));
  ~PebbleServer();

  // https://127.0.0.1:PORT/dir
  std::string directory_url() const;
  // Whom to trust for directory_url() (Pebble's TLS certificate's CA).
  const net::TlsTrust& trust() const { return trust_; }
  // The root Pebble issues under (GET https://<management>/roots/0), PEM;
  // asked once (it is Pebble's for its life), then given from memory.
  Result<std::string> IssuingRoot() const;
  // The SHA-256 fingerprint (hex) of the leaf a TLS listener on
  // 127.0.0.1:`port` serves for `sni`, its chain verified against
  // IssuingRoot(); kUnavailable when the handshake or that check fails.
  Result<std::string> ServedFingerprint(int port, const std::string& sni) const;

 private:
  PebbleServer() = default;
  // One try on fresh ports; `*exited` says whether a child exited early.
  static Result<std::unique_ptr<PebbleServer>> StartOnce(int http01_port,
                                                         std::chrono::seconds validity,
                                                         bool* exited);

  TempDir dir_;
  mutable std::mutex root_mu_;
  mutable std::string root_;  // GUARDED_BY(root_mu_): IssuingRoot's, once asked
  net::TlsTrust trust_;
  int acme_port_ = 0;
  int management_port_ = 0;
  std::unique_ptr<Subprocess> challtestsrv_;
  std::unique_ptr<Subprocess> pebble_;
};

}  // namespace skiff::testing
