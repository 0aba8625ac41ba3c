// Keeping instance logs bounded. A running process holds its log open with
// O_APPEND, so renaming the file would leave it writing to the renamed one:
// rotation copies the content aside and truncates in place ("copytruncate").
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace skiff::runtime {

// When `path` is larger than `max_bytes`, shifts path.1 .. path.(keep-1) to
// path.2 .. path.keep (dropping the old path.keep), copies `path` to path.1 and
// truncates `path` to empty. keep == 0 just truncates. Returns whether it rotated.
// A missing `path` is not an error (false). Lines the task writes between the
// copy and the truncation are lost; that is the price of not touching its fd.
// Not safe to call concurrently for the same path. kUnavailable on I/O errors.
Result<bool> RotateLogIfLarger(const std::string& path, int64_t max_bytes, int keep);

}  // namespace skiff::runtime
