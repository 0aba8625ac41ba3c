// EdgeRoster: the standalone edges that have reported, kept in the store's
// records (store/store.h: kind edge, name -> report interval), so that a
// restarted server, or another server of the same database, knows whom to wait
// for before their first report to it.
//
// The traffic book lives in memory: right after a restart it knows no edge,
// and a drain judged then would count only the server's own edge while a
// standalone one may still route to the instance. With the roster, an edge
// that reported before the restart counts as "not caught up" (no table yet)
// until it reports again, or until three of its intervals after the start
// passed: then it is taken for gone and leaves the roster.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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
  // A roster over `store` (not owned; must outlive it). First imports
  // DATA/edges.json of an earlier version, if there is one, and renames it.
  // `started` is when the server started, on the clock of the times passed to
  // Merge. kFailedPrecondition when the file does not parse; kUnavailable
  // when it cannot be imported (the store or the rename failed).
  static Result<std::unique_ptr<EdgeRoster>> Open(store::Store* store, const std::string& data_dir,
                                                  metrics::TrafficBook::Time started);

  // `reporting`: the edges that reported recently (TrafficBook::Routes). Notes
  // new ones (or a changed interval) in the store, and returns `reporting` plus,
  // for every remembered edge that has not reported since the start and whose
  // three intervals after the start have not passed, an entry with no table
  // (revision 0, no tag): not caught up with anything. Remembered edges past
  // that window leave the roster. A failed read or write of the store is
  // logged, not returned: the roster only narrows a window after restarts.
  std::map<std::string, metrics::EdgeRoutes> Merge(
      std::map<std::string, metrics::EdgeRoutes> reporting, metrics::TrafficBook::Time now);

 private:
  EdgeRoster(store::Store* store, metrics::TrafficBook::Time started)
      : store_(store), started_(started) {}
  // The remembered edges' intervals in ms, by name.
  std::map<std::string, int64_t> Remembered() const;
  // Keeps `name`'s interval; a failure is logged.
  void Remember(const std::string& name, int64_t interval_ms);

  store::Store* const store_;
  const metrics::TrafficBook::Time started_;
  std::mutex mu_;
  std::set<std::string> reported_;  // GUARDED_BY(mu_): since the start
};

}  // namespace skiff::server
