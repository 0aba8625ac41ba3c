#include "controller/backoff.h"

namespace skiff::controller {

Duration RestartBackoff(int crash_count) {
  Duration wait = kInitialRestartBackoff;
  // Doubling stops at the cap, so a huge count cannot overflow.
  for (int i = 1; i < crash_count && wait < kMaxRestartBackoff; ++i) wait *= 2;
  return wait < kMaxRestartBackoff ? wait : kMaxRestartBackoff;
}

bool IsCrashLoop(int crash_count) { return crash_count >= kCrashLoopThreshold; }

}  // namespace skiff::controller
