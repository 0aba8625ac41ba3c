#include "runtime/docker/exit_watcher.h"

#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include "common/logging.h"

namespace skiff::runtime::docker {
namespace {

// The actions that end a container: it died, or was removed (by Release,
// the orphan sweep, or someone else).
const std::vector<std::string> kExitActions = {"die", "destroy"};

// How far before the listing the stream begins: the engine stamps events with
// its own reading of the same clock, and a second covers a little skew in it
// (more is the relisting's to catch).
constexpr int64_t kSinceMarginNanos = 1'000'000'000;

// Whether a listed container state means the container still runs.
bool Alive(const std::string& state) {
  return state == "running" || state == "paused" || state == "restarting";
}

int64_t NowUnixNanos(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock.Now().time_since_epoch())
      .count();
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
  stop_.request_stop();  // ends a listing or a stream under way at once
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (relist_thread_.joinable()) relist_thread_.join();
}

uint64_t ExitWatcher::Watch(const std::string& id, std::function<void()> on_exit) {
  std::lock_guard lock(mu_);
  const uint64_t key = next_key_++;
  if (stopping_) return key;
  watched_[key] = Watched{id, std::move(on_exit)};
  keys_by_id_.emplace(id, key);
  if (!thread_.joinable()) {
    thread_ = std::thread([this, stop = stop_.get_token()] { Run(stop); });
    relist_thread_ = std::thread([this] { Relist(); });
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
  return TakeLocked(id, std::numeric_limits<uint64_t>::max());
}

std::vector<std::function<void()>> ExitWatcher::TakeLocked(const std::string& id, uint64_t below) {
  std::vector<std::function<void()>> taken;
  auto [first, last] = keys_by_id_.equal_range(id);
  for (auto k = first; k != last;) {
    if (k->second >= below) {
      ++k;
      continue;
    }
    if (auto it = watched_.find(k->second); it != watched_.end()) {
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
    due = TakeLocked(event.id, std::numeric_limits<uint64_t>::max());
  }
  for (auto& on_exit : due) on_exit();
}

Status ExitWatcher::CatchUp(std::stop_token stop) {
  // Watches made from now on look for themselves (Watch's caller inspects):
  // a container started meanwhile is missing from the list, not gone.
  uint64_t below;
  {
    std::lock_guard lock(mu_);
    below = next_key_;
  }
  SKIFF_ASSIGN_OR_RETURN(std::vector<ContainerSummary> containers,
                         engine_.ListContainers(options_.labels, std::move(stop)));
  std::set<std::string> alive;
  for (const ContainerSummary& c : containers) {
    if (Alive(c.state)) alive.insert(c.id);
  }
  std::vector<std::function<void()>> due;
  {
    std::lock_guard lock(mu_);
    // Counted before anyone is called back: a caller who heard may read it.
    ++opened_;
    std::set<std::string> ids;
    for (const auto& [id, key] : keys_by_id_) ids.insert(id);
    for (const std::string& id : ids) {
      if (alive.count(id) > 0) continue;
      for (auto& on_exit : TakeLocked(id, below)) due.push_back(std::move(on_exit));
    }
  }
  for (auto& on_exit : due) on_exit();
  return OkStatus();
}

void ExitWatcher::Relist() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (stream_stop_ == nullptr || relisting_ || watched_.empty()) {
      cv_.wait(lock, [&] {
        return stopping_ || (stream_stop_ != nullptr && !relisting_ && !watched_.empty());
      });
      continue;
    }
    // Timed from the listing before this stream; a new stream, no watch
    // left, or the end starts the wait over.
    const uint64_t serial = stream_serial_;
    if (options_.clock->WaitUntil(cv_, lock, listed_at_ + options_.relist_interval, [&] {
          return stopping_ || stream_serial_ != serial || stream_stop_ == nullptr ||
                 watched_.empty();
        })) {
      continue;
    }
    relisting_ = true;
    stream_stop_->request_stop();  // Run lists and opens it again at once
  }
}

void ExitWatcher::Run(std::stop_token stop) {
  const Clock& clock = *options_.clock;
  Duration backoff = options_.min_backoff;
  bool said_gone = false;   // the engine does not answer (said once)
  bool said_short = false;  // its streams end at once (said once)
  while (true) {
    {
      // With nothing watched there is nothing to hear of: no call at all.
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !watched_.empty(); });
      if (stopping_) return;
    }
    const int64_t since = NowUnixNanos(clock) - kSinceMarginNanos;
    const MonoTime listed_at = clock.MonotonicNow();
    Duration pause = Duration::zero();
    if (Status listed = CatchUp(stop); !listed) {
      if (stop.stop_requested()) return;
      if (!said_gone) {
        SKIFF_LOG_WARN("docker: cannot hear of exits from the engine at {} ({}); trying again",
                       engine_.host(), listed.error().message);
      }
      said_gone = true;
      pause = backoff;
      backoff = std::min<Duration>(backoff * 2, options_.max_backoff);
    } else {
      if (said_gone) SKIFF_LOG_INFO("docker: the engine at {} answers again", engine_.host());
      said_gone = false;
      // The stream's own stop: Relist's, or the watcher's end.
      std::stop_source stream_stop;
      std::stop_callback forward(stop, [&stream_stop] { stream_stop.request_stop(); });
      {
        std::lock_guard lock(mu_);
        stream_stop_ = &stream_stop;
        listed_at_ = listed_at;
        ++stream_serial_;
        relisting_ = false;
      }
      cv_.notify_all();
      const MonoTime began = clock.MonotonicNow();
      bool heard = false;
      Status streamed =
          engine_.ContainerEvents(kExitActions, options_.labels, since, stream_stop.get_token(),
                                  [&](const ContainerEvent& event) {
                                    heard = true;
                                    OnEvent(event);
                                    return true;
                                  });
      bool relisting;
      {
        std::lock_guard lock(mu_);
        stream_stop_ = nullptr;
        relisting = relisting_;
      }
      cv_.notify_all();  // Relist has no stream to time now
      if (stop.stop_requested()) return;
      // Only a stream that was of use starts the backoff over: one that the
      // engine ends as soon as it began must not make a listing and a
      // reconnect every min_backoff for ever.
      const bool lasted =
          relisting || heard || clock.MonotonicNow() - began >= options_.max_backoff;
      if (lasted) {
        backoff = options_.min_backoff;
        said_short = false;
      }
      if (relisting) {
        pause = Duration::zero();
      } else if (!streamed && streamed.error().code != ErrorCode::kUnavailable) {
        // Not the engine going away (a refused filter, say): no reason to try
        // again and again.
        SKIFF_LOG_WARN("docker: the event stream of {} failed: {}", engine_.host(),
                       streamed.error().ToString());
        pause = options_.max_backoff;
      } else if (lasted) {
        // The engine ended the stream (it shut down) or dropped it: list and
        // open it again soon.
        pause = options_.min_backoff;
      } else {
        if (!said_short) {
          SKIFF_LOG_WARN(
              "docker: the engine at {} ends its event stream as soon as it opens; "
              "trying again with backoff",
              engine_.host());
        }
        said_short = true;
        pause = backoff;
        backoff = std::min<Duration>(backoff * 2, options_.max_backoff);
      }
    }
    if (pause == Duration::zero()) continue;
    std::unique_lock lock(mu_);
    if (clock.WaitFor(cv_, lock, pause, [&] { return stopping_; })) return;
  }
}

}  // namespace skiff::runtime::docker
