#include "cli/cli.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <sstream>

#include "cli/credentials.h"
#include "cli/metrics_command.h"
#include "cli/rollout.h"
#include "fakes/testing.h"

namespace skiff::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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

// Verify that promote, deployments and rollback parse with the follow options.
TEST(CliParseTest, RolloutCommands) {
  Invocation promote = Parse({"promote", "web", "--timeout", "30"});
  EXPECT_EQ(promote.command, "promote");
  EXPECT_EQ(promote.app, "web");
  EXPECT_EQ(promote.timeout_seconds, 30);
  EXPECT_FALSE(promote.detach);
  Invocation deployments = Parse({"deployments", "web", "-o", "json"});
  EXPECT_EQ(deployments.command, "deployments");
  EXPECT_EQ(deployments.options.output, "json");
  Invocation rollback = Parse({"rollback", "web", "--detach"});
  EXPECT_TRUE(rollback.detach);
  EXPECT_EQ(rollback.to_revision, 0);
  EXPECT_THROW(Parse({"promote"}), CLI::ParseError);
  EXPECT_THROW(Parse({"apply", "-f", "a.yaml", "--timeout", "0"}), CLI::ParseError);
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
  EXPECT_EQ(Parse({"servers"}).command, "servers");
}

// Verify that `secrets APP` lists, `secrets set APP KEY` takes --from-file,
// `secrets unset APP KEY` its two names, and that each needs its names.
TEST(CliParseTest, Secrets) {
  const Invocation list = Parse({"secrets", "web", "-o", "json"});
  EXPECT_EQ(list.command, "secrets");
  EXPECT_EQ(list.app, "web");
  EXPECT_EQ(list.options.output, "json");
  const Invocation set = Parse({"secrets", "set", "web", "API_KEY", "--from-file", "v.txt"});
  EXPECT_EQ(set.command, "secrets set");
  EXPECT_EQ(set.app, "web");
  EXPECT_EQ(set.secret_key, "API_KEY");
  EXPECT_EQ(set.from_file, "v.txt");
  const Invocation unset = Parse({"secrets", "unset", "web", "API_KEY"});
  EXPECT_EQ(unset.command, "secrets unset");
  EXPECT_EQ(unset.secret_key, "API_KEY");
  EXPECT_THROW(Parse({"secrets"}), CLI::ParseError);
  EXPECT_THROW(Parse({"secrets", "set", "web"}), CLI::ParseError);
  EXPECT_THROW(Parse({"secrets", "unset", "web"}), CLI::ParseError);
}

// Verify that `certs` lists, `certs add` takes its three options (all
// required) and `certs remove` its domain.
TEST(CliParseTest, Certs) {
  EXPECT_EQ(Parse({"certs"}).command, "certs");
  const Invocation add =
      Parse({"certs", "add", "--domain", "*.web.com", "--cert", "c.pem", "--key", "k.pem"});
  EXPECT_EQ(add.command, "certs add");
  EXPECT_EQ(add.domain, "*.web.com");
  EXPECT_EQ(add.cert_file, "c.pem");
  EXPECT_EQ(add.key_file, "k.pem");
  EXPECT_THROW(Parse({"certs", "add", "--domain", "web.com", "--cert", "c.pem"}), CLI::ParseError);
  const Invocation remove = Parse({"certs", "remove", "web.com", "-o", "json"});
  EXPECT_EQ(remove.command, "certs remove");
  EXPECT_EQ(remove.domain, "web.com");
  EXPECT_EQ(remove.options.output, "json");
  EXPECT_THROW(Parse({"certs", "remove"}), CLI::ParseError);
}

// Verify that bad usage is a parse error: missing arguments, bad output, negative replicas.
TEST(CliParseTest, BadUsage) {
  EXPECT_THROW(Parse({"apply"}), CLI::ParseError);
  EXPECT_THROW(Parse({"scale", "hello"}), CLI::ParseError);
  EXPECT_THROW(Parse({"scale", "hello", "-1"}), CLI::ParseError);
  EXPECT_THROW(Parse({"apps", "-o", "yaml"}), CLI::ParseError);
}

// Verify that --addr takes several servers' URLs, and that a list with an
// entry that is no URL is bad usage whose message names the entry.
TEST(CliParseTest, AddrTakesSeveralServers) {
  EXPECT_EQ(Parse({"apps", "--addr", "http://127.0.0.1:9,http://127.0.0.2:9"}).options.addr,
            "http://127.0.0.1:9,http://127.0.0.2:9");
  try {
    Parse({"apps", "--addr", "http://127.0.0.1:9,127.0.0.2:9"});
    ADD_FAILURE() << "a bad entry was taken";
  } catch (const CLI::ParseError& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"127.0.0.2:9\""));
  }
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

// Bodies of GET /v1/apps/{name}/deployments and /instances.
std::string Deployment(int revision, const std::string& state, const std::string& message,
                       int replicas = 1, const std::string& strategy = "rolling") {
  return fmt::format(
      R"({{"revision":{},"state":"{}","message":"{}","spec":{{"replicas":{},)"
      R"("update":{{"strategy":"{}","canary":1,"canary_weight":10,"auto_promote":false}}}}}})",
      revision, state, message, replicas, strategy);
}
std::string Deployments(const std::vector<std::string>& ds) {
  return fmt::format(R"({{"deployments":[{}]}})", fmt::join(ds, ","));
}
std::string Instance(int revision, const std::string& health, const std::string& traffic = "serve",
                     const std::string& desired = "run") {
  return fmt::format(R"({{"revision":{},"desired":"{}","health":"{}","traffic":"{}"}})", revision,
                     desired, health, traffic);
}
std::string Instances(const std::vector<std::string>& is) {
  return fmt::format(R"({{"instances":[{}]}})", fmt::join(is, ","));
}

