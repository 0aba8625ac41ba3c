// Restart backoff and crash-loop detection for failed instances: pure functions
// of an instance's consecutive failure count (model::Instance::crash_count).
#pragma once

#include <chrono>

#include "common/clock.h"

namespace skiff::controller {

// The first restart waits this long; each further failure doubles the wait...
inline constexpr Duration kInitialRestartBackoff = std::chrono::seconds(1);
// ...up to this, so a crash-looping instance still gets a try every minute.
inline constexpr Duration kMaxRestartBackoff = std::chrono::seconds(60);
// This many consecutive failures, none after a run of kCrashCountResetAfter,
// make a crash loop.
inline constexpr int kCrashLoopThreshold = 5;
// A run at least this long ends a crash count (Kubernetes resets its back-off
// after the same time).
inline constexpr Duration kCrashCountResetAfter = std::chrono::minutes(10);

// How long to wait before restarting an instance that has failed `crash_count`
// times in a row: 1s for the first failure (and for counts <= 1), 2s, 4s, ...,
// capped at kMaxRestartBackoff.
Duration RestartBackoff(int crash_count);

// True when `crash_count` consecutive failures count as a crash loop.
bool IsCrashLoop(int crash_count);

}  // namespace skiff::controller
