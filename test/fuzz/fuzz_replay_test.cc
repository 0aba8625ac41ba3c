// Replays every committed fuzz input through its target, as a test: what the
// fuzzer once found (and the seeds) keep passing without clang or a fuzzer.
// CMake renames each target's LLVMFuzzerTestOneInput to SkiffFuzz_<name> and
// lists the targets in fuzz_targets.inc; their corpora are fuzz/corpus/<name>/.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#define SKIFF_FUZZ_TARGET(name) extern "C" int SkiffFuzz_##name(const uint8_t* data, size_t size);
#include "fuzz_targets.inc"
#undef SKIFF_FUZZ_TARGET

namespace {

struct FuzzTarget {
  const char* name;
  int (*run)(const uint8_t* data, size_t size);
};

void PrintTo(const FuzzTarget& target, std::ostream* os) { *os << target.name; }

constexpr FuzzTarget kTargets[] = {
#define SKIFF_FUZZ_TARGET(name) {#name, &SkiffFuzz_##name},
#include "fuzz_targets.inc"
#undef SKIFF_FUZZ_TARGET
};

class FuzzReplayTest : public testing::TestWithParam<FuzzTarget> {};

// Verify that the target accepts every input of its committed corpus (a
// failure aborts the test binary, naming nothing: run it on one file then).
TEST_P(FuzzReplayTest, Corpus) {
  const std::filesystem::path dir = std::filesystem::path(SKIFF_FUZZ_CORPUS) / GetParam().name;
  size_t replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().filename().string());
    EXPECT_EQ(GetParam().run(bytes.data(), bytes.size()), 0);
    ++replayed;
  }
  EXPECT_GE(replayed, 10u) << "the corpus is missing";
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplayTest, testing::ValuesIn(kTargets),
                         [](const testing::TestParamInfo<FuzzTarget>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
