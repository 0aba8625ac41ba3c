// The MetricsHistory contract (store/metrics_history.h), run against every
// implementation.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fakes/postgres_server.h"
#include "fakes/testing.h"
#include "store/memory/memory_metrics_history.h"
#include "store/metrics_history.h"
#include "store/postgres/postgres_metrics_history.h"
#include "store/sqlite/sqlite_metrics_history.h"
#include "store/sqlite/sqlite_store.h"

namespace skiff::store {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// Owns a history and what it needs to live.
class HistoryHarness {
 public:
  virtual ~HistoryHarness() = default;
  virtual MetricsHistory* history() = 0;  // null when it did not open
  // Why it cannot be had here (no PostgreSQL installed); "" when it can.
  virtual std::string missing() const { return ""; }
  // Another history on the same database (null: none to share).
  virtual std::unique_ptr<MetricsHistory> OpenAnother() { return nullptr; }
};

class MemoryHistoryHarness final : public HistoryHarness {
 public:
  MetricsHistory* history() override { return &history_; }

 private:
  MemoryMetricsHistory history_;
};

class SqliteHistoryHarness final : public HistoryHarness {
 public:
  SqliteHistoryHarness() {
    // Beside the store's own tables, as in the server's data directory.
    auto store = SqliteStore::Open(dir_.File("skiff.db"));
    EXPECT_TRUE(store) << store.error().ToString();
    if (store) store_ = std::move(*store);
    history_ = OpenAnotherSqlite();
  }
  MetricsHistory* history() override { return history_.get(); }
  std::unique_ptr<MetricsHistory> OpenAnother() override { return OpenAnotherSqlite(); }
  Store* store() { return store_.get(); }

 private:
  std::unique_ptr<MetricsHistory> OpenAnotherSqlite() {
    auto opened = SqliteMetricsHistory::Open(dir_.File("skiff.db"));
    EXPECT_TRUE(opened) << opened.error().ToString();
    return opened ? std::unique_ptr<MetricsHistory>(std::move(*opened)) : nullptr;
  }
  skiff::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<MetricsHistory> history_;
};

class PostgresHistoryHarness final : public HistoryHarness {
 public:
  PostgresHistoryHarness() {
    skiff::testing::PostgresServer* server = skiff::testing::PostgresServer::Shared(&missing_);
    if (server == nullptr) return;
    auto database = server->CreateDatabase();
    if (!database) {
      ADD_FAILURE() << database.error().ToString();
      return;
    }
    conninfo_ = *database;
    history_ = OpenAnother();
  }
  MetricsHistory* history() override { return history_.get(); }
  std::string missing() const override { return missing_; }
  std::unique_ptr<MetricsHistory> OpenAnother() override {
    auto opened = PostgresMetricsHistory::Open(conninfo_);
    EXPECT_TRUE(opened) << opened.error().ToString();
    return opened ? std::unique_ptr<MetricsHistory>(std::move(*opened)) : nullptr;
  }

 private:
  std::string missing_;
  std::string conninfo_;
  std::unique_ptr<MetricsHistory> history_;
};

struct HistoryFactory {
  std::string name;
  std::function<std::unique_ptr<HistoryHarness>()> make;
};
void PrintTo(const HistoryFactory& factory, std::ostream* os) { *os << factory.name; }

class MetricsHistoryContractTest : public ::testing::TestWithParam<HistoryFactory> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    if (const std::string missing = harness_->missing(); !missing.empty()) {
      if (skiff::testing::InCi()) FAIL() << "no PostgreSQL: " << missing;
      GTEST_SKIP() << "no PostgreSQL: " << missing;
    }
    ASSERT_NE(harness_->history(), nullptr) << "the history did not open";
  }
  MetricsHistory& history() { return *harness_->history(); }

  std::unique_ptr<HistoryHarness> harness_;
};

