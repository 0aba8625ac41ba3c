#include "agent/agent.h"

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "agent/outage_log.h"
#include "common/check.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/logging.h"
#include "protocol/node_codec.h"

namespace skiff::agent {
namespace {

std::string SpecKey(const std::string& app, int64_t revision) {
  return app + "/" + std::to_string(revision);
}

}  // namespace

Agent::Agent(AgentOptions options, protocol::ControlPlane* control_plane,
             std::map<std::string, runtime::Driver*> drivers, const Clock* clock)
    : options_(std::move(options)),
      control_plane_(control_plane),
      drivers_(std::move(drivers)),
      clock_(clock),
      state_(options_.data_dir + "/agent-state.json"),
      ports_(options_.address, options_.port_first, options_.port_last),
      reporter_(control_plane, options_.heartbeat_interval, clock, [this] { CredentialRefused(); }),
      pool_(clock),
      exit_poller_(clock, options_.inspect_interval) {
  if (options_.prober == nullptr) own_prober_ = NewSocketProber();
  context_.host = options_.address;
  context_.logs_dir = options_.data_dir + "/logs";
  context_.apps_dir = options_.data_dir + "/apps";
  context_.drivers = drivers_;
  context_.reporter = &reporter_;
  context_.prober = options_.prober != nullptr ? options_.prober : own_prober_.get();
  context_.ports = &ports_;
  context_.state = &state_;
  context_.clock = clock_;
  context_.pool = &pool_;
  context_.exit_poller = &exit_poller_;
}

Agent::~Agent() { Stop(); }

Status Agent::Start() {
  {
    std::lock_guard lock(mu_);
    SKIFF_CHECK(!started_);
    started_ = true;
  }
  if (options_.data_dir.empty()) return InvalidArgument("agent needs a data dir", "data_dir");
  std::error_code ec;
  std::filesystem::create_directories(context_.logs_dir, ec);
  if (ec) return Internal("create " + context_.logs_dir + ": " + ec.message());
  SKIFF_RETURN_IF_ERROR(state_.Load());

  std::string node_id = options_.node_id;
  if (node_id.empty()) node_id = state_.node_id();
  if (node_id.empty()) node_id = NewId("node");
  if (node_id != state_.node_id()) SKIFF_RETURN_IF_ERROR(state_.SetNodeId(node_id));
  context_.node_id = node_id;

  if (auto registered = Register(); !registered) {
    if (registered.error().code != ErrorCode::kUnavailable) return registered;
    SKIFF_LOG_WARN("agent: control plane unavailable, running local instances and retrying: {}",
                   registered.error().ToString());
  }
  Recover();
  reporter_.Start();
  exit_poller_.Start();
  pool_.Start();
  {
    std::lock_guard lock(mu_);
    for (auto& [id, runner] : runners_) pool_.Add(runner.get());
  }
  watch_thread_ = std::thread([this] { WatchLoop(); });
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
  sample_thread_ = std::thread([this] { SampleLoop(); });
  return OkStatus();
}

void Agent::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread* t : {&watch_thread_, &heartbeat_thread_, &sample_thread_}) {
    if (t->joinable()) t->join();
  }
  std::map<std::string, std::unique_ptr<InstanceRunner>> runners;
  {
    std::lock_guard lock(mu_);
    runners.swap(runners_);
  }
  // Runs end at their next step; the pool waits for those in a driver call
  // (a stop may take up to its grace).
  for (auto& [id, runner] : runners) runner->Shutdown();
  pool_.Stop();
  exit_poller_.Stop();
  runners.clear();
  reporter_.Stop();
}

std::string Agent::node_id() const { return context_.node_id; }

size_t Agent::runner_count() const {
  std::lock_guard lock(mu_);
  return runners_.size();
}

Status Agent::Register() {
  model::Node node;
  node.id = context_.node_id;
  node.name = options_.node_name.empty() ? context_.node_id : options_.node_name;
  node.address = options_.address;
  node.labels = options_.labels;
  node.capacity = options_.capacity;
  node.region = options_.region;
  node.status = model::NodeStatus::kReady;
  node.last_heartbeat = clock_->Now();
  const runtime::DriverOffer offer = runtime::OfferOf(drivers_);
  node.drivers = offer.drivers;
  node.notes = offer.notes;
  SKIFF_RETURN_IF_ERROR(control_plane_->RegisterNode(node));
  std::lock_guard lock(mu_);
  registered_ = true;
  offered_ = offer;
  return OkStatus();
}

