// End-to-end with the real Prometheus (Debian's prometheus package;
// scripts/setup.sh installs it): it scrapes a Skiff server's /metrics on
// loopback, and Skiff's series are read back through Prometheus's HTTP API.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "net/http_client.h"

namespace skiff::testing {
namespace {

using std::chrono::seconds;

constexpr char kPrometheusBinary[] = "/usr/bin/prometheus";

// A Prometheus of its own: a temp TSDB, a config scraping `target` every
// second, its web API on a free loopback port.
class PrometheusProcess {
 public:
  explicit PrometheusProcess(const std::string& target) {
    addr_ = "127.0.0.1:" + std::to_string(FreePort());
    const std::string config = dir_.File("prometheus.yml");
    std::ofstream(config) << "global:\n"
                             "  scrape_interval: 1s\n"
                             "  evaluation_interval: 1s\n"
                             "scrape_configs:\n"
                             "  - job_name: skiff\n"
                             "    scrape_interval: 1s\n"
                             "    scrape_timeout: 900ms\n"
                             "    static_configs:\n"
                             "      - targets: ['"
                          << target << "']\n";
    process_ = std::make_unique<Subprocess>(
        std::vector<std::string>{kPrometheusBinary, "--config.file=" + config,
                                 "--storage.tsdb.path=" + dir_.File("tsdb"),
                                 "--web.listen-address=" + addr_, "--log.level=warn"},
        std::map<std::string, std::string>{}, dir_.File("prometheus.log"));
  }

  bool Running() { return process_->Running(); }
  std::string Output() const { return process_->Output(); }

  // The instant vector of `query` ("result" of /api/v1/query); null while
  // Prometheus does not answer or the query fails.
  boost::json::value Query(const std::string& query) const {
    std::string encoded;
    for (unsigned char c : query) {
      if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
        encoded += static_cast<char>(c);
      } else {
        char hex[4];
        std::snprintf(hex, sizeof(hex), "%%%02X", c);
        encoded += hex;
      }
    }
    auto r = net::HttpClient("http://" + addr_)
                 .Do("GET", "/api/v1/query?query=" + encoded, {}, {}, seconds(2));
    if (!r || r->status != 200) return nullptr;
    boost::system::error_code ec;
    boost::json::value body = boost::json::parse(r->body, ec);
    if (ec || !body.is_object()) return nullptr;
    const boost::json::value* result = body.get_object().if_contains("data");
    if (result == nullptr || !result->is_object()) return nullptr;
    result = result->get_object().if_contains("result");
    return result != nullptr ? *result : nullptr;
  }

  // The value of the first series of `query` ("" when it has none).
  std::string FirstValue(const std::string& query) const {
    boost::json::value result = Query(query);
    if (!result.is_array() || result.get_array().empty()) return "";
    const boost::json::value& value = result.get_array()[0].at("value");
    return std::string(value.at(1).as_string());
  }

 private:
  TempDir dir_;
  std::string addr_;
  std::unique_ptr<Subprocess> process_;
};

// Verify that the real Prometheus scrapes Skiff's /metrics (the no-token
// --metrics-listen) and answers Skiff's series back: the count of apps, the
// edge's requests of the app, and the app's instance's working set.
TEST(PrometheusE2eTest, PrometheusScrapesSkiffAndAnswersItsSeries) {
  if (access(kPrometheusBinary, X_OK) != 0) {
    if (InCi()) FAIL() << "no " << kPrometheusBinary << ": scripts/setup.sh installs prometheus";
    GTEST_SKIP() << "no " << kPrometheusBinary << " (Debian package prometheus)";
  }
  SkiffServer server;
  const std::string metrics = "127.0.0.1:" + std::to_string(FreePort());
  server.AddArgs({"--metrics-listen", metrics, "--sample-interval", "1s"});
  ASSERT_TRUE(server.Start());
  CommandResult applied = server.Skiff(
      {"apply", "-f", server.WriteFile("web.yaml", TestAppSpec("web", 1, "[web.example.test]"))});
  ASSERT_EQ(applied.exit_code, 0) << applied.output << "\nserver:\n" << server.Output();
  net::HttpClient edge("http://" + server.edge_addr());
  auto served = [&] {
    auto r = edge.Do("GET", "/", {}, {{"Host", "web.example.test"}}, seconds(2));
    return r && r->status == 200;
  };
  ASSERT_TRUE(PollUntil(served, seconds(20))) << server.Output();
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(served());

  PrometheusProcess prometheus(metrics);
  std::string apps;
  std::string requests;
  std::string working_set;
  const bool scraped = PollUntil(
      [&] {
        if (!prometheus.Running()) return true;  // said below
        apps = prometheus.FirstValue("skiff_apps");
        requests =
            prometheus.FirstValue("sum(skiff_edge_requests_total{app=\"web\",code=\"2xx\"})");
        working_set = prometheus.FirstValue(
            "skiff_instance_memory_working_set_bytes{app=\"web\",instance_id!=\"\"}");
        return apps == "1" && !requests.empty() && std::stod(requests) >= 10 &&
               !working_set.empty() && std::stod(working_set) > 0;
      },
      seconds(60), std::chrono::milliseconds(200));
  ASSERT_TRUE(prometheus.Running()) << "prometheus did not start:\n" << prometheus.Output();
  EXPECT_TRUE(scraped) << "skiff_apps=" << apps << " requests=" << requests
                       << " working_set=" << working_set << "\nprometheus:\n"
                       << prometheus.Output();
  EXPECT_EQ(prometheus.FirstValue("up{job=\"skiff\"}"), "1");
}

}  // namespace
}  // namespace skiff::testing
