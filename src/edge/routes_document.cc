#include "edge/routes_document.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "model/codec.h"

namespace skiff::edge {
namespace json = boost::json;

namespace {

bool TakesTraffic(const model::Instance& i) {
  return i.desired == model::DesiredState::kRun && i.state == model::InstanceState::kRunning &&
         i.health == model::Health::kHealthy && !i.address.empty();
}

}  // namespace

std::string RoutesDocument(const store::Snapshot& snapshot) {
  std::vector<const model::App*> apps;
  std::set<std::string> served;
  for (const model::App& app : snapshot.apps) {
    if (app.deleting || app.spec.domains.empty()) continue;
    apps.push_back(&app);
    served.insert(app.name);
  }
  std::sort(apps.begin(), apps.end(),
            [](const model::App* a, const model::App* b) { return a->name < b->name; });
  std::vector<const model::Instance*> instances;
  for (const model::Instance& i : snapshot.instances) {
    if (TakesTraffic(i) && served.contains(i.app)) instances.push_back(&i);
  }
  std::sort(instances.begin(), instances.end(),
            [](const model::Instance* a, const model::Instance* b) { return a->id < b->id; });
  json::array app_list;
  for (const model::App* app : apps) {
    app_list.push_back(json::object{{"name", app->name}, {"spec", model::SpecToJson(app->spec)}});
  }
  json::array instance_list;
  for (const model::Instance* i : instances) {
    json::object entry{{"id", i->id}, {"app", i->app}, {"address", i->address}};
    // Only when not the default, so documents of apps without rollouts stay as they were.
    if (i->traffic != model::Traffic::kServe) entry["traffic"] = model::ToString(i->traffic);
    instance_list.push_back(std::move(entry));
  }
  return json::serialize(
      json::object{{"apps", std::move(app_list)}, {"instances", std::move(instance_list)}});
}

Result<store::Snapshot> SnapshotFromRoutesDocument(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return InvalidArgument("routes: not a JSON object");
  auto list = [&](const char* key) -> const json::array* {
    const json::value* v = doc.as_object().if_contains(key);
    return v != nullptr && v->is_array() ? &v->as_array() : nullptr;
  };
  const json::array* apps = list("apps");
  const json::array* instances = list("instances");
  if (apps == nullptr) return InvalidArgument("routes: apps must be a list", "apps");
  if (instances == nullptr) return InvalidArgument("routes: instances must be a list", "instances");
  store::Snapshot snapshot;
  auto text_of = [](const json::value& v, const char* key) -> const json::string* {
    const json::value* f = v.is_object() ? v.as_object().if_contains(key) : nullptr;
    return f != nullptr && f->is_string() ? &f->as_string() : nullptr;
  };
  for (size_t n = 0; n < apps->size(); ++n) {
    const json::value& a = (*apps)[n];
    const json::string* name = text_of(a, "name");
    const json::value* spec = a.is_object() ? a.as_object().if_contains("spec") : nullptr;
    if (name == nullptr || spec == nullptr) {
      return InvalidArgument("routes: an app needs name and spec", fmt::format("apps[{}]", n));
    }
    auto parsed = model::SpecFromJson(*spec);
    if (!parsed) {
      return InvalidArgument("routes: " + parsed.error().message, fmt::format("apps[{}].spec", n));
    }
    model::App app;
    app.name = std::string(*name);
    app.spec = std::move(*parsed);
    snapshot.apps.push_back(std::move(app));
  }
  for (size_t n = 0; n < instances->size(); ++n) {
    const json::value& v = (*instances)[n];
    const json::string* id = text_of(v, "id");
    const json::string* app = text_of(v, "app");
    const json::string* address = text_of(v, "address");
    if (id == nullptr || app == nullptr || address == nullptr) {
      return InvalidArgument("routes: an instance needs id, app and address",
                             fmt::format("instances[{}]", n));
    }
    model::Instance i;
    i.id = std::string(*id);
    i.app = std::string(*app);
    i.address = std::string(*address);
    i.state = model::InstanceState::kRunning;
    i.health = model::Health::kHealthy;
    if (const json::value* t = v.as_object().if_contains("traffic")) {
      std::optional<model::Traffic> traffic;
      if (t->is_string()) traffic = model::ParseTraffic(t->as_string());
      if (!traffic) {
        return InvalidArgument("routes: traffic must be serve, canary or hold",
                               fmt::format("instances[{}].traffic", n));
      }
      i.traffic = *traffic;
    }
    snapshot.instances.push_back(std::move(i));
  }
  return snapshot;
}

std::string RoutesTag(std::string_view document) {
  // FNV-1a, 64 bits: a change detector, not a security boundary.
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : document) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

}  // namespace skiff::edge