void Agent::Recover() {
  std::lock_guard lock(mu_);
  for (const auto& [id, local] : state_.instances()) {
    auto runner = std::make_unique<InstanceRunner>(&context_, id);
    auto driver = drivers_.find(local.driver);
    Error error{ErrorCode::kNotFound, "no " + local.driver + " driver on this node"};
    if (driver != drivers_.end() && driver->second != nullptr) {
      auto recovered = driver->second->Recover(runtime::TaskHandle{local.handle});
      if (!recovered && recovered.error().code == ErrorCode::kUnavailable) {
        // The runtime does not answer (an engine restarting): the task may well
        // live. Adopted as recorded; the runner's inspections tell.
        SKIFF_LOG_WARN("agent: cannot check instance {} now, adopting it as recorded: {}", id,
                       recovered.error().message);
        recovered = runtime::TaskHandle{local.handle};
      }
      if (recovered) {
        LocalInstance adopted = local;
        adopted.handle = recovered->id;
        ports_.Reserve(adopted.port);
        runner->Adopt(adopted, driver->second);
        SKIFF_LOG_INFO("agent: adopted instance {} ({})", id, adopted.handle);
        runners_[id] = std::move(runner);
        continue;
      }
      error = recovered.error();
    }
    // It ended while no agent watched: say so once, and never start it again
    // for this generation (the controller decides on a restart).
    SKIFF_LOG_WARN("agent: instance {} did not survive: {}", id, error.message);
    runner->MarkEnded(local.generation);
    reporter_.Report(
        protocol::InstanceReport{.instance_id = id,
                                 .node_id = context_.node_id,
                                 .generation = local.generation,
                                 .state = model::InstanceState::kFailed,
                                 .message = "lost while no agent watched it: " + error.message,
                                 .finished_at = clock_->Now()});
    (void)state_.Remove(id);
    runners_[id] = std::move(runner);
  }
}

// The last assignments, kept on disk: an agent restarted while the server
// cannot be reached goes on with them (starting what was assigned but not yet
// running) until the server answers.
std::string Agent::AssignmentsPath() const { return options_.data_dir + "/assignments.json"; }

void Agent::SaveAssignments(const protocol::Assignments& assignments) {
  // Written when what the agent must run changes, not on every report's
  // commit: the instances, their generations and what is wanted of them.
  std::string key;
  for (const model::Instance& i : assignments.instances) {
    key += i.id + ':' + std::to_string(i.revision) + ':' + std::to_string(i.generation) + ':' +
           std::string(model::ToString(i.desired)) + ';';
  }
  if (key == saved_key_) return;
  // Never a secret's value on disk: an agent that restarts while the server
  // is down starts no instance that needs secrets until the server answers
  // (Apply: it waits for them).
  protocol::Assignments kept = assignments;
  kept.secrets.clear();
  Status saved = WriteFileAtomically(AssignmentsPath(), boost::json::serialize(ToJson(kept)));
  if (!saved) {
    SKIFF_LOG_WARN("agent: cannot keep the assignments on disk: {}", saved.error().message);
    return;
  }
  saved_key_ = std::move(key);
}

bool Agent::ApplySavedAssignments() {
  auto text = ReadPrivateFile(AssignmentsPath());
  if (!text) return false;
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(*text, ec);
  if (ec) return false;
  auto assignments = protocol::AssignmentsFromJson(doc);
  if (!assignments) {
    SKIFF_LOG_WARN("agent: ignoring {}: {}", AssignmentsPath(), assignments.error().message);
    return false;
  }
  SKIFF_LOG_INFO("agent: the server does not answer; going on with the {} assignments kept on disk",
                 assignments->instances.size());
  Apply(*assignments);
  return true;
}

