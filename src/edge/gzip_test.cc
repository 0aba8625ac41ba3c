#include "edge/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace skiff::edge {
namespace {

// A zlib inflater for gzip streams, fed piece by piece.
class Gunzip {
 public:
  Gunzip() { EXPECT_EQ(inflateInit2(&stream_, 15 + 16), Z_OK); }
  ~Gunzip() { inflateEnd(&stream_); }

  // Inflates `in` and appends what it decodes to `out_`; the last zlib code.
  int Feed(const std::string& in) {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    stream_.avail_in = static_cast<uInt>(in.size());
    int ret;
    do {
      char buf[16384];
      stream_.next_out = reinterpret_cast<Bytef*>(buf);
      stream_.avail_out = sizeof buf;
      ret = inflate(&stream_, Z_NO_FLUSH);
      out_.append(buf, sizeof buf - stream_.avail_out);
    } while (ret == Z_OK && (stream_.avail_in > 0 || stream_.avail_out == 0));
    return ret;
  }
  const std::string& out() const { return out_; }

 private:
  z_stream stream_{};
  std::string out_;
};

// The whole gzip stream decoded, or "<error N>" when it is not one that ends.
std::string Decode(const std::string& gz) {
  Gunzip gunzip;
  const int ret = gunzip.Feed(gz);
  return ret == Z_STREAM_END ? gunzip.out() : "<error " + std::to_string(ret) + ">";
}

// Text that compresses like a page does, and is not one short pattern.
std::string SampleText(size_t size) {
  std::string s;
  uint32_t x = 12345;
  while (s.size() < size) {
    x = x * 1103515245 + 12345;
    s += "<li class=\"item\">row " + std::to_string(x % 1000) + " of the list</li>\n";
  }
  s.resize(size);
  return s;
}

// Bytes that do not compress.
std::string RandomBytes(size_t size) {
  std::string s(size, '\0');
  uint64_t x = 88172645463325252ull;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

// Verify that several Compress pieces and Finish make one gzip stream that
// zlib decodes to the input.
TEST(GzipEncoderTest, PiecesRoundTrip) {
  const std::vector<std::string> pieces = {"Hello, ", "world", "!\n", SampleText(5000), "end"};
  GzipEncoder encoder;
  std::string gz, input;
  for (const auto& piece : pieces) {
    encoder.Compress(piece, &gz);
    input += piece;
  }
  encoder.Finish(&gz);
  ASSERT_GE(gz.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  EXPECT_EQ(Decode(gz), input);
}

// Verify that what each Compress appended lets the decoder decode all the
// input so far, before the stream ends (nothing is held back).
TEST(GzipEncoderTest, EachPieceIsFlushed) {
  const std::vector<std::string> pieces = {"data: 1\n\n", "x", SampleText(3000), RandomBytes(700),
                                           "data: last\n\n"};
  GzipEncoder encoder;
  Gunzip gunzip;
  std::string input;
  for (const auto& piece : pieces) {
    std::string out;
    encoder.Compress(piece, &out);
    EXPECT_FALSE(out.empty());
    input += piece;
    EXPECT_EQ(gunzip.Feed(out), Z_OK);
    EXPECT_EQ(gunzip.out(), input);
  }
  std::string tail;
  encoder.Finish(&tail);
  EXPECT_EQ(gunzip.Feed(tail), Z_STREAM_END);
  EXPECT_EQ(gunzip.out(), input);
}

// Verify that an empty piece appends nothing, and that a stream with no data
// (with or without empty pieces) still decodes, to nothing.
TEST(GzipEncoderTest, EmptyInput) {
  {
    GzipEncoder encoder;
    std::string gz;
    encoder.Finish(&gz);
    EXPECT_EQ(Decode(gz), "");
  }
  GzipEncoder encoder;
  std::string gz;
  encoder.Compress("", &gz);
  EXPECT_EQ(gz, "");
  encoder.Compress("abc", &gz);
  const size_t after_abc = gz.size();
  encoder.Compress("", &gz);
  EXPECT_EQ(gz.size(), after_abc);
  encoder.Finish(&gz);
  EXPECT_EQ(Decode(gz), "abc");
}

// Verify that a 1 MiB body round-trips whole and in uneven pieces, at the
// fastest and the best levels, and that text shrinks.
TEST(GzipEncoderTest, LargeInput) {
  const std::string text = SampleText(1 << 20);
  const std::string mixed = SampleText(1 << 19) + RandomBytes(1 << 19);
  for (int level : {1, 9}) {
    for (const std::string* input : {&text, &mixed}) {
      GzipEncoder whole(level);
      std::string gz;
      whole.Compress(*input, &gz);
      whole.Finish(&gz);
      EXPECT_EQ(Decode(gz), *input) << "level " << level;
      if (input == &text) {
        EXPECT_LT(gz.size(), input->size() / 4) << "level " << level;
      }

      GzipEncoder pieces(level);
      std::string gz_pieces;
      size_t at = 0, size = 1;
      while (at < input->size()) {
        pieces.Compress(std::string_view(*input).substr(at, size), &gz_pieces);
        at += size;
        size = size * 3 + 7;  // 1, 10, 37, ... up to most of the rest
      }
      pieces.Finish(&gz_pieces);
      EXPECT_EQ(Decode(gz_pieces), *input) << "level " << level;
    }
  }
}

// Verify the whole decision: what the client accepts, the response's method,
// status, encoding, caching, type and length.
TEST(ShouldGzipTest, DecisionTable) {
  struct Case {
    const char* what;
    GzipDecisionInput in;
    bool want;
  };
  const GzipDecisionInput base{.method = "GET",
                               .accept_encoding = "gzip",
                               .status = 200,
                               .content_type = "text/html; charset=utf-8"};
  auto with = [&](auto change) {
    GzipDecisionInput in = base;
    change(in);
    return in;
  };
  auto accept = [&](std::string_view a) {
    return with([&](GzipDecisionInput& in) { in.accept_encoding = a; });
  };
  auto type = [&](std::string_view t) {
    return with([&](GzipDecisionInput& in) { in.content_type = t; });
  };
  auto status = [&](int s) { return with([&](GzipDecisionInput& in) { in.status = s; }); };
  auto length = [&](uint64_t n) {
    return with([&](GzipDecisionInput& in) {
      in.has_length = true;
      in.length = n;
    });
  };
  const Case cases[] = {
      {"plain gzip", base, true},
      // Accept-Encoding.
      {"no Accept-Encoding", accept(""), false},
      {"list", accept("deflate, gzip, br"), true},
      {"case and spaces", accept("  Deflate ,\tGZIP  "), true},
      {"q above 0", accept("gzip;q=0.5"), true},
      {"spaces around q", accept("br, gzip ; q=0.001"), true},
      {"upper Q", accept("gzip;Q=1.0"), true},
      {"gzip q=0", accept("gzip;q=0"), false},
      {"gzip q=0.000", accept("br, gzip;q=0.000"), false},
      {"gzip q=0 beats star", accept("gzip;q=0, *"), false},
      {"star", accept("*"), true},
      {"star q=0.5", accept("br;q=1, *;q=0.5"), true},
      {"star q=0", accept("*;q=0"), false},
      {"identity alone", accept("identity"), false},
      {"identity and br", accept("identity, br"), false},
      {"x-gzip alias", accept("x-gzip"), true},
      {"gzip named, star refused", accept("*;q=0, gzip"), true},
      {"malformed q ignored", accept("gzip;q=2"), false},
      {"malformed q, star", accept("gzip;q=abc, *"), true},
      {"other params", accept("gzip;level=1;q=0.3"), true},
      {"gzipx is not gzip", accept("gzipx"), false},
      {"empty elements", accept(",, gzip ,"), true},
      // Method and status.
      {"HEAD", with([](GzipDecisionInput& in) { in.method = "HEAD"; }), false},
      {"POST", with([](GzipDecisionInput& in) { in.method = "POST"; }), true},
      {"101", status(101), false},
      {"204", status(204), false},
      {"206", status(206), false},
      {"304", status(304), false},
      {"404", status(404), true},
      {"500", status(500), true},
      // Content-Encoding and Cache-Control.
      {"already br", with([](GzipDecisionInput& in) { in.content_encoding = "br"; }), false},
      {"already gzip", with([](GzipDecisionInput& in) { in.content_encoding = "gzip"; }), false},
      {"identity", with([](GzipDecisionInput& in) { in.content_encoding = "Identity"; }), true},
      {"no-transform",
       with([](GzipDecisionInput& in) { in.cache_control = "public, No-Transform, max-age=60"; }),
       false},
      {"no-store", with([](GzipDecisionInput& in) { in.cache_control = "no-store"; }), true},
      // Content-Type.
      {"no type", type(""), false},
      {"text/plain", type("text/plain"), true},
      {"TEXT/CSS", type("TEXT/CSS;charset=UTF-8"), true},
      {"event stream", type("text/event-stream"), false},
      {"event stream params", type("Text/Event-Stream; charset=utf-8"), false},
      {"json", type("application/json"), true},
      {"javascript", type("application/javascript"), true},
      {"xml", type("application/xml"), true},
      {"+json", type("application/problem+json"), true},
      {"+xml", type("application/atom+xml; charset=utf-8"), true},
      {"bare +json", type("application/+json"), false},
      {"svg", type("image/svg+xml"), true},
      {"wasm", type("application/wasm"), true},
      {"png", type("image/png"), false},
      {"octet-stream", type("application/octet-stream"), false},
      {"json in a parameter", type("application/octet-stream; x=application/json"), false},
      {"jsonx", type("application/jsonx"), false},
      // Length.
      {"short", length(kMinGzipBytes - 1), false},
      {"at the minimum", length(kMinGzipBytes), true},
      {"large", length(1 << 20), true},
      {"empty body", length(0), false},
  };
  for (const auto& c : cases) EXPECT_EQ(ShouldGzip(c.in), c.want) << c.what;
}

}  // namespace
}  // namespace skiff::edge