class CliRunTest : public ::testing::Test {
 protected:
  int Run(const Invocation& inv) {
    RunEnv env;
    env.transport = &transport_;
    // Time passes only in the follower's sleeps.
    env.sleep = [this](std::chrono::milliseconds d) { now_ += d; };
    env.now = [this] { return now_; };
    env.read_file = [this](const std::string& path) {
      auto named = files_.find(path);
      return named != files_.end() ? named->second : file_;
    };
    env.session_file = session_file_;
    env.read_password = [this](std::string_view prompt, bool confirm) -> Result<std::string> {
      prompts_.emplace_back(std::string(prompt) + (confirm ? " (confirm)" : ""));
      if (password_.empty()) return InvalidArgument("no password", "password");
      return password_;
    };
    if (stdin_) env.read_stdin = [this] { return *stdin_; };
    return RunClientCommand(inv, out_, err_, env);
  }
  int RunWithStdin(const Invocation& inv, std::string text) {
    stdin_ = std::move(text);
    int code = Run(inv);
    stdin_.reset();
    return code;
  }
  Invocation Inv(std::string command) {
    Invocation inv;
    inv.command = std::move(command);
    inv.options.token = "tok";
    return inv;
  }

  FakeTransport transport_;
  std::chrono::steady_clock::time_point now_;
  std::string file_;                          // every file's text...
  std::map<std::string, std::string> files_;  // ...but these
  std::optional<std::string> stdin_;          // what stdin holds, when set
  std::ostringstream out_;
  std::ostringstream err_;
  skiff::testing::TempDir dir_;
  // Never the user's own: every test keeps its session in its temp dir.
  std::string session_file_ = dir_.path() + "/config/skiff/session";
  std::string password_ = "correct horse battery";  // what read_password answers
  std::vector<std::string> prompts_;
};

// Verify that the CLI refuses to send a token to a plain http:// server off
// loopback (it would cross the network in clear): exit 2 before any request,
// naming https:// as the fix; loopback http:// and https:// are asked.
TEST_F(CliRunTest, RefusesTokenInClearOffLoopback) {
  Invocation inv = Inv("servers");
  inv.options.addr = "https://10.0.0.1:7070,http://10.0.0.2:7070";
  EXPECT_EQ(Run(inv), 2);
  EXPECT_THAT(err_.str(), HasSubstr("http://10.0.0.2:7070"));
  EXPECT_THAT(err_.str(), HasSubstr("https://"));
  EXPECT_TRUE(transport_.calls.empty());
  for (const char* addr : {"http://127.0.0.1:7070", "https://10.0.0.1:7070"}) {
    transport_.Answer(200, R"({"servers":[]})");
    inv.options.addr = addr;
    EXPECT_EQ(Run(inv), 0) << addr << err_.str();
  }
}

// Verify that apply PUTs YAML under the spec's name, prints a progress line each
// time the rollout changes (new/old counts and what it waits for) and exits 0
// once the revision is healthy.
TEST_F(CliRunTest, ApplyFollowsToHealthy) {
  file_ = "name: hello\nrun: {command: [sleep, '1']}\nreplicas: 2\n";
  transport_.Answer(201, R"({"app":"hello","revision":3,"created":true})");
  const std::string progressing = Deployments(
      {Deployment(2, "healthy", "2/2 healthy"),
       Deployment(3, "progressing", "waiting for hello-b to pass its health check", 2)});
  const std::string mixed = Instances({Instance(2, "healthy"), Instance(2, "healthy"),
                                       Instance(3, "healthy"), Instance(3, "unknown")});
  transport_.Answer(200, progressing);
  transport_.Answer(200, mixed);
  transport_.Answer(200, progressing);  // unchanged: no second line
  transport_.Answer(200, mixed);
  transport_.Answer(200, Deployments({Deployment(2, "superseded", "superseded by revision 3"),
                                      Deployment(3, "healthy", "2/2 healthy", 2)}));
  transport_.Answer(200, Instances({Instance(2, "healthy", "serve", "stop"), Instance(3, "healthy"),
                                    Instance(3, "healthy")}));
  Invocation inv = Inv("apply");
  inv.file = "hello.yaml";
  EXPECT_EQ(Run(inv), 0) << err_.str();
  ASSERT_EQ(transport_.calls.size(), 7u);
  EXPECT_EQ(transport_.calls[0].method, "PUT");
  EXPECT_EQ(transport_.calls[0].path, "/v1/apps/hello");
  EXPECT_EQ(transport_.calls[0].content_type, "application/yaml");
  EXPECT_EQ(transport_.calls[0].auth, "Bearer tok");
  EXPECT_EQ(transport_.calls[1].path, "/v1/apps/hello/deployments");
  EXPECT_EQ(transport_.calls[2].path, "/v1/apps/hello/instances");
  EXPECT_EQ(out_.str(),
            "hello: revision 3 created\n"
            "hello: revision 3 progressing: new 1/2 healthy, old 2 serving; waiting for "
            "hello-b to pass its health check\n"
            "hello: revision 3 healthy: new 2/2 healthy\n"
            "hello: revision 3 is healthy\n");
  EXPECT_EQ(err_.str(), "");
}

