#include "api/instance_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fakes/testing.h"
#include "store/memory/memory_store.h"

namespace skiff::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// What `promtool check metrics` (Debian's prometheus package) says of an
// exposition: "" when it passes; nullopt when there is no promtool.
std::optional<std::string> InstanceMetricsPromtool(const skiff::testing::TempDir& dir,
                                                   const std::string& exposition) {
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) return std::nullopt;
  std::ofstream(dir.File("metrics.prom")) << exposition;
  const std::string out = dir.File("promtool.out");
  const int rc = std::system(
      ("promtool check metrics < '" + dir.File("metrics.prom") + "' > '" + out + "' 2>&1").c_str());
  if (rc == 0) return "";
  std::stringstream text;
  text << std::ifstream(out).rdbuf();
  return "exit " + std::to_string(rc) + ": " + text.str();
}

class InstanceMetricsTest : public ::testing::Test {
 protected:
  InstanceMetricsTest() : snapshots_(&store_), nodes_(&store_, &clock_) {
    AddInstanceMetrics(&registry_, &snapshots_, &nodes_);
  }

  void Put(const std::string& id, model::InstanceState state, int restarts, int64_t version) {
    model::Instance i;
    i.id = id;
    i.app = "web";
    i.revision = 1;
    i.node = "n1";
    i.state = state;
    i.restarts = restarts;
    store::Txn txn;
    txn.Put(i, version);
    ASSERT_TRUE(store_.Commit(txn));
  }

  void Delete(const std::string& id) {
    auto i = store_.GetInstance(id);
    ASSERT_TRUE(i);
    store::Txn txn;
    txn.Delete(*i, i->version);
    ASSERT_TRUE(store_.Commit(txn));
  }

  int64_t Version(const std::string& id) { return store_.GetInstance(id)->version; }

  ManualClock clock_;
  store::MemoryStore store_;
  store::SharedSnapshotCache snapshots_;
  controller::NodeService nodes_;
  metrics::Registry registry_;
};

// Verify that live sampled instances get cpu, working set, limit and
// reservation series, every stored instance its restarts counter, that the
// series of an instance that stopped or is gone disappear, and that the
// exposition passes the real `promtool check metrics`.
TEST_F(InstanceMetricsTest, SeriesFollowInstancesAndPassPromtool) {
  Put("web-1", model::InstanceState::kRunning, 2, store::kMustNotExist);
  Put("web-2", model::InstanceState::kRunning, 0, store::kMustNotExist);
  nodes_.RecordSamples("n1", {{"web-1",
                               {.cpu_millis = 125,
                                .memory_bytes = 10 << 20,
                                .memory_limit_bytes = 64 << 20,
                                .cpu_reserved_millis = 250,
                                .memory_reserved_bytes = 64 << 20}},
                              {"web-2", {.cpu_millis = 5, .memory_bytes = 1 << 20}}});
  std::string text = registry_.Render();
  const std::string web1 = "{app=\"web\",instance_id=\"web-1\",node=\"n1\"}";
  const std::string web2 = "{app=\"web\",instance_id=\"web-2\",node=\"n1\"}";
  EXPECT_THAT(text, HasSubstr("# TYPE skiff_instance_cpu_millicores gauge\n"));
  EXPECT_THAT(text, HasSubstr("skiff_instance_cpu_millicores" + web1 + " 125\n"));
  EXPECT_THAT(text, HasSubstr("skiff_instance_memory_working_set_bytes" + web1 + " 10485760\n"));
  EXPECT_THAT(text, HasSubstr("skiff_instance_memory_limit_bytes" + web1 + " 67108864\n"));
  EXPECT_THAT(text, HasSubstr("skiff_instance_cpu_reserved_millicores" + web1 + " 250\n"));
  EXPECT_THAT(text, HasSubstr("skiff_instance_memory_reserved_bytes" + web1 + " 67108864\n"));
  EXPECT_THAT(text, HasSubstr("skiff_instance_memory_limit_bytes" + web2 + " 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE skiff_instance_restarts_total counter\n"));
  EXPECT_THAT(text, HasSubstr("skiff_instance_restarts_total" + web1 + " 2\n"));
  EXPECT_THAT(text, HasSubstr("skiff_instance_restarts_total" + web2 + " 0\n"));

  skiff::testing::TempDir dir;
  auto complaints = InstanceMetricsPromtool(dir, text);
  if (!complaints) {
    if (skiff::testing::InCi()) FAIL() << "no promtool: scripts/setup.sh installs prometheus";
  } else {
    EXPECT_EQ(*complaints, "") << text;
  }

  // web-1 restarts again; web-2 stops, then is deleted.
  Put("web-1", model::InstanceState::kRunning, 3, Version("web-1"));
  Put("web-2", model::InstanceState::kStopped, 0, Version("web-2"));
  text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("skiff_instance_restarts_total" + web1 + " 3\n"));
  EXPECT_THAT(text, Not(HasSubstr("skiff_instance_cpu_millicores" + web2)));
  EXPECT_THAT(text, HasSubstr("skiff_instance_restarts_total" + web2 + " 0\n"));
  Delete("web-2");
  // The node's next batch no longer has web-1 either: its gauges go, its count stays.
  nodes_.RecordSamples("n1", {});
  text = registry_.Render();
  EXPECT_THAT(text, Not(HasSubstr(web2)));
  EXPECT_THAT(text, Not(HasSubstr("skiff_instance_cpu_millicores" + web1)));
  EXPECT_THAT(text, HasSubstr("skiff_instance_restarts_total" + web1 + " 3\n"));
  if (complaints) {
    EXPECT_EQ(InstanceMetricsPromtool(dir, text), "") << text;
  }
}

}  // namespace
}  // namespace skiff::api
