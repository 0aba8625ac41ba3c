#include "runtime/exit_status.h"

#include <fmt/format.h>

namespace skiff::runtime {

std::string ExitMessage(int code) {
  if (code > 128 && code < 128 + 65) return fmt::format("killed by signal {}", code - 128);
  return fmt::format("exited with {}", code);
}

}  // namespace skiff::runtime
