// TxnEngine beyond the shared contract (store_contract_test.cc): how it drives
// its Backend when a write fails or throws, where a commit's revision comes
// from, and what it does with a log that has a hole. A scripted backend stands
// for a database other servers write too.
#include "store/txn_engine.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

using testing::MakeApp;

// Records how the engine drives it; its log state and change log are what the
// test says (as if another server had written them).
class ScriptedBackend final : public Backend {
 public:
  Result<LogState> BeginWrite() override {
    ++begun;
    open = true;
    if (throw_on_begin) throw std::runtime_error("reading the log state failed");
    return state;
  }
  Status Write(const std::vector<Change>&, int64_t) override {
    if (throw_on_write) throw std::runtime_error("encoder failed");
    return OkStatus();
  }
  Status CompactLog(int64_t) override { return OkStatus(); }
  Status DropOldestEvents(int64_t) override { return OkStatus(); }
  Status CommitWrite(const LogState& s) override {
    ++committed;
    open = false;
    state = s;
    return OkStatus();
  }
  void AbortWrite() override {
    ++aborted;
    open = false;
  }
  Result<LogState> ReadLogState() override {
    ++log_state_reads;
    return state;
  }
  Result<std::optional<Object>> ReadObject(Kind, const std::string&) override {
    return std::optional<Object>();
  }
  Result<std::vector<Object>> ReadObjects(Kind, const std::string&) override {
    return std::vector<Object>();
  }
  Result<std::vector<model::Event>> ReadEvents(const EventFilter&) override {
    return std::vector<model::Event>();
  }
  Result<std::vector<Change>> ReadChanges(int64_t, size_t) override { return changes; }
  Result<bool> WriteRecord(RecordKind, const std::string&, const std::string&, bool) override {
    return true;
  }
  Result<bool> EraseRecord(RecordKind, const std::string&) override { return true; }
  Result<std::optional<std::string>> ReadRecord(RecordKind, const std::string&) override {
    return std::optional<std::string>();
  }
  Result<std::vector<Record>> ReadRecords(RecordKind) override { return std::vector<Record>(); }
  Result<bool> HoldRecord(RecordKind, const std::string&) override { return true; }
  Result<int64_t> AppendAudit(const AuditEntry& entry) override {
    appended.push_back(entry);
    return static_cast<int64_t>(appended.size());
  }
  Result<int64_t> SetAuditCode(const std::string&, int) override { return 0; }
  Result<std::vector<AuditEntry>> ReadAudit(const AuditFilter& filter) override {
    audit_filters.push_back(filter);
    return std::vector<AuditEntry>();
  }
  Result<int64_t> PruneAudit(Time before) override {
    prune_bounds.push_back(before);
    return 0;
  }

  LogState state;
  std::vector<Change> changes;
  std::vector<AuditEntry> appended;
  std::vector<AuditFilter> audit_filters;
  std::vector<Time> prune_bounds;
  bool throw_on_write = false;
  bool throw_on_begin = false;
  bool open = false;
  int begun = 0, committed = 0, aborted = 0, log_state_reads = 0;
};

// The engine with NotifyCommitted in reach, as a PostgresStore's listener has it.
class ListeningEngine : public TxnEngine {
 public:
  using TxnEngine::NotifyCommitted;
  using TxnEngine::TxnEngine;
};

struct Fixture {
  Fixture() {
    auto owned = std::make_unique<ScriptedBackend>();
    backend = owned.get();
    engine = std::make_unique<ListeningEngine>(std::move(owned), EngineOptions{});
  }
  ScriptedBackend* backend;
  std::unique_ptr<ListeningEngine> engine;
};

