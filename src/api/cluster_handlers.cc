// Handlers of the cluster: nodes, drain, health, metrics.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <vector>

#include "api/errors.h"
#include "api/handlers.h"
#include "common/quantity.h"
#include "controller/allocation.h"
#include "model/codec.h"

namespace skiff::api {
namespace json = boost::json;
namespace {

// Without a NodeService (tests, tools): the same status write, by hand.
Status DrainInStore(const ApiDeps& deps, const std::string& id) {
  const Clock* clock = deps.clock != nullptr ? deps.clock : SystemClock::Get();
  for (int attempt = 0;; ++attempt) {
    SKIFF_ASSIGN_OR_RETURN(model::Node node, deps.store->GetNode(id));
    if (node.status == model::NodeStatus::kDraining) return OkStatus();
    int64_t version = node.version;
    node.status = model::NodeStatus::kDraining;
    model::Event event;
    event.time = clock->Now();
    event.kind = "node.draining";
    event.message = fmt::format("node {} is draining", node.name.empty() ? id : node.name);
    event.details = {{"node", id}};
    store::Txn txn;
    txn.Put(node, version).AddEvent(std::move(event));
    auto committed = deps.store->Commit(txn);
    if (committed) return OkStatus();
    if (committed.error().code != ErrorCode::kAborted || attempt == 4) {
      return tl::unexpected(committed.error());
    }
  }
}

// Every node as the API shows it: `allocated` derived from the placed
// instances by the scheduler's rule, `last_heartbeat` from the NodeService's
// memory (heartbeats are not written to the store). Keyed by id.
Result<std::map<std::string, json::value>> NodesJson(const ApiDeps& deps) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<model::Node> nodes,
                         deps.snapshots->Read([](const store::Snapshot& snapshot) {
                           const auto allocated = controller::AllocatedByNode(snapshot);
                           std::vector<model::Node> nodes = snapshot.nodes;
                           for (model::Node& n : nodes) {
                             auto it = allocated.find(n.id);
                             n.allocated = it == allocated.end() ? model::Resources{} : it->second;
                           }
                           return nodes;
                         }));
  std::map<std::string, json::value> out;
  for (model::Node& n : nodes) {
    if (deps.nodes != nullptr)
      n.last_heartbeat = std::max(n.last_heartbeat, deps.nodes->LastHeartbeat(n.id));
    out.emplace(n.id, model::ToJson(n));
  }
  return out;
}

}  // namespace

net::HttpResponse ListNodes(const ApiDeps& deps, const net::HttpRequest&, const PathParams&) {
  auto nodes = NodesJson(deps);
  if (!nodes) return ErrorReply(nodes.error());
  json::array out;
  for (auto& [id, node] : *nodes) out.push_back(std::move(node));
  return net::JsonResponse(200, json::object{{"nodes", std::move(out)}});
}

net::HttpResponse DrainNode(const ApiDeps& deps, const net::HttpRequest&,
                            const PathParams& params) {
  const std::string& id = params.at("id");
  Status drained = deps.nodes != nullptr ? deps.nodes->Drain(id) : DrainInStore(deps, id);
  if (!drained) return ErrorReply(drained.error());
  auto nodes = NodesJson(deps);
  if (!nodes) return ErrorReply(nodes.error());
  auto it = nodes->find(id);
  if (it == nodes->end())
    return ErrorReply(Error{ErrorCode::kNotFound, "node " + id + " is gone", ""});
  return net::JsonResponse(200, std::move(it->second));
}

net::HttpResponse Health(const ApiDeps& deps, const net::HttpRequest&, const PathParams&) {
  json::object components;
  components["api"] = "ok";
  // The store answers a read: a broken database shows here, not only in errors.
  auto apps = deps.store->ListApps();
  components["store"] = apps ? std::string("ok")
                        : apps.error().code == ErrorCode::kUnavailable
                            ? "unreachable: " + apps.error().message
                            : apps.error().ToString();
  bool ok = static_cast<bool>(apps);
  if (deps.components) {
    for (const auto& [name, status] : deps.components()) {
      components[name] = status;
      if (status != "ok") ok = false;
    }
  }
  json::object body{{"status", ok ? "ok" : "degraded"},
                    {"revision", deps.store->Revision()},
                    {"components", std::move(components)}};
  if (deps.leadership) {
    const controller::Leadership::State state = deps.leadership();
    body["leader"] = state.leading;
    body["epoch"] = state.epoch;
  }
  // 503 when degraded, so load balancers and `curl -f` notice without parsing.
  return net::JsonResponse(ok ? 200 : 503, body);
}

net::HttpResponse ListServers(const ApiDeps& deps, const net::HttpRequest&, const PathParams&) {
  if (deps.lease == nullptr) {
    return ErrorReply(Error{ErrorCode::kNotFound, "this server keeps no list of servers", ""});
  }
  auto servers = deps.lease->ListServers();
  if (!servers) return ErrorReply(servers.error());
  json::array out;
  for (const store::ServerRecord& s : *servers) {
    out.push_back(json::object{{"id", s.id},
                               {"address", s.address},
                               {"leader", s.leader},
                               {"epoch", s.epoch},
                               {"last_seen", FormatTime(s.last_seen)},
                               {"version", s.version}});
  }
  return net::JsonResponse(200, json::object{{"servers", std::move(out)}});
}

net::HttpResponse Metrics(const ApiDeps& deps, const net::HttpRequest&, const PathParams&) {
  if (deps.metrics == nullptr) {
    return ErrorReply(Error{ErrorCode::kNotFound, "metrics are not enabled on this server", ""});
  }
  return net::TextResponse(200, deps.metrics->Render(), metrics::Registry::kContentType);
}

}  // namespace skiff::api
