#include "net/request_head.h"

#include <gtest/gtest.h>

namespace skiff::net {
namespace {

using State = RequestHeadScan::State;

// Verify that well-formed heads pass, with their length, whatever follows them.
TEST(RequestHeadTest, AcceptsWellFormedHeads) {
  struct Case {
    std::string head;
    std::string rest;  // what follows the head: a body, the next request
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", ""},
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET /next HTTP/1.1\r\n"},
      {"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", "abc"},
      {"POST /x HTTP/1.1\r\nhost: a\r\ntransfer-encoding: Chunked\r\n\r\n", "0\r\n\r\n"},
      {"GET / HTTP/1.0\r\n\r\n", ""},  // HTTP/1.0 needs no Host
      {"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n", ""},
  };
  for (const Case& c : cases) {
    RequestHeadScan scan = ScanRequestHead(c.head + c.rest);
    EXPECT_EQ(scan.state, State::kComplete) << c.head << ": " << scan.problem;
    EXPECT_EQ(scan.length, c.head.size()) << c.head;
  }
}

// Verify that a head without its empty line yet is incomplete, not bad.
TEST(RequestHeadTest, PartialHeadsAreIncomplete) {
  for (std::string data : {"", "GET", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\nHost: a\r\n",
                           "GET / HTTP/1.1\r\nHost: a\r\n\r"}) {
    EXPECT_EQ(ScanRequestHead(data).state, State::kIncomplete) << data;
  }
}

// Verify that each smuggling ingredient is refused, saying which.
TEST(RequestHeadTest, RefusesWhatSmugglingIsMadeOf) {
  struct Case {
    std::string data;
    std::string problem;
  } cases[] = {
      {"GET / HTTP/1.1\nHost: a\r\n\r\n", "bare LF"},
      {"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", "CR without LF"},
      {std::string("GET / HTTP/1.1\r\nHost: a\0\r\n\r\n", 28), "NUL"},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", "obsolete line folding"},
      {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", "without a colon"},
      {"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", "empty name"},
      {"GET / HTTP/1.1\r\nHost: a\r\nBad Name: v\r\n\r\n", "invalid header field name"},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 1\r\n\r\n", "invalid header field name"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
       "more than one Content-Length"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", "not a number"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", "not a number"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       "more than one Transfer-Encoding"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       "other than chunked"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
       "both Content-Length and Transfer-Encoding"},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0"},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host"},
      {"GET / HTTP/1.1\r\nX: a\r\n\r\n", "no Host"},
  };
  for (const Case& c : cases) {
    RequestHeadScan scan = ScanRequestHead(c.data);
    EXPECT_EQ(scan.state, State::kBad) << c.data;
    EXPECT_NE(scan.problem.find(c.problem), std::string::npos)
        << c.data << ": got \"" << scan.problem << "\", want \"" << c.problem << "\"";
  }
}

// Verify the size limits: a long request line is 414, a long header line or
// too many of them 431 — as soon as the limit is passed, before the head ends.
TEST(RequestHeadTest, LimitsAnswer414And431) {
  const RequestHeadLimits limits{.request_line = 32, .field_line = 16, .fields = 3};
  struct Case {
    std::string data;
    int status;  // 0: not refused
  } cases[] = {
      {"GET /" + std::string(40, 'a'), 414},  // no CRLF yet, already too long
      {"GET /" + std::string(40, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(20, 'v'), 431},
      {"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n", 431},
      {"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 0},
      {"GET / HTTP/1.1\r\nHost: 0123456789\r\n\r\n", 0},  // 16 bytes: at the limit
  };
  for (const Case& c : cases) {
    RequestHeadScan scan = ScanRequestHead(c.data, limits);
    if (c.status == 0) {
      EXPECT_EQ(scan.state, State::kComplete) << c.data << ": " << scan.problem;
    } else {
      EXPECT_EQ(scan.state, State::kBad) << c.data;
      EXPECT_EQ(scan.status, c.status) << c.data << ": " << scan.problem;
    }
  }
}

}  // namespace
}  // namespace skiff::net
