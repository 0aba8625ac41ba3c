#include "cli/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <deque>
#include <sstream>

namespace skiff::cli {
namespace {

using ::testing::HasSubstr;

// Parses argv (without the program name) into an Invocation.
Invocation Parse(std::vector<std::string> args) {
  CLI::App app{"test"};
  Invocation inv;
  AddClientCommands(app, &inv);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  app.parse(reversed);  // CLI11 takes a vector in reverse order
  return inv;
}

// Verify that apply parses -f and --detach, with the default address.
TEST(CliParseTest, Apply) {
  ::unsetenv("SKIFF_ADDR");
  Invocation inv = Parse({"apply", "-f", "app.yaml", "--detach"});
  EXPECT_EQ(inv.command, "apply");
  EXPECT_EQ(inv.file, "app.yaml");
  EXPECT_TRUE(inv.detach);
  EXPECT_EQ(inv.options.addr, kDefaultAddr);
  EXPECT_EQ(inv.options.output, "table");
}

// Verify that positional arguments and common options parse for scale, rollback and logs.
TEST(CliParseTest, PositionalsAndOptions) {
  Invocation scale = Parse({"scale", "hello", "3", "--addr", "http://127.0.0.1:9", "-o", "json"});
  EXPECT_EQ(scale.command, "scale");
  EXPECT_EQ(scale.app, "hello");
  EXPECT_EQ(scale.replicas, 3);
  EXPECT_EQ(scale.options.addr, "http://127.0.0.1:9");
  EXPECT_EQ(scale.options.output, "json");
  Invocation rollback = Parse({"rollback", "hello", "--to", "2"});
  EXPECT_EQ(rollback.to_revision, 2);
  Invocation logs = Parse({"logs", "hello", "-f", "--tail", "5"});
  EXPECT_TRUE(logs.follow);
  EXPECT_EQ(logs.tail, 5);
  Invocation events = Parse({"events", "--app", "web", "-f"});
  EXPECT_EQ(events.event_app, "web");
  EXPECT_TRUE(events.follow);
}

// Verify that SKIFF_ADDR and SKIFF_TOKEN are read from the environment.
TEST(CliParseTest, Environment) {
  ::setenv("SKIFF_ADDR", "http://127.0.0.5:7070", 1);
  ::setenv("SKIFF_TOKEN", "tok", 1);
  Invocation inv = Parse({"apps"});
  ::unsetenv("SKIFF_ADDR");
  ::unsetenv("SKIFF_TOKEN");
  EXPECT_EQ(inv.options.addr, "http://127.0.0.5:7070");
  EXPECT_EQ(inv.options.token, "tok");
}

// Verify that `nodes join-token` parses as its own command and `nodes` alone lists nodes.
TEST(CliParseTest, NodesJoinToken) {
  EXPECT_EQ(Parse({"nodes", "join-token", "--addr", "http://127.0.0.1:9"}).command,
            "nodes join-token");
  EXPECT_EQ(Parse({"nodes"}).command, "nodes");
}

// Verify that bad usage is a parse error: missing arguments, bad output, negative replicas.
TEST(CliParseTest, BadUsage) {
  EXPECT_THROW(Parse({"apply"}), CLI::ParseError);
  EXPECT_THROW(Parse({"scale", "hello"}), CLI::ParseError);
  EXPECT_THROW(Parse({"scale", "hello", "-1"}), CLI::ParseError);
  EXPECT_THROW(Parse({"apps", "-o", "yaml"}), CLI::ParseError);
}

// A scripted server: answers calls in order and records them.
class FakeTransport final : public Transport {
 public:
  struct Call {
    std::string method, path, body, content_type, auth;
  };
  std::vector<Call> calls;
  std::deque<Result<net::HttpResponse>> answers;
  std::string stream_body;

