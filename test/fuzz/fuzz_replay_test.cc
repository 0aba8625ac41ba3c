// Replays every committed fuzz input through its target, as a test: what the
// fuzzer once found (and the seeds) keep passing without clang or a fuzzer.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// Verify that the target accepts every input of the committed corpus (a
// failure aborts the test binary, naming nothing: run it on one file then).
TEST(FuzzReplayTest, RequestHeadCorpus) {
  const std::filesystem::path dir = SKIFF_FUZZ_CORPUS "/request_head";
  size_t replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().filename().string());
    EXPECT_EQ(LLVMFuzzerTestOneInput(bytes.data(), bytes.size()), 0);
    ++replayed;
  }
  EXPECT_GE(replayed, 10u) << "the corpus is missing";
}

}  // namespace
