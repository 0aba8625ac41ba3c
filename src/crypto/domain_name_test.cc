#include "crypto/domain_name.h"

#include <gtest/gtest.h>

namespace skiff::crypto {
namespace {

// Verify the cases of DomainCovers: exact names in any case, and a wildcard
// for one leftmost label only.
TEST(DomainNameTest, Covers) {
  struct Case {
    const char* pattern;
    const char* host;
    bool covers;
  } cases[] = {
      {"web.com", "web.com", true},
      {"web.com", "WEB.com", true},
      {"web.com", "a.web.com", false},
      {"*.web.com", "a.web.com", true},
      {"*.web.com", "A.Web.Com", true},
      {"*.web.com", "web.com", false},
      {"*.web.com", "a.b.web.com", false},
      {"*.web.com", ".web.com", false},
      {"*.", "a.", false},
      {"", "", false},
      {"web.com", "", false},
      {"*.web.com", "aweb.com", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DomainCovers(c.pattern, c.host), c.covers) << c.pattern << " / " << c.host;
  }
}

// Verify what a hostname and a DNS name (a hostname or a one-label
// wildcard over one) are.
TEST(DomainNameTest, Hostnames) {
  for (const char* good : {"web.com", "WEB.com", "a-b.c0m", "localhost", "x1"}) {
    EXPECT_TRUE(IsHostname(good)) << good;
    EXPECT_TRUE(IsDnsName(good)) << good;
  }
  for (const char* bad : {"", "web com", "a..b", "-a.com", "a-.com", "web.com.", ".web.com",
                          "a_b.com", "*.web.com"}) {
    EXPECT_FALSE(IsHostname(bad)) << bad;
  }
  EXPECT_FALSE(IsHostname(std::string(64, 'a') + ".com"));
  EXPECT_TRUE(IsHostname(std::string(63, 'a') + ".com"));
  EXPECT_TRUE(IsDnsName("*.web.com"));
  for (const char* bad : {"*", "*.", "a.*.com", "**.web.com", "*web.com"}) {
    EXPECT_FALSE(IsDnsName(bad)) << bad;
  }
}

}  // namespace
}  // namespace skiff::crypto
