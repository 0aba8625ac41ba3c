#include "api/log_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace skiff::api {
namespace {

// Reading stops at this many bytes per poll per file, so one chatty instance
// cannot stall a follower; the rest comes with the next poll.
constexpr size_t kMaxPollBytes = 1 << 20;

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

Result<std::vector<model::Instance>> AppInstances(store::Store* store, const std::string& app) {
  SKIFF_RETURN_IF_ERROR(store->GetApp(app));
  SKIFF_ASSIGN_OR_RETURN(std::vector<model::Instance> instances,
                         store->ListInstances(store::InstanceFilter{app, ""}));
  std::stable_sort(instances.begin(), instances.end(),
                   [](const model::Instance& a, const model::Instance& b) {
                     return a.created_at < b.created_at;
                   });
  return instances;
}

std::string LogPath(const std::string& dir, const std::string& id) {
  return dir + "/" + id + ".log";
}

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(size);
}

class FileLogCursor final : public LogCursor {
 public:
  FileLogCursor(store::Store* store, std::string log_dir, std::string app,
                std::map<std::string, int64_t> offsets)
      : store_(store),
        log_dir_(std::move(log_dir)),
        app_(std::move(app)),
        offsets_(std::move(offsets)) {}

  Result<std::vector<std::string>> Poll() override {
    auto instances = AppInstances(store_, app_);
    // An app deleted while followed simply has no more lines.
    if (!instances) {
      if (instances.error().code == ErrorCode::kNotFound) return std::vector<std::string>{};
      return tl::unexpected(instances.error());
    }
    std::vector<std::string> lines;
    for (const model::Instance& instance : *instances) {
      // A new instance's log is read from its start: all of it is news.
      int64_t& offset = offsets_.try_emplace(instance.id, 0).first->second;
      SKIFF_RETURN_IF_ERROR(ReadNew(instance.id, &offset, &lines));
    }
    return lines;
  }

 private:
  Status ReadNew(const std::string& id, int64_t* offset, std::vector<std::string>* lines) {
    std::string path = LogPath(log_dir_, id);
    int64_t size = FileSize(path);
    if (size < 0) return OkStatus();  // not written yet
    if (size < *offset) *offset = 0;  // truncated or replaced: start over
    if (size == *offset) return OkStatus();
    File f(std::fopen(path.c_str(), "rb"));
    if (!f) return OkStatus();  // removed between the size and the open
    if (std::fseek(f.get(), *offset, SEEK_SET) != 0) {
      return Unavailable(fmt::format("cannot seek in {}: {}", path, std::strerror(errno)));
    }
    size_t want = std::min<size_t>(static_cast<size_t>(size - *offset), kMaxPollBytes);
    std::string buf(want, '\0');
    size_t got = std::fread(buf.data(), 1, want, f.get());
    buf.resize(got);
    size_t last_newline = buf.rfind('\n');
    if (last_newline == std::string::npos) {
      // A line longer than a whole poll's budget is cut rather than held forever.
      if (got < kMaxPollBytes) return OkStatus();
      lines->push_back(PrefixLine(id, buf));
      *offset += static_cast<int64_t>(got);
      return OkStatus();
    }
    size_t start = 0;
    while (start <= last_newline) {
      size_t end = buf.find('\n', start);
      lines->push_back(PrefixLine(id, buf.substr(start, end - start)));
      start = end + 1;
    }
    *offset += static_cast<int64_t>(last_newline + 1);
    return OkStatus();
  }

  store::Store* store_;
  const std::string log_dir_;
  const std::string app_;
  std::map<std::string, int64_t> offsets_;  // instance id -> bytes consumed
};

}  // namespace

std::string PrefixLine(const std::string& instance_id, const std::string& line) {
  return instance_id + " | " + line;
}

Result<std::vector<std::string>> TailFile(const std::string& path, size_t n) {
  std::vector<std::string> lines;
  if (n == 0) return lines;
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    if (errno == ENOENT) return lines;
    return Unavailable(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  }
  if (std::fseek(f.get(), 0, SEEK_END) != 0) {
    return Unavailable(fmt::format("cannot seek in {}: {}", path, std::strerror(errno)));
  }
  long end = std::ftell(f.get());
  // Read 64 KiB blocks backwards until n+1 newlines are in hand (the extra one
  // bounds the first line) or the file's start is reached.
  constexpr long kBlock = 64 * 1024;
  std::string tail;
  long pos = end;
  size_t newlines = 0;
  while (pos > 0 && newlines <= n) {
    long step = std::min(kBlock, pos);
    pos -= step;
    std::string block(static_cast<size_t>(step), '\0');
    if (std::fseek(f.get(), pos, SEEK_SET) != 0 ||
        std::fread(block.data(), 1, block.size(), f.get()) != block.size()) {
      return Unavailable(fmt::format("cannot read {}", path));
    }
    newlines += static_cast<size_t>(std::count(block.begin(), block.end(), '\n'));
    tail.insert(0, block);
  }
  if (!tail.empty() && tail.back() == '\n') tail.pop_back();
  if (tail.empty()) return lines;
  size_t start = 0;
  while (true) {
    size_t nl = tail.find('\n', start);
    lines.push_back(tail.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<long>(n));
  return lines;
}

FileLogSource::FileLogSource(store::Store* store, std::string log_dir)
    : store_(store), log_dir_(std::move(log_dir)) {}

Result<std::vector<std::string>> FileLogSource::Tail(const std::string& app, size_t n) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<model::Instance> instances, AppInstances(store_, app));
  std::vector<std::string> out;
  for (const model::Instance& instance : instances) {
    SKIFF_ASSIGN_OR_RETURN(std::vector<std::string> lines,
                           TailFile(LogPath(log_dir_, instance.id), n));
    for (const std::string& line : lines) out.push_back(PrefixLine(instance.id, line));
  }
  return out;
}

Result<std::unique_ptr<LogCursor>> FileLogSource::Follow(const std::string& app) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<model::Instance> instances, AppInstances(store_, app));
  std::map<std::string, int64_t> offsets;
  for (const model::Instance& instance : instances) {
    offsets[instance.id] = std::max<int64_t>(0, FileSize(LogPath(log_dir_, instance.id)));
  }
  return std::unique_ptr<LogCursor>(
      std::make_unique<FileLogCursor>(store_, log_dir_, app, std::move(offsets)));
}

}  // namespace skiff::api
