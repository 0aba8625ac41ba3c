// What every server of one shared database must hold alike, checked at each
// start before it serves: the same CA (agents and edges pin its fingerprint
// from their join tokens, whichever server they reach) and the same keyring
// (each opens the keys the others sealed: certificates, the ACME account).
// The first server to start records both in the store (kind certificate,
// under keys no domain has, as controller/certificate_store.h's ACME
// records are): the CA's fingerprint, and a value sealed under its keyring.
// A later server whose data directory holds another CA or keyring stops
// with an error saying which files to copy (docs/postgres.md), instead of
// handing out join tokens the others' agents refuse, or failing later on a
// key it cannot open.
//
// Thread-safety: a free function; servers may run it at once (the first
// record made wins, the others compare against it).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/keyring.h"
#include "store/store.h"

namespace skiff::server {

inline constexpr std::string_view kSharedCaRecord = "cluster:ca-fingerprint";
inline constexpr std::string_view kSharedKeyringRecord = "cluster:keyring-check";

// Records `ca_fingerprint` and a check sealed under `keyring` when the store
// holds none yet, else compares. `data_dir` is named in the errors.
// Errors: kFailedPrecondition naming the file that differs (ca.crt and
// ca.key, or keyring.json) and where to copy it from; kUnavailable when the
// store cannot be read or written.
Status CheckSharedTrust(store::Store* store, const crypto::Keyring& keyring,
                        const std::string& ca_fingerprint, const std::string& data_dir);

}  // namespace skiff::server
