// Handlers of the cluster: nodes, drain, health, metrics.
#include <fmt/format.h>

#include "api/errors.h"
#include "api/handlers.h"
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

}  // namespace

net::HttpResponse ListNodes(const ApiDeps& deps, const net::HttpRequest&, const PathParams&) {
  auto nodes = deps.store->ListNodes();
  if (!nodes) return ErrorReply(nodes.error());
  json::array out;
  for (const model::Node& n : *nodes) out.push_back(model::ToJson(n));
  return net::JsonResponse(200, json::object{{"nodes", std::move(out)}});
}

net::HttpResponse DrainNode(const ApiDeps& deps, const net::HttpRequest&,
                            const PathParams& params) {
  const std::string& id = params.at("id");
  Status drained = deps.nodes != nullptr ? deps.nodes->Drain(id) : DrainInStore(deps, id);
  if (!drained) return ErrorReply(drained.error());
  auto node = deps.store->GetNode(id);
  if (!node) return ErrorReply(node.error());
  return net::JsonResponse(200, model::ToJson(*node));
}

net::HttpResponse Health(const ApiDeps& deps, const net::HttpRequest&, const PathParams&) {
  json::object components;
  components["api"] = "ok";
  // The store answers a read: a broken database shows here, not only in errors.
  auto apps = deps.store->ListApps();
  components["store"] = apps ? std::string("ok") : apps.error().ToString();
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
  // 503 when degraded, so load balancers and `curl -f` notice without parsing.
  return net::JsonResponse(ok ? 200 : 503, body);
}

net::HttpResponse Metrics(const ApiDeps& deps, const net::HttpRequest&, const PathParams&) {
  if (deps.metrics == nullptr) {
    return ErrorReply(Error{ErrorCode::kNotFound, "metrics are not enabled on this server", ""});
  }
  return net::TextResponse(200, deps.metrics->Render(), metrics::Registry::kContentType);
}

}  // namespace skiff::api
