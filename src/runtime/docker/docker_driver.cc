#include "runtime/docker/docker_driver.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/logging.h"
#include "runtime/docker/build_context.h"
#include "runtime/docker/engine_json.h"
#include "runtime/exit_status.h"
#include "runtime/log_append.h"

namespace skiff::runtime::docker {
namespace {

namespace json = boost::json;

// Container names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*.
std::string ContainerName(const std::string& instance_id) {
  std::string name = "skiff-" + instance_id;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') c = '-';
  }
  return name;
}

int64_t FileMtimeNanos(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

json::object ContainerCreateBody(const TaskConfig& config, const std::string& image,
                                 const DockerDriverOptions& options) {
  const bool host_network = config.run.network == model::NetworkMode::kHost;
  std::map<std::string, std::string> env = config.env;
  if (!host_network) {
    // Inside its own network namespace the container listens on its `port`,
    // on every interface; the node publishes it at the allocated port.
    env["PORT"] = std::to_string(config.container_port);
    env["HOST"] = "0.0.0.0";
  }
  json::array env_list;
  for (const auto& [key, value] : env) env_list.emplace_back(key + "=" + value);

  json::object labels{
      {kLabelApp, config.app},
      {kLabelInstance, config.instance_id},
      {kLabelRevision, std::to_string(config.revision)},
      {kLabelNode, config.node_id},
      {kLabelLog, config.log_path},
  };
  if (!options.home.empty()) labels[kLabelHome] = options.home;

  json::array cap_add;
  for (const std::string& cap : config.run.cap_add) cap_add.emplace_back(cap);

  json::object host_config{
      {"NetworkMode", host_network ? "host" : "bridge"},
      {"Privileged", false},
      {"SecurityOpt", json::array{"no-new-privileges"}},
      {"CapDrop", json::array{"ALL"}},
      {"CapAdd", std::move(cap_add)},
      {"PidsLimit", options.pids_limit},
      {"ReadonlyRootfs", config.run.read_only},
      // No binds, volumes or devices, ever: so never the engine's own socket.
      {"Binds", json::array{}},
      {"RestartPolicy", json::object{{"Name", "no"}}},
      // The engine keeps what the logs API serves; the instance log is ours.
      {"LogConfig", json::object{{"Type", "json-file"},
                                 {"Config", json::object{{"max-size", "10m"}, {"max-file", "2"}}}}},
  };
  if (config.resources.memory_bytes > 0) {
    host_config["Memory"] = config.resources.memory_bytes;
    host_config["MemorySwap"] = config.resources.memory_bytes;  // no swap beyond the limit
  }
  if (config.resources.cpu_millis > 0) {
    host_config["NanoCpus"] = config.resources.cpu_millis * 1'000'000;
  }

  json::object body{
      {"Image", image},        {"Env", std::move(env_list)}, {"Labels", std::move(labels)},
      {"Tty", false},          {"OpenStdin", false},         {"AttachStdout", false},
      {"AttachStderr", false},
  };
  if (!config.run.args.empty()) {
    json::array cmd;
    for (const std::string& arg : config.run.args) cmd.emplace_back(arg);
    body["Cmd"] = std::move(cmd);
  }
  if (!config.run.user.empty()) body["User"] = config.run.user;
  // A path inside the container; the node's app directory means nothing there.
  if (!config.run.workdir.empty()) body["WorkingDir"] = config.run.workdir;
  if (!host_network) {
    const std::string port = std::to_string(config.container_port) + "/tcp";
    body["ExposedPorts"] = json::object{{port, json::object{}}};
    host_config["PortBindings"] =
        json::object{{port, json::array{json::object{{"HostIp", config.host},
                                                     {"HostPort", std::to_string(config.port)}}}}};
  }
  body["HostConfig"] = std::move(host_config);
  return body;
}

std::string BuildTag(const std::string& app, int64_t revision) {
  return fmt::format("skiff/{}:{}", app, revision);
}

// How long a fresh SIGKILL exit may wait for the engine's OOM flag.
constexpr int kOomSettleTries = 5;
constexpr std::chrono::milliseconds kOomSettleStep{50};

bool MayBeUnsettledOom(const ContainerState& state, const Clock* clock) {
  return !state.running && state.exit_code == 128 + 9 && !state.oom_killed &&
         clock->Now() - state.finished_at < std::chrono::seconds(1);
}

TaskStatus StatusOf(const ContainerState& state) {
  TaskStatus status;
  status.running = state.running;
  status.started_at = state.started_at;
  if (state.running) return status;
  status.exit_code = state.exit_code;
  if (state.oom_killed) {
    status.message = "killed: out of memory";
  } else {
    status.message = ExitMessage(state.exit_code);
  }
  if (!state.error.empty()) status.message += ": " + state.error;
  return status;
}

DockerDriver::DockerDriver(DockerDriverOptions options)
    : options_(std::move(options)),
      engine_(options_.host),
      exits_(engine_, ExitWatcherOptions{.labels = {kLabelInstance},
                                         .min_backoff = options_.events_min_backoff,
                                         .max_backoff = options_.events_max_backoff,
                                         .relist_interval = options_.events_relist_interval,
                                         .clock = options_.clock}) {}

DockerDriver::~DockerDriver() {
  std::lock_guard lock(mu_);
  for (auto& [id, follower] : followers_) {
    *follower->stop = true;
    follower->thread.detach();
  }
}

Result<std::string> DockerDriver::Probe() const { return engine_.Version(); }

DriverInfo DockerDriver::Info() const {
  std::lock_guard lock(probe_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!probed_at_ || now - *probed_at_ >= options_.probe_interval) {
    auto version = engine_.Version();
    std::string error = version ? "" : version.error().message;
    if (probed_at_ && error.empty() != probe_error_.empty()) {
      if (error.empty()) {
        SKIFF_LOG_INFO("docker driver: the engine at {} answers ({})", engine_.host(), *version);
      } else {
        SKIFF_LOG_WARN("docker driver: the engine at {} is gone: {}", engine_.host(), error);
      }
    }
    probe_error_ = std::move(error);
    probed_at_ = now;
  }
  DriverInfo info{.name = "docker", .enforces_limits = true, .hears_exits = true};
  if (!probe_error_.empty()) {
    info.notes = fmt::format("engine at {} does not answer: {}", engine_.host(), probe_error_);
    info.available = false;
  }
  return info;
}

Status DockerDriver::Build(const TaskConfig& config, const std::string& tag) {
  const model::BuildSpec& build = *config.run.build;
  AppendToLog(config.log_path, fmt::format("skiff: building {}\n", tag));
  auto fail = [&](const std::string& why) -> Status {
    AppendToLog(config.log_path, fmt::format("skiff: build of {} failed: {}\n", tag, why));
    return FailedPrecondition(fmt::format("build of {} failed: {}", tag, why));
  };
  std::string context = build.context;
  std::string checkout_dir;
  if (!build.git.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "skiff-build-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      return fail(std::string("mkdtemp: ") + strerror(errno));
    checkout_dir = pattern;
    context = checkout_dir + "/src";
    if (auto checked_out = GitCheckout(build.git, build.ref, context); !checked_out) {
      std::error_code ignored;
      std::filesystem::remove_all(checkout_dir, ignored);
      return fail(checked_out.error().message);
    }
  }
  auto tar = TarDirectory(context, build.dockerfile);
  if (!checkout_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(checkout_dir, ignored);
  }
  if (!tar) return fail(tar.error().message);
  auto built = engine_.BuildImage(*tar, build.dockerfile, tag, [&](std::string_view line) {
    AppendToLog(config.log_path, line);
  });
  if (!built) {
    if (built.error().code == ErrorCode::kUnavailable) return built;  // the engine is gone
    return fail(built.error().message);
  }
  return OkStatus();
}

Result<std::string> DockerDriver::EnsureImage(const TaskConfig& config) {
  if (config.run.build) {
    const std::string tag = BuildTag(config.app, config.revision);
    // Instances of one revision share its image: one builds, the others wait
    // and find it. Builds of other tags go on side by side.
    std::shared_ptr<std::mutex> tag_mu;
    {
      std::lock_guard lock(mu_);
      auto& slot = build_locks_[tag];
      if (!slot) slot = std::make_shared<std::mutex>();
      tag_mu = slot;
    }
    std::lock_guard lock(*tag_mu);
    SKIFF_ASSIGN_OR_RETURN(bool present, engine_.ImageExists(tag));
    if (!present) SKIFF_RETURN_IF_ERROR(Build(config, tag));
    return tag;
  }
  const std::string& image = config.run.image;
  SKIFF_ASSIGN_OR_RETURN(bool present, engine_.ImageExists(image));
  if (present) return image;
  AppendToLog(config.log_path, fmt::format("skiff: pulling image {}\n", image));
  auto pulled =
      engine_.PullImage(image, [&](std::string_view line) { AppendToLog(config.log_path, line); });
  if (!pulled) {
    if (pulled.error().code == ErrorCode::kUnavailable &&
        pulled.error().message.starts_with("cannot connect")) {
      return tl::unexpected(pulled.error());  // the engine itself is gone
    }
    return FailedPrecondition(fmt::format("image {} not found locally and pull failed: {}", image,
                                          pulled.error().message));
  }
  return image;
}

Result<TaskHandle> DockerDriver::Start(const TaskConfig& config) {
  if (!model::IsContainer(config.run)) {
    return InvalidArgument("the docker driver runs images, not commands", "run");
  }
  TaskConfig task = config;
  if (!task.log_path.empty()) {
    // Absolute, since the label tells a later agent (maybe elsewhere) where it goes.
    std::error_code ignored;
    task.log_path = std::filesystem::absolute(task.log_path, ignored).string();
    std::filesystem::create_directories(std::filesystem::path(task.log_path).parent_path(),
                                        ignored);
    // The log exists from the start, as for every driver (Driver::Start),
    // whether or not the container ever writes.
    AppendToLog(task.log_path, "");
  }
  SKIFF_ASSIGN_OR_RETURN(std::string image, EnsureImage(task));
  const json::object body = ContainerCreateBody(task, image, options_);
  const std::string name = ContainerName(config.instance_id);
  auto created = engine_.CreateContainer(name, body);
  if (!created && created.error().code == ErrorCode::kAborted) {
    // A container of an earlier start of this instance that was never removed
    // (the agent died before Release): it is ours to replace.
    SKIFF_LOG_WARN("docker: replacing leftover container {}", name);
    SKIFF_RETURN_IF_ERROR(engine_.RemoveContainer(name, /*force=*/true));
    created = engine_.CreateContainer(name, body);
  }
  if (!created) {
    Error error = created.error();
    error.message = fmt::format("creating container {}: {}", name, error.message);
    return tl::unexpected(error);
  }
  const std::string id = *created;
  if (auto started = engine_.StartContainer(id); !started) {
    (void)engine_.RemoveContainer(id, /*force=*/true);
    Error error = started.error();
    error.message = fmt::format("starting container {}: {}", name, error.message);
    return tl::unexpected(error);
  }
  Follow(id, task.log_path, 0);
  return TaskHandle{id};
}

Result<TaskHandle> DockerDriver::Recover(const TaskHandle& handle) {
  auto info = engine_.InspectContainer(handle.id);
  if (!info) {
    if (info.error().code == ErrorCode::kNotFound) {
      return NotFound("container " + handle.id + " is gone");
    }
    return tl::unexpected(info.error());
  }
  auto instance = info->labels.find(kLabelInstance);
  if (instance == info->labels.end()) {
    return NotFound("container " + handle.id + " is not Skiff's");
  }
  const std::string log_path = info->labels.count(kLabelLog) ? info->labels.at(kLabelLog) : "";
  {
    std::lock_guard lock(mu_);
    if (followers_.count(info->id)) return TaskHandle{info->id};
  }
  // What the log file got last is where the earlier agent stopped.
  Follow(info->id, log_path, FileMtimeNanos(log_path));
  return TaskHandle{info->id};
}

Result<TaskStatus> DockerDriver::Inspect(const TaskHandle& handle) {
  SKIFF_ASSIGN_OR_RETURN(ContainerInfo info, engine_.InspectContainer(handle.id));
  // The engine learns of an out-of-memory kill from an event of its own that
  // may land just after the exit: a SIGKILL that ended a moment ago is asked
  // about again, briefly, before it is reported as a plain kill.
  for (int again = 0; again < kOomSettleTries && MayBeUnsettledOom(info.state, options_.clock);
       ++again) {
    std::this_thread::sleep_for(kOomSettleStep);
    SKIFF_ASSIGN_OR_RETURN(info, engine_.InspectContainer(handle.id));
  }
  if (info.state.running) {
    // Adopted while the engine did not answer: its logs are followed from now.
    bool followed;
    {
      std::lock_guard lock(mu_);
      followed = followers_.count(info.id) > 0;
    }
    auto log = info.labels.find(kLabelLog);
    if (!followed && log != info.labels.end()) {
      Follow(info.id, log->second, FileMtimeNanos(log->second));
    }
  }
  return StatusOf(info.state);
}

Status DockerDriver::Stop(const TaskHandle& handle, Duration grace) {
  return engine_.StopContainer(handle.id, grace);
}

Result<ResourceSample> DockerDriver::Sample(const TaskHandle& handle) {
  SKIFF_ASSIGN_OR_RETURN(json::object stats, engine_.Stats(handle.id));
  // A container that is not running answers zeros read at the zero time: no
  // sample, as for a process that has exited.
  if (const json::value* read = stats.if_contains("read");
      read != nullptr && read->is_string() && read->get_string().starts_with("0001-01-01")) {
    return NotFound("container " + handle.id + " is not running");
  }
  const Time now = options_.clock->Now();
  ResourceSample sample;
  sample.at = now;
  const int64_t usage = JsonInt(stats, {"memory_stats", "usage"});
  // Page cache is reclaimable: cgroup v1 reports it as total_inactive_file
  // (or cache), v2 as inactive_file.
  int64_t reclaimable = JsonInt(stats, {"memory_stats", "stats", "total_inactive_file"});
  if (reclaimable == 0) reclaimable = JsonInt(stats, {"memory_stats", "stats", "inactive_file"});
  sample.memory_bytes = std::max<int64_t>(0, usage - reclaimable);
  const int64_t cpu_ns = JsonInt(stats, {"cpu_stats", "cpu_usage", "total_usage"});
  CpuMark previous;
  bool marked = false;
  {
    std::lock_guard lock(mu_);
    auto it = cpu_marks_.find(handle.id);
    if (it != cpu_marks_.end()) {
      previous = it->second;
      marked = true;
    }
  }
  if (!marked) {
    // The first sample: the average since the container started, and
    // whether it runs with a memory limit at all.
    auto info = engine_.InspectContainer(handle.id);
    if (info && info->state.started_at != Time{}) previous.at = info->state.started_at;
    if (info) {
      const json::value* memory = info->host_config.if_contains("Memory");
      previous.memory_limited = memory != nullptr && memory->is_int64() && memory->get_int64() > 0;
    }
  }
  {
    std::lock_guard lock(mu_);
    cpu_marks_[handle.id] = CpuMark{cpu_ns, now, previous.memory_limited};
  }
  // Without a limit the engine reports the machine's memory as the limit:
  // none (0), as for a process.
  if (previous.memory_limited) {
    sample.memory_limit_bytes = JsonInt(stats, {"memory_stats", "limit"});
  }
  const int64_t elapsed_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - previous.at).count();
  if (previous.at != Time{} && elapsed_ns > 0 && cpu_ns >= previous.usage_ns) {
    sample.cpu_millis = (cpu_ns - previous.usage_ns) * 1000 / elapsed_ns;
  }
  // The engine counts the container's set-up (runc's init, in its cgroup)
  // before the start time it reports, so a young container's first average
  // can come out above what its cpus could do: no more than those.
  if (const int64_t cpus = JsonInt(stats, {"cpu_stats", "online_cpus"}); cpus > 0) {
    sample.cpu_millis = std::min(sample.cpu_millis, cpus * 1000);
  }
  return sample;
}

void DockerDriver::Release(const TaskHandle& handle) {
  std::unique_ptr<Follower> follower = Unfollow(handle.id);
  {
    std::lock_guard lock(mu_);
    cpu_marks_.erase(handle.id);
  }
  if (auto removed = engine_.RemoveContainer(handle.id, /*force=*/true); !removed) {
    // Left for the orphan sweep; its log stream ends with it.
    SKIFF_LOG_WARN("docker: removing container {}: {}", handle.id, removed.error().ToString());
    if (follower) follower->thread.detach();
  } else if (follower) {
    follower->thread.join();  // its stream ended with the container
  }
  // Released, the handle names no task: its watches are over.
  for (auto& on_exit : exits_.TakeAll(handle.id)) on_exit();
}

void DockerDriver::WatchExit(const TaskHandle& handle, std::function<void()> on_exit,
                             ExitPoller& poller) {
  (void)poller;
  // Watched first, so that an exit from now on is heard; one before it is
  // seen here.
  const uint64_t key = exits_.Watch(handle.id, std::move(on_exit));
  // Only an engine that says it runs leaves the watch to the stream: after a
  // failed inspect the exit may have been streamed before the watch existed,
  // and would never be heard.
  auto info = engine_.InspectContainer(handle.id);
  if (info && info->state.running) return;
  if (auto now = exits_.Take(key)) now();
}

Result<int> DockerDriver::RemoveOrphans(const std::string& node_id,
                                        const std::set<std::string>& keep) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<ContainerSummary> containers,
                         engine_.ListContainers({std::string(kLabelNode) + "=" + node_id}));
  if (!options_.home.empty()) {
    // This agent's containers under any node id: those of an earlier one too.
    SKIFF_ASSIGN_OR_RETURN(std::vector<ContainerSummary> home,
                           engine_.ListContainers({std::string(kLabelHome) + "=" + options_.home}));
    for (ContainerSummary& c : home) {
      auto node = c.labels.find(kLabelNode);
      if (node != c.labels.end() && node->second != node_id) containers.push_back(std::move(c));
    }
  }
  int removed = 0;
  for (const ContainerSummary& c : containers) {
    auto instance = c.labels.find(kLabelInstance);
    if (instance == c.labels.end() || keep.count(instance->second)) continue;
    auto node = c.labels.find(kLabelNode);
    SKIFF_LOG_INFO("docker: removing orphan container {} (instance {}, node {}, {})",
                   c.id.substr(0, 12), instance->second,
                   node != c.labels.end() ? node->second : "?", c.state);
    std::unique_ptr<Follower> follower = Unfollow(c.id);
    auto gone = engine_.RemoveContainer(c.id, /*force=*/true);
    if (follower) {
      if (gone) {
        follower->thread.join();
      } else {
        follower->thread.detach();
      }
    }
    if (!gone) {
      SKIFF_LOG_WARN("docker: removing orphan {}: {}", c.id, gone.error().ToString());
      continue;
    }
    for (auto& on_exit : exits_.TakeAll(c.id)) on_exit();
    ++removed;
  }
  return removed;
}

