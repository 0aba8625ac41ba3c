#include "store/object_codec.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <limits>
#include <utility>

#include "model/codec.h"
#include "store/txn_plan.h"

namespace skiff::store {
namespace {

template <typename T>
Result<Object> AsObject(Result<T> r) {
  if (!r) return tl::unexpected(r.error());
  return Object(std::move(*r));
}

}  // namespace

std::string EncodeObject(const Object& object) {
  return std::visit([](const auto& o) { return boost::json::serialize(model::ToJson(o)); }, object);
}

Result<Object> DecodeObject(Kind kind, std::string_view data, int64_t version) {
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(data, ec);
  if (ec) {
    return Internal("stored " + std::string(ToString(kind)) + " is not JSON: " + ec.message());
  }
  Result<Object> object = [&]() -> Result<Object> {
    switch (kind) {
      case Kind::kApp:
        return AsObject(model::AppFromJson(json));
      case Kind::kDeployment:
        return AsObject(model::DeploymentFromJson(json));
      case Kind::kInstance:
        return AsObject(model::InstanceFromJson(json));
      case Kind::kNode:
        return AsObject(model::NodeFromJson(json));
      case Kind::kEvent:
        return AsObject(model::EventFromJson(json));
    }
    return Internal("unknown kind");
  }();
  if (!object) {
    return Internal("stored " + std::string(ToString(kind)) +
                    " does not decode: " + object.error().ToString());
  }
  SetVersion(*object, version);
  return object;
}

std::optional<Kind> ParseKind(std::string_view name) {
  for (Kind k : {Kind::kApp, Kind::kDeployment, Kind::kInstance, Kind::kNode, Kind::kEvent}) {
    if (ToString(k) == name) return k;
  }
  return std::nullopt;
}

std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

int64_t ClampLimit(size_t limit) {
  return static_cast<int64_t>(
      std::min<size_t>(limit, static_cast<size_t>(std::numeric_limits<int64_t>::max())));
}

int64_t ToMillis(Time t) {
  return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Time FromMillis(int64_t ms) { return Time(std::chrono::milliseconds(ms)); }

int64_t SinceMillis(const AuditFilter& filter) {
  if (filter.since == Time{}) return std::numeric_limits<int64_t>::min();
  return ToMillis(filter.since);
}

}  // namespace skiff::store
