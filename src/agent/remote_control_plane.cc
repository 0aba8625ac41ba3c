#include "agent/remote_control_plane.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "model/codec.h"
#include "protocol/node_codec.h"

namespace skiff::agent {
namespace json = boost::json;
namespace {

// The server caps a wait at 30 s (docs/api.md).
constexpr Duration kMaxWait = std::chrono::seconds(30);

std::string PathSegment(const std::string& id) {
  // Node ids are DNS-label-like; anything else is refused by the server's
  // router anyway, so it is sent escaped rather than trusted.
  std::string out;
  for (unsigned char c : id) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

RemoteControlPlane::RemoteControlPlane(RemoteControlPlaneOptions options)
    : RemoteControlPlane(options, net::ServerPool(options.server_url, options.trust)) {}

RemoteControlPlane::RemoteControlPlane(RemoteControlPlaneOptions options, net::ServerPool servers)
    : options_(std::move(options)), client_(std::move(servers)), credential_(options_.credential) {}

std::string RemoteControlPlane::credential() const {
  std::lock_guard lock(mu_);
  return credential_;
}

Result<json::value> RemoteControlPlane::Call(std::string_view method, const std::string& path,
                                             const std::string& body, const std::string& token,
                                             Duration timeout,
                                             net::ServerPool::Resend resend) const {
  net::HttpHeaders headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  auto response = client_.Do(method, path, body, headers, timeout, resend);
  if (!response) {
    Error error = response.error();
    // A server too slow to answer is as good as gone for now: retry later.
    if (error.code == ErrorCode::kDeadlineExceeded) error.code = ErrorCode::kUnavailable;
    return tl::unexpected(error);
  }
  if (response->status < 200 || response->status > 299) {
    return tl::unexpected(net::ErrorFromResponse(response->status, response->body));
  }
  boost::system::error_code ec;
  json::value value = json::parse(response->body, ec);
  if (ec) return Internal(fmt::format("{} {}: the answer is not JSON", method, path));
  return value;
}

Result<json::value> RemoteControlPlane::Call(std::string_view method, const std::string& path,
                                             const std::string& body) const {
  return Call(method, path, body, credential(), options_.request_timeout);
}

Result<json::value> RemoteControlPlane::Report(const std::string& path,
                                               const std::string& body) const {
  return Call("POST", path, body, credential(), options_.report_timeout,
              net::ServerPool::Resend::kAlways);
}

Result<model::Node> RemoteControlPlane::RegisterNode(const model::Node& node) {
  const std::string body = json::serialize(model::ToJson(node));
  std::string held = credential();
  Result<json::value> reply = Unauthenticated("no node credential");
  if (!held.empty()) {
    reply = Call("POST", "/v1/agent/register", body, held, options_.request_timeout);
  }
  // A server the agent does not trust (net::NeverSent: nothing went to it)
  // did not refuse the credential: the join token must not go to it either.
  const bool refused =
      !reply && reply.error().code == ErrorCode::kUnauthenticated && !net::NeverSent(reply.error());
  if (refused) {
    if (options_.join_token.empty()) {
      return Unauthenticated(
          held.empty() ? "no join token and no stored node credential: give --join-token"
                       : "the server no longer knows this node's credential: start the agent "
                         "with --join-token (ask the server's admin for one with `skiff nodes "
                         "join-token`)");
    }
    reply = Call("POST", "/v1/agent/register", body, options_.join_token, options_.request_timeout);
  }
  if (!reply) return tl::unexpected(reply.error());
  const json::object* o = reply->if_object();
  const json::value* stored = o != nullptr ? o->if_contains("node") : nullptr;
  if (stored == nullptr) return Internal("register: the answer has no node");
  SKIFF_ASSIGN_OR_RETURN(model::Node result, model::NodeFromJson(*stored));
  if (const json::value* c = o->if_contains("credential"); c != nullptr && c->is_string()) {
    std::string issued(c->get_string());
    if (options_.save_credential) SKIFF_RETURN_IF_ERROR(options_.save_credential(issued));
    std::lock_guard lock(mu_);
    credential_ = std::move(issued);
  }
  if (options_.registered) SKIFF_RETURN_IF_ERROR(options_.registered());
  return result;
}

Status RemoteControlPlane::Heartbeat(const std::string& node_id) {
  SKIFF_RETURN_IF_ERROR(Report("/v1/agent/nodes/" + PathSegment(node_id) + "/heartbeat", "{}"));
  return OkStatus();
}

Result<protocol::Assignments> RemoteControlPlane::ListAssignments(const std::string& node_id) {
  SKIFF_ASSIGN_OR_RETURN(json::value reply,
                         Call("GET", "/v1/agent/nodes/" + PathSegment(node_id) + "/assignments"));
  return protocol::AssignmentsFromJson(reply);
}

Result<int64_t> RemoteControlPlane::WaitForChange(int64_t revision, Duration timeout) {
  const Duration wait = std::clamp(timeout, Duration::zero(), kMaxWait);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count();
  SKIFF_ASSIGN_OR_RETURN(
      json::value reply,
      Call("GET", fmt::format("/v1/agent/wait?revision={}&timeout_ms={}", revision, millis), "",
           credential(), wait + options_.request_timeout));
  const json::object* o = reply.if_object();
  const json::value* r = o != nullptr ? o->if_contains("revision") : nullptr;
  if (r == nullptr || !r->is_int64()) return Internal("wait: the answer has no revision");
  return r->get_int64();
}

Status RemoteControlPlane::ReportInstance(const protocol::InstanceReport& report) {
  SKIFF_RETURN_IF_ERROR(Call("POST", "/v1/agent/nodes/" + PathSegment(report.node_id) + "/reports",
                             json::serialize(ToJson(report))));
  return OkStatus();
}

Status RemoteControlPlane::ReportSamples(const std::string& node_id,
                                         const std::vector<protocol::InstanceSample>& samples) {
  SKIFF_RETURN_IF_ERROR(Report("/v1/agent/nodes/" + PathSegment(node_id) + "/samples",
                               json::serialize(protocol::SamplesToJson(samples))));
  return OkStatus();
}

}  // namespace skiff::agent