// Verify that an exception thrown between BeginWrite and CommitWrite aborts
// the write (no transaction is left open to block every later writer) and
// reaches the caller, and that the next commit goes through.
TEST(TxnEngineTest, ExceptionDuringAWriteAbortsIt) {
  Fixture f;
  f.backend->throw_on_write = true;
  EXPECT_THROW((void)f.engine->Commit(Txn().Put(MakeApp("a"), kMustNotExist)), std::runtime_error);
  EXPECT_EQ(f.backend->begun, 1);
  EXPECT_EQ(f.backend->aborted, 1);
  EXPECT_FALSE(f.backend->open);
  f.backend->throw_on_write = false;
  EXPECT_EQ(f.engine->Commit(Txn().Put(MakeApp("a"), kMustNotExist)).value_or(-1), 1);
  EXPECT_EQ(f.backend->committed, 1);
  EXPECT_EQ(f.backend->aborted, 1);
}

// Verify that an exception from BeginWrite after it began the transaction
// aborts it too, and that the next commit goes through.
TEST(TxnEngineTest, ExceptionFromBeginWriteAbortsIt) {
  Fixture f;
  f.backend->throw_on_begin = true;
  EXPECT_THROW((void)f.engine->Commit(Txn().Put(MakeApp("a"), kMustNotExist)), std::runtime_error);
  EXPECT_EQ(f.backend->aborted, 1);
  EXPECT_FALSE(f.backend->open);
  f.backend->throw_on_begin = false;
  EXPECT_EQ(f.engine->Commit(Txn().Put(MakeApp("a"), kMustNotExist)).value_or(-1), 1);
  EXPECT_EQ(f.backend->aborted, 1);
}

// Verify that a commit takes its revision from the log state BeginWrite read,
// not from what this engine last wrote or read: another server committed
// meanwhile.
TEST(TxnEngineTest, RevisionComesFromTheWritesLogState) {
  Fixture f;
  EXPECT_EQ(f.engine->Commit(Txn().Put(MakeApp("a"), kMustNotExist)).value_or(-1), 1);
  f.backend->state.revision = 41;  // others committed 2..41
  EXPECT_EQ(f.engine->Commit(Txn().Put(MakeApp("b"), kMustNotExist)).value_or(-1), 42);
  EXPECT_EQ(f.engine->Revision(), 42);
}

// Verify that Revision() does no I/O (it is called on the API's event loop,
// where a database that is down would stall every request): it answers the
// newest revision the engine has seen, from its open, its commits and
// NotifyCommitted.
TEST(TxnEngineTest, RevisionIsTheNewestSeenWithoutIo) {
  Fixture f;
  f.backend->state.revision = 7;  // others committed after the open
  const int reads = f.backend->log_state_reads;
  EXPECT_EQ(f.engine->Revision(), 0);
  f.engine->NotifyCommitted(9);
  EXPECT_EQ(f.engine->Revision(), 9);
  f.engine->NotifyCommitted(8);
  EXPECT_EQ(f.engine->Revision(), 9);
  EXPECT_EQ(f.backend->log_state_reads, reads);
}

// Verify that ChangesSince never hands out a log with a hole (another server
// compacted between the reads): kFailedPrecondition, so the reader re-lists.
TEST(TxnEngineTest, ChangesWithAHoleAreFailedPrecondition) {
  Fixture f;
  f.backend->state.revision = 5;
  f.backend->changes = {Change{3, false, MakeApp("a")}, Change{4, false, MakeApp("b")}};
  auto gap_first = f.engine->ChangesSince(1, 10);
  ASSERT_FALSE(gap_first.has_value());
  EXPECT_EQ(gap_first.error().code, ErrorCode::kFailedPrecondition);
  f.backend->changes = {Change{2, false, MakeApp("a")}, Change{4, false, MakeApp("b")}};
  auto gap_inside = f.engine->ChangesSince(1, 10);
  ASSERT_FALSE(gap_inside.has_value());
  EXPECT_EQ(gap_inside.error().code, ErrorCode::kFailedPrecondition);
  f.backend->changes = {Change{2, false, MakeApp("a")}, Change{3, false, MakeApp("b")}};
  auto whole = f.engine->ChangesSince(1, 10);
  ASSERT_TRUE(whole.has_value()) << whole.error().ToString();
  EXPECT_EQ(whole->size(), 2u);
}

