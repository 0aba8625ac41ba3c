// AcmeAccountStore: the ACME account every server of one database orders
// with, kept in the store's records (kind certificate, under
// kAcmeAccountPrefix + the directory URL: no domain, certificate_store.h): a P-256 key made once,
// sealed under the keyring as certificate keys are (bound to the directory URL), and the account
// URL the ACME server gave, beside it. Made once by whichever server gets there first
// (CreateRecord: the others read the winner's), so restarts and other
// servers reuse it rather than register again.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <string>

#include "common/result.h"
#include "crypto/keyring.h"
#include "crypto/x509.h"
#include "store/store.h"

namespace skiff::controller {

struct AcmeAccountKey {
  crypto::PKeyPtr key;  // P-256
  std::string url;      // "" until an order registered it
};

class AcmeAccountStore {
 public:
  // Not owned; they must outlive this object.
  AcmeAccountStore(store::Store* store, const crypto::Keyring* keyring, std::string directory_url);

  // The account's key and URL, the key made and kept on the first call.
  // Errors: kUnavailable when the store cannot be read or written;
  // kFailedPrecondition when the kept key does not open with this server's
  // keyring (naming the key id); kInternal for a record that does not parse.
  Result<AcmeAccountKey> LoadOrCreate();

  // Keeps `url` as the account's URL (after an order registered or found it).
  // Errors: as LoadOrCreate.
  Status SetUrl(const std::string& url);

 private:
  std::string Key() const;

  store::Store* const store_;
  const crypto::Keyring* const keyring_;
  const std::string directory_url_;
};

// Seals the key of every ACME account the store keeps (one per directory
// URL, whichever server made it) not sealed under `keyring`'s active key
// again under it, one store write each, the account's URL kept (for `skiff
// keys rotate`, so that the old keys can be dropped). Tells `progress` (when
// given) after each record. Returns how many were sealed again. Meant for a
// store no server writes meanwhile.
// Errors: kFailedPrecondition naming the directory of the first account key
// that does not open (it stops there; those done stay done); kInternal for a
// record that does not parse; kUnavailable when the store cannot be read or
// written.
Result<int> ResealAcmeAccounts(store::Store* store, const crypto::Keyring& keyring,
                               const crypto::ResealProgress& progress = {});

}  // namespace skiff::controller
