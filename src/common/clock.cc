#include "common/clock.h"

namespace skiff {

SystemClock* SystemClock::Get() {
  static SystemClock clock;
  return &clock;
}

}  // namespace skiff
