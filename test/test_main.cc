// The main of Skiff's test binaries: GoogleTest's, after spdlog's default
// logger is made on this thread, before any test starts a thread. Tests never
// call InitLogging, so otherwise spdlog's registry (a function-local static
// in the library) is made by whichever threads log first, and two at once
// look to TSan like a race in a library it cannot see into.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
  spdlog::default_logger_raw();
  ::testing::InitGoogleMock(&argc, argv);
  return RUN_ALL_TESTS();
}