void Agent::WatchLoop() {
  OutageLog outage("watching assignments");
  int64_t revision = 0;
  bool need_list = true;
  bool listed_once = false;  // from the server or from disk
  MonoTime last_list = clock_->MonotonicNow();
  MonoTime next_resync = last_list;
  std::optional<MonoTime> last_sweep;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (need_list) {
      // The resync interval counts from when the listing began.
      const MonoTime list_started = clock_->MonotonicNow();
      auto assignments = control_plane_->ListAssignments(context_.node_id);
      if (!assignments) {
        outage.Failed(assignments.error());
        if (!listed_once && assignments.error().code == ErrorCode::kUnavailable) {
          listed_once = ApplySavedAssignments();
        }
        if (!Sleep(options_.heartbeat_interval)) return;
        continue;
      }
      outage.Succeeded();
      listed_once = true;
      Apply(*assignments);
      SaveAssignments(*assignments);
      revision = assignments->revision;
      last_list = list_started;
      // The resync counts from the listing's start, but a listing slower than
      // the interval must not be followed by another at once: some gap after
      // its end too.
      next_resync = std::max(list_started + options_.resync_interval,
                             clock_->MonotonicNow() + options_.resync_interval / 2);
      need_list = false;
      // Right after the first listing (so adoption happened), then at the
      // resync pace: the engine's leftovers are removed.
      if (!last_sweep || last_list - *last_sweep >= options_.resync_interval) {
        RemoveOrphans();
        last_sweep = last_list;
      }
    }
    auto changed = control_plane_->WaitForChange(revision, options_.watch_timeout);
    if (!changed) {
      outage.Failed(changed.error());
      need_list = true;
      if (!Sleep(options_.heartbeat_interval)) return;
      continue;
    }
    need_list = *changed != revision || clock_->MonotonicNow() >= next_resync;
  }
}

void Agent::Apply(const protocol::Assignments& assignments) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  ReapFinishedLocked();
  std::set<std::string> assigned;
  for (const model::Instance& instance : assignments.instances) {
    auto spec = assignments.specs.find(SpecKey(instance.app, instance.revision));
    if (spec == assignments.specs.end() && instance.desired == model::DesiredState::kRun) {
      SKIFF_LOG_WARN("agent: no spec for {} revision {}; instance {} waits", instance.app,
                     instance.revision, instance.id);
      // Keep whatever runs: not knowing the spec is no reason to stop it.
      assigned.insert(instance.id);
      continue;
    }
    assigned.insert(instance.id);
    const model::AppSpec& target_spec =
        spec != assignments.specs.end() ? spec->second : model::AppSpec{};
    // The values of the secrets its spec names: none, or they did not come
    // (assignments kept on disk, or the server cannot open them): it waits,
    // rather than start without them; whatever runs is kept.
    static const std::map<std::string, std::string> kNoSecrets;
    const std::map<std::string, std::string>* secrets = &kNoSecrets;
    if (!target_spec.secret_versions.empty()) {
      auto given = assignments.secrets.find(instance.app);
      if (given == assignments.secrets.end()) {
        if (instance.desired == model::DesiredState::kRun) {
          SKIFF_LOG_WARN("agent: no secrets for {} yet; instance {} waits", instance.app,
                         instance.id);
          continue;
        }
      } else {
        secrets = &given->second;
      }
    }
    auto& runner = runners_[instance.id];
    if (runner && !runner->SetTarget(instance, target_spec, *secrets)) {
      // It finished (unassigned) just now and the instance came back.
      pool_.Remove(runner.get());
      runner.reset();
    }
    if (!runner) {
      runner = std::make_unique<InstanceRunner>(&context_, instance.id);
      runner->SetTarget(instance, target_spec, *secrets);
      pool_.Add(runner.get());
    }
  }
  for (auto& [id, runner] : runners_) {
    if (assigned.count(id) == 0) runner->Unassign();
  }
  ReapFinishedLocked();
}

void Agent::RemoveOrphans() {
  std::set<std::string> keep;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    for (const auto& [id, runner] : runners_) keep.insert(id);
  }
  for (const auto& [id, local] : state_.instances()) keep.insert(id);
  for (const auto& [name, driver] : drivers_) {
    if (driver == nullptr || !driver->Info().available) continue;
    auto removed = driver->RemoveOrphans(context_.node_id, keep);
    if (!removed) {
      SKIFF_LOG_WARN("agent: looking for orphans of the {} driver: {}", name,
                     removed.error().ToString());
    } else if (*removed > 0) {
      SKIFF_LOG_INFO("agent: removed {} orphaned {} task(s)", *removed, name);
    }
  }
}

