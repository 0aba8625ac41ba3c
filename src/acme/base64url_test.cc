#include "acme/base64url.h"

#include <gtest/gtest.h>

namespace skiff::acme {
namespace {

struct Case {
  std::string bytes;
  std::string text;
};

// Verify that encoding follows RFC 4648 §10's vectors in the url alphabet,
// without padding, and decoding gives the bytes back.
TEST(Base64Url, RoundTripsTheRfcVectors) {
  const Case cases[] = {
      {"", ""},
      {"f", "Zg"},
      {"fo", "Zm8"},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg"},
      {"fooba", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy"},
      {std::string("\xfb\xff\xbf", 3), "-_-_"},  // the two characters that differ from base64
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Base64UrlEncode(c.bytes), c.text) << c.text;
    auto back = Base64UrlDecode(c.text);
    ASSERT_TRUE(back) << c.text;
    EXPECT_EQ(*back, c.bytes) << c.text;
  }
}

// Verify that padded text decodes and text outside the alphabet or of an
// impossible length is refused.
TEST(Base64Url, DecodesPaddingAndRefusesGarbage) {
  EXPECT_EQ(Base64UrlDecode("Zm8=").value(), "fo");
  EXPECT_EQ(Base64UrlDecode("Zm9v+").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Base64UrlDecode("Zm9v/w").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Base64UrlDecode("Zm9vY").error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::acme
