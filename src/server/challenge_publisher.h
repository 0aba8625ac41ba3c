// The server's acme::ChallengePublisher: a challenge is put in the store
// (controller/acme_challenges.h, fenced at the leader's term), whose event
// makes every server rebuild its routes, and publish returns once every edge
// the drains know of (server/edge_roster.h, the own edge) routes by routes at
// least that new, the way the drain tracker tells: a routing table of that
// revision or later, or a standalone edge's document tag equal to the one the
// store gives now; with no edge known yet, until one is and does. Past `wait`
// it gives up with kDeadlineExceeded naming the edges behind (the order fails and is retried after
// its back-off); on a stop it gives up within 50 ms (kAborted). Either way it withdraws the
// challenge.
#pragma once

#include <functional>
#include <string>

#include "acme/order_flow.h"
#include "common/clock.h"
#include "controller/acme_challenges.h"
#include "controller/drain_tracker.h"

namespace skiff::server {

inline constexpr Duration kChallengeWait = std::chrono::seconds(10);

// `challenges`, `clock` not owned; they must outlive the publisher.
// `current_tag` gives the tag of the routes document of the store now.
acme::ChallengePublisher MakeChallengePublisher(controller::AcmeChallengeStore* challenges,
                                                controller::DrainTracker::EdgesFn edges,
                                                std::function<std::string()> current_tag,
                                                const Clock* clock, int64_t fence_epoch,
                                                Duration wait = kChallengeWait);

}  // namespace skiff::server
