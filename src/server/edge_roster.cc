#include "server/edge_roster.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <filesystem>
#include <optional>

#include "common/files.h"
#include "common/logging.h"

namespace skiff::server {
namespace json = boost::json;
namespace {

using store::RecordKind;

// An edge's record: {"interval_ms":N,"reported_at":MS} (MS: Unix ms, the
// wall time a server last heard it).
struct Entry {
  int64_t interval_ms = 0;
  Time reported_at;
};

// nullopt when the record does not decode.
std::optional<Entry> EntryOf(const std::string& value) {
  boost::system::error_code ec;
  json::value v = json::parse(value, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* interval = o != nullptr ? o->if_contains("interval_ms") : nullptr;
  const json::value* at = o != nullptr ? o->if_contains("reported_at") : nullptr;
  if (interval == nullptr || !interval->is_int64() || interval->get_int64() <= 0 || at == nullptr ||
      !at->is_int64()) {
    return std::nullopt;
  }
  return Entry{interval->get_int64(), Time(std::chrono::milliseconds(at->get_int64()))};
}

std::string RecordOf(int64_t interval_ms, Time reported_at) {
  const int64_t at_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(reported_at.time_since_epoch()).count();
  return json::serialize(json::object{{"interval_ms", interval_ms}, {"reported_at", at_ms}});
}

// Moves DATA/edges.json (name -> interval in ms) into the store, each edge
// heard `now` (the file kept no time), then renames it.
Status ImportFile(store::Store* store, const std::string& data_dir, Time now) {
  const std::string path = (std::filesystem::path(data_dir) / kEdgeRosterFile).string();
  auto text = ReadPrivateFile(path, /*private_only=*/false);
  if (!text && text.error().code == ErrorCode::kNotFound) return OkStatus();
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
  }
  for (const auto& [name, interval] : *edges) {
    SKIFF_RETURN_IF_ERROR(store->PutRecord(RecordKind::kEdge, std::string(name),
                                           RecordOf(interval.get_int64(), now)));
  }
  std::error_code renamed;
  std::filesystem::rename(path, path + ".imported", renamed);
  if (renamed) {
    return Unavailable(fmt::format("imported {} into the store but cannot rename it: {}", path,
                                   renamed.message()));
  }
  return OkStatus();
}

}  // namespace

Result<std::unique_ptr<EdgeRoster>> EdgeRoster::Open(store::Store* store, const Clock* clock,
                                                     const std::string& data_dir) {
  SKIFF_RETURN_IF_ERROR(ImportFile(store, data_dir, clock->Now()));
  return std::unique_ptr<EdgeRoster>(new EdgeRoster(store, clock));
}

void EdgeRoster::Heard(const std::string& name, int64_t interval_ms) {
  if (interval_ms <= 0) return;
  const Time now = clock_->Now();
  std::lock_guard lock(mu_);
  auto it = written_.find(name);
  if (it != written_.end() && it->second.interval_ms == interval_ms &&
      now - it->second.at < std::chrono::milliseconds(interval_ms)) {
    return;
  }
  if (Status kept = store_->PutRecord(RecordKind::kEdge, name, RecordOf(interval_ms, now)); !kept) {
    SKIFF_LOG_WARN("cannot keep edge {} in the store: {}", name, kept.error().ToString());
    return;
  }
  written_[name] = Written{interval_ms, now};
}

Status EdgeRoster::Forget(const std::string& name) {
  std::lock_guard lock(mu_);
  written_.erase(name);
  Status forgotten = store_->DeleteRecord(RecordKind::kEdge, name);
  if (!forgotten && forgotten.error().code == ErrorCode::kNotFound) return OkStatus();
  return forgotten;
}

std::map<std::string, metrics::EdgeRoutes> EdgeRoster::Merge(
    std::map<std::string, metrics::EdgeRoutes> reporting) {
  auto records = store_->ListRecords(RecordKind::kEdge);
  if (!records) {
    SKIFF_LOG_WARN("cannot read the edges that reported: {}", records.error().ToString());
    return reporting;
  }
  const Time now = clock_->Now();
  for (const store::Record& record : *records) {
    if (reporting.contains(record.key)) continue;
    std::optional<Entry> entry = EntryOf(record.value);
    if (entry && now - entry->reported_at <= 3 * std::chrono::milliseconds(entry->interval_ms)) {
      reporting.emplace(record.key, metrics::EdgeRoutes{});  // no table: caught up with nothing
      continue;
    }
    SKIFF_LOG_INFO("edge {} has not been heard for three of its intervals{}: no longer waited for",
                   record.key, entry ? "" : " (its record does not decode)");
    Status forgotten = store_->DeleteRecord(RecordKind::kEdge, record.key);
    if (!forgotten && forgotten.error().code != ErrorCode::kNotFound) {
      SKIFF_LOG_WARN("cannot forget edge {}: {}", record.key, forgotten.error().ToString());
    }
  }
  return reporting;
}

}  // namespace skiff::server
