// The node protocol's messages: what an agent reports about its instances and
// what it is assigned. Plain values; protocol/node_codec.h maps them to JSON
// and protocol/control_plane.h is the interface that carries them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "model/resources.h"
#include "model/spec.h"

namespace skiff::protocol {

// What an agent reports about one of its instances. Fields that are unset are
// left as they are on the stored instance.
struct InstanceReport {
  std::string instance_id;
  std::string node_id;
  int64_t generation = 0;  // the generation the agent acted on; stale ones are ignored
  std::optional<model::InstanceState> state;
  std::optional<model::Health> health;
  std::optional<std::string> address;
  std::optional<int> port;
  std::optional<std::string> handle;
  std::optional<int> last_exit;
  std::optional<std::string> message;
  std::optional<Time> started_at;
  std::optional<Time> finished_at;
};

struct Assignments {
  int64_t revision = 0;                    // store revision the list is consistent with
  std::vector<model::Instance> instances;  // every instance placed on the node
  // The spec of each revision those instances run, keyed "app/revision".
  std::map<std::string, model::AppSpec> specs;
  // The values of the secrets those specs name (AppSpec::secret_versions),
  // by app then key: given to the instances as environment variables. An
  // app whose specs name secrets and that has no entry here waits for one
  // (its secrets could not be opened, or these assignments were kept on disk
  // by the agent, which never writes secret values there). Only the node's
  // own agent is sent them (its credential), and it keeps them in memory.
  std::map<std::string, std::map<std::string, std::string>> secrets;
};

struct InstanceSample {
  std::string instance_id;
  model::ResourceSample sample;
};

}  // namespace skiff::protocol
