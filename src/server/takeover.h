// What a server starting on a shared store checks before it acts as itself:
// that no other live server is it. A second server under a live one's
// --server-id would share its entry in the servers' list and its edge's name;
// a server on a copy of a live one's data directory would share its node (the
// node's id is kept in DATA/agent-state.json) and, issuing itself that node's
// credential, delete the live one's: the two agents would then fight over
// the node and its instances.
//
// "Live" is judged from what the store holds, by the database's clock only
// (store/leader_lease.h): a server heard (its heartbeat, every third of the
// leader's TTL) less than `alive` ago. Its node's status alone cannot say: a
// node stays ready until the leader misses its heartbeats for the node TTL,
// and a server restarted at once must take its own node back then; nor can
// the heartbeats the leader hears, which only it holds, in memory.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "model/resources.h"
#include "store/leader_lease.h"

namespace skiff::server {

// The server about to start.
struct StartingServer {
  std::string id;   // --server-id
  std::string url;  // what it will advertise in the servers' list
};

// OK unless starting `self` would take over another live server's identity:
// kAlreadyExists, naming the node, the other server (its id and URL) and
// what to do (--server-id, --data), when
// - a server listed under `self.id` at another URL was heard less than
//   `alive` ago (a restart of `self` advertises the same URL, or comes once
//   the old entry has been silent that long), or
// - `node` (the node of this server's data directory, nullopt when the store
//   has none or this server runs no agent) is not down and is named by
//   another server heard less than `alive` ago: the directory is a copy of
//   that server's. A server's node is named by its id (a node renamed since
//   counts as its new name's).
// Pure: `servers` as LeaderLease::ListServers gives them.
Status CheckNoTakeover(const StartingServer& self, const std::optional<model::Node>& node,
                       const std::vector<store::ServerRecord>& servers, Duration alive);

}  // namespace skiff::server