namespace {

// Appends `id`'s log entries to `log_path` until `stop`, or the container has
// stopped and its stream ended. Uses nothing of the driver's.
void FollowLoop(DockerEngine engine, std::string id, std::string log_path, int64_t since,
                Duration idle, std::shared_ptr<std::atomic<bool>> stop) {
  int64_t last = since;
  while (!*stop) {
    auto streamed = engine.Logs(id, /*follow=*/true, last, idle,
                                [&](LogStream, int64_t at, std::string_view line) {
                                  if (*stop) return false;
                                  // Reopening from `last` repeats the entries stamped up to then.
                                  if (at != 0 && last != 0 && at <= last) return true;
                                  if (at != 0) last = at;
                                  AppendToLog(log_path, line);
                                  return true;
                                });
    if (*stop) return;
    if (streamed) {
      // The stream ends when the container stops; a restarted one streams again.
      auto info = engine.InspectContainer(id);
      if (!info || !info->state.running) return;
      continue;
    }
    if (streamed.error().code == ErrorCode::kDeadlineExceeded) continue;  // quiet: reopen
    if (streamed.error().code == ErrorCode::kNotFound) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

void DockerDriver::Follow(const std::string& id, const std::string& log_path,
                          int64_t since_unix_nanos) {
  std::lock_guard lock(mu_);
  auto& follower = followers_[id];
  if (follower) return;
  follower = std::make_unique<Follower>();
  follower->thread = std::thread(FollowLoop, engine_, id, log_path, since_unix_nanos,
                                 options_.log_idle, follower->stop);
}

std::unique_ptr<DockerDriver::Follower> DockerDriver::Unfollow(const std::string& id) {
  std::unique_ptr<Follower> follower;
  std::lock_guard lock(mu_);
  auto it = followers_.find(id);
  if (it == followers_.end()) return nullptr;
  follower = std::move(it->second);
  followers_.erase(it);
  *follower->stop = true;
  return follower;
}

}  // namespace skiff::runtime::docker
