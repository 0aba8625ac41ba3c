#include "server/server_id.h"

#include <fmt/format.h>

namespace skiff::server {

Status CheckServerId(const std::string& id) {
  // 100 leaves room for ":edge" within an edge name's 128 characters.
  bool ok = !id.empty() && id.size() <= 100;
  for (char c : id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_');
  }
  if (ok) return OkStatus();
  return InvalidArgument(
      fmt::format("server id \"{}\" is not 1 to 100 letters, digits, '-', '.' or '_': "
                  "give another with --server-id",
                  id),
      "server-id");
}

}  // namespace skiff::server
