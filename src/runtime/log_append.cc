#include "runtime/log_append.h"

#include <fcntl.h>
#include <unistd.h>

namespace skiff::runtime {

void AppendToLog(const std::string& path, std::string_view text) {
  if (path.empty()) return;
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return;
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n <= 0) break;
    text.remove_prefix(static_cast<size_t>(n));
  }
  ::close(fd);
}

}  // namespace skiff::runtime
