// Appending a task's output to its instance log when the driver, not the task,
// writes it (a container's log stream, the fake's scripted output).
#pragma once

#include <string>
#include <string_view>

namespace skiff::runtime {

// Appends `text` to `path` (created 0640 when missing, even for no text),
// opening it for this write only: a log rotated by copy and truncate
// (log_rotate.h) is followed, as O_APPEND does. Errors are ignored: output
// that cannot be kept is not worth failing a task for. An empty path is none.
void AppendToLog(const std::string& path, std::string_view text);

}  // namespace skiff::runtime
