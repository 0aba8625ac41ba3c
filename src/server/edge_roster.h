// EdgeRoster: the standalone edges that have reported to this server, kept in
// DATA/edges.json (name -> report interval), so that a restarted server knows
// whom to wait for before their first report.
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

namespace skiff::server {

inline constexpr const char* kEdgeRosterFile = "edges.json";

class EdgeRoster {
 public:
  // Loads DATA/edges.json (none: an empty roster). `started` is when the
  // server started, on the clock of the times passed to Merge.
  // kFailedPrecondition when the file does not parse.
  static Result<std::unique_ptr<EdgeRoster>> Open(const std::string& data_dir,
                                                  metrics::TrafficBook::Time started);

  // `reporting`: the edges that reported recently (TrafficBook::Routes). Notes
  // new ones (or a changed interval) in the file, and returns `reporting` plus,
  // for every remembered edge that has not reported since the start and whose
  // three intervals after the start have not passed, an entry with no table
  // (revision 0, no tag): not caught up with anything. Remembered edges past
  // that window leave the roster. A failed write is logged, not returned: the
  // roster only narrows a window after restarts.
  std::map<std::string, metrics::EdgeRoutes> Merge(
      std::map<std::string, metrics::EdgeRoutes> reporting, metrics::TrafficBook::Time now);

 private:
  EdgeRoster(std::string path, metrics::TrafficBook::Time started)
      : path_(std::move(path)), started_(started) {}
  void SaveLocked();

  const std::string path_;
  const metrics::TrafficBook::Time started_;
  std::mutex mu_;
  std::map<std::string, int64_t> interval_ms_;  // GUARDED_BY(mu_)
  std::set<std::string> reported_;              // GUARDED_BY(mu_): since the start
};

}  // namespace skiff::server
