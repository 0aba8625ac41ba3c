#include "store/memory/memory_store.h"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <utility>

#include "common/check.h"

namespace skiff::store {
namespace {

// Objects, events, the log, records and audit entries in maps. A write is
// staged and applied whole at CommitWrite, so an aborted one leaves nothing.
class MemoryBackend final : public Backend {
 public:
  // Backend:
  Result<LogState> BeginWrite() override {
    pending_ = Pending{};
    writing_ = true;
    return state_;
  }

  Status Write(const std::vector<Change>& changes, int64_t /*epoch*/) override {
    pending_.changes.insert(pending_.changes.end(), changes.begin(), changes.end());
    return OkStatus();
  }

  Status CompactLog(int64_t upto) override {
    pending_.compact_upto = std::max(pending_.compact_upto, upto);
    return OkStatus();
  }

  Status DropOldestEvents(int64_t count) override {
    pending_.drop_events += count;
    return OkStatus();
  }

  Status CommitWrite(const LogState& state) override {
    for (Change& change : pending_.changes) {
      const Kind kind = KindOf(change.object);
      if (kind == Kind::kEvent) {
        const auto& event = std::get<model::Event>(change.object);
        events_[event.id] = event;
      } else if (change.deleted) {
        TableOf(kind).erase(KeyOf(change.object));
      } else {
        TableOf(kind)[KeyOf(change.object)] = change.object;
      }
      log_.push_back(std::move(change));
    }
    while (!log_.empty() && log_.front().revision <= pending_.compact_upto) log_.pop_front();
    for (int64_t i = 0; i < pending_.drop_events && !events_.empty(); ++i) {
      events_.erase(events_.begin());
    }
    for (auto& [slot, value] : pending_.records) {
      auto& records = RecordsOf(slot.first);
      if (value) {
        records[slot.second] = std::move(*value);
      } else {
        records.erase(slot.second);
      }
    }
    for (AuditEntry& entry : pending_.audit) audit_.emplace(entry.id, std::move(entry));
    state_ = state;
    pending_ = Pending{};
    writing_ = false;
    return OkStatus();
  }

  void AbortWrite() override {
    pending_ = Pending{};
    writing_ = false;
  }

  Result<LogState> ReadLogState() override { return state_; }

  Result<std::optional<Object>> ReadObject(Kind kind, const std::string& key) override {
    const Table& table = TableOf(kind);
    auto it = table.find(key);
    if (it == table.end()) return std::optional<Object>();
    return std::optional<Object>(it->second);
  }

