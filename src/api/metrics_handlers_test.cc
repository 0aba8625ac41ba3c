#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // g++ 12 false positive on Asio frames
#endif

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "api/api_server.h"
#include "api/fake_writer_test_util.h"
#include "common/quantity.h"
#include "metrics/rollup.h"
#include "model/spec_parse.h"
#include "store/memory/memory_metrics_history.h"
#include "store/memory/memory_store.h"

namespace skiff::api {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::FakeWriter;
using ::testing::HasSubstr;

constexpr const char* kMetricsToken = "metrics-token";

class MetricsHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = model::ParseAppSpec(R"({"name":"web","run":{"command":["sleep","100"]}})",
                                    model::SpecFormat::kJson);
    ASSERT_TRUE(spec);
    ASSERT_TRUE(apps_.Apply(*spec));
    ApiDeps deps;
    deps.store = &store_;
    deps.apps = &apps_;
    deps.clock = &clock_;
    deps.auth = &auth_;
    deps.live = &live_;
    deps.history = &history_;
    deps.metrics_retention = std::chrono::hours(24 * 30);
    deps.live_metrics_interval = std::chrono::milliseconds(1);
    deps.leadership = [this] { return controller::Leadership::State{.leading = leading_.load()}; };
    api_ = std::make_unique<ApiServer>(std::move(deps));
  }

  FakeWriter Get(const std::string& target, size_t max_chunks = 1000) {
    net::HttpRequest r;
    r.method = "GET";
    r.target = target;
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) {
      const std::string query = target.substr(q + 1);
      size_t i = 0;
      while (i < query.size()) {
        size_t amp = query.find('&', i);
        if (amp == std::string::npos) amp = query.size();
        const std::string kv = query.substr(i, amp - i);
        const size_t eq = kv.find('=');
        r.query[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
        i = amp + 1;
      }
    }
    r.remote_address = "127.0.0.1:50000";
    r.headers.emplace_back("Authorization", std::string("Bearer ") + kMetricsToken);
    FakeWriter w;
    w.max_chunks = max_chunks;
    testing::RunHandler([this](const net::HttpRequest& request,
                               FakeWriter& writer) { return api_->Handle(request, writer); },
                        r, w);
    return w;
  }

  // A stored minute of web `back` minutes before the current one.
  void StoreMinute(int back, uint64_t ok, uint64_t errors) {
    metrics::AppRollup r;
    r.app.minute = metrics::MinuteOf(clock_.Now()) - minutes(back);
    r.app.has_traffic = true;
    r.app.by_class[2] = ok;
    r.app.by_class[5] = errors;
    r.app.latency = {.bounds = {0.01, 0.1}, .counts = {ok, errors, 0}};
    r.app.instances = 1;
    r.app.resources_mean.cpu_millis = 120;
    r.instances.push_back(metrics::InstanceMinute{
        .minute = r.app.minute, .instance = "web-1", .samples = 2, .mean = {.cpu_millis = 120}});
    ASSERT_TRUE(history_.Append(metrics::ToRows({{"web", r}})));
  }

  // Mid-minute, so that the current minute is partial.
  ManualClock clock_{Time(seconds(1'700'000'040 + 30))};
  store::MemoryStore store_;
  controller::AppService apps_{&store_, &clock_};
  TokenAuthenticator auth_{{kMetricsToken}};
  metrics::LiveSeries live_{&clock_};
  store::MemoryMetricsHistory history_;
  std::atomic<bool> leading_{true};
  std::unique_ptr<ApiServer> api_;
};

// Verify that the series sums the stored minutes into steps, keeps steps
// without data as nulls, and adds the minute going on from memory.
TEST_F(MetricsHandlersTest, SeriesFromHistoryAndMemory) {
  StoreMinute(4, 60, 0);
  StoreMinute(3, 54, 6);
  metrics::TrafficSnapshot snapshot;
  snapshot.apps["web"].by_class[2] = 0;
  live_.RecordTraffic("e1", snapshot);
  clock_.Advance(seconds(5));
  snapshot.apps["web"].by_class[2] = 30;
  live_.RecordTraffic("e1", snapshot);

  FakeWriter w = Get("/v1/apps/web/metrics?since=6m&step=2m");
  ASSERT_EQ(w.status, 200) << w.body;
  boost::json::value json = w.Json();
  EXPECT_EQ(json.at("app"), "web");
  EXPECT_EQ(json.at("step"), 120);
  const boost::json::array& points = json.at("points").as_array();
  // From 6 minutes back (the minute started 6.5 m ago) to now: 4 steps.
  ASSERT_EQ(points.size(), 4u) << w.body;
  EXPECT_TRUE(points[0].at("requests_per_second").is_null()) << w.body;
  EXPECT_DOUBLE_EQ(points[1].at("requests_per_second").as_double(), 1.0) << w.body;
  EXPECT_DOUBLE_EQ(points[1].at("errors_per_second").as_double(), 0.05) << w.body;
  EXPECT_DOUBLE_EQ(points[1].at("cpu_millis").as_double(), 120) << w.body;
  EXPECT_TRUE(points[2].at("p95_ms").is_null()) << w.body;
  EXPECT_EQ(points[3].at("requests"), 30) << w.body;
  // The minute going on counts its 35 s so far, not a whole minute.
  EXPECT_DOUBLE_EQ(points[3].at("requests_per_second").as_double(), 30.0 / 35) << w.body;
  EXPECT_EQ(json.at("instances").at("web-1").as_array().size(), 4u) << w.body;
}

// Verify that each bad range or step is 400 invalid_argument naming the
// parameter, and an unknown app 404.
TEST_F(MetricsHandlersTest, BadRangesAndSteps) {
  const std::string future = FormatTime(clock_.Now() + minutes(10));
  const std::map<std::string, std::string> cases = {
      {"/v1/apps/web/metrics?since=yesterday", "since"},
      {"/v1/apps/web/metrics?until=" + future, "until"},
      {"/v1/apps/web/metrics?since=1h&until=2h", "since"},
      {"/v1/apps/web/metrics?since=40d", "since"},
      {"/v1/apps/web/metrics?step=30s", "step"},
      {"/v1/apps/web/metrics?step=90s", "step"},
      {"/v1/apps/web/metrics?step=often", "step"},
      {"/v1/apps/web/metrics?since=10d&step=1m", "step"},
  };
  for (const auto& [target, field] : cases) {
    FakeWriter w = Get(target);
    EXPECT_EQ(w.status, 400) << target << ": " << w.body;
    if (w.status != 400) continue;
    EXPECT_EQ(w.Json().at("error").at("code"), "invalid_argument") << target;
    EXPECT_EQ(std::string(w.Json().at("error").at("field").as_string()), field)
        << target << ": " << w.body;
  }
  EXPECT_EQ(Get("/v1/apps/nope/metrics").status, 404);
  EXPECT_EQ(Get("/v1/apps/nope/metrics/live", 1).status, 404);
}

// Verify that the default step keeps a long range to at most 300 points.
TEST_F(MetricsHandlersTest, DefaultStepBoundsPoints) {
  FakeWriter w = Get("/v1/apps/web/metrics?since=20h");
  ASSERT_EQ(w.status, 200) << w.body;
  EXPECT_EQ(w.Json().at("step"), 240);
  EXPECT_LE(w.Json().at("points").as_array().size(), 301u);
  FakeWriter plain = Get("/v1/apps/web/metrics");
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.Json().at("step"), 60);
}

// Verify that the live view is an event stream of the app's figures and
// instances, and that a server that does not lead refuses it with 503.
TEST_F(MetricsHandlersTest, LiveStream) {
  live_.RecordSample("web", "web-1", {.at = clock_.Now(), .cpu_millis = 250, .memory_bytes = 4096});
  FakeWriter w = Get("/v1/apps/web/metrics/live", 2);
  ASSERT_EQ(w.status, 200) << w.body;
  EXPECT_EQ(w.Header("Content-Type"), "text/event-stream");
  ASSERT_EQ(w.chunks.size(), 2u);
  const std::string& first = w.chunks[0];
  ASSERT_TRUE(first.starts_with("data: {")) << first;
  ASSERT_TRUE(first.ends_with("\n\n")) << first;
  boost::json::value event = boost::json::parse(first.substr(6));
  EXPECT_EQ(event.at("app"), "web");
  EXPECT_TRUE(event.at("requests_per_second").is_null());  // no edge reported it
  EXPECT_DOUBLE_EQ(event.at("cpu_millis").as_double(), 250);
  EXPECT_EQ(event.at("instances").at("web-1").at("memory_bytes"), 4096);

  leading_ = false;
  FakeWriter refused = Get("/v1/apps/web/metrics/live", 1);
  EXPECT_EQ(refused.status, 503);
  EXPECT_THAT(refused.body, HasSubstr("GET /v1/servers"));
}

}  // namespace
}  // namespace skiff::api
