// OwnEdge: how a server's own edge reports its traffic when servers share the
// store (docs/postgres.md): to the leader, as a standalone edge does, under
// a name of its own and with an edge credential the server makes for it in
// the store (api::JoinTokenStore), since the leader's drain tracker waits for
// the edges it hears and those in the roster (server/edge_roster.h).
//
// The name is "<server-id>:edge", the same at every start whatever port the
// edge listens on: the roster and the leader's traffic book are keyed by it,
// so a restarted edge's first report takes its old entry's place, where a
// name with the port (which changes at every start with --edge-listen
// ADDR:0) left an entry the drains waited for three intervals after a crash,
// and a credential record per start. Each issue drops the credentials of
// this server's edges under any earlier name ("<server-id>:...").
//
// A credential deleted meanwhile (the leader answers 401) is replaced and
// the report sent again, rather than the edge going unheard until a restart;
// a server that stops cleanly says its edge left (DELETE /v1/edges/{name})
// and deletes its credential, so drains do not wait for it.
//
// Thread-safety: Start, then the sink from the reporter's thread, then Leave
// once the reporter stopped; each may be called from any thread.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "api/join_tokens.h"
#include "common/result.h"
#include "edge/traffic_reporter.h"

namespace skiff::server {

class OwnEdge {
 public:
  using Sink = edge::TrafficReporter::Sink;
  struct Deps {
    api::JoinTokenStore* tokens = nullptr;  // not owned; outlives this object
    std::string server_id;
    // The sink posting the reports with `credential` (edge::PostTraffic, to
    // the leader).
    std::function<Sink(const std::string& credential)> post;
    // Tells the leader the edge left, with `credential` (DELETE
    // /v1/edges/{name}), so that it forgets its last report.
    std::function<Status(const std::string& credential)> leave;
    // Removes the edge from the roster in the store (EdgeRoster::Forget),
    // whether or not the leader could be told.
    std::function<Status()> forget;
  };

  // "<server-id>:edge".
  static std::string NameOf(std::string_view server_id);

  explicit OwnEdge(Deps deps);

  const std::string& name() const { return name_; }

  // Issues the edge's credential. kUnavailable when the store cannot be
  // written (the server does not start then).
  Status Start();

  // The reporter's sink (TrafficReporter). When a report is refused as
  // kUnauthenticated, issues a new credential and sends it again, once;
  // errors are those of the post, or of the issue.
  Sink sink();

  // Says the edge left (to the leader, when `tell_leader`: false when this
  // server led, as then no leader holds a report of it), removes it from the
  // roster and deletes its credentials; failures are logged (the roster
  // forgets a silent edge after three intervals anyway). REQUIRES: the
  // reporter stopped.
  void Leave(bool tell_leader = true);

 private:
  // The sink for a new credential. REQUIRES: mu_ held.
  Status IssueLocked();
  Status Report(const metrics::TrafficSnapshot& snapshot);

  const Deps deps_;
  const std::string name_;
  const std::string family_;  // "<server-id>:": every name this server's edge had
  std::mutex mu_;
  std::string credential_;  // GUARDED_BY(mu_)
  Sink post_;               // GUARDED_BY(mu_): posts with credential_
};

}  // namespace skiff::server