  Result<std::vector<Object>> ReadObjects(Kind kind, const std::string& key_prefix) override {
    const Table& table = TableOf(kind);
    std::vector<Object> out;
    for (auto it = table.lower_bound(key_prefix);
         it != table.end() && it->first.starts_with(key_prefix); ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Result<std::vector<model::Event>> ReadEvents(const EventFilter& filter) override {
    std::vector<model::Event> out;
    if (filter.oldest_first) {
      for (auto it = events_.upper_bound(filter.after_id);
           it != events_.end() && out.size() < filter.limit; ++it) {
        if (filter.app.empty() || it->second.app == filter.app) out.push_back(it->second);
      }
      return out;
    }
    // Newest first until the limit, then reversed: the newest N, ascending.
    for (auto it = events_.rbegin(); it != events_.rend() && out.size() < filter.limit; ++it) {
      if (it->first <= filter.after_id) break;
      if (!filter.app.empty() && it->second.app != filter.app) continue;
      out.push_back(it->second);
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  Result<std::vector<Change>> ReadChanges(int64_t since, size_t limit) override {
    std::vector<Change> out;
    // log_ holds every revision from state_.compacted + 1 on, one per slot.
    for (auto i = static_cast<size_t>(since - state_.compacted);
         i < log_.size() && out.size() < limit; ++i) {
      out.push_back(log_[i]);
    }
    return out;
  }

  // Inside a write, record writes are staged in pending_.records, and reads
  // see them there first.
  Result<bool> WriteRecord(RecordKind kind, const std::string& key, const std::string& value,
                           bool replace) override {
    if (!replace && Current(kind, key)) return false;
    if (writing_) {
      pending_.records[{kind, key}] = value;
    } else {
      RecordsOf(kind)[key] = value;
    }
    return true;
  }

  Result<bool> EraseRecord(RecordKind kind, const std::string& key) override {
    if (!Current(kind, key)) return false;
    if (writing_) {
      pending_.records[{kind, key}] = std::nullopt;
    } else {
      RecordsOf(kind).erase(key);
    }
    return true;
  }

  Result<std::optional<std::string>> ReadRecord(RecordKind kind, const std::string& key) override {
    return Current(kind, key);
  }

  Result<std::vector<Record>> ReadRecords(RecordKind kind) override {
    std::vector<Record> out;
    for (const auto& [key, value] : RecordsOf(kind)) out.push_back(Record{key, value});
    return out;
  }

  // Nothing else writes this backend while the engine's lock is held.
  Result<bool> HoldRecord(RecordKind kind, const std::string& key) override {
    return Current(kind, key).has_value();
  }

  Result<int64_t> AppendAudit(const AuditEntry& entry) override {
    // An id taken by a write that aborts is not given again: ids only grow.
    AuditEntry kept = entry;
    kept.id = ++last_audit_id_;
    if (writing_) {
      pending_.audit.push_back(kept);
    } else {
      audit_.emplace(kept.id, kept);
    }
    return kept.id;
  }

  Result<int64_t> SetAuditCode(const std::string& request_id, int code) override {
    int64_t set = 0;
    for (auto& [id, entry] : audit_) {
      if (entry.request_id != request_id || entry.code != 0) continue;
      entry.code = code;
      ++set;
    }
    return set;
  }

  Result<std::vector<AuditEntry>> ReadAudit(const AuditFilter& filter) override {
    auto matches = [&](const AuditEntry& e) {
      return (filter.since == Time{} || e.time >= filter.since) &&
             (filter.who.empty() || e.who == filter.who) &&
             (filter.app.empty() || e.app == filter.app);
    };
    std::vector<AuditEntry> out;
    if (filter.oldest_first) {
      for (auto it = audit_.upper_bound(filter.after_id);
           it != audit_.end() && out.size() < filter.limit; ++it) {
        if (matches(it->second)) out.push_back(it->second);
      }
      return out;
    }
    // Newest first until the limit, then reversed: the newest N, ascending.
    for (auto it = audit_.rbegin(); it != audit_.rend() && out.size() < filter.limit; ++it) {
      if (it->first <= filter.after_id) break;
      if (matches(it->second)) out.push_back(it->second);
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  Result<int64_t> PruneAudit(Time before) override {
    return static_cast<int64_t>(
        std::erase_if(audit_, [&](const auto& kv) { return kv.second.time < before; }));
  }

 private:
  // Objects of one kind by key. Events live apart: they are keyed by id.
  using Table = std::map<std::string, Object>;

  struct Pending {
    std::vector<Change> changes;
    int64_t compact_upto = 0;
    int64_t drop_events = 0;
    // Record writes by (kind, key), the last one of each; nullopt = erased.
    std::map<std::pair<RecordKind, std::string>, std::optional<std::string>> records;
    std::vector<AuditEntry> audit;
  };

  // The record's value as the write in progress (if any) left it.
  std::optional<std::string> Current(RecordKind kind, const std::string& key) {
    if (writing_) {
      if (auto it = pending_.records.find({kind, key}); it != pending_.records.end()) {
        return it->second;
      }
    }
    const auto& records = RecordsOf(kind);
    auto it = records.find(key);
    if (it == records.end()) return std::nullopt;
    return it->second;
  }

  Table& TableOf(Kind kind) {
    SKIFF_CHECK(kind != Kind::kEvent);
    return tables_[static_cast<size_t>(kind)];
  }

  std::map<std::string, std::string>& RecordsOf(RecordKind kind) {
    return records_[static_cast<size_t>(kind)];
  }

  LogState state_;
  std::array<std::map<std::string, std::string>, kRecordKinds> records_;  // indexed by RecordKind
  std::array<Table, 4> tables_;  // indexed by Kind, events excluded
  std::map<int64_t, model::Event> events_;
  std::deque<Change> log_;               // revisions state_.compacted + 1 .. state_.revision
  std::map<int64_t, AuditEntry> audit_;  // by id
  int64_t last_audit_id_ = 0;
  Pending pending_;
  bool writing_ = false;  // between BeginWrite and its end
};

}  // namespace

MemoryStore::MemoryStore() : MemoryStore(Options{}) {}

MemoryStore::MemoryStore(Options options) : TxnEngine(std::make_unique<MemoryBackend>(), options) {}

}  // namespace skiff::store
