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

}  // namespace
}  // namespace skiff::crypto
