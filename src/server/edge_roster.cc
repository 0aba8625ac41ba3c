#include "server/edge_roster.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <filesystem>

#include "common/files.h"
#include "common/logging.h"

namespace skiff::server {
namespace json = boost::json;

Result<std::unique_ptr<EdgeRoster>> EdgeRoster::Open(const std::string& data_dir,
                                                     metrics::TrafficBook::Time started) {
  const std::string path = (std::filesystem::path(data_dir) / kEdgeRosterFile).string();
  std::unique_ptr<EdgeRoster> roster(new EdgeRoster(path, started));
  auto text = ReadPrivateFile(path, /*private_only=*/false);
  if (!text && text.error().code == ErrorCode::kNotFound) return roster;
  if (!text) return tl::unexpected(text.error());
  boost::system::error_code ec;
  json::value root = json::parse(*text, ec);
  const json::object* edges = ec ? nullptr : root.if_object();
  if (edges == nullptr) {
    return FailedPrecondition(
        fmt::format("{} is damaged (not a JSON object); delete it (edges are learnt again "
                    "from their next reports)",
                    path));
  }
  for (const auto& [name, interval] : *edges) {
    if (!interval.is_int64() || interval.get_int64() <= 0) {
      return FailedPrecondition(
          fmt::format("{} is damaged (edge {}: not a report interval in ms); delete it", path,
                      std::string(name)));
    }
    roster->interval_ms_[std::string(name)] = interval.get_int64();
  }
  return roster;
}

std::map<std::string, metrics::EdgeRoutes> EdgeRoster::Merge(
    std::map<std::string, metrics::EdgeRoutes> reporting, metrics::TrafficBook::Time now) {
  std::lock_guard lock(mu_);
  bool changed = false;
  for (const auto& [name, routes] : reporting) {
    reported_.insert(name);
    if (routes.interval_ms <= 0) continue;  // no interval to wait by: not kept
    auto [it, added] = interval_ms_.try_emplace(name, routes.interval_ms);
    if (added || it->second != routes.interval_ms) {
      it->second = routes.interval_ms;
      changed = true;
    }
  }
  for (auto it = interval_ms_.begin(); it != interval_ms_.end();) {
    const auto& [name, interval_ms] = *it;
    if (reported_.contains(name)) {
      ++it;
      continue;
    }
    if (now - started_ > 3 * std::chrono::milliseconds(interval_ms)) {
      SKIFF_LOG_INFO("edge {} has not reported since the server started: no longer waited for",
                     name);
      it = interval_ms_.erase(it);
      changed = true;
      continue;
    }
    reporting.emplace(name, metrics::EdgeRoutes{});  // no table: caught up with nothing
    ++it;
  }
  if (changed) SaveLocked();
  return reporting;
}

void EdgeRoster::SaveLocked() {
  json::object out;
  for (const auto& [name, interval_ms] : interval_ms_) out[name] = interval_ms;
  if (Status saved = WriteFileAtomically(path_, json::serialize(out)); !saved) {
    SKIFF_LOG_WARN("cannot keep the edges that reported in {}: {}", path_,
                   saved.error().ToString());
  }
}

}  // namespace skiff::server
