// AcmeChallengeStore: the HTTP-01 challenges the edges answer at
// /.well-known/acme-challenge/<token> while the leader's orders wait for
// validation, kept in the store's records (kind certificate, under
// kAcmeChallengePrefix + the token: no domain, certificate_store.h) so
// that every server's routes carry them (controller/routes.h: RouteSet::
// challenges) to its own edge and the standalone ones.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "protocol/routes.h"
#include "store/store.h"

namespace skiff::controller {

class AcmeChallengeStore {
 public:
  // Not owned; they must outlive this object.
  AcmeChallengeStore(store::Store* store, const Clock* clock);

  // Keeps `challenge` for `domain` and commits a certificate.challenge event
  // fenced at `fence_epoch` (unless 0), which wakes the routes. Returns that
  // event's revision: routes built at it or later carry the challenge.
  // Errors: kUnavailable when the store cannot be written;
  // kFailedPrecondition when the fence refuses the event (the record is
  // removed again).
  Result<int64_t> Publish(const std::string& domain, const protocol::AcmeChallenge& challenge,
                          int64_t fence_epoch);

  // Forgets the challenge of `token` (no event: the order's outcome, committed
  // next, brings the routes up to date). kNotFound when absent; kUnavailable.
  Status Withdraw(const std::string& token);

  // Every kept challenge, by token. kUnavailable when the store cannot be read.
  Result<std::vector<protocol::AcmeChallenge>> List() const;

 private:
  store::Store* const store_;
  const Clock* const clock_;
};

// What the routes carry: `challenges`' List, or none when it is null or
// cannot be read (logged).
std::vector<protocol::AcmeChallenge> ChallengesForRoutes(const AcmeChallengeStore* challenges);

}  // namespace skiff::controller