  Result<net::HttpResponse> Do(std::string_view method, std::string_view path,
                               std::string_view body, const net::HttpHeaders& headers) override {
    calls.push_back({std::string(method), std::string(path), std::string(body),
                     std::string(net::FindHeader(headers, "Content-Type")),
                     std::string(net::FindHeader(headers, "Authorization"))});
    if (answers.empty()) return Internal("no scripted answer");
    auto a = answers.front();
    answers.pop_front();
    return a;
  }
  Result<int> Stream(std::string_view path, const net::HttpHeaders&,
                     const std::function<bool(std::string_view)>& on_data) override {
    calls.push_back({"GET", std::string(path), "", "", ""});
    // Delivered in two pieces that split a line, as a network would.
    size_t half = stream_body.size() / 2;
    if (on_data(std::string_view(stream_body).substr(0, half))) {
      on_data(std::string_view(stream_body).substr(half));
    }
    return 200;
  }
  void Answer(int status, std::string body) {
    answers.push_back(net::HttpResponse{status, {{"Content-Type", "application/json"}}, body});
  }
};

class CliRunTest : public ::testing::Test {
 protected:
  int Run(const Invocation& inv) {
    RunEnv env;
    env.transport = &transport_;
    env.sleep = [](std::chrono::milliseconds) {};
    env.read_file = [this](const std::string&) { return file_; };
    return RunClientCommand(inv, out_, err_, env);
  }
  Invocation Inv(std::string command) {
    Invocation inv;
    inv.command = std::move(command);
    inv.options.token = "tok";
    return inv;
  }

  FakeTransport transport_;
  std::string file_;
  std::ostringstream out_;
  std::ostringstream err_;
};

// Verify that apply PUTs YAML under the spec's name and follows the rollout to healthy.
TEST_F(CliRunTest, ApplyFollowsToHealthy) {
  file_ = "name: hello\nrun: {command: [sleep, '1']}\nreplicas: 2\n";
  transport_.Answer(201, R"({"app":"hello","revision":3,"created":true})");
  transport_.Answer(200,
                    R"({"name":"hello","status":{"state":"progressing","desired":2,"healthy":1}})");
  transport_.Answer(200, R"({"deployments":[{"revision":3,"state":"progressing"}]})");
  transport_.Answer(200,
                    R"({"name":"hello","status":{"state":"healthy","desired":2,"healthy":2}})");
  transport_.Answer(200, R"({"deployments":[{"revision":3,"state":"healthy"}]})");
  Invocation inv = Inv("apply");
  inv.file = "hello.yaml";
  EXPECT_EQ(Run(inv), 0) << err_.str();
  ASSERT_FALSE(transport_.calls.empty());
  EXPECT_EQ(transport_.calls[0].method, "PUT");
  EXPECT_EQ(transport_.calls[0].path, "/v1/apps/hello");
  EXPECT_EQ(transport_.calls[0].content_type, "application/yaml");
  EXPECT_EQ(transport_.calls[0].auth, "Bearer tok");
  EXPECT_EQ(out_.str(),
            "hello: revision 3 created\n"
            "hello: 1/2 healthy (revision 3 progressing)\n"
            "hello: 2/2 healthy (revision 3 healthy)\n"
            "hello: revision 3 is healthy\n");
}

// Verify that apply exits 1 when the revision fails, with the deployment's message.
TEST_F(CliRunTest, ApplyFailed) {
  file_ = R"({"name":"hello","run":{"command":["false"]}})";
  transport_.Answer(201, R"({"app":"hello","revision":2,"created":true})");
  transport_.Answer(200, R"({"name":"hello","status":{"state":"failed","desired":1,"healthy":0}})");
  transport_.Answer(200,
                    R"({"deployments":[{"revision":2,"state":"failed","message":"crash loop"}]})");
  Invocation inv = Inv("apply");
  inv.file = "hello.json";
  EXPECT_EQ(Run(inv), 1);
  EXPECT_EQ(transport_.calls[0].content_type, "application/json");
  EXPECT_THAT(err_.str(), HasSubstr("hello: revision 2 failed: crash loop"));
}

// Verify that an unchanged apply (200) says so and does not follow.
TEST_F(CliRunTest, ApplyUnchanged) {
  file_ = "name: hello\n";
  transport_.Answer(200, R"({"app":"hello","revision":3,"created":false})");
  Invocation inv = Inv("apply");
  inv.file = "hello.yaml";
  EXPECT_EQ(Run(inv), 0);
  EXPECT_EQ(out_.str(), "hello: unchanged (revision 3)\n");
  EXPECT_EQ(transport_.calls.size(), 1u);
}

// Verify that an unreachable server gives the message that says what to do.
TEST_F(CliRunTest, UnreachableServer) {
  transport_.answers.push_back(Unavailable("cannot connect to 127.0.0.1:7070: connection refused"));
  Invocation inv = Inv("apps");
  EXPECT_EQ(Run(inv), 1);
  EXPECT_THAT(err_.str(), HasSubstr("cannot reach the Skiff server at http://127.0.0.1:7070"));
  EXPECT_THAT(err_.str(), HasSubstr("is `skiff server` running? set SKIFF_ADDR"));
}

// Verify that a refused token says to set SKIFF_TOKEN.
TEST_F(CliRunTest, RefusedToken) {
  transport_.Answer(401, R"({"error":{"code":"unauthenticated","message":"refused"}})");
  EXPECT_EQ(Run(Inv("apps")), 1);
  EXPECT_THAT(err_.str(), HasSubstr("401: the token was refused — set SKIFF_TOKEN or --token"));
}

// Verify that a server error shows its code, field and message.
TEST_F(CliRunTest, ServerErrorShowsField) {
  transport_.Answer(
      400, R"({"error":{"code":"invalid_argument","message":"must be >= 0","field":"replicas"}})");
  Invocation inv = Inv("scale");
  inv.app = "hello";
  inv.replicas = 1;
  EXPECT_EQ(Run(inv), 1);
  EXPECT_THAT(err_.str(), HasSubstr("invalid_argument: replicas: must be >= 0"));
  EXPECT_EQ(transport_.calls[0].body, R"({"replicas":1})");
}

// Verify that apps prints an aligned table.
TEST_F(CliRunTest, AppsTable) {
  transport_.Answer(200,
                    R"({"apps":[{"name":"hello","revision":3,"spec":{"domains":["hello.localhost"]},
      "status":{"state":"healthy","desired":2,"running":2,"healthy":2}}]})");
  EXPECT_EQ(Run(Inv("apps")), 0);
  EXPECT_EQ(out_.str(),
            "NAME   REVISION  STATE    DESIRED  RUNNING  HEALTHY  DOMAINS\n"
            "hello  3         healthy  2        2        2        hello.localhost\n");
}

