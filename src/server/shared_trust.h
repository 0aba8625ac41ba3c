// What every server of one shared database must hold alike, checked at each
// start before it serves: the same CA (agents and edges pin its fingerprint
// from their join tokens, whichever server they reach) and the same keyring
// (each opens the keys the others sealed: certificates, the ACME account).
// The first server to start with this check records both in the store, in
// one record (kind certificate, under a key no domain has, as
// controller/certificate_store.h's ACME records are): the CA's fingerprint
// and a value sealed under its keyring. A later server whose data directory
// holds another CA or keyring stops with an error saying which files to copy
// (docs/postgres.md), instead of handing out join tokens the others' agents
// refuse, or failing later on a key it cannot open. `skiff server
// --new-shared-trust` records the starting server's own instead (a CA
// replaced on purpose), once every other server is stopped and this one's
// keyring opens every sealed key the store holds; `skiff keys rotate` seals
// the check again under its new key (ResealSharedTrust).
//
// Thread-safety: a free function; servers may run it at once (the first
// record made wins, the others compare against it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/keyring.h"
#include "store/leader_lease.h"
#include "store/store.h"

namespace skiff::server {

inline constexpr std::string_view kSharedTrustRecord = "cluster:trust";

// Records `ca_fingerprint` and a check sealed under `keyring` when the store
// holds none yet (or `replace`: over what it holds, unless that is this
// server's already), else compares. `data_dir` (where ca.crt is) and the
// keyring's file (keyring.path()) are named in the errors.
// Errors: kFailedPrecondition naming the file that differs (ca.crt and
// ca.key, or the keyring file) and where to copy it from; kUnavailable when
// the store cannot be read or written; kInternal when the record does not
// parse.
Status CheckSharedTrust(store::Store* store, const crypto::Keyring& keyring,
                        const std::string& ca_fingerprint, const std::string& data_dir,
                        bool replace = false);

// Seals the record's keyring check again under `keyring`'s active key when
// it is under another (`skiff keys rotate`: the servers started after it
// compare against the new key). Returns 1 when it was sealed again, 0 when
// there is no record (a store of one server) or it was under the active key.
// Errors: kFailedPrecondition when the check does not open with `keyring`
// (naming its key id and the keyring's file); kInternal when the record does
// not parse; kUnavailable when the store cannot be read or written.
Result<int> ResealSharedTrust(store::Store* store, const crypto::Keyring& keyring);

// The servers of `servers` other than `own_id` heard within `ttl` (alive:
// they hold the keys they loaded), "id at URL" each, comma-separated; ""
// when there are none.
std::string LiveServers(const std::vector<store::ServerRecord>& servers, const std::string& own_id,
                        Duration ttl);

// Whether --new-shared-trust may replace the record now: kFailedPrecondition
// naming the LiveServers (they hold the old CA and keyring), which must be
// stopped first, and what to copy to them (ca.crt, ca.key, `keyring_path`).
Status RefuseReplaceWhileOthersRun(const std::vector<store::ServerRecord>& servers,
                                   const std::string& own_id, Duration ttl,
                                   const std::string& keyring_path);

}  // namespace skiff::server
