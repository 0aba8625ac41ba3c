#include "runtime/log_keeper.h"

#include <filesystem>
#include <string_view>
#include <vector>

#include "common/logging.h"
#include "runtime/log_rotate.h"

namespace skiff::runtime {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kLogSuffix = ".log";

// The instance of a log file or rotated copy ("i1.log", "i1.log.2" -> "i1");
// empty for anything else.
std::string InstanceOf(const std::string& name) {
  const size_t at = name.rfind(kLogSuffix);
  if (at == std::string::npos || at == 0) return "";
  std::string_view rest = std::string_view(name).substr(at + kLogSuffix.size());
  if (!rest.empty()) {
    if (rest[0] != '.' || rest.size() == 1) return "";
    for (char c : rest.substr(1)) {
      if (c < '0' || c > '9') return "";
    }
  }
  return name.substr(0, at);
}

}  // namespace

LogKeeper::LogKeeper(LogKeeperOptions options) : options_(std::move(options)) {}

void LogKeeper::MaybeRotate() {
  if (options_.rotate_bytes <= 0) return;
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (rotated_at_ && now - *rotated_at_ < options_.rotate_every) return;
  rotated_at_ = now;
  std::error_code ec;
  for (fs::directory_iterator it(options_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.ends_with(kLogSuffix) || !it->is_regular_file(ec)) continue;
    auto rotated = RotateLogIfLarger(it->path().string(), options_.rotate_bytes, options_.keep);
    if (!rotated) {
      SKIFF_LOG_WARN("logs: rotating {} failed: {}", it->path().string(),
                     rotated.error().ToString());
    }
  }
}

void LogKeeper::RemoveExcept(const std::set<std::string>& keep) {
  std::vector<fs::path> gone;
  std::error_code ec;
  for (fs::directory_iterator it(options_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string instance = InstanceOf(it->path().filename().string());
    if (!instance.empty() && keep.count(instance) == 0) gone.push_back(it->path());
  }
  // A log left behind is no harm: errors are ignored.
  for (const fs::path& path : gone) fs::remove(path, ec);
}

Result<ResourceSample> LogKeepingDriver::Sample(const TaskHandle& handle) {
  auto sample = inner_->Sample(handle);
  keeper_->MaybeRotate();
  return sample;
}

std::map<std::string, ResourceSample> LogKeepingDriver::SampleAll(
    const std::vector<TaskHandle>& handles) {
  auto samples = inner_->SampleAll(handles);
  keeper_->MaybeRotate();
  return samples;
}

Result<int> LogKeepingDriver::RemoveOrphans(const std::string& node_id,
                                            const std::set<std::string>& keep) {
  auto removed = inner_->RemoveOrphans(node_id, keep);
  keeper_->RemoveExcept(keep);
  return removed;
}

}  // namespace skiff::runtime