// Verify that subscribers hear once of each revision whoever tells it: the
// committing thread of this engine's commits, NotifyCommitted of others',
// and never of one they were told already.
TEST(TxnEngineTest, NotifyCommittedTellsOnlyNews) {
  Fixture f;
  std::vector<int64_t> seen;
  auto sub = f.engine->Subscribe([&](int64_t r) { seen.push_back(r); });
  EXPECT_EQ(f.engine->Commit(Txn().Put(MakeApp("a"), kMustNotExist)).value_or(-1), 1);
  f.engine->NotifyCommitted(1);  // the listener read our own commit back
  f.engine->NotifyCommitted(7);  // another server's
  f.engine->NotifyCommitted(7);  // the safety interval read it again
  f.engine->NotifyCommitted(5);  // older than told
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 7}));
  EXPECT_EQ(f.engine->Revision(), 7);  // the newest known, though this backend lags
}

// Verify that a txn of records and audit entries alone ends its write with
// the log state it began with (a backend tells nobody of it), tells no
// subscriber, returns the current revision, and hands its audit entry over
// with revision 0 and its time to the millisecond.
TEST(TxnEngineTest, RecordOnlyTxnLeavesTheLogState) {
  Fixture f;
  f.backend->state = LogState{.revision = 5, .compacted = 0, .events = 2};
  std::vector<int64_t> seen;
  auto sub = f.engine->Subscribe([&](int64_t r) { seen.push_back(r); });
  const Time t = Time(std::chrono::seconds(100)) + std::chrono::microseconds(1'999);
  auto r = f.engine->Commit(Txn()
                                .PutRecord(RecordKind::kProject, "p", "v")
                                .Audit(AuditEntry{.time = t, .who = "alice", .revision = 9}));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(*r, 5);
  EXPECT_EQ(f.backend->committed, 1);
  EXPECT_EQ(f.backend->state, (LogState{.revision = 5, .compacted = 0, .events = 2}));
  EXPECT_TRUE(seen.empty());
  ASSERT_EQ(f.backend->appended.size(), 1u);
  EXPECT_EQ(f.backend->appended[0].revision, 0);
  EXPECT_EQ(f.backend->appended[0].time,
            Time(std::chrono::seconds(100)) + std::chrono::milliseconds(1));
}

// Verify that an audit entry of a txn with object ops takes the txn's last
// revision.
TEST(TxnEngineTest, AuditEntryTakesTheLastRevision) {
  Fixture f;
  f.backend->state.revision = 10;
  auto r = f.engine->Commit(
      Txn().Put(MakeApp("a"), kMustNotExist).Put(MakeApp("b"), kMustNotExist).Audit(AuditEntry{}));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(*r, 12);
  ASSERT_EQ(f.backend->appended.size(), 1u);
  EXPECT_EQ(f.backend->appended[0].revision, 12);
}

// Verify that the audit trail's time bounds reach the backend rounded up to a
// whole millisecond (stored times are whole milliseconds, so "t >= since" and
// "t < before" mean the same), and an unset since stays unset.
TEST(TxnEngineTest, AuditBoundsAreRoundedUp) {
  Fixture f;
  const Time t = Time(std::chrono::seconds(100)) + std::chrono::microseconds(1);
  ASSERT_TRUE(f.engine->ListAudit({.since = t}).has_value());
  ASSERT_TRUE(f.engine->ListAudit({}).has_value());
  ASSERT_TRUE(f.engine->PruneAudit(t).has_value());
  const Time up = Time(std::chrono::seconds(100)) + std::chrono::milliseconds(1);
  ASSERT_EQ(f.backend->audit_filters.size(), 2u);
  EXPECT_EQ(f.backend->audit_filters[0].since, up);
  EXPECT_EQ(f.backend->audit_filters[1].since, Time{});
  EXPECT_EQ(f.backend->prune_bounds, std::vector<Time>{up});
}

}  // namespace
}  // namespace skiff::store
