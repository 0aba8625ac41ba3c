// libFuzzer target for the first stage of request parsing: ScanRequestHead
// (net/request_head.h) must never crash, read out of bounds or contradict
// itself on any input. `make fuzz` runs it (clang, ASan + UBSan); the test
// FuzzReplayTest runs every input of fuzz/corpus/request_head/ through it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/request_head.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const skiff::net::RequestHeadScan scan = skiff::net::ScanRequestHead(input);
  using State = skiff::net::RequestHeadScan::State;
  switch (scan.state) {
    case State::kComplete:
      // A complete head ends with its empty line, inside the input, and has
      // no byte the scan refuses.
      if (scan.length < 4 || scan.length > size || input.substr(scan.length - 4, 4) != "\r\n\r\n" ||
          input.substr(0, scan.length).find('\0') != std::string_view::npos) {
        std::abort();
      }
      // Scanning the head alone gives the same verdict.
      if (skiff::net::ScanRequestHead(input.substr(0, scan.length)).state != State::kComplete) {
        std::abort();
      }
      break;
    case State::kBad:
      if (scan.problem.empty()) std::abort();  // a refusal always says why
      break;
    case State::kIncomplete:
      if (input.find("\r\n\r\n") != std::string_view::npos) std::abort();
      break;
  }
  return 0;
}