// Verify that following an autoscaled app's rollout counts against the
// app's desired count (its status), not the spec's replicas.
TEST_F(CliRunTest, ApplyAutoscaledFollowsDesired) {
  file_ = "name: hello\nrun: {command: [sleep, '1']}\nautoscale: {min: 1, max: 8}\n";
  transport_.Answer(201, R"({"app":"hello","revision":3,"created":true})");
  const std::string autoscaled = R"({"revision":3,"state":"progressing","message":"2/4 healthy",)"
                                 R"("spec":{"replicas":1,"autoscale":{"min":1,"max":8}}})";
  transport_.Answer(200, Deployments({autoscaled}));
  transport_.Answer(200, Instances({Instance(3, "healthy"), Instance(3, "healthy"),
                                    Instance(3, "unknown"), Instance(3, "unknown")}));
  transport_.Answer(
      200, R"({"name":"hello","revision":3,"status":{"state":"progressing","desired":4}})");
  transport_.Answer(200, Deployments({R"({"revision":3,"state":"healthy","message":"4/4 healthy",)"
                                      R"("spec":{"replicas":1,"autoscale":{"min":1,"max":8}}})"}));
  transport_.Answer(200, Instances({Instance(3, "healthy"), Instance(3, "healthy"),
                                    Instance(3, "healthy"), Instance(3, "healthy")}));
  transport_.Answer(200,
                    R"({"name":"hello","revision":3,"status":{"state":"healthy","desired":4}})");
  Invocation inv = Inv("apply");
  inv.file = "hello.yaml";
  EXPECT_EQ(Run(inv), 0) << err_.str();
  ASSERT_EQ(transport_.calls.size(), 7u);
  EXPECT_EQ(transport_.calls[3].method, "GET");
  EXPECT_EQ(transport_.calls[3].path, "/v1/apps/hello");
  EXPECT_EQ(out_.str(),
            "hello: revision 3 created\n"
            "hello: revision 3 progressing: new 2/4 healthy\n"
            "hello: revision 3 healthy: new 4/4 healthy\n"
            "hello: revision 3 is healthy\n");
}

// Verify that apply exits 1 when the revision fails, with the deployment's message.
TEST_F(CliRunTest, ApplyFailed) {
  file_ = R"({"name":"hello","run":{"command":["false"]}})";
  transport_.Answer(201, R"({"app":"hello","revision":2,"created":true})");
  transport_.Answer(200, Deployments({Deployment(2, "failed", "crash loop")}));
  transport_.Answer(200, Instances({Instance(2, "unhealthy")}));
  Invocation inv = Inv("apply");
  inv.file = "hello.json";
  EXPECT_EQ(Run(inv), 1);
  EXPECT_EQ(transport_.calls[0].content_type, "application/json");
  EXPECT_THAT(err_.str(), HasSubstr("hello: revision 2 failed: crash loop; see `skiff status "
                                    "hello` and `skiff logs hello`"));
}

// Verify that a revision reverted by auto_revert exits 1 with the reason and
// says which revision runs now (the revert's own, newer revision).
TEST_F(CliRunTest, ApplyRolledBack) {
  file_ = "name: web\n";
  transport_.Answer(201, R"({"app":"web","revision":4,"created":true})");
  transport_.Answer(200, Deployments({Deployment(3, "superseded", "superseded by revision 4"),
                                      Deployment(4, "rolled_back", "no progress for 60s"),
                                      Deployment(5, "progressing", "")}));
  transport_.Answer(200, Instances({Instance(3, "healthy")}));
  Invocation inv = Inv("apply");
  inv.file = "web.yaml";
  EXPECT_EQ(Run(inv), 1);
  EXPECT_THAT(err_.str(),
              HasSubstr("web: revision 4 rolled back: no progress for 60s; revision 5 now runs"));
  EXPECT_THAT(out_.str(),
              HasSubstr("web: revision 4 rolled_back: new 0/1 healthy, old 1 serving\n"));
}

// Verify that a newer revision applied while following ends the follow with exit 1.
TEST_F(CliRunTest, ApplySuperseded) {
  file_ = "name: web\n";
  transport_.Answer(201, R"({"app":"web","revision":4,"created":true})");
  // Revision 5 is stored; the reconciler has not yet marked 4 superseded.
  transport_.Answer(200,
                    Deployments({Deployment(4, "progressing", ""), Deployment(5, "pending", "")}));
  transport_.Answer(200, Instances({}));
  Invocation inv = Inv("apply");
  inv.file = "web.yaml";
  EXPECT_EQ(Run(inv), 1);
  EXPECT_THAT(err_.str(), HasSubstr("web: revision 4 superseded by revision 5"));
}

// Verify that a canary waiting for promotion shows its share, prints the
// promote hint once, and keeps following until the revision is healthy.
TEST_F(CliRunTest, ApplyCanaryHintsPromoteOnce) {
  file_ = "name: web\n";
  transport_.Answer(201, R"({"app":"web","revision":4,"created":true})");
  const std::string waiting = Deployments({Deployment(
      4, "progressing",
      "canary: 1/1 healthy, taking 10% of traffic; waiting for `skiff promote web`", 4, "canary")});
  const std::string canary = Instances({Instance(4, "healthy", "canary"), Instance(3, "healthy"),
                                        Instance(3, "healthy"), Instance(3, "healthy")});
  for (int i = 0; i < 2; ++i) {
    transport_.Answer(200, waiting);
    transport_.Answer(200, canary);
  }
  transport_.Answer(200, Deployments({Deployment(4, "healthy", "4/4 healthy", 4, "canary")}));
  transport_.Answer(200, Instances({Instance(4, "healthy"), Instance(4, "healthy"),
                                    Instance(4, "healthy"), Instance(4, "healthy")}));
  Invocation inv = Inv("apply");
  inv.file = "web.yaml";
  EXPECT_EQ(Run(inv), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "web: revision 4 created\n"
            "web: revision 4 progressing: new 1/4 healthy (canary, 10% of traffic), old 3 "
            "serving; canary: 1/1 healthy, taking 10% of traffic; waiting for `skiff promote "
            "web`\n" +
                PromoteHint("web") +
                "\n"
                "web: revision 4 healthy: new 4/4 healthy\n"
                "web: revision 4 is healthy\n");
}

