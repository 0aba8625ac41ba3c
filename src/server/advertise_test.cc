#include "server/advertise.h"

#include <gtest/gtest.h>

namespace skiff::server {
namespace {

// Verify that a server sharing its store refuses to start without
// --advertise when it listens on every address (naming the flag), and that
// a specific listen address, a given --advertise or a store of its own is
// fine.
TEST(AdvertiseTest, SharedStoreNeedsAnAddressToAdvertise) {
  for (const char* listen : {"0.0.0.0:7070", "[::]:7070", ":7070"}) {
    Status refused = CheckAdvertise("", listen, /*shared=*/true, /*tls=*/true);
    ASSERT_FALSE(refused.has_value()) << listen;
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(refused.error().field, "advertise");
    EXPECT_NE(refused.error().message.find("--advertise"), std::string::npos);
  }
  EXPECT_TRUE(CheckAdvertise("https://10.0.0.1:7070", "0.0.0.0:7070", true, true));
  EXPECT_TRUE(CheckAdvertise("", "10.0.0.1:7070", true, true));
  EXPECT_TRUE(CheckAdvertise("", "[::1]:7070", true, false));
  EXPECT_TRUE(CheckAdvertise("", "0.0.0.0:7070", /*shared=*/false, true));
}

// Verify that a server serving HTTPS refuses to advertise an http:// URL
// (its peers would send credentials there in clear), naming --advertise and
// the https:// form, and that --insecure-http (no TLS) may advertise one.
TEST(AdvertiseTest, HttpsServerRefusesHttpAdvertise) {
  for (bool shared : {true, false}) {
    Status refused = CheckAdvertise("http://10.0.0.1:7070", "0.0.0.0:7070", shared, /*tls=*/true);
    ASSERT_FALSE(refused.has_value()) << shared;
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(refused.error().field, "advertise");
    EXPECT_NE(refused.error().message.find("--advertise https://"), std::string::npos);
  }
  EXPECT_TRUE(CheckAdvertise("http://10.0.0.1:7070", "0.0.0.0:7070", true, /*tls=*/false));
}

// Verify the URL advertised: --advertise as given, else the listen address
// with the bound port, else (every address) the host name.
TEST(AdvertiseTest, AdvertisedUrl) {
  EXPECT_EQ(AdvertisedUrl("https://s1.example", "0.0.0.0:0", 7070, "s1"), "https://s1.example");
  EXPECT_EQ(AdvertisedUrl("", "127.0.0.1:0", 41234, "s1"), "http://127.0.0.1:41234");
  EXPECT_EQ(AdvertisedUrl("", "[::1]:0", 41234, "s1"), "http://[::1]:41234");
  EXPECT_EQ(AdvertisedUrl("", "0.0.0.0:7070", 7070, "s1"), "http://s1:7070");
  EXPECT_EQ(AdvertisedUrl("", "[::]:7070", 7070, "s1"), "http://s1:7070");
}

}  // namespace
}  // namespace skiff::server
