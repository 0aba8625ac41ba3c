// LocalState: what a node's agent must remember across its own restarts to
// adopt the instances it left running: per instance the driver, the task
// handle, the generation and the port; plus the node id. Kept in one JSON file,
// rewritten atomically (temp file + fsync + rename) on every change, so a
// crash leaves either the old or the new state, never a torn one.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"

namespace skiff::agent {

struct LocalInstance {
  std::string driver;  // "process", "docker"
  std::string handle;  // runtime::TaskHandle::id
  int64_t generation = 0;
  int port = 0;
  std::string app;
  int64_t revision = 0;
  Time started_at;
  friend bool operator==(const LocalInstance&, const LocalInstance&) = default;
};

class LocalState {
 public:
  // `path` is the state file; its directory must exist.
  explicit LocalState(std::string path);

  // Reads the file. A missing file is an empty state; kInternal for a file
  // that cannot be read or parsed (the message names the path).
  Status Load();

  std::string node_id() const;
  Status SetNodeId(const std::string& node_id);
  std::map<std::string, LocalInstance> instances() const;
  // Records (or replaces) an instance and writes the file.
  Status Put(const std::string& instance_id, const LocalInstance& instance);
  // Forgets an instance and writes the file. Removing an unknown id succeeds.
  Status Remove(const std::string& instance_id);

 private:
  Status SaveLocked() const;

  const std::string path_;
  mutable std::mutex mu_;
  std::string node_id_;                             // GUARDED_BY(mu_)
  std::map<std::string, LocalInstance> instances_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::agent
