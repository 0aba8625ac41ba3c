// The ApiServer behind the real net::HttpServer: the adapter, streaming and
// authentication over a socket (port 0, loopback).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "api/api_server.h"
#include "fakes/testing.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/test_util.h"
#include "store/memory/memory_store.h"

namespace skiff::api {
namespace {

using ::testing::HasSubstr;

constexpr const char* kHttpToken = "tok-123";
constexpr const char* kHttpHelloJson = R"({"name":"hello","run":{"command":["sleep","100"]}})";

// A memory store whose change log and events can be made unreachable, as a
// database's are while it restarts.
class FlakyStore : public store::MemoryStore {
 public:
  std::atomic<bool> unreachable{false};

  Result<std::vector<store::Change>> ChangesSince(int64_t since, size_t limit) const override {
    if (unreachable) return Unavailable("the database is restarting");
    return MemoryStore::ChangesSince(since, limit);
  }
  Result<std::vector<model::Event>> ListEvents(const store::EventFilter& filter) const override {
    if (unreachable) return Unavailable("the database is restarting");
    return MemoryStore::ListEvents(filter);
  }
};

class ApiHttpTest : public ::testing::Test {
 protected:
  ApiHttpTest() : apps_(&store_, &clock_), auth_({kHttpToken}) {
    ApiDeps deps;
    deps.store = &store_;
    deps.apps = &apps_;
    deps.auth = &auth_;
    deps.log_dir = dir_.path();
    api_ = std::make_unique<ApiServer>(std::move(deps));
    server_ = std::make_unique<net::HttpServer>(
        io_.io(),
        [this](const net::HttpRequest& r, net::ResponseWriter& w) { return api_->Handle(r, w); });
    auto listened = server_->Listen("127.0.0.1:0");
    EXPECT_TRUE(listened) << listened.error().ToString();
    client_ =
        std::make_unique<net::HttpClient>("http://127.0.0.1:" + std::to_string(server_->port()));
  }
  ~ApiHttpTest() override { server_->Stop(); }

  net::HttpHeaders Auth() const { return {{"Authorization", std::string("Bearer ") + kHttpToken}}; }

