// libFuzzer target for request parsing: ScanRequestHead (net/request_head.h)
// must never crash, read out of bounds or contradict itself on any input, nor
// must ParseRequestHead (edge/http1.h) on any head the scan passes (the scan
// judges no request line: that is the parser's). `make fuzz` runs it (clang,
// ASan + UBSan); the test FuzzReplayTest runs every input of
// fuzz/corpus/request_head/ through it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edge/http1.h"
#include "net/request_head.h"

namespace {

bool Inside(std::string_view view, std::string_view buffer) {
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}

// The split of a head the scan passed: views inside it, framing decided once.
void CheckParse(std::string_view head) {
  skiff::edge::http1::RequestHead req;
  std::string problem;
  if (!skiff::edge::http1::ParseRequestHead(head, &req, &problem)) {
    if (problem.empty()) std::abort();  // a refusal always says why
    return;
  }
  bool ok = req.length == head.size() && !req.method.empty() && !req.target.empty() &&
            !req.path.empty() && Inside(req.method, head) && Inside(req.target, head) &&
            (req.path == "/" || Inside(req.path, head)) &&
            (req.host.empty() || Inside(req.host, head)) &&
            (req.minor_version == 0 || req.minor_version == 1) &&
            !(req.chunked && req.content_length) && (req.minor_version == 1 || !req.upgrade);
  for (const auto& f : req.fields) {
    ok = ok && !f.name.empty() && Inside(f.name, head) && Inside(f.value, head);
  }
  if (!ok) std::abort();
}

}  // namespace

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
      CheckParse(input.substr(0, scan.length));
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
