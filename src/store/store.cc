#include "store/store.h"

#include <algorithm>
#include <tuple>
#include <type_traits>
#include <utility>

#include "common/check.h"
#include "common/clock.h"

namespace skiff::store {

// KindOf relies on the variant's alternatives being listed in Kind's order.
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<size_t>(Kind::kApp), Object>,
                             model::App>);
static_assert(
    std::is_same_v<std::variant_alternative_t<static_cast<size_t>(Kind::kDeployment), Object>,
                   model::Deployment>);
static_assert(
    std::is_same_v<std::variant_alternative_t<static_cast<size_t>(Kind::kInstance), Object>,
                   model::Instance>);
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<size_t>(Kind::kNode), Object>,
                             model::Node>);
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<size_t>(Kind::kEvent), Object>,
                             model::Event>);

std::string_view ToString(Kind kind) {
  switch (kind) {
    case Kind::kApp:
      return "app";
    case Kind::kDeployment:
      return "deployment";
    case Kind::kInstance:
      return "instance";
    case Kind::kNode:
      return "node";
    case Kind::kEvent:
      return "event";
  }
  return "unknown";
}

std::string_view ToString(RecordKind kind) {
  switch (kind) {
    case RecordKind::kJoinToken:
      return "join_token";
    case RecordKind::kNodeCredential:
      return "node_credential";
    case RecordKind::kAdminToken:
      return "admin_token";
    case RecordKind::kEdge:
      return "edge";
    case RecordKind::kEdgeCredential:
      return "edge_credential";
    case RecordKind::kCertificate:
      return "certificate";
    case RecordKind::kApiToken:
      return "api_token";
    case RecordKind::kApiTokenUse:
      return "api_token_use";
    case RecordKind::kProject:
      return "project";
    case RecordKind::kUser:
      return "user";
    case RecordKind::kSession:
      return "session";
    case RecordKind::kSecret:
      return "secret";
  }
  return "unknown";
}

Kind KindOf(const Object& object) { return static_cast<Kind>(object.index()); }

void SortDeployments(std::vector<model::Deployment>& deployments) {
  std::sort(deployments.begin(), deployments.end(), [](const auto& a, const auto& b) {
    return std::tie(a.app, a.revision) < std::tie(b.app, b.revision);
  });
}

std::string KeyOf(const Object& object) {
  struct Visitor {
    std::string operator()(const model::App& a) const { return a.name; }
    std::string operator()(const model::Deployment& d) const {
      return d.app + "/" + std::to_string(d.revision);
    }
    std::string operator()(const model::Instance& i) const { return i.id; }
    std::string operator()(const model::Node& n) const { return n.id; }
    std::string operator()(const model::Event& e) const { return std::to_string(e.id); }
  };
  return std::visit(Visitor{}, object);
}

Txn& Txn::Put(Object object, int64_t expected_version) {
  ops_.push_back(Op{std::move(object), false, expected_version});
  return *this;
}

Txn& Txn::Delete(Object object, int64_t expected_version) {
  ops_.push_back(Op{std::move(object), true, expected_version});
  return *this;
}

Txn& Txn::AddEvent(model::Event event) {
  // Stamped here rather than in the store so both stores record the same thing
  // and a caller that cares (tests, replays) can set the time itself.
  if (event.time == Time{}) {
    event.time = SystemClock::Get()->Now();
  }
  ops_.push_back(Op{std::move(event), false, kMustNotExist});
  return *this;
}

Txn& Txn::ClaimDomains(std::string app, std::vector<std::string> domains) {
  claims_.push_back(DomainClaim{std::move(app), std::move(domains)});
  return *this;
}

Txn& Txn::PutRecord(RecordKind kind, std::string key, std::string value) {
  record_ops_.push_back(RecordOp{RecordOp::Type::kPut, kind, std::move(key), std::move(value)});
  return *this;
}

Txn& Txn::CreateRecord(RecordKind kind, std::string key, std::string value) {
  record_ops_.push_back(RecordOp{RecordOp::Type::kCreate, kind, std::move(key), std::move(value)});
  return *this;
}

Txn& Txn::DeleteRecord(RecordKind kind, std::string key) {
  record_ops_.push_back(RecordOp{RecordOp::Type::kDelete, kind, std::move(key), {}});
  return *this;
}

Txn& Txn::RequireRecord(RecordKind kind, std::string key) {
  required_records_.push_back(RecordRequirement{kind, std::move(key)});
  return *this;
}

Txn& Txn::RequireNoApp(std::string what, std::function<bool(const model::App&)> matches) {
  SKIFF_CHECK(matches != nullptr);
  // A fenced txn's kFailedPrecondition must keep meaning "deposed" alone.
  SKIFF_CHECK(fence_epoch_ == 0);
  app_exclusions_.push_back(AppExclusion{std::move(what), std::move(matches)});
  return *this;
}

Txn& Txn::Audit(AuditEntry entry) {
  audit_.push_back(std::move(entry));
  return *this;
}

Txn& Txn::Fenced(int64_t epoch) {
  SKIFF_CHECK(epoch > 0);
  SKIFF_CHECK(app_exclusions_.empty());  // as RequireNoApp says
  fence_epoch_ = epoch;
  return *this;
}

}  // namespace skiff::store
