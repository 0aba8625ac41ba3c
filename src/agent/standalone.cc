#include "agent/standalone.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "agent/agent.h"
#include "agent/machine.h"
#include "agent/remote_control_plane.h"
#include "common/files.h"
#include "common/logging.h"
#include "net/join_token.h"
#include "runtime/driver_set.h"

namespace skiff::agent {

class StandaloneAgent::Impl {
 public:
  explicit Impl(StandaloneAgentOptions options) : options_(std::move(options)) {}

  Status Start();
  void Wait();
  void Shutdown();

  StandaloneAgentOptions options_;
  runtime::DriverSet drivers_;
  std::unique_ptr<RemoteControlPlane> control_plane_;
  std::unique_ptr<Agent> agent_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;  // GUARDED_BY(mu_)
  bool stopped_ = false;  // GUARDED_BY(mu_)
};

Status StandaloneAgent::Impl::Start() {
  {
    std::lock_guard lock(mu_);
    started_ = true;
  }
  if (options_.address.empty()) return InvalidArgument("--address is required", "address");
  const std::string& data = options_.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(data, ec);
  if (ec) {
    return Unavailable(fmt::format("cannot create data directory {}: {}", data, ec.message()));
  }
  // The directory holds the node's credential: keep it private.
  ::chmod(data.c_str(), 0700);
  const std::string credential_path = (std::filesystem::path(data) / kCredentialFile).string();
  std::string credential;
  if (auto stored = ReadPrivateFile(credential_path)) {
    credential = *stored;
    while (!credential.empty() && (credential.back() == '\n' || credential.back() == ' ')) {
      credential.pop_back();
    }
  } else if (stored.error().code != ErrorCode::kNotFound) {
    return tl::unexpected(stored.error());
  }
  if (credential.empty() && options_.join_token.empty()) {
    return InvalidArgument(fmt::format("no --join-token and no node credential in {}: ask the "
                                       "server's admin for a token (`skiff nodes join-token`)",
                                       credential_path),
                           "join-token");
  }

  runtime::DriverSetOptions driver_options;
  driver_options.names = options_.drivers;
  driver_options.docker_host = options_.docker_host;
  driver_options.home = data;
  driver_options.logs_dir = data + "/logs";  // where the agent puts them
  SKIFF_ASSIGN_OR_RETURN(drivers_, runtime::MakeDrivers(driver_options));

  // Whom the server must be, checked before the token or credential goes out.
  const std::string pin_path = (std::filesystem::path(data) / kServerCaFile).string();
  std::string pin = net::ParseJoinToken(options_.join_token).ca_fingerprint;
  const bool new_pin = !pin.empty();
  if (!new_pin) {
    // A fingerprint is no secret: others may read it. Any error but a
    // missing file fails the start, where it fell back to the system's roots.
    auto kept = ReadPrivateFile(pin_path, /*private_only=*/false);
    if (kept) {
      pin = *kept;
      while (!pin.empty() && (pin.back() == '\n' || pin.back() == ' ')) pin.pop_back();
      if (!net::IsCaFingerprint(pin)) {
        return FailedPrecondition(pin_path +
                                  " holds no CA fingerprint (64 lowercase hex digits): remove it "
                                  "and start the agent with a SKIFF1 join token, or pass --ca");
      }
    } else if (kept.error().code != ErrorCode::kNotFound) {
      return tl::unexpected(kept.error());
    }
  }
  SKIFF_ASSIGN_OR_RETURN(net::TlsTrust trust,
                         net::TrustForSecrets(options_.server, options_.ca_file, pin));

  RemoteControlPlaneOptions remote;
  remote.server_url = options_.server;
  remote.trust = std::move(trust);
  remote.join_token = options_.join_token;
  remote.credential = credential;
  remote.save_credential = [credential_path](const std::string& issued) -> Status {
    return WriteFileAtomically(credential_path, issued + "\n", 0600);
  };
  // The token's pin once a server it names answered a registration, whether
  // it issued a credential or took the one held: a later start shows the
  // credential to that server only.
  if (new_pin) {
    remote.registered = [pin_path, pin]() -> Status {
      return WriteFileAtomically(pin_path, pin + "\n", 0600);
    };
  }
  control_plane_ = std::make_unique<RemoteControlPlane>(std::move(remote));

  AgentOptions agent_options;
  agent_options.node_name = options_.name.empty() ? MachineName() : options_.name;
  agent_options.address = options_.address;
  agent_options.data_dir = data;
  agent_options.labels = options_.labels;
  agent_options.capacity = options_.capacity;
  const model::Resources machine = MachineCapacity();
  if (agent_options.capacity.cpu_millis == 0)
    agent_options.capacity.cpu_millis = machine.cpu_millis;
  if (agent_options.capacity.memory_bytes == 0) {
    agent_options.capacity.memory_bytes = machine.memory_bytes;
  }
  agent_options.port_first = options_.port_first;
  agent_options.port_last = options_.port_last;
  agent_options.sample_interval = options_.sample_interval;
  agent_ = std::make_unique<Agent>(agent_options, control_plane_.get(), drivers_.ByName(),
                                   SystemClock::Get());
  SKIFF_RETURN_IF_ERROR(agent_->Start());
  SKIFF_LOG_INFO("skiff agent: node {} ({}) at {}, server {}, data in {}", agent_->node_id(),
                 agent_options.node_name, options_.address, options_.server, data);
  return OkStatus();
}

void StandaloneAgent::Impl::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stopped_ || !started_; });
}

void StandaloneAgent::Impl::Shutdown() {
  if (agent_) agent_->Stop();
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

StandaloneAgent::StandaloneAgent(StandaloneAgentOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
StandaloneAgent::~StandaloneAgent() { impl_->Shutdown(); }
Status StandaloneAgent::Start() {
  Status status = impl_->Start();
  if (!status) impl_->Shutdown();
  return status;
}
void StandaloneAgent::Wait() { impl_->Wait(); }
void StandaloneAgent::Shutdown() { impl_->Shutdown(); }
std::string StandaloneAgent::node_id() const {
  return impl_->agent_ ? impl_->agent_->node_id() : std::string();
}

}  // namespace skiff::agent
