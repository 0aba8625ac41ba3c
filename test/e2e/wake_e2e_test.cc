// End-to-end scale to zero at the edge: a process app that sleeps is woken by
// a request through the server's own edge, and through a standalone
// `skiff edge`, and that request is answered by the woken instance.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "net/http_client.h"

namespace skiff::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The test app, asleep from the start: autoscaled from 0 with no count
// decided yet (replicas 0).
std::string WakeSleepingSpec(const std::string& name, const std::string& domain) {
  return TestAppSpec(name, 0, "[" + domain + "]") +
         "autoscale: {min: 0, max: 2, scale_to_zero: true}\n";
}

class WakeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }

  void ApplySleeping(const std::string& name, const std::string& domain) {
    CommandResult r =
        server_.Skiff({"apply", "--detach", "-f",
                       server_.WriteFile(name + ".yaml", WakeSleepingSpec(name, domain))});
    ASSERT_EQ(r.exit_code, 0) << r.output << "\nserver:\n" << server_.Output();
  }

  // The app's status.state as the API gives it ("" when it cannot be read).
  std::string State(const std::string& name) {
    auto r = server_.Api("GET", "/v1/apps/" + name);
    if (!r || r->status != 200) return "";
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r->body, ec);
    if (ec) return "";
    return std::string(v.at("status").at("state").as_string());
  }

  // GET / with this Host at `address`, waiting up to 30 s (a held request).
  static Result<net::HttpResponse> Get(const std::string& address, const std::string& host) {
    return net::HttpClient("http://" + address)
        .Do("GET", "/", {}, {{"Host", host}}, std::chrono::seconds(30));
  }

  std::string Events(const std::string& app) {
    return server_.Skiff({"events", "--app", app}).output;
  }

  SkiffServer server_;
};

// Verify that an app scaled to zero sleeps (status says so, no instance),
// that a request through the server's edge is held, wakes it and is answered
// 200 by the woken instance, and that the trail says app.waking.
TEST_F(WakeE2eTest, RequestThroughTheServersEdgeWakesTheApp) {
  ApplySleeping("web", "web.wake.test");
  ASSERT_TRUE(PollUntil([&] { return State("web") == "sleeping"; }, std::chrono::seconds(20)))
      << State("web");
  EXPECT_TRUE(Instances(server_, "web").empty());
  EXPECT_THAT(server_.Skiff({"status", "web"}).output, HasSubstr("sleeping"));

  auto r = Get(server_.edge_addr(), "web.wake.test");
  ASSERT_TRUE(r) << r.error().ToString() << "\nserver:\n" << server_.Output();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_THAT(r->body, StartsWith("hello from web-"));
  EXPECT_EQ(Instances(server_, "web").size(), 1u);
  EXPECT_THAT(Events("web"), HasSubstr("app.waking"));
  EXPECT_NE(State("web"), "sleeping");
}

// Verify that a standalone `skiff edge` holds a request for a sleeping app
// and asks the control plane, with its edge token, to wake it: the request is
// answered 200 and the wake names that edge.
TEST_F(WakeE2eTest, RequestThroughAStandaloneEdgeWakesTheApp) {
  ApplySleeping("api", "api.wake.test");
  ASSERT_TRUE(PollUntil([&] { return State("api") == "sleeping"; }, std::chrono::seconds(20)));
  auto made = server_.Api("POST", "/v1/tokens", R"({"name":"edge-w","role":"edge"})");
  ASSERT_TRUE(made && made->status == 201) << (made ? made->body : made.error().ToString());
  const std::string token(boost::json::parse(made->body).at("token").as_string());
  TempDir dir;
  int port = 0;
  const int probe = ListenLoopback(&port);  // a free port for the edge
  ASSERT_GE(probe, 0);
  close(probe);
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  Subprocess edge({SKIFF_BIN, "edge", "--server", "http://" + server_.addr(), "--listen", listen,
                   "--data", dir.File("edge"), "--name", "edge-w"},
                  std::map<std::string, std::string>{{"SKIFF_TOKEN", token}}, dir.File("edge.log"));

  // Until the edge has the routes it answers 404; from then on the request
  // is held until the app wakes.
  Result<net::HttpResponse> r = Unavailable("not asked yet");
  ASSERT_TRUE(PollUntil(
      [&] {
        r = Get(listen, "api.wake.test");
        return r && r->status != 404;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100)))
      << (r ? r->body : r.error().ToString()) << "\nedge:\n"
      << edge.Output();
  EXPECT_EQ(r->status, 200) << r->body << "\nedge:\n" << edge.Output();
  EXPECT_THAT(r->body, StartsWith("hello from api-"));
  EXPECT_THAT(Events("api"), HasSubstr("edge edge-w"));
}

}  // namespace
}  // namespace skiff::testing