// Verify that following stops at --timeout with exit 1, saying the canary still
// waits for promotion (time from the fake clock the fake sleep advances).
TEST_F(CliRunTest, ApplyTimeoutWhileWaitingForPromotion) {
  file_ = "name: web\n";
  transport_.Answer(201, R"({"app":"web","revision":4,"created":true})");
  for (int i = 0; i < 3; ++i) {
    transport_.Answer(200, Deployments({Deployment(4, "progressing", "", 4, "canary")}));
    transport_.Answer(200, Instances({Instance(4, "healthy", "canary"), Instance(3, "healthy")}));
  }
  Invocation inv = Inv("apply");
  inv.file = "web.yaml";
  inv.timeout_seconds = 2;  // the poll interval is 1s: three polls
  EXPECT_EQ(Run(inv), 1);
  EXPECT_EQ(transport_.answers.size(), 0u);
  EXPECT_THAT(err_.str(), HasSubstr("web: revision 4 still waits for `skiff promote web` after "
                                    "2s; the canary keeps running"));
  EXPECT_THAT(out_.str(), HasSubstr(PromoteHint("web")));
}

// Verify that --detach returns once the revision is stored, without polling.
TEST_F(CliRunTest, ApplyDetach) {
  file_ = "name: web\n";
  transport_.Answer(201, R"({"app":"web","revision":4,"created":true})");
  Invocation inv = Inv("apply");
  inv.file = "web.yaml";
  inv.detach = true;
  EXPECT_EQ(Run(inv), 0);
  EXPECT_EQ(transport_.calls.size(), 1u);
  EXPECT_EQ(out_.str(), "web: revision 4 created\n");
}

// Verify that rollback --to posts the revision and follows the new revision's rollout.
TEST_F(CliRunTest, RollbackFollows) {
  transport_.Answer(201, R"({"app":"web","revision":6,"created":true})");
  transport_.Answer(200, Deployments({Deployment(6, "healthy", "1/1 healthy")}));
  transport_.Answer(200, Instances({Instance(6, "healthy")}));
  Invocation inv = Inv("rollback");
  inv.app = "web";
  inv.to_revision = 2;
  EXPECT_EQ(Run(inv), 0) << err_.str();
  EXPECT_EQ(transport_.calls[0].method, "POST");
  EXPECT_EQ(transport_.calls[0].path, "/v1/apps/web/rollback");
  EXPECT_EQ(transport_.calls[0].body, R"({"revision":2})");
  EXPECT_EQ(out_.str(),
            "web: rolling back to revision 2 as revision 6\n"
            "web: revision 6 healthy: new 1/1 healthy\n"
            "web: revision 6 is healthy\n");
}

// Verify that rollback --detach makes one call and promises nothing more.
TEST_F(CliRunTest, RollbackDetach) {
  transport_.Answer(201, R"({"app":"web","revision":6,"created":true})");
  Invocation inv = Inv("rollback");
  inv.app = "web";
  inv.detach = true;
  EXPECT_EQ(Run(inv), 0);
  EXPECT_EQ(transport_.calls.size(), 1u);
  EXPECT_EQ(transport_.calls[0].body, "");
  EXPECT_EQ(out_.str(), "web: rolling back to the previous revision as revision 6\n");
}

// Verify that promote POSTs /promote and says so; -o json prints the answer.
TEST_F(CliRunTest, Promote) {
  transport_.Answer(200, R"({"app":"web","revision":4,"promoted":true})");
  Invocation inv = Inv("promote");
  inv.app = "web";
  inv.detach = true;
  EXPECT_EQ(Run(inv), 0) << err_.str();
  ASSERT_EQ(transport_.calls.size(), 1u);
  EXPECT_EQ(transport_.calls[0].method, "POST");
  EXPECT_EQ(transport_.calls[0].path, "/v1/apps/web/promote");
  EXPECT_EQ(out_.str(), "web: revision 4 promoted: the rest of its instances roll out now\n");

  out_.str("");
  transport_.Answer(200, R"({"app":"web","revision":4,"promoted":true})");
  inv.options.output = "json";
  EXPECT_EQ(Run(inv), 0);
  EXPECT_EQ(out_.str(), "{\"app\":\"web\",\"revision\":4,\"promoted\":true}\n");
}

// Verify that promote follows the rest of the rollout unless --detach.
TEST_F(CliRunTest, PromoteFollows) {
  transport_.Answer(200, R"({"app":"web","revision":4,"promoted":true})");
  transport_.Answer(200, Deployments({Deployment(4, "healthy", "2/2 healthy")}));
  transport_.Answer(200, Instances({Instance(4, "healthy"), Instance(4, "healthy")}));
  Invocation inv = Inv("promote");
  inv.app = "web";
  EXPECT_EQ(Run(inv), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("web: revision 4 is healthy\n"));
}

// Verify that promoting with no canary waiting explains the error.
TEST_F(CliRunTest, PromoteWithoutCanary) {
  transport_.Answer(409, R"({"error":{"code":"failed_precondition",)"
                         R"("message":"revision 4 of web is not a canary in progress"}})");
  Invocation inv = Inv("promote");
  inv.app = "web";
  EXPECT_EQ(Run(inv), 1);
  EXPECT_THAT(err_.str(),
              HasSubstr("failed_precondition: revision 4 of web is not a canary in progress"));
  EXPECT_THAT(err_.str(), HasSubstr("`skiff deployments web` shows the app's rollouts"));
  EXPECT_EQ(out_.str(), "");
}

// Verify that deployments lists revisions newest first.
TEST_F(CliRunTest, DeploymentsTable) {
  transport_.Answer(
      200, R"({"deployments":[{"revision":1,"state":"superseded","created_at":"T1",)"
           R"("message":"superseded by revision 2"},)"
           R"({"revision":2,"state":"healthy","created_at":"T2","message":"2/2 healthy"}]})");
  Invocation inv = Inv("deployments");
  inv.app = "web";
  EXPECT_EQ(Run(inv), 0);
  EXPECT_EQ(transport_.calls[0].path, "/v1/apps/web/deployments");
  EXPECT_EQ(out_.str(),
            "REVISION  STATE       CREATED  MESSAGE\n"
            "2         healthy     T2       2/2 healthy\n"
            "1         superseded  T1       superseded by revision 2\n");
}

