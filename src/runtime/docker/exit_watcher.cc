#include "runtime/docker/exit_watcher.h"

#include <algorithm>
#include <set>
#include <utility>

#include "common/logging.h"

namespace skiff::runtime::docker {
namespace {

// The actions that end a container: it died, or was removed (by Release,
// the orphan sweep, or someone else).
const std::vector<std::string> kExitActions = {"die", "destroy"};

// How far before the listing the stream begins: the engine stamps events with
// its own reading of the same clock, and a second covers any skew in it.
constexpr int64_t kSinceMarginNanos = 1'000'000'000;

// Whether a listed container state means the container still runs.
bool Alive(const std::string& state) {
  return state == "running" || state == "paused" || state == "restarting";
}

}  // namespace

ExitWatcher::ExitWatcher(DockerEngine engine, ExitWatcherOptions options)
    : engine_(std::move(engine)), options_(std::move(options)) {}

ExitWatcher::~ExitWatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    watched_.clear();
    keys_by_id_.clear();
  }
  stop_.request_stop();  // ends a stream being read at once
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t ExitWatcher::NowUnixNanos() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             options_.clock->Now().time_since_epoch())
      .count();
}

uint64_t ExitWatcher::Watch(const std::string& id, std::function<void()> on_exit) {
  const int64_t now = NowUnixNanos();
  std::lock_guard lock(mu_);
  const uint64_t key = next_key_++;
  if (stopping_) return key;
  watched_[key] = Watched{id, now, std::move(on_exit)};
  keys_by_id_.emplace(id, key);
  if (!thread_.joinable()) {
    thread_ = std::thread([this, stop = stop_.get_token()] { Run(stop); });
  }
  cv_.notify_all();
  return key;
}

std::function<void()> ExitWatcher::Take(uint64_t key) {
  std::lock_guard lock(mu_);
  auto it = watched_.find(key);
  if (it == watched_.end()) return {};
  auto [first, last] = keys_by_id_.equal_range(it->second.id);
  for (auto k = first; k != last; ++k) {
    if (k->second == key) {
      keys_by_id_.erase(k);
      break;
    }
  }
  std::function<void()> on_exit = std::move(it->second.on_exit);
  watched_.erase(it);
  return on_exit;
}

std::vector<std::function<void()>> ExitWatcher::TakeAll(const std::string& id) {
  std::lock_guard lock(mu_);
  return TakeLocked(id, 0);
}

std::vector<std::function<void()>> ExitWatcher::TakeLocked(const std::string& id,
                                                           int64_t at_unix_nanos) {
  std::vector<std::function<void()>> taken;
  auto [first, last] = keys_by_id_.equal_range(id);
  for (auto k = first; k != last;) {
    auto it = watched_.find(k->second);
    // An exit stamped before the watch was made is one its maker looked at
    // (a container started again since would otherwise end a live watch).
    if (it != watched_.end() && at_unix_nanos != 0 && at_unix_nanos < it->second.since_unix_nanos) {
      ++k;
      continue;
    }
    if (it != watched_.end()) {
      taken.push_back(std::move(it->second.on_exit));
      watched_.erase(it);
    }
    k = keys_by_id_.erase(k);
  }
  return taken;
}

int64_t ExitWatcher::opened() const {
  std::lock_guard lock(mu_);
  return opened_;
}

size_t ExitWatcher::watching() const {
  std::lock_guard lock(mu_);
  return watched_.size();
}

void ExitWatcher::OnEvent(const ContainerEvent& event) {
  std::vector<std::function<void()>> due;
  {
    std::lock_guard lock(mu_);
    due = TakeLocked(event.id, event.at_unix_nanos);
  }
  for (auto& on_exit : due) on_exit();
}

Status ExitWatcher::CatchUp() {
  // Watches made after this look for themselves (Watch's caller inspects):
  // a container started meanwhile is missing from the list, not gone.
  const int64_t listed_at = NowUnixNanos();
  SKIFF_ASSIGN_OR_RETURN(std::vector<ContainerSummary> containers,
                         engine_.ListContainers(options_.labels));
  std::set<std::string> alive;
  for (const ContainerSummary& c : containers) {
    if (Alive(c.state)) alive.insert(c.id);
  }
  std::vector<std::function<void()>> due;
  {
    std::lock_guard lock(mu_);
    std::set<std::string> ids;
    for (const auto& [id, key] : keys_by_id_) ids.insert(id);
    for (const std::string& id : ids) {
      if (alive.count(id) > 0) continue;
      for (auto& on_exit : TakeLocked(id, listed_at)) due.push_back(std::move(on_exit));
    }
  }
  for (auto& on_exit : due) on_exit();
  return OkStatus();
}

void ExitWatcher::Run(std::stop_token stop) {
  Duration backoff = options_.min_backoff;
  bool said_gone = false;
  while (true) {
    {
      // With nothing watched there is nothing to hear of: no call at all.
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !watched_.empty(); });
      if (stopping_) return;
    }
    const int64_t since = NowUnixNanos() - kSinceMarginNanos;
    Duration pause;
    if (Status listed = CatchUp(); listed) {
      {
        std::lock_guard lock(mu_);
        ++opened_;
      }
      if (said_gone) SKIFF_LOG_INFO("docker: the engine at {} answers again", engine_.host());
      said_gone = false;
      backoff = options_.min_backoff;
      Status streamed = engine_.ContainerEvents(kExitActions, options_.labels, since, stop,
                                                [this](const ContainerEvent& event) {
                                                  OnEvent(event);
                                                  return true;
                                                });
      if (stop.stop_requested()) return;
      // The engine ended the stream (it shut down) or dropped it: list and
      // open it again soon. Any other failure (a refused filter) is no reason
      // to try again and again.
      pause = options_.min_backoff;
      if (!streamed && streamed.error().code != ErrorCode::kUnavailable) {
        SKIFF_LOG_WARN("docker: the event stream of {} failed: {}", engine_.host(),
                       streamed.error().ToString());
        pause = options_.max_backoff;
      }
    } else {
      if (!said_gone) {
        SKIFF_LOG_WARN("docker: cannot hear of exits from the engine at {} ({}); trying again",
                       engine_.host(), listed.error().message);
      }
      said_gone = true;
      pause = backoff;
      backoff = std::min<Duration>(backoff * 2, options_.max_backoff);
    }
    std::unique_lock lock(mu_);
    if (options_.clock->WaitFor(cv_, lock, pause, [&] { return stopping_; })) return;
  }
}

}  // namespace skiff::runtime::docker
