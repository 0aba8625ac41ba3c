// RemoteControlPlane: the agent's ControlPlane over HTTP, for `skiff agent` on
// a machine other than the server's. Each method is one /v1/agent/... call
// (docs/api.md) made through net::ServerPool: to the server that answered
// last, the next one when it cannot be reached.
//
// Credentials: the first RegisterNode shows the join token and receives the
// node's credential, handed to `save_credential` so that a restarted agent
// authenticates without the join token; every later call shows the credential.
// A credential the server refuses on registration is replaced by joining again
// when a join token is at hand.
//
// Errors: kUnavailable when the server cannot be reached, drops the call or
// times out (the agent keeps its instances running and retries); otherwise the
// server's error (kUnauthenticated for a refused token, kPermissionDenied, ...),
// or kUnauthenticated "cannot trust the server at ..." for an https:// server
// that is not the one `trust` names: nothing, neither the credential nor the
// join token, was sent to it.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "net/server_pool.h"
#include "protocol/control_plane.h"

namespace skiff::agent {

struct RemoteControlPlaneOptions {
  // "http://host:port", or several servers' comma-separated (net::ServerPool).
  std::string server_url;
  // Whom https:// servers must be (the CA pinned by the join token, --ca).
  net::TlsTrust trust;
  std::string join_token;  // may be empty when `credential` is set
  std::string credential;  // from an earlier join; may be empty
  // Called with a newly issued credential before RegisterNode returns; an
  // error fails the registration. Optional.
  std::function<Status(const std::string& credential)> save_credential;
  // Called after every registration the server answered (over https://, one
  // whose chain was verified), whether or not it issued a credential, after
  // save_credential; an error fails the registration. Optional.
  std::function<Status()> registered;
  // Bounds each call but WaitForChange (which gets its own timeout plus this)
  // and those bounded by report_timeout.
  Duration request_timeout = std::chrono::seconds(10);
  // Bounds a heartbeat and a report of samples, which go on to the next server
  // after any transport error (sending one twice does no harm), so that a
  // server frozen with its port open (SIGSTOP) holds them this long only:
  // well within the node TTL (the server's default 5 s), or the node is
  // judged down before the leader hears it.
  Duration report_timeout = std::chrono::milliseconds(1500);
};

class RemoteControlPlane final : public protocol::ControlPlane {
 public:
  explicit RemoteControlPlane(RemoteControlPlaneOptions options);
  // The same over `servers` rather than options.server_url: a pool whose list
  // its owner replaces as servers come and go (server/peer_pool.h).
  RemoteControlPlane(RemoteControlPlaneOptions options, net::ServerPool servers);

  // ControlPlane:
  Result<model::Node> RegisterNode(const model::Node& node) override;
  Status Heartbeat(const std::string& node_id) override;
  Result<protocol::Assignments> ListAssignments(const std::string& node_id) override;
  Result<int64_t> WaitForChange(int64_t revision, Duration timeout) override;
  Status ReportInstance(const protocol::InstanceReport& report) override;
  Status ReportSamples(const std::string& node_id,
                       const std::vector<protocol::InstanceSample>& samples) override;

  // The credential held now ("" before the first join).
  std::string credential() const;

 private:
  // One call with `token` as the bearer; the parsed JSON body of a 2xx answer.
  Result<boost::json::value> Call(
      std::string_view method, const std::string& path, const std::string& body,
      const std::string& token, Duration timeout,
      net::ServerPool::Resend resend = net::ServerPool::Resend::kByMethod) const;
  // The same with the credential held now.
  Result<boost::json::value> Call(std::string_view method, const std::string& path,
                                  const std::string& body = {}) const;
  // A heartbeat or a report: idempotent, bounded by report_timeout.
  Result<boost::json::value> Report(const std::string& path, const std::string& body) const;

  const RemoteControlPlaneOptions options_;
  const net::ServerPool client_;
  mutable std::mutex mu_;
  std::string credential_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::agent