  skiff::testing::TempDir dir_;
  ManualClock clock_;
  FlakyStore store_;
  controller::AppService apps_;
  TokenAuthenticator auth_;
  std::unique_ptr<ApiServer> api_;
  // Enough threads for requests to run their handlers at the same time.
  net::testing::IoThreads io_{8};
  std::unique_ptr<net::HttpServer> server_;
  std::unique_ptr<net::HttpClient> client_;
};

// Verify that apply over HTTP is 201 with a token and 401 without one.
TEST_F(ApiHttpTest, ApplyOverHttp) {
  auto refused = client_->Do("PUT", "/v1/apps/hello", kHttpHelloJson);
  ASSERT_TRUE(refused) << refused.error().ToString();
  EXPECT_EQ(refused->status, 401);
  EXPECT_THAT(std::string(refused->Header("WWW-Authenticate")), HasSubstr("Bearer"));
  auto applied = client_->Do("PUT", "/v1/apps/hello", kHttpHelloJson, Auth());
  ASSERT_TRUE(applied);
  EXPECT_EQ(applied->status, 201) << applied->body;
  auto health = client_->Do("GET", "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// Verify that a watch streams a change committed while it is open, as one NDJSON line.
TEST_F(ApiHttpTest, WatchStreamsLiveChange) {
  int64_t since = store_.Revision();
  std::promise<std::string> seen;
  std::thread watcher([&] {
    std::string received;
    auto status = client_->Stream(
        "GET", "/v1/watch?since=" + std::to_string(since), Auth(),
        [&](std::string_view chunk) {
          received.append(chunk);
          return received.find("\"kind\":\"app\"") == std::string::npos;
        },
        std::chrono::seconds(20));
    seen.set_value(status ? received : status.error().ToString());
  });
  auto applied = client_->Do("PUT", "/v1/apps/hello", kHttpHelloJson, Auth());
  ASSERT_TRUE(applied);
  auto result = seen.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  watcher.join();
  std::string received = result.get();
  EXPECT_THAT(received, HasSubstr("\"kind\":\"app\""));
  EXPECT_THAT(received, HasSubstr("\"deleted\":false"));
}

// Verify that following events streams NDJSON lines over HTTP.
TEST_F(ApiHttpTest, EventsFollowOverHttp) {
  ASSERT_TRUE(client_->Do("PUT", "/v1/apps/hello", kHttpHelloJson, Auth()));
  std::string received;
  auto status = client_->Stream(
      "GET", "/v1/events?follow=true", Auth(),
      [&](std::string_view chunk) {
        received.append(chunk);
        return received.find('\n') == std::string::npos;
      },
      std::chrono::seconds(20));
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_THAT(received, HasSubstr("\"app\":\"hello\""));
}

// Verify that a followed stream ends within a few seconds of its client
// closing the connection while it has nothing to send: with nothing committed
// (it waits for a commit) and with the store unreachable (it waits to ask
// again). Before, it ran on, holding its store subscription, until something
// was written.
TEST_F(ApiHttpTest, StreamEndsSoonAfterClientCloses) {
  for (const bool unreachable : {false, true}) {
    for (const std::string target : {"/v1/watch", "/v1/events?follow=true"}) {
      SCOPED_TRACE(target + (unreachable ? " (store unreachable)" : " (nothing committed)"));
      store_.unreachable = false;
      const int fd = skiff::testing::ConnectLoopback(server_->port());
      ASSERT_GE(fd, 0);
      const std::string request = "GET " + target +
                                  " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kHttpToken +
                                  "\r\n\r\n";
      ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(request.size()));
      std::string head;
      char buffer[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        head.append(buffer, static_cast<size_t>(n));
      }
      EXPECT_THAT(head, ::testing::StartsWith("HTTP/1.1 200"));
      store_.unreachable = unreachable;
      ::close(fd);
      EXPECT_TRUE(skiff::testing::PollUntil([&] { return server_->connection_count() == 0; },
                                            std::chrono::seconds(5)));
    }
  }
  store_.unreachable = false;
}

// Verify that of 50 apps applied at once, all claiming one domain, exactly one
// is created (201) and every other is refused with 409 naming domains[0] in the
// error's field and message; the routes the edges get name the winner.
TEST_F(ApiHttpTest, ConcurrentClaimsOfOneDomainHaveOneWinner) {
  constexpr int kApps = 50;
  constexpr const char* kDomain = "claimed.example.test";
  std::vector<Result<net::HttpResponse>> replies(kApps);
  std::vector<std::thread> threads;
  for (int i = 0; i < kApps; ++i) {
    threads.emplace_back([&, i] {
      const std::string name = "claim" + std::to_string(i);
      const std::string spec = R"({"name":")" + name + R"(","run":{"command":["sleep","100"]},)" +
                               R"("domains":[")" + kDomain + R"("]})";
      net::HttpClient client("http://127.0.0.1:" + std::to_string(server_->port()));
      replies[i] = client.Do("PUT", "/v1/apps/" + name, spec, Auth());
    });
  }
  for (auto& t : threads) t.join();

  std::vector<std::string> winners;
  int refused = 0;
  for (int i = 0; i < kApps; ++i) {
    ASSERT_TRUE(replies[i]) << replies[i].error().ToString();
    if (replies[i]->status == 201) {
      winners.push_back("claim" + std::to_string(i));
      continue;
    }
    EXPECT_EQ(replies[i]->status, 409) << replies[i]->body;
    const boost::json::value body = boost::json::parse(replies[i]->body);
    const boost::json::value& error = body.at("error");
    EXPECT_EQ(error.at("code").as_string(), "already_exists");
    EXPECT_EQ(error.at("field").as_string(), "domains[0]");
    EXPECT_THAT(
        std::string(error.at("message").as_string()),
        HasSubstr(std::string("domains[0]: ") + kDomain + " is already served by app claim"));
    ++refused;
  }
  ASSERT_EQ(winners.size(), 1u) << ::testing::PrintToString(winners);
  EXPECT_EQ(refused, kApps - 1);
  EXPECT_EQ(store_.ListApps()->size(), 1u);

  auto routes = client_->Do("GET", "/v1/routes", {}, Auth());
  ASSERT_TRUE(routes) << routes.error().ToString();
  ASSERT_EQ(routes->status, 200) << routes->body;
  EXPECT_THAT(routes->body, HasSubstr("\"" + winners[0] + "\""));
  EXPECT_THAT(routes->body, HasSubstr(kDomain));
}

}  // namespace
}  // namespace skiff::api
