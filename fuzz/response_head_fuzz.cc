// libFuzzer target for the parser of upstream response heads: ParseResponseHead
// (edge/http1.h) must never crash, read out of bounds or contradict itself on
// any input, nor depend on how much of the input it sees beyond the head.
// `make fuzz` runs it (clang, ASan + UBSan); the test FuzzReplayTest runs
// every input of fuzz/corpus/response_head/ through it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edge/http1.h"

namespace {

using skiff::edge::http1::Field;
using skiff::edge::http1::ParseResponseHead;
using skiff::edge::http1::ParseState;
using skiff::edge::http1::ResponseHasBody;
using skiff::edge::http1::ResponseHead;

constexpr size_t kMaxBytes = 1 << 16;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Inside(std::string_view view, std::string_view buffer) {
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}

ParseState Parse(std::string_view data, size_t max_bytes, ResponseHead* head) {
  std::string problem;
  const ParseState state = ParseResponseHead(data, max_bytes, head, &problem);
  Check((state == ParseState::kBad) == !problem.empty());  // a refusal always says why
  return state;
}

void CheckComplete(std::string_view input, const ResponseHead& head) {
  Check(head.length >= 16 && head.length <= input.size());  // "HTTP/1.1 200\r\n\r\n" at least
  const std::string_view bytes = input.substr(0, head.length);
  Check(bytes.substr(bytes.size() - 4) == "\r\n\r\n");
  Check(bytes.find('\0') == std::string_view::npos);
  Check(head.status >= 100 && head.status <= 999);
  Check(head.minor_version >= 0 && head.minor_version <= 9);
  Check(head.fields.size() <= 100);
  Check(!(head.chunked && head.content_length));
  Check(head.reason.empty() || Inside(head.reason, bytes));
  for (const Field& f : head.fields) {
    Check(!f.name.empty() && Inside(f.name, bytes) && Inside(f.value, bytes));
    Check(f.value.empty() || (f.value.front() != ' ' && f.value.front() != '\t' &&
                              f.value.back() != ' ' && f.value.back() != '\t'));
  }
  // The head alone, with exactly its length as the limit, parses the same.
  ResponseHead again;
  Check(Parse(bytes, head.length, &again) == ParseState::kComplete);
  Check(again.length == head.length && again.status == head.status && again.reason == head.reason &&
        again.fields.size() == head.fields.size() && again.content_length == head.content_length &&
        again.chunked == head.chunked && again.close == head.close);
  // Less of it is incomplete, and a limit one byte short refuses it.
  Check(Parse(bytes.substr(0, bytes.size() - 1), kMaxBytes, &again) == ParseState::kIncomplete);
  Check(Parse(bytes.substr(0, bytes.size() / 2), kMaxBytes, &again) == ParseState::kIncomplete);
  Check(Parse(input, head.length - 1, &again) == ParseState::kBad);
  ResponseHasBody("GET", head.status);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ResponseHead head;
  const ParseState state = Parse(input, kMaxBytes, &head);
  switch (state) {
    case ParseState::kComplete:
      CheckComplete(input, head);
      break;
    case ParseState::kBad:
      // A refusal stands whatever comes next.
      if (size + 4 <= kMaxBytes) {
        Check(Parse(std::string(input) + "\r\n\r\n", kMaxBytes, &head) == ParseState::kBad);
      }
      break;
    case ParseState::kIncomplete:
      // Every CRLF ends a line, so a CRLF CRLF would have been the empty line.
      Check(input.find("\r\n\r\n") == std::string_view::npos);
      break;
  }
  // A smaller limit: complete only when the head fits it, else refused.
  if (size > 0 && size <= kMaxBytes) {
    const size_t limit = size / 2;
    ResponseHead small;
    const ParseState limited = Parse(input, limit, &small);
    if (state == ParseState::kComplete && head.length <= limit) {
      Check(limited == ParseState::kComplete && small.length == head.length);
    } else {
      Check(limited == ParseState::kBad);
    }
  }
  return 0;
}