void Agent::ReapFinishedLocked() {
  for (auto it = runners_.begin(); it != runners_.end();) {
    if (it->second->finished()) {
      pool_.Remove(it->second.get());  // its last run has ended
      // Its logs go with the next orphan sweep (the drivers keep them:
      // runtime/log_keeper.h).
      it = runners_.erase(it);
    } else {
      ++it;
    }
  }
}

void Agent::CredentialRefused() {
  std::lock_guard lock(mu_);
  if (!registered_) return;
  registered_ = false;
  SKIFF_LOG_WARN("agent: the server refused this node's credential; joining it again");
}

void Agent::HeartbeatLoop() {
  OutageLog outage("heartbeat");
  bool said_cannot_join = false;
  while (Sleep(options_.heartbeat_interval)) {
    bool registered;
    runtime::DriverOffer offered;
    {
      std::lock_guard lock(mu_);
      registered = registered_;
      offered = offered_;
    }
    // A driver came or went (an engine started or stopped): register again.
    if (registered && runtime::OfferOf(drivers_) != offered) registered = false;
    Status status = registered ? control_plane_->Heartbeat(context_.node_id) : Register();
    if (status) {
      outage.Succeeded();
      if (said_cannot_join) {
        SKIFF_LOG_INFO("agent: the node has joined again; its reports go through");
        said_cannot_join = false;
      }
      continue;
    }
    if (!registered && status.error().code == ErrorCode::kUnauthenticated) {
      // Joining again was refused too (no join token, or a bad one): only
      // the operator can fix it, so say what to do, once, and keep trying
      // (a server restored from a backup may know the credential again).
      if (!said_cannot_join) {
        said_cannot_join = true;
        SKIFF_LOG_ERROR(
            "agent: this node cannot join the server: {}. Its instances keep running, but the "
            "server hears nothing of them until the agent is restarted with --join-token",
            status.error().message);
      }
      continue;
    }
    outage.Failed(status.error());
    if (status.error().code == ErrorCode::kNotFound ||
        status.error().code == ErrorCode::kUnauthenticated) {
      // The control plane forgot the node (a new store) or its credential:
      // register it again (a remote agent joins again with its join token).
      std::lock_guard lock(mu_);
      registered_ = false;
    }
  }
}

void Agent::SampleLoop() {
  OutageLog outage("reporting samples");
  while (Sleep(options_.sample_interval)) {
    std::vector<std::pair<std::string, InstanceRunner::Running>> running;
    {
      std::lock_guard lock(mu_);
      ReapFinishedLocked();
      for (const auto& [id, runner] : runners_) {
        if (auto snapshot = runner->Snapshot()) running.emplace_back(id, *snapshot);
      }
    }
    // One batch per driver: a driver measures all its tasks in one pass.
    std::map<runtime::Driver*, std::vector<runtime::TaskHandle>> by_driver;
    for (const auto& [id, task] : running) by_driver[task.driver].push_back(task.handle);
    std::map<std::string, model::ResourceSample> measured;  // by handle id
    for (const auto& [driver, handles] : by_driver) {
      if (driver == nullptr) continue;
      measured.merge(driver->SampleAll(handles));
    }
    std::vector<protocol::InstanceSample> samples;
    for (const auto& [id, task] : running) {
      if (auto it = measured.find(task.handle.id); it != measured.end()) {
        model::ResourceSample sample = it->second;
        sample.cpu_reserved_millis = task.resources.cpu_millis;
        sample.memory_reserved_bytes = task.resources.memory_bytes;
        samples.push_back(protocol::InstanceSample{id, sample});
      }
    }
    // Sent even when empty: a batch replaces the node's last one, so the
    // figures of instances gone from the node disappear too.
    if (auto sent = control_plane_->ReportSamples(context_.node_id, samples); !sent) {
      // Samples are live figures: a lost batch is not worth a retry.
      outage.Failed(sent.error());
    } else {
      outage.Succeeded();
    }
  }
}

bool Agent::Sleep(Duration d) {
  std::unique_lock lock(mu_);
  return !clock_->WaitFor(cv_, lock, d, [&] { return stopping_; });
}

}  // namespace skiff::agent