// Verify that status shows the TRAFFIC column only while an instance is not on
// its normal share.
TEST_F(CliRunTest, StatusTrafficColumn) {
  const std::string app =
      R"({"name":"web","revision":4,"status":{"state":"progressing","desired":1,"running":2,)"
      R"("healthy":2}})";
  transport_.Answer(200, app);
  transport_.Answer(200, R"({"instances":[{"id":"web-a","revision":3,"state":"running",)"
                         R"("health":"healthy","traffic":"serve"},{"id":"web-b","revision":4,)"
                         R"("state":"running","health":"healthy","traffic":"canary"}]})");
  transport_.Answer(200, Deployments({Deployment(4, "progressing", "waiting")}));
  Invocation inv = Inv("status");
  inv.app = "web";
  EXPECT_EQ(Run(inv), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("TRAFFIC"));
  EXPECT_THAT(out_.str(), HasSubstr("canary"));
  EXPECT_THAT(out_.str(), HasSubstr("4         progressing"));

  out_.str("");
  transport_.Answer(200, app);
  transport_.Answer(200, R"({"instances":[{"id":"web-a","revision":3,"traffic":"serve"}]})");
  transport_.Answer(200, Deployments({}));
  EXPECT_EQ(Run(inv), 0);
  EXPECT_THAT(out_.str(), Not(HasSubstr("TRAFFIC")));
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

// Verify that metrics parses its range and follow options, and prints a row
// per step under sparklines, with "-" where a step has no data.
TEST_F(CliRunTest, MetricsTable) {
  Invocation parsed = Parse({"metrics", "web", "--since", "3m", "--step", "1m"});
  EXPECT_EQ(parsed.command, "metrics");
  EXPECT_EQ(parsed.metrics_since, "3m");
  EXPECT_EQ(parsed.metrics_step, "1m");
  EXPECT_EQ(Parse({"metrics", "web"}).metrics_since, "1h");
  transport_.Answer(
      200,
      R"({"app":"web","since":"2026-12-07T10:00:00.000Z","until":"2026-12-07T10:03:00.000Z",)"
      R"("step":60,"points":[{"time":"2026-12-07T10:00:00.000Z","requests_per_second":2,)"
      R"("errors_per_second":0,"p50_ms":1,"p95_ms":4,"p99_ms":9,"cpu_millis":100,)"
      R"("memory_bytes":2097152},{"time":"2026-12-07T10:01:00.000Z","requests_per_second":null,)"
      R"("errors_per_second":null,"p50_ms":null,"p95_ms":null,"p99_ms":null,"cpu_millis":null,)"
      R"("memory_bytes":null},{"time":"2026-12-07T10:02:00.000Z","requests_per_second":4,)"
      R"("errors_per_second":0.5,"p50_ms":2,"p95_ms":8,"p99_ms":10,"cpu_millis":200,)"
      R"("memory_bytes":4194304}],"instances":{}})");
  Invocation inv = Inv("metrics");
  inv.app = "web";
  inv.metrics_since = "3m";
  inv.metrics_step = "1m";
  EXPECT_EQ(Run(inv), 0);
  EXPECT_EQ(transport_.calls[0].path, "/v1/apps/web/metrics?since=3m&step=1m");
  EXPECT_EQ(out_.str(),
            "web  2026-12-07T10:00:00.000Z to 2026-12-07T10:03:00.000Z, every 60s\n"
            "  req/s   \u2585 \u2588  max 4.0\n"
            "  p95     \u2585 \u2588  max 8.0ms\n"
            "  cpu     \u2585 \u2588  max 200m\n"
            "  memory  \u2585 \u2588  max 4Mi\n"
            "\n"
            "TIME         REQ/S  5XX/S  P50    P95    P99     CPU   MEMORY\n"
            "12-07 10:00  2.0    0.00   1.0ms  4.0ms  9.0ms   100m  2Mi\n"
            "12-07 10:01  -      -      -      -      -       -     -\n"
            "12-07 10:02  4.0    0.50   2.0ms  8.0ms  10.0ms  200m  4Mi\n");
}

// Verify that metrics -f prints a row per live event (the header once), and
// one JSON object per line with -o json.
TEST_F(CliRunTest, MetricsFollow) {
  transport_.stream_body =
      "data: {\"time\":\"2026-12-07T10:00:05.000Z\",\"requests_per_second\":1.5}\n\n"
      "data: {\"time\":\"2026-12-07T10:00:10.000Z\",\"requests_per_second\":3}\n\n";
  Invocation inv = Inv("metrics");
  inv.app = "web";
  inv.follow = true;
  EXPECT_EQ(Run(inv), 0);
  EXPECT_EQ(transport_.calls[0].path, "/v1/apps/web/metrics/live");
  EXPECT_EQ(out_.str(),
            "TIME         REQ/S  5XX/S  P50  P95  P99  CPU  MEMORY\n"
            "12-07 10:00  1.5    -      -    -    -    -    -\n"
            "12-07 10:00  3.0    -      -    -    -    -    -\n");
  out_.str("");
  inv.options.output = "json";
  EXPECT_EQ(Run(inv), 0);
  EXPECT_EQ(out_.str(),
            "{\"time\":\"2026-12-07T10:00:05.000Z\",\"requests_per_second\":1.5}\n"
            "{\"time\":\"2026-12-07T10:00:10.000Z\",\"requests_per_second\":3}\n");
}

// Verify that the sparkline scales from zero to the highest value, with a
// space for a gap.
TEST(CliSparklineTest, ScalesAndGaps) {
  EXPECT_EQ(Sparkline({0.0, 3.5, std::nullopt, 7.0}), "\u2581\u2585 \u2588");
  EXPECT_EQ(Sparkline({}), "");
  EXPECT_EQ(Sparkline({0.0, 0.0}), "\u2581\u2581");
}

// Verify that servers lists every server with which one leads and its epoch,
// and that -o json prints the server's JSON as it came.
TEST_F(CliRunTest, ServersTable) {
  const std::string body =
      R"({"servers":[{"id":"a","address":"http://127.0.0.1:7070","leader":true,"epoch":4,)"
      R"("last_seen":"T1","version":"0.1.0"},{"id":"b","address":"http://127.0.0.2:7070",)"
      R"("leader":false,"epoch":0,"last_seen":"T2","version":"0.1.0"}]})";
  transport_.Answer(200, body);
  EXPECT_EQ(Run(Inv("servers")), 0);
  EXPECT_EQ(transport_.calls[0].path, "/v1/servers");
  EXPECT_EQ(out_.str(),
            "ID  ADDRESS                LEADER  EPOCH  LAST SEEN  VERSION\n"
            "a   http://127.0.0.1:7070  yes     4      T1         0.1.0\n"
            "b   http://127.0.0.2:7070  no      -      T2         0.1.0\n");
  out_.str("");
  transport_.Answer(200, body);
  Invocation json = Inv("servers");
  json.options.output = "json";
  EXPECT_EQ(Run(json), 0);
  EXPECT_EQ(out_.str(), body + "\n");
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

// Verify that certs add sends the domain and both files' text, and says what
// the server kept.
TEST_F(CliRunTest, CertsAddSendsTheFiles) {
  files_ = {{"c.pem", "CERT PEM"}, {"k.pem", "KEY PEM"}};
  transport_.Answer(201, R"({"domain":"web.com","issuer":"R3, Let's Encrypt",)"
                         R"("not_after":"2027-03-01T00:00:00.000Z","source":"manual"})");
  Invocation inv = Inv("certs add");
  inv.domain = "web.com";
  inv.cert_file = "c.pem";
  inv.key_file = "k.pem";
  EXPECT_EQ(Run(inv), 0) << err_.str();
  ASSERT_EQ(transport_.calls.size(), 1u);
  EXPECT_EQ(transport_.calls[0].method, "POST");
  EXPECT_EQ(transport_.calls[0].path, "/v1/certificates");
  EXPECT_EQ(boost::json::parse(transport_.calls[0].body),
            (boost::json::value{{"domain", "web.com"}, {"cert", "CERT PEM"}, {"key", "KEY PEM"}}));
  EXPECT_EQ(out_.str(),
            "web.com: certificate kept (issuer R3, Let's Encrypt, valid until "
            "2027-03-01T00:00:00.000Z)\n");
}

// Verify that a refused certificate exits 1 with the server's reason and field.
TEST_F(CliRunTest, CertsAddRefused) {
  transport_.Answer(400,
                    R"({"error":{"code":"invalid_argument",)"
                    R"("message":"key: the key does not match the certificate","field":"key"}})");
  Invocation inv = Inv("certs add");
  inv.domain = "web.com";
  EXPECT_EQ(Run(inv), 1);
  EXPECT_THAT(err_.str(), HasSubstr("the key does not match the certificate"));
}

// Verify that certs prints domain, issuer, not-after, source and last error,
// and certs remove DELETEs the domain.
TEST_F(CliRunTest, CertsTableAndRemove) {
  transport_.Answer(200, R"({"certificates":[{"domain":"*.web.com","issuer":"Test CA",)"
                         R"("not_after":"2027-03-01T00:00:00.000Z","source":"acme",)"
                         R"("last_error":"rate limited"}]})");
  EXPECT_EQ(Run(Inv("certs")), 0);
  EXPECT_EQ(transport_.calls[0].path, "/v1/certificates");
  EXPECT_EQ(out_.str(),
            "DOMAIN     ISSUER   NOT AFTER                 SOURCE  LAST ERROR\n"
            "*.web.com  Test CA  2027-03-01T00:00:00.000Z  acme    rate limited\n");
  out_.str("");
  transport_.Answer(200, R"({"removed":true})");
  Invocation remove = Inv("certs remove");
  remove.domain = "*.web.com";
  EXPECT_EQ(Run(remove), 0);
  EXPECT_EQ(transport_.calls[1].method, "DELETE");
  EXPECT_EQ(transport_.calls[1].path, "/v1/certificates/*.web.com");
  EXPECT_EQ(out_.str(), "*.web.com: certificate removed\n");
}

// Verify that the people's commands parse: users (list), users add with its
// role and repeated projects, users remove, login NAME, logout; a role that
// is not a person's is bad usage.
TEST(CliParseTest, Users) {
  EXPECT_EQ(Parse({"users"}).command, "users");
  EXPECT_EQ(Parse({"users", "-o", "json"}).options.output, "json");
  const Invocation add = Parse(
      {"users", "add", "alice", "--role", "deployer", "--project", "web", "--project", "api"});
  EXPECT_EQ(add.command, "users add");
  EXPECT_EQ(add.user, "alice");
  EXPECT_EQ(add.role, "deployer");
  EXPECT_EQ(add.projects, (std::vector<std::string>{"web", "api"}));
  EXPECT_THROW(Parse({"users", "add", "alice", "--role", "edge"}), CLI::ParseError);
  EXPECT_THROW(Parse({"users", "add", "alice"}), CLI::ParseError);
  const Invocation remove = Parse({"users", "remove", "alice"});
  EXPECT_EQ(remove.command, "users remove");
  EXPECT_EQ(remove.user, "alice");
  const Invocation login = Parse({"login", "alice", "--addr", "http://127.0.0.1:9"});
  EXPECT_EQ(login.command, "login");
  EXPECT_EQ(login.user, "alice");
  EXPECT_THROW(Parse({"login"}), CLI::ParseError);
  EXPECT_EQ(Parse({"logout"}).command, "logout");
}

// Verify that the help of --token says that the session of `skiff login` is
// used, before .skiff/admin.token.
TEST(CliParseTest, TokenHelpNamesTheSession) {
  CLI::App app{"test"};
  Invocation inv;
  AddClientCommands(app, &inv);
  const std::string help = app.get_subcommand("apps")->help();
  EXPECT_THAT(help, HasSubstr("~/.config/skiff/session"));
  EXPECT_THAT(help, HasSubstr(".skiff/admin.token"));
}

// Verify that users add asks for the password with confirmation and POSTs
// the user with role and projects.
TEST_F(CliRunTest, UsersAdd) {
  transport_.Answer(
      201, R"({"name":"alice","role":"deployer","projects":["api","web"],"created_at":"t"})");
  Invocation inv = Inv("users add");
  inv.user = "alice";
  inv.role = "deployer";
  inv.projects = {"web", "api"};
  EXPECT_EQ(Run(inv), 0) << err_.str();
  EXPECT_EQ(prompts_, (std::vector<std::string>{"password for alice:  (confirm)"}));
  ASSERT_EQ(transport_.calls.size(), 1u);
  EXPECT_EQ(transport_.calls[0].method, "POST");
  EXPECT_EQ(transport_.calls[0].path, "/v1/users");
  EXPECT_EQ(boost::json::parse(transport_.calls[0].body),
            boost::json::parse(R"({"name":"alice","role":"deployer","projects":["web","api"],)"
                               R"("password":"correct horse battery"})"));
  EXPECT_EQ(out_.str(), "alice: added (deployer in api,web)\n");
}

// Verify that users add with no password sends nothing and fails.
TEST_F(CliRunTest, UsersAddWithoutPassword) {
  password_.clear();
  Invocation inv = Inv("users add");
  inv.user = "alice";
  inv.role = "admin";
  EXPECT_EQ(Run(inv), 1);
  EXPECT_TRUE(transport_.calls.empty());
  EXPECT_THAT(err_.str(), HasSubstr("no password"));
}

// Verify that users lists a table (or the server's JSON) and that users
// remove DELETEs the user.
TEST_F(CliRunTest, UsersListAndRemove) {
  const std::string users =
      R"({"users":[{"name":"alice","role":"admin","projects":[],"created_at":"t1"},)"
      R"({"name":"bob","role":"viewer","projects":["web"],"created_at":"t2"}]})";
  transport_.Answer(200, users);
  EXPECT_EQ(Run(Inv("users")), 0);
  EXPECT_THAT(out_.str(), HasSubstr("NAME"));
  EXPECT_THAT(out_.str(), HasSubstr("bob    viewer  web"));
  transport_.Answer(200, users);
  Invocation json_inv = Inv("users");
  json_inv.options.output = "json";
  out_.str("");
  EXPECT_EQ(Run(json_inv), 0);
  EXPECT_EQ(boost::json::parse(out_.str()), boost::json::parse(users));

  transport_.answers.push_back(net::HttpResponse{204, {}, ""});
  Invocation remove = Inv("users remove");
  remove.user = "bob";
  out_.str("");
  EXPECT_EQ(Run(remove), 0);
  EXPECT_EQ(transport_.calls.back().method, "DELETE");
  EXPECT_EQ(transport_.calls.back().path, "/v1/users/bob");
  EXPECT_EQ(out_.str(), "bob: removed; their sessions ended\n");
}

// Verify that login sends the password with no bearer token, keeps the
// session in the session file (mode 0600, directory 0700) without printing
// it, that later commands bear it when no --token is given (and --token
// wins), and that logout ends it and forgets the file.
TEST_F(CliRunTest, LoginKeepsTheSessionAndLogoutEndsIt) {
  const std::string token = "skiff-session-" + std::string(64, 'a');
  transport_.Answer(200, R"({"token":")" + token +
                             R"(","expires_at":"2026-01-01T12:00:00Z","user":"alice",)"
                             R"("role":"admin","projects":[]})");
  Invocation login = Inv("login");
  login.options.token.clear();
  login.user = "alice";
  EXPECT_EQ(Run(login), 0) << err_.str();
  ASSERT_EQ(transport_.calls.size(), 1u);
  EXPECT_EQ(transport_.calls[0].path, "/v1/login");
  EXPECT_EQ(transport_.calls[0].auth, "");
  EXPECT_EQ(boost::json::parse(transport_.calls[0].body),
            boost::json::parse(R"({"name":"alice","password":"correct horse battery"})"));
  EXPECT_THAT(out_.str(), HasSubstr("logged in as alice (admin) until 2026-01-01T12:00:00Z"));
  EXPECT_THAT(out_.str(), Not(HasSubstr(token)));
  EXPECT_EQ(ReadSessionFile(session_file_).value(), token);
  struct stat st {};
  ASSERT_EQ(::stat(session_file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_.path() + "/config/skiff").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  transport_.Answer(200, R"({"apps":[]})");
  Invocation apps = Inv("apps");
  apps.options.token.clear();
  EXPECT_EQ(Run(apps), 0);
  EXPECT_EQ(transport_.calls.back().auth, "Bearer " + token);
  transport_.Answer(200, R"({"apps":[]})");
  EXPECT_EQ(Run(Inv("apps")), 0);
  EXPECT_EQ(transport_.calls.back().auth, "Bearer tok");

  transport_.answers.push_back(net::HttpResponse{204, {}, ""});
  Invocation logout = Inv("logout");
  logout.options.token.clear();
  out_.str("");
  EXPECT_EQ(Run(logout), 0) << err_.str();
  EXPECT_EQ(transport_.calls.back().path, "/v1/logout");
  EXPECT_EQ(transport_.calls.back().auth, "Bearer " + token);
  EXPECT_EQ(out_.str(), "logged out\n");
  EXPECT_EQ(ReadSessionFile(session_file_).value(), "");
  err_.str("");
  EXPECT_EQ(Run(logout), 1);
  EXPECT_THAT(err_.str(), HasSubstr("not logged in"));
}

// Verify that a refused login says so, keeps no session, and that -o json
// shows the session without its token.
TEST_F(CliRunTest, LoginRefusedAndJson) {
  transport_.Answer(
      401, R"({"error":{"code":"unauthenticated","message":"wrong user name or password"}})");
  Invocation login = Inv("login");
  login.user = "alice";
  EXPECT_EQ(Run(login), 1);
  EXPECT_EQ(err_.str(), "error: wrong user name or password\n");
  EXPECT_EQ(ReadSessionFile(session_file_).value(), "");

  transport_.Answer(200, R"({"token":"skiff-session-b","expires_at":"e","user":"alice",)"
                         R"("role":"viewer","projects":["web"]})");
  login.options.output = "json";
  EXPECT_EQ(Run(login), 0);
  const boost::json::value shown = boost::json::parse(out_.str());
  EXPECT_FALSE(shown.as_object().contains("token"));
  EXPECT_EQ(shown.at("session_file"), boost::json::value(session_file_));
  EXPECT_EQ(shown.at("role"), "viewer");
  EXPECT_EQ(ReadSessionFile(session_file_).value(), "skiff-session-b");
}

// Verify that logout of a session the server no longer knows still forgets it here.
TEST_F(CliRunTest, LogoutOfAnEndedSession) {
  ASSERT_TRUE(WriteSessionFile(session_file_, "skiff-session-old"));
  transport_.Answer(401, R"({"error":{"code":"unauthenticated","message":"unknown session"}})");
  Invocation logout = Inv("logout");
  logout.options.token.clear();
  EXPECT_EQ(Run(logout), 0) << err_.str();
  EXPECT_EQ(out_.str(), "logged out (the session had already ended)\n");
  EXPECT_EQ(ReadSessionFile(session_file_).value(), "");
}

// Verify that secrets set sends stdin's bytes as they are (or the file's with
// --from-file) as an octet-stream PUT, prints version and revision but never
// the value, and refuses an empty value without calling the server.
TEST_F(CliRunTest, SecretsSet) {
  transport_.Answer(200, R"({"app":"web","key":"API_KEY","version":2,"revision":7})");
  Invocation inv = Inv("secrets set");
  inv.app = "web";
  inv.secret_key = "API_KEY";
  std::string stdin_text = "s3cr3t-value\n";
  EXPECT_EQ(RunWithStdin(inv, stdin_text), 0) << err_.str();
  ASSERT_EQ(transport_.calls.size(), 1u);
  EXPECT_EQ(transport_.calls[0].method, "PUT");
  EXPECT_EQ(transport_.calls[0].path, "/v1/apps/web/secrets/API_KEY");
  EXPECT_EQ(transport_.calls[0].body, stdin_text);
  EXPECT_EQ(out_.str(), "web: secret API_KEY set (version 2), revision 7\n");

  files_ = {{"v.txt", "from-file-value"}};
  transport_.Answer(200, R"({"app":"web","key":"API_KEY","version":3,"revision":8})");
  inv.from_file = "v.txt";
  EXPECT_EQ(RunWithStdin(inv, "ignored"), 0) << err_.str();
  EXPECT_EQ(transport_.calls[1].body, "from-file-value");
  EXPECT_THAT(out_.str() + err_.str(), Not(HasSubstr("from-file-value")));
  EXPECT_THAT(out_.str() + err_.str(), Not(HasSubstr("s3cr3t")));

  inv.from_file.clear();
  EXPECT_EQ(RunWithStdin(inv, ""), 1);
  EXPECT_THAT(err_.str(), HasSubstr("empty"));
  EXPECT_EQ(transport_.calls.size(), 2u);
}

// Verify that secrets lists KEY VERSION UPDATED (-o json: the server's JSON)
// and secrets unset DELETEs the key.
TEST_F(CliRunTest, SecretsListAndUnset) {
  const std::string body =
      R"({"app":"web","secrets":[{"key":"API_KEY","version":2,"updated_at":"T1"},)"
      R"({"key":"DB","version":1,"updated_at":"T2"}]})";
  transport_.Answer(200, body);
  Invocation list = Inv("secrets");
  list.app = "web";
  EXPECT_EQ(Run(list), 0);
  EXPECT_EQ(transport_.calls[0].path, "/v1/apps/web/secrets");
  EXPECT_EQ(out_.str(),
            "KEY      VERSION  UPDATED\n"
            "API_KEY  2        T1\n"
            "DB       1        T2\n");
  out_.str("");
  transport_.Answer(200, body);
  list.options.output = "json";
  EXPECT_EQ(Run(list), 0);
  EXPECT_EQ(out_.str(), body + "\n");
  out_.str("");
  transport_.Answer(200, R"({"app":"web","key":"DB","revision":9})");
  Invocation unset = Inv("secrets unset");
  unset.app = "web";
  unset.secret_key = "DB";
  EXPECT_EQ(Run(unset), 0);
  EXPECT_EQ(transport_.calls[2].method, "DELETE");
  EXPECT_EQ(transport_.calls[2].path, "/v1/apps/web/secrets/DB");
  EXPECT_EQ(out_.str(), "web: secret DB unset, revision 9\n");
}

}  // namespace
}  // namespace skiff::cli