// Verify that traffic shows each app's rates and latency as a table.
TEST_F(CliRunTest, TrafficTable) {
  transport_.Answer(200, R"({"apps":{"web":{"requests_per_second":12.5,"errors_per_second":0,)"
                         R"("bytes_per_second":100,"latency_ms":{"p50":1.2,"p95":4,"p99":9.75},)"
                         R"("in_flight":3,"edges":2}},"edges":["local","edge-a"]})");
  EXPECT_EQ(Run(Inv("traffic")), 0);
  EXPECT_EQ(transport_.calls[0].path, "/v1/traffic");
  EXPECT_EQ(out_.str(),
            "APP  REQ/S  5XX/S  P50    P95    P99    IN-FLIGHT  EDGES\n"
            "web  12.5   0.0    1.2ms  4.0ms  9.8ms  3          2\n");
}

// Verify that -o json prints the server's JSON.
TEST_F(CliRunTest, JsonOutput) {
  transport_.Answer(200, R"({"nodes":[]})");
  Invocation inv = Inv("nodes");
  inv.options.output = "json";
  EXPECT_EQ(Run(inv), 0);
  EXPECT_EQ(out_.str(), "{\"nodes\":[]}\n");
}

// Verify that nodes join-token POSTs /v1/join-tokens and prints the token alone.
TEST_F(CliRunTest, JoinTokenPrintsTheToken) {
  transport_.Answer(201, R"({"token":"abc123","created_at":"2026-11-23T02:00:00.000Z"})");
  EXPECT_EQ(Run(Inv("nodes join-token")), 0);
  ASSERT_EQ(transport_.calls.size(), 1u);
  EXPECT_EQ(transport_.calls[0].method, "POST");
  EXPECT_EQ(transport_.calls[0].path, "/v1/join-tokens");
  EXPECT_EQ(out_.str(), "abc123\n");
}

// Verify that logs streams lines whole even when chunks split them.
TEST_F(CliRunTest, LogsStreamLines) {
  transport_.stream_body = "hello-1 | first line\nhello-1 | second\n";
  Invocation inv = Inv("logs");
  inv.app = "hello";
  inv.tail = 7;
  inv.follow = true;
  EXPECT_EQ(Run(inv), 0);
  EXPECT_EQ(transport_.calls[0].path, "/v1/apps/hello/logs?tail=7&follow=true");
  EXPECT_EQ(out_.str(), "hello-1 | first line\nhello-1 | second\n");
}

}  // namespace
}  // namespace skiff::cli
