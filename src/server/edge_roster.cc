#include "server/edge_roster.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <filesystem>

#include "common/files.h"
#include "common/logging.h"

namespace skiff::server {
namespace json = boost::json;
namespace {

using store::RecordKind;

// The interval of an edge's record, {"interval_ms":N}; nullopt when the record
// does not decode.
std::optional<int64_t> IntervalOf(const std::string& value) {
  boost::system::error_code ec;
  json::value v = json::parse(value, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* interval = o != nullptr ? o->if_contains("interval_ms") : nullptr;
  if (interval == nullptr || !interval->is_int64() || interval->get_int64() <= 0) {
    return std::nullopt;
  }
  return interval->get_int64();
}

std::string RecordOf(int64_t interval_ms) {
  return json::serialize(json::object{{"interval_ms", interval_ms}});
}

// Moves DATA/edges.json (name -> interval in ms) into the store, then renames it.
Status ImportFile(store::Store* store, const std::string& data_dir) {
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
    SKIFF_RETURN_IF_ERROR(
        store->PutRecord(RecordKind::kEdge, std::string(name), RecordOf(interval.get_int64())));
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

Result<std::unique_ptr<EdgeRoster>> EdgeRoster::Open(store::Store* store,
                                                     const std::string& data_dir,
                                                     metrics::TrafficBook::Time started) {
  SKIFF_RETURN_IF_ERROR(ImportFile(store, data_dir));
  return std::unique_ptr<EdgeRoster>(new EdgeRoster(store, started));
}

std::map<std::string, int64_t> EdgeRoster::Remembered() const {
  std::map<std::string, int64_t> out;
  auto records = store_->ListRecords(RecordKind::kEdge);
  if (!records) {
    SKIFF_LOG_WARN("cannot read the edges that reported: {}", records.error().ToString());
    return out;
  }
  for (const store::Record& record : *records) {
    if (auto interval = IntervalOf(record.value)) {
      out[record.key] = *interval;
    } else {
      SKIFF_LOG_WARN("edge record {} does not decode: ignored", record.key);
    }
  }
  return out;
}

void EdgeRoster::Remember(const std::string& name, int64_t interval_ms) {
  if (Status kept = store_->PutRecord(RecordKind::kEdge, name, RecordOf(interval_ms)); !kept) {
    SKIFF_LOG_WARN("cannot keep edge {} in the store: {}", name, kept.error().ToString());
  }
}

std::map<std::string, metrics::EdgeRoutes> EdgeRoster::Merge(
    std::map<std::string, metrics::EdgeRoutes> reporting, metrics::TrafficBook::Time now) {
  std::lock_guard lock(mu_);
  const std::map<std::string, int64_t> remembered = Remembered();
  for (const auto& [name, routes] : reporting) {
    reported_.insert(name);
    if (routes.interval_ms <= 0) continue;  // no interval to wait by: not kept
    auto it = remembered.find(name);
    if (it == remembered.end() || it->second != routes.interval_ms) {
      Remember(name, routes.interval_ms);
    }
  }
  for (const auto& [name, interval_ms] : remembered) {
    if (reported_.contains(name)) continue;
    if (now - started_ > 3 * std::chrono::milliseconds(interval_ms)) {
      SKIFF_LOG_INFO("edge {} has not reported since the server started: no longer waited for",
                     name);
      Status forgotten = store_->DeleteRecord(RecordKind::kEdge, name);
      if (!forgotten && forgotten.error().code != ErrorCode::kNotFound) {
        SKIFF_LOG_WARN("cannot forget edge {}: {}", name, forgotten.error().ToString());
      }
      continue;
    }
    reporting.emplace(name, metrics::EdgeRoutes{});  // no table: caught up with nothing
  }
  return reporting;
}

}  // namespace skiff::server
