// EdgeRoster: the standalone edges that have reported, kept in the store's
// records (store/store.h: kind edge, name -> report interval and when a
// server last heard it), so that a restarted server, or another server of the
// same database (a new leader), knows whom to wait for before their first
// report to it.
//
// The traffic book lives in memory: right after a restart or a change of
// leader it knows no edge, and a drain judged then would count only the
// server's own edge while a standalone one may still route to the instance.
// With the roster, an edge that was heard recently counts as "not caught up"
// (no table yet) until it reports here, or until three of its intervals
// passed since any server last heard it: then it is taken for gone and leaves
// the roster.
//
// When it was heard (reported_at) is the wall time of the server that heard
// it, written at most once per interval of the edge (the edge reports every
// interval; a write per report would cost every server's database a write per
// edge per interval for nothing), so it is at most one interval old while the
// edge reports. A server forgets an edge by its own wall clock: servers'
// clocks must agree to well within three intervals.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "metrics/traffic.h"
#include "store/store.h"

namespace skiff::server {

// The file earlier versions kept the roster in, under the data directory:
// imported into the store once (Open), then renamed edges.json.imported.
inline constexpr const char* kEdgeRosterFile = "edges.json";

class EdgeRoster {
 public:
  // A roster over `store` and `clock` (not owned; both must outlive it).
  // First imports DATA/edges.json of an earlier version, if there is one
  // (heard now), and renames it. kFailedPrecondition when the file does not
  // parse; kUnavailable when it cannot be imported (the store or the rename
  // failed).
  static Result<std::unique_ptr<EdgeRoster>> Open(store::Store* store, const Clock* clock,
                                                  const std::string& data_dir);

  // This server heard edge `name`, which reports every `interval_ms` (> 0;
  // otherwise ignored: no interval to wait by): keeps its interval and the
  // wall time now in the store, unless this server kept the same interval
  // less than one interval ago. A failed write is logged, not returned: the
  // roster only narrows a window after restarts.
  void Heard(const std::string& name, int64_t interval_ms);

  // `reporting`: the edges that reported recently to this server
  // (TrafficBook::Routes). Returns `reporting` plus, for every remembered
  // edge not in it that some server heard within three of its intervals, an
  // entry with no table (revision 0, no tag): not caught up with anything.
  // Remembered edges heard longer ago leave the roster. A failed read or
  // write of the store is logged, not returned.
  std::map<std::string, metrics::EdgeRoutes> Merge(
      std::map<std::string, metrics::EdgeRoutes> reporting);

  // Edge `name` left (it said so): removes it from the roster at once. OK
  // when it was not there; kUnavailable (the store's error) when it cannot
  // be removed.
  Status Forget(const std::string& name);

 private:
  EdgeRoster(store::Store* store, const Clock* clock) : store_(store), clock_(clock) {}

  struct Written {
    int64_t interval_ms = 0;
    Time at;
  };

  store::Store* const store_;
  const Clock* const clock_;
  std::mutex mu_;
  std::map<std::string, Written> written_;  // GUARDED_BY(mu_): this server's last writes
};

}  // namespace skiff::server
