#include "server/takeover.h"

#include <fmt/format.h>

#include "common/quantity.h"

namespace skiff::server {
namespace {

// The server listed under `id` heard less than `alive` ago; null when none.
const store::ServerRecord* LiveServer(const std::vector<store::ServerRecord>& servers,
                                      const std::string& id, Duration alive) {
  for (const store::ServerRecord& s : servers) {
    if (s.id == id && s.silent < alive) return &s;
  }
  return nullptr;
}

}  // namespace

Status CheckNoTakeover(const StartingServer& self, const std::optional<model::Node>& node,
                       const std::vector<store::ServerRecord>& servers, Duration alive) {
  if (const store::ServerRecord* other = LiveServer(servers, self.id, alive);
      other != nullptr && other->address != self.url) {
    const std::string its_node =
        node && node->name == self.id ? fmt::format(" (and node {})", node->id) : "";
    return AlreadyExists(fmt::format(
        "server id {} is in use by a live server at {} (heard {} ago){}: start this one with its "
        "own --server-id and its own --data, or stop that one and start this one once `skiff "
        "servers` shows it silent for {}",
        self.id, other->address, FormatDuration(other->silent), its_node, FormatDuration(alive)));
  }
  if (!node || node->status == model::NodeStatus::kDown || node->name == self.id) return OkStatus();
  if (const store::ServerRecord* owner = LiveServer(servers, node->name, alive)) {
    return AlreadyExists(fmt::format(
        "node {} of this data directory is server {}'s, live at {} (heard {} ago): the directory "
        "is a copy of that server's; start this one with its own --data (it then makes a node of "
        "its own) and its own --server-id",
        node->id, owner->id, owner->address, FormatDuration(owner->silent)));
  }
  return OkStatus();
}

}  // namespace skiff::server
