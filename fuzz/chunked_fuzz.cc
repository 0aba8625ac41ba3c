// libFuzzer target for the chunked decoder (edge/http1.h): ChunkedDecoder must
// never crash or read out of bounds, and must decode alike however the bytes
// are split (whole, byte by byte, in pieces of a stride the input picks). What
// it decodes, encoded again as one chunk, decodes back to the same payload.
// `make fuzz` runs it (clang, ASan + UBSan); the test FuzzReplayTest runs
// every input of fuzz/corpus/chunked/ through it.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "edge/http1.h"

namespace {

using skiff::edge::http1::ChunkedDecoder;

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Outcome {
  size_t consumed = 0;
  bool done = false;
  bool bad = false;
  std::string problem;
  std::string payload;
  uint64_t payload_bytes = 0;

  bool operator==(const Outcome&) const = default;
};

// Decodes `in` fed in pieces of `stride` bytes.
Outcome Decode(std::string_view in, size_t stride) {
  ChunkedDecoder decoder;
  Outcome out;
  std::vector<std::string_view> views;
  while (out.consumed < in.size()) {
    const std::string_view piece = in.substr(out.consumed, stride);
    views.clear();
    const size_t n = decoder.Feed(piece, &views);
    Check(n <= piece.size());
    for (std::string_view v : views) {
      Check(v.data() >= piece.data() && v.data() + v.size() <= piece.data() + n);
      out.payload += v;
    }
    out.consumed += n;
    if (decoder.done() || decoder.bad()) break;
    Check(n == piece.size());  // only done or bad stop it early
  }
  Check(!(decoder.done() && decoder.bad()));
  if (decoder.done() || decoder.bad()) Check(decoder.Feed(in) == 0);
  out.done = decoder.done();
  out.bad = decoder.bad();
  out.problem = decoder.problem();
  Check(out.bad == !out.problem.empty());
  out.payload_bytes = decoder.payload_bytes();
  Check(out.payload_bytes == out.payload.size());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Outcome whole = Decode(input, input.size() + 1);
  Check(Decode(input, 1) == whole);
  if (size > 0) Check(Decode(input, 1 + data[size / 2] % 13) == whole);
  if (whole.done) {
    // The final CRLF is the last byte consumed.
    Check(whole.consumed >= 5 && input.substr(whole.consumed - 2, 2) == "\r\n");
    std::string encoded;
    if (!whole.payload.empty()) {
      char hex[16];
      const auto [end, ec] = std::to_chars(hex, hex + sizeof hex, whole.payload.size(), 16);
      Check(ec == std::errc());
      encoded.append(hex, end).append("\r\n").append(whole.payload).append("\r\n");
    }
    encoded += "0\r\n\r\n";
    const Outcome again = Decode(encoded, encoded.size());
    Check(again.done && again.consumed == encoded.size() && again.payload == whole.payload);
  } else if (!whole.bad) {
    Check(whole.consumed == size);
  }
  return 0;
}
