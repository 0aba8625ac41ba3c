// LogSource: the merged logs of an app's instances, for GET /v1/apps/{name}/logs.
// Every line comes back prefixed with its instance: "<instance-id> | <line>".
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/store.h"

namespace skiff::api {

// A position in an app's logs that moves forward with every Poll.
class LogCursor {
 public:
  virtual ~LogCursor() = default;
  // Complete lines written since the previous Poll (or since the cursor was
  // made), prefixed. Never blocks on new data; an incomplete last line waits
  // for its newline. Not thread-safe: one caller at a time.
  virtual Result<std::vector<std::string>> Poll() = 0;
};

class LogSource {
 public:
  virtual ~LogSource() = default;
  // The last `n` lines of each instance's log, instances in creation order.
  // kNotFound when the app does not exist. Thread-safe.
  virtual Result<std::vector<std::string>> Tail(const std::string& app, size_t n) = 0;
  // A cursor at the current end of every instance's log; instances that appear
  // later are read from their beginning. kNotFound for an unknown app. Thread-safe.
  virtual Result<std::unique_ptr<LogCursor>> Follow(const std::string& app) = 0;
};

// Reads the files the agent writes, `<log_dir>/<instance-id>.log`, for the
// instances the store knows of.
class FileLogSource final : public LogSource {
 public:
  // `store` must outlive this and every cursor it makes.
  FileLogSource(store::Store* store, std::string log_dir);

  // LogSource:
  Result<std::vector<std::string>> Tail(const std::string& app, size_t n) override;
  Result<std::unique_ptr<LogCursor>> Follow(const std::string& app) override;

 private:
  store::Store* store_;
  const std::string log_dir_;
};

// The last n lines of the file at `path` (without their newlines); empty when
// the file does not exist. Reads backwards from the end, so a large log costs
// only what is returned. kUnavailable on a read error.
Result<std::vector<std::string>> TailFile(const std::string& path, size_t n);

// "<instance-id> | <line>".
std::string PrefixLine(const std::string& instance_id, const std::string& line);

}  // namespace skiff::api
