// Handlers of joining and of remote agents: join tokens (admin), and
// /v1/agent/..., one call per method of protocol::ControlPlane. Agent calls are
// routed without the admin check: each handler identifies its caller (admin
// token, or a node credential, or, to register, a join token) and lets a node
// act only on itself.
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <chrono>

#include "api/agent_secrets.h"
#include "api/commit_waiter.h"
#include "api/errors.h"
#include "api/handlers.h"
#include "api/join_tokens.h"
#include "api/request_util.h"
#include "common/quantity.h"
#include "model/codec.h"
#include "protocol/node_codec.h"

namespace skiff::api {
namespace asio = boost::asio;
namespace json = boost::json;
namespace {

constexpr const char* kBadJoinToken =
    "join token not recognised: ask the server's admin for a new one with `skiff nodes "
    "join-token`";
constexpr const char* kBadCredential =
    "node credential not recognised: the node must join again with a join token "
    "(`skiff agent --join-token`)";

// The longest WaitForChange a caller may ask for.
constexpr int64_t kMaxWaitMillis = 30'000;
// A draining node is never marked down; silent this long, it counts as gone.
constexpr std::chrono::seconds kDrainingNodeGone{30};

// The token itself only when just made: it is kept nowhere.
json::value TokenJson(const JoinToken& t) {
  json::object o{{"id", t.id}, {"prefix", t.prefix}, {"created_at", FormatTime(t.created_at)}};
  if (!t.token.empty()) o["token"] = t.token;
  return o;
}

Error Unconfigured() {
  return Error{ErrorCode::kNotFound, "this server takes no remote agents", ""};
}

// The caller of an agent call for node `node_id` (empty: any node): kUnauthenticated
// without an admin token or a node credential, kPermissionDenied for another node.
Result<Caller> AgentCaller(const ApiDeps& deps, const net::HttpRequest& request,
                           const std::string& node_id) {
  if (deps.nodes == nullptr || deps.join_tokens == nullptr) return tl::unexpected(Unconfigured());
  auto caller = deps.auth->Identify(request);
  // Only a refused token is 401; a store that failed to answer says how.
  if (!caller && caller.error().code != ErrorCode::kUnauthenticated) return caller;
  if (!caller) return Unauthenticated(kBadCredential);
  if (!caller->admin() && caller->role != auth::Role::kNode) {
    return PermissionDenied(fmt::format("{} {} may not make an agent's calls",
                                        auth::ToString(caller->role), caller->name));
  }
  if (!node_id.empty() && !MayActForNode(*caller, node_id)) {
    return PermissionDenied(fmt::format("node {} may not act for node {}", caller->name, node_id));
  }
  return caller;
}

}  // namespace

net::HttpResponse CreateJoinToken(const ApiDeps& deps, const net::HttpRequest&, const PathParams&) {
  if (deps.join_tokens == nullptr) return ErrorReply(Unconfigured());
  auto token = deps.join_tokens->Create();
  if (!token) return ErrorReply(token.error());
  return net::JsonResponse(201, TokenJson(*token));
}

net::HttpResponse ListJoinTokens(const ApiDeps& deps, const net::HttpRequest&, const PathParams&) {
  if (deps.join_tokens == nullptr) return ErrorReply(Unconfigured());
  auto tokens = deps.join_tokens->List();
  if (!tokens) return ErrorReply(tokens.error());
  json::array list;
  for (const JoinToken& t : *tokens) list.push_back(TokenJson(t));
  return net::JsonResponse(200, json::object{{"join_tokens", std::move(list)}});
}

net::HttpResponse RevokeJoinToken(const ApiDeps& deps, const net::HttpRequest&,
                                  const PathParams& params) {
  if (deps.join_tokens == nullptr) return ErrorReply(Unconfigured());
  if (Status revoked = deps.join_tokens->Revoke(params.at("id")); !revoked) {
    return ErrorReply(revoked.error());
  }
  return net::JsonResponse(200, json::object{{"revoked", true}});
}

// A join token names no node, so joining under the id of a node that is
// alive would hand its credential, and its instances, to whoever holds any
// token. A node that is down (or gone) may be taken over: that is how a
// rebuilt machine joins again under its old name.
Status NameIsFree(const ApiDeps& deps, const model::Node& joining) {
  auto existing = deps.store->GetNode(joining.id);
  if (!existing) {
    return existing.error().code == ErrorCode::kNotFound ? OkStatus()
                                                         : tl::unexpected(existing.error());
  }
  if (existing->status == model::NodeStatus::kDown) return OkStatus();
  const Clock* clock = deps.clock != nullptr ? deps.clock : SystemClock::Get();
  const Duration silent =
      std::chrono::duration_cast<Duration>(clock->Now() - deps.nodes->LastHeartbeat(joining.id));
  if (existing->status == model::NodeStatus::kDraining && silent > kDrainingNodeGone) {
    return OkStatus();
  }
  return tl::unexpected(Error{
      ErrorCode::kAlreadyExists,
      fmt::format("node {} is already registered and alive (last heartbeat {} ago): join under "
                  "another --name, or stop that node's agent and join again once `skiff nodes` "
                  "shows it down",
                  joining.id, FormatDuration(silent)),
      "id"});
}

net::HttpResponse AgentRegister(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams&) {
  if (deps.nodes == nullptr || deps.join_tokens == nullptr) return ErrorReply(Unconfigured());
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  auto node = model::NodeFromJson(*body);
  if (!node) return ErrorReply(node.error());
  auto is_join_token = deps.join_tokens->IsJoinToken(BearerToken(request));
  if (!is_join_token) return ErrorReply(is_join_token.error());
  const bool joining = *is_join_token;
  if (!joining) {
    auto caller = deps.auth->Identify(request);
    if (!caller && caller.error().code != ErrorCode::kUnauthenticated) {
      return ErrorReply(caller.error());
    }
    if (!caller) return ErrorReply(Error{ErrorCode::kUnauthenticated, kBadJoinToken, ""});
    if (!MayActForNode(*caller, node->id)) {
      return ErrorReply(Error{ErrorCode::kPermissionDenied,
                              fmt::format("{} {} may not register as node {}",
                                          auth::ToString(caller->role), caller->name, node->id),
                              "id"});
    }
  }
  if (joining) {
    if (Status free = NameIsFree(deps, *node); !free) return ErrorReply(free.error());
  }
  auto stored = deps.nodes->Register(*node);
  if (!stored) return ErrorReply(stored.error());
  json::object reply{{"node", model::ToJson(*stored)}};
  if (joining) {
    auto credential = deps.join_tokens->IssueCredential(stored->id);
    if (!credential) return ErrorReply(credential.error());
    reply["credential"] = *credential;
  }
  return net::JsonResponse(200, reply);
}

net::HttpResponse AgentHeartbeat(const ApiDeps& deps, const net::HttpRequest& request,
                                 const PathParams& params) {
  const std::string& id = params.at("id");
  if (auto caller = AgentCaller(deps, request, id); !caller) return ErrorReply(caller.error());
  if (Status s = deps.nodes->Heartbeat(id); !s) return ErrorReply(s.error());
  return net::JsonResponse(200, json::object{{"node", id}});
}

net::HttpResponse AgentAssignments(const ApiDeps& deps, const net::HttpRequest& request,
                                   const PathParams& params) {
  const std::string& id = params.at("id");
  if (auto caller = AgentCaller(deps, request, id); !caller) return ErrorReply(caller.error());
  auto assignments = deps.nodes->Assignments(id);
  if (!assignments) return ErrorReply(assignments.error());
  // The values of its apps' secrets: to this node's credential only.
  AttachSecrets(deps.secrets, &*assignments);
  return net::JsonResponse(200, protocol::ToJson(*assignments));
}

net::HttpResponse AgentReport(const ApiDeps& deps, const net::HttpRequest& request,
                              const PathParams& params) {
  const std::string& id = params.at("id");
  if (auto caller = AgentCaller(deps, request, id); !caller) return ErrorReply(caller.error());
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  auto report = protocol::InstanceReportFromJson(*body);
  if (!report) return ErrorReply(report.error());
  if (report->node_id.empty()) report->node_id = id;
  if (report->node_id != id) {
    return ErrorReply(Error{ErrorCode::kPermissionDenied,
                            fmt::format("a report of node {} sent as node {}", report->node_id, id),
                            "node"});
  }
  if (Status s = deps.nodes->Report(*report); !s) return ErrorReply(s.error());
  return net::JsonResponse(200, json::object{{"instance", report->instance_id}});
}

net::HttpResponse AgentSamples(const ApiDeps& deps, const net::HttpRequest& request,
                               const PathParams& params) {
  const std::string& id = params.at("id");
  if (auto caller = AgentCaller(deps, request, id); !caller) return ErrorReply(caller.error());
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  auto samples = protocol::SamplesFromJson(*body);
  if (!samples) return ErrorReply(samples.error());
  deps.nodes->RecordSamples(id, *samples);
  return net::JsonResponse(200, json::object{{"samples", samples->size()}});
}

// Kept free of braced temporaries inside co_await expressions (g++ 12).
asio::awaitable<void> AgentWait(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams&, net::ResponseWriter& writer) {
  auto caller = AgentCaller(deps, request, "");
  if (!caller) {
    co_await writer.Send(ErrorReply(caller.error()));
    co_return;
  }
  auto revision = QueryInt(request, "revision", 0, 0);
  auto timeout = QueryInt(request, "timeout_ms", 0, 0);
  if (!revision || !timeout) {
    Error bad = !revision ? revision.error() : timeout.error();
    co_await writer.Send(ErrorReply(bad));
    co_return;
  }
  if (*timeout > kMaxWaitMillis) {
    Error bad{ErrorCode::kInvalidArgument,
              fmt::format("timeout_ms: at most {} (got {})", kMaxWaitMillis, *timeout),
              "timeout_ms"};
    co_await writer.Send(ErrorReply(bad));
    co_return;
  }
  // Subscribed before the first read: no commit between the read and the wait is missed.
  CommitWaiter waiter(deps.store, co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(*timeout);
  while (deps.store->Revision() <= *revision) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) break;
    co_await waiter.WaitPast(*revision, std::chrono::duration_cast<Duration>(left));
  }
  json::object reply;
  reply["revision"] = deps.store->Revision();
  co_await writer.Send(net::JsonResponse(200, reply));
}

}  // namespace skiff::api
