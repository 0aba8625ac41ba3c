// The edge's I/O engines as a test parameter: every edge test that moves
// bytes runs on epoll and on io_uring (event_loop.h). Header-only: a test that
// includes it links skiff_edge.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "edge/event_loop.h"
#include "fakes/testing.h"

namespace skiff::testing {

inline std::vector<edge::IoEngine> EdgeIoEngines() {
  return {edge::IoEngine::kEpoll, edge::IoEngine::kUring};
}

// "Epoll" or "Uring": the parameter's part of a test's name.
inline std::string IoEngineTestName(edge::IoEngine engine) {
  return engine == edge::IoEngine::kUring ? "Uring" : "Epoll";
}
inline std::string IoEngineTestName(const ::testing::TestParamInfo<edge::IoEngine>& info) {
  return IoEngineTestName(info.param);
}

// `size` bytes whose every position differs from its neighbours' (i mod
// 251, a prime no buffer size divides): a lost, repeated or reordered chunk
// shows, as it would not in a run of one letter.
inline std::string PatternedBytes(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i % 251);
  return bytes;
}

}  // namespace skiff::testing

// In a test (or its SetUp): when `engine` cannot run here (no io_uring in the
// kernel or the build), skips the test, or fails it in CI, where the kernel
// is known to have it.
#define SKIFF_REQUIRE_IO_ENGINE(engine)                                                       \
  do {                                                                                        \
    if ((engine) != ::skiff::edge::IoEngine::kUring) break;                                   \
    if (::skiff::Status available = ::skiff::edge::EventLoop::UringAvailable(); !available) { \
      if (::skiff::testing::InCi()) {                                                         \
        FAIL() << "io_uring is not available in CI: " << available.error().message;           \
      }                                                                                       \
      GTEST_SKIP() << "io_uring is not available here: " << available.error().message;        \
    }                                                                                         \
  } while (false)