const Time kHistoryT0{seconds(1'700'000'040)};  // a whole minute

MetricsRow Row(const std::string& app, const std::string& instance, int minute,
               const std::string& data) {
  return MetricsRow{
      .app = app, .instance = instance, .minute = kHistoryT0 + minutes(minute), .data = data};
}

// Verify that appended rows read back by app and range, ordered by minute then
// instance, the range's end left out.
TEST_P(MetricsHistoryContractTest, AppendThenQuery) {
  ASSERT_TRUE(history().Append({Row("web", "web-b", 1, "b1"), Row("web", "", 1, "a1"),
                                Row("web", "web-a", 1, "i1"), Row("web", "", 0, "a0"),
                                Row("api", "", 0, "x0"), Row("web", "", 2, "a2")}));
  auto rows = history().Query("web", kHistoryT0, kHistoryT0 + minutes(2));
  ASSERT_TRUE(rows) << rows.error().ToString();
  EXPECT_EQ(*rows,
            (std::vector<MetricsRow>{Row("web", "", 0, "a0"), Row("web", "", 1, "a1"),
                                     Row("web", "web-a", 1, "i1"), Row("web", "web-b", 1, "b1")}));
  auto none = history().Query("nope", kHistoryT0, kHistoryT0 + minutes(10));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// Verify that bounds within a second are honoured exactly: a row at the start
// is in, one at the end is out, one just before the end is in.
TEST_P(MetricsHistoryContractTest, BoundsWithinSeconds) {
  ASSERT_TRUE(history().Append({Row("web", "", 0, "a0"), Row("web", "", 1, "a1")}));
  auto rows = history().Query("web", kHistoryT0 + std::chrono::milliseconds(1),
                              kHistoryT0 + minutes(1) + std::chrono::milliseconds(1));
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, (std::vector<MetricsRow>{Row("web", "", 1, "a1")}));
}

// Verify that a minute written again replaces the kept one (a retried write).
TEST_P(MetricsHistoryContractTest, AppendAgainReplaces) {
  ASSERT_TRUE(history().Append({Row("web", "", 0, "first")}));
  ASSERT_TRUE(history().Append({Row("web", "", 0, "second")}));
  auto rows = history().Query("web", kHistoryT0, kHistoryT0 + minutes(1));
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, (std::vector<MetricsRow>{Row("web", "", 0, "second")}));
}

// Verify that a batch with a row without an app is refused whole.
TEST_P(MetricsHistoryContractTest, AppendRefusesRowWithoutApp) {
  auto appended = history().Append({Row("web", "", 0, "a0"), Row("", "", 0, "x")});
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, ErrorCode::kInvalidArgument);
  auto rows = history().Query("web", kHistoryT0, kHistoryT0 + minutes(1));
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());
}

// Verify that Prune drops the rows before its time, of every app, and says
// how many.
TEST_P(MetricsHistoryContractTest, PruneDropsOlderRows) {
  ASSERT_TRUE(history().Append({Row("web", "", 0, "a0"), Row("web", "web-a", 0, "i0"),
                                Row("api", "", 1, "x1"), Row("web", "", 2, "a2")}));
  auto pruned = history().Prune(kHistoryT0 + minutes(2));
  ASSERT_TRUE(pruned) << pruned.error().ToString();
  EXPECT_EQ(*pruned, 3);
  auto rows = history().Query("web", kHistoryT0, kHistoryT0 + minutes(5));
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, (std::vector<MetricsRow>{Row("web", "", 2, "a2")}));
}

// Verify that what one opening wrote, another opening of the same database
// reads (a restarted server, another server of a shared database).
TEST_P(MetricsHistoryContractTest, AnotherOpeningReads) {
  ASSERT_TRUE(history().Append({Row("web", "", 0, "a0")}));
  std::unique_ptr<MetricsHistory> other = harness_->OpenAnother();
  if (other == nullptr) return;  // memory: no database to share
  auto rows = other->Query("web", kHistoryT0, kHistoryT0 + minutes(1));
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, (std::vector<MetricsRow>{Row("web", "", 0, "a0")}));
}

INSTANTIATE_TEST_SUITE_P(
    AllHistories, MetricsHistoryContractTest,
    ::testing::Values(
        HistoryFactory{"Memory", [] { return std::make_unique<MemoryHistoryHarness>(); }},
        HistoryFactory{"Sqlite", [] { return std::make_unique<SqliteHistoryHarness>(); }},
        HistoryFactory{"Postgres", [] { return std::make_unique<PostgresHistoryHarness>(); }}),
    [](const ::testing::TestParamInfo<HistoryFactory>& info) { return info.param.name; });

// Verify that the SQLite history's rows are no change of the store: its
// revision stays where it was.
TEST(SqliteMetricsHistoryTest, WritesBumpNoRevision) {
  SqliteHistoryHarness harness;
  ASSERT_NE(harness.history(), nullptr);
  ASSERT_NE(harness.store(), nullptr);
  const int64_t before = harness.store()->Revision();
  ASSERT_TRUE(harness.history()->Append({Row("web", "", 0, "a0")}));
  EXPECT_EQ(harness.store()->Revision(), before);
}

}  // namespace
}  // namespace skiff::store
