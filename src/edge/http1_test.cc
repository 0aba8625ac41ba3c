#include "edge/http1.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "net/request_head.h"

namespace skiff::edge::http1 {
namespace {

// A head from its first line and field lines: CRLF after each, then the empty line.
std::string Head(std::string_view first_line, std::initializer_list<std::string_view> fields = {}) {
  std::string head(first_line);
  head += "\r\n";
  for (std::string_view field : fields) {
    head += field;
    head += "\r\n";
  }
  return head + "\r\n";
}

// Whether `view` lies inside `buffer` (the parsers copy nothing).
bool Inside(std::string_view view, std::string_view buffer) {
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}

// ParseRequestHead under its REQUIRES: the scan passed exactly `head`.
bool ParseScanned(std::string_view head, RequestHead* out, std::string* problem) {
  const net::RequestHeadScan scan = net::ScanRequestHead(head);
  EXPECT_EQ(scan.state, net::RequestHeadScan::State::kComplete) << head << ": " << scan.problem;
  EXPECT_EQ(scan.length, head.size()) << head;
  return ParseRequestHead(head, out, problem);
}

// The parse of a head that must pass (views into `head`).
RequestHead MustParse(std::string_view head) {
  RequestHead req;
  std::string problem;
  EXPECT_TRUE(ParseScanned(head, &req, &problem)) << head << ": " << problem;
  return req;
}

// ---------------------------------------------------------------- requests --

// Verify that the request line and the fields are split into views of the
// head, values without the whitespace around them.
TEST(ParseRequestHeadTest, SplitsLineAndFields) {
  const std::string head = Head("GET /a/b?x=1&y=2 HTTP/1.1",
                                {"Host: example.com", "X-Spaces: \t v w \t", "X-Empty:", "a:b"});
  RequestHead req;
  std::string problem;
  ASSERT_TRUE(ParseScanned(head, &req, &problem)) << problem;
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/a/b?x=1&y=2");
  EXPECT_EQ(req.path, "/a/b");
  EXPECT_EQ(req.minor_version, 1);
  EXPECT_EQ(req.host, "example.com");
  EXPECT_EQ(req.length, head.size());
  ASSERT_EQ(req.fields.size(), 4u);
  EXPECT_EQ(req.fields[0].name, "Host");
  EXPECT_EQ(req.fields[1].name, "X-Spaces");
  EXPECT_EQ(req.fields[1].value, "v w");
  EXPECT_EQ(req.fields[2].value, "");
  EXPECT_EQ(req.fields[3].name, "a");
  EXPECT_EQ(req.fields[3].value, "b");
  for (const Field& f : req.fields) EXPECT_TRUE(Inside(f.name, head) && Inside(f.value, head));
  EXPECT_TRUE(Inside(req.method, head) && Inside(req.target, head) && Inside(req.path, head));
  EXPECT_FALSE(req.content_length.has_value());
  EXPECT_FALSE(req.chunked);
  EXPECT_TRUE(req.keep_alive);
  EXPECT_FALSE(req.upgrade);
  EXPECT_FALSE(req.expect_continue);
}

// Verify the keep-alive rules: HTTP/1.1 keeps unless "close", HTTP/1.0 closes
// unless "keep-alive"; Connection is a list, may repeat, any case, and close wins.
TEST(ParseRequestHeadTest, KeepAliveFollowsVersionAndConnection) {
  struct Case {
    std::string head;
    bool keep_alive;
  } cases[] = {
      {Head("GET / HTTP/1.1", {"Host: a"}), true},
      {Head("GET / HTTP/1.1", {"Host: a", "Connection: close"}), false},
      {Head("GET / HTTP/1.1", {"Host: a", "Connection: CLOSE"}), false},
      {Head("GET / HTTP/1.1", {"Host: a", "Connection: keep-alive"}), true},
      {Head("GET / HTTP/1.1", {"Host: a", "Connection: x-trace, close"}), false},
      {Head("GET / HTTP/1.1", {"Host: a", "Connection: keep-alive", "connection: Close"}), false},
      {Head("GET / HTTP/1.1", {"Host: a", "Connection: closed"}), true},
      {Head("GET / HTTP/1.1", {"Host: a", "Connection: x-close"}), true},
      {Head("GET / HTTP/1.0"), false},
      {Head("GET / HTTP/1.0", {"Connection: keep-alive"}), true},
      {Head("GET / HTTP/1.0", {"Connection: Keep-Alive"}), true},
      {Head("GET / HTTP/1.0", {"Connection: ,, keep-alive ,"}), true},
      {Head("GET / HTTP/1.0", {"Connection: keep-alive, close"}), false},
      {Head("GET / HTTP/1.0", {"Connection: keep-alive", "Connection: close"}), false},
      {Head("GET / HTTP/1.0", {"Keep-Alive: timeout=5"}), false},
  };
  for (const Case& c : cases) EXPECT_EQ(MustParse(c.head).keep_alive, c.keep_alive) << c.head;
}

// Verify that an upgrade needs both a Connection "upgrade" option and an
// Upgrade field, in HTTP/1.1.
TEST(ParseRequestHeadTest, UpgradeNeedsConnectionOptionAndField) {
  struct Case {
    std::string head;
    bool upgrade;
  } cases[] = {
      {Head("GET /ws HTTP/1.1", {"Host: a", "Connection: Upgrade", "Upgrade: websocket"}), true},
      {Head("GET /ws HTTP/1.1", {"Host: a", "Connection: keep-alive, upgrade", "Upgrade: h2c"}),
       true},
      {Head("GET /ws HTTP/1.1",
            {"Host: a", "Connection: keep-alive", "Upgrade: websocket", "Connection: UPGRADE"}),
       true},
      {Head("GET /ws HTTP/1.1", {"Host: a", "Connection: upgrade"}), false},
      {Head("GET /ws HTTP/1.1", {"Host: a", "Upgrade: websocket"}), false},
      {Head("GET /ws HTTP/1.1", {"Host: a", "Connection: upgrade", "Upgrade:"}), false},
      {Head("GET /ws HTTP/1.1", {"Host: a", "Connection: upgrade", "Upgrade: h2c", "Upgrade:"}),
       true},
      {Head("GET /ws HTTP/1.1", {"Host: a", "Connection: upgrades", "Upgrade: websocket"}), false},
      {Head("GET /ws HTTP/1.0", {"Connection: upgrade", "Upgrade: websocket"}), false},
  };
  for (const Case& c : cases) EXPECT_EQ(MustParse(c.head).upgrade, c.upgrade) << c.head;
}

// Verify that "Expect: 100-continue" is seen in any case, in HTTP/1.1 only.
TEST(ParseRequestHeadTest, ExpectContinue) {
  struct Case {
    std::string head;
    bool expect_continue;
  } cases[] = {
      {Head("PUT /x HTTP/1.1", {"Host: a", "Content-Length: 3", "Expect: 100-continue"}), true},
      {Head("PUT /x HTTP/1.1", {"Host: a", "Content-Length: 3", "expect:  100-Continue "}), true},
      {Head("PUT /x HTTP/1.1", {"Host: a", "Content-Length: 3", "Expect: 200-ok"}), false},
      {Head("PUT /x HTTP/1.1", {"Host: a", "Content-Length: 3"}), false},
      {Head("PUT /x HTTP/1.1", {"Host: a", "Expect: 100-continue", "Expect: x-other"}), true},
      {Head("PUT /x HTTP/1.0", {"Content-Length: 3", "Expect: 100-continue"}), false},
  };
  for (const Case& c : cases)
    EXPECT_EQ(MustParse(c.head).expect_continue, c.expect_continue) << c.head;
}

// Verify the framing: Content-Length up to 2^63 - 1 and chunked.
TEST(ParseRequestHeadTest, DecidesFraming) {
  struct Case {
    std::string head;
    std::optional<uint64_t> content_length;
    bool chunked;
  } cases[] = {
      {Head("POST / HTTP/1.1", {"Host: a", "Content-Length: 42"}), 42, false},
      {Head("POST / HTTP/1.1", {"Host: a", "content-length: 007"}), 7, false},
      {Head("POST / HTTP/1.1", {"Host: a", "Content-Length: 0"}), 0, false},
      {Head("POST / HTTP/1.1", {"Host: a", "Content-Length: 9223372036854775807"}),
       9223372036854775807u, false},
      {Head("POST / HTTP/1.1", {"Host: a", "Transfer-Encoding: Chunked"}), {}, true},
      {Head("GET / HTTP/1.1", {"Host: a"}), {}, false},
  };
  for (const Case& c : cases) {
    const RequestHead req = MustParse(c.head);
    EXPECT_EQ(req.content_length, c.content_length) << c.head;
    EXPECT_EQ(req.chunked, c.chunked) << c.head;
  }
}

// Verify the forms of request target: origin form split at '?', "*" for
// OPTIONS, an absolute http:// URL whose authority is the host.
TEST(ParseRequestHeadTest, TargetForms) {
  struct Case {
    std::string head;
    std::string_view target, path, host;
  } cases[] = {
      {Head("GET / HTTP/1.1", {"Host: a"}), "/", "/", "a"},
      {Head("GET /?x HTTP/1.1", {"Host: a"}), "/?x", "/", "a"},
      {Head("GET /a?b?c HTTP/1.1", {"Host: a"}), "/a?b?c", "/a", "a"},
      {Head("GET //double/%2F HTTP/1.1", {"Host: a"}), "//double/%2F", "//double/%2F", "a"},
      {Head("GET /caf\xc3\xa9 HTTP/1.1", {"Host: a"}), "/caf\xc3\xa9", "/caf\xc3\xa9", "a"},
      {Head("OPTIONS * HTTP/1.1", {"Host: a"}), "*", "*", "a"},
      {Head("GET http://h.example/a/b?x=1 HTTP/1.1", {"Host: h.example"}),
       "http://h.example/a/b?x=1", "/a/b", "h.example"},
      {Head("GET HTTP://h.example:8080 HTTP/1.1", {"Host: H.example:8080"}),
       "HTTP://h.example:8080", "/", "h.example:8080"},
      {Head("GET http://h.example?x=1 HTTP/1.1", {"Host: h.example"}), "http://h.example?x=1", "/",
       "h.example"},
      {Head("GET http://h.example/ HTTP/1.0"), "http://h.example/", "/", "h.example"},
  };
  for (const Case& c : cases) {
    const RequestHead req = MustParse(c.head);
    EXPECT_EQ(req.target, c.target) << c.head;
    EXPECT_EQ(req.path, c.path) << c.head;
    EXPECT_EQ(req.host, c.host) << c.head;
  }
}

// Verify that what the scan lets through but no request may be is refused,
// saying why: the request line, the version, the target, a huge length.
TEST(ParseRequestHeadTest, RefusesWhatTheScanDoesNotJudge) {
  struct Case {
    std::string head;
    std::string_view problem;
  } cases[] = {
      {"\r\nHost: a\r\n\r\n", "request line"},
      {Head("GET", {"Host: a"}), "request line"},
      {Head("GET /", {"Host: a"}), "request line"},
      {Head(" / HTTP/1.1", {"Host: a"}), "method"},
      {Head("G(T / HTTP/1.1", {"Host: a"}), "method"},
      {Head("GET  / HTTP/1.1", {"Host: a"}), "target"},
      {Head("GET /a b HTTP/1.1", {"Host: a"}), "target"},
      {Head("GET /a\tb HTTP/1.1", {"Host: a"}), "target"},
      {Head("GET /a\x7f HTTP/1.1", {"Host: a"}), "target"},
      {Head("GET / HTTP/1.2", {"Host: a"}), "version"},
      {Head("GET / HTTP/2.0", {"Host: a"}), "version"},
      {Head("GET / http/1.1", {"Host: a"}), "version"},
      {Head("GET / HTTP/1.1 ", {"Host: a"}), "version"},
      {Head("GET * HTTP/1.1", {"Host: a"}), "OPTIONS"},
      {Head("GET a/b HTTP/1.1", {"Host: a"}), "neither"},
      {Head("CONNECT a.example:443 HTTP/1.1", {"Host: a.example:443"}), "neither"},
      {Head("GET https://a/ HTTP/1.1", {"Host: a"}), "neither"},
      {Head("GET http:// HTTP/1.1", {"Host: a"}), "authority"},
      {Head("GET http:///x HTTP/1.1", {"Host: a"}), "authority"},
      {Head("GET http://u@a/ HTTP/1.1", {"Host: a"}), "userinfo"},
      {Head("GET http://b/ HTTP/1.1", {"Host: a"}), "Host differs"},
      {Head("POST / HTTP/1.1", {"Host: a", "Content-Length: 9223372036854775808"}), "2^63"},
      {Head("POST / HTTP/1.1", {"Host: a", "Content-Length: 123456789012345678901234567890"}),
       "2^63"},
  };
  for (const Case& c : cases) {
    RequestHead req;
    std::string problem;
    EXPECT_FALSE(ParseScanned(c.head, &req, &problem)) << c.head;
    EXPECT_NE(problem.find(c.problem), std::string::npos)
        << c.head << ": got \"" << problem << "\", want \"" << c.problem << "\"";
  }
}

// Verify that a parse keeps nothing of the one before but the fields' capacity.
TEST(ParseRequestHeadTest, ReusesFieldsCapacityOnly) {
  RequestHead req;
  std::string problem;
  const std::string big =
      Head("POST /big HTTP/1.1", {"Host: a", "Content-Length: 1", "Connection: close, upgrade",
                                  "Upgrade: websocket", "Expect: 100-continue", "A: 1", "B: 2"});
  ASSERT_TRUE(ParseScanned(big, &req, &problem));
  const size_t capacity = req.fields.capacity();
  // Named: the parsed head's views point into it.
  const std::string small = Head("GET /small HTTP/1.1", {"Host: b"});
  ASSERT_TRUE(ParseScanned(small, &req, &problem));
  EXPECT_EQ(req.fields.size(), 1u);
  EXPECT_EQ(req.fields.capacity(), capacity);
  EXPECT_EQ(req.host, "b");
  EXPECT_FALSE(req.content_length.has_value());
  EXPECT_TRUE(req.keep_alive);
  EXPECT_FALSE(req.upgrade);
  EXPECT_FALSE(req.expect_continue);
}

// --------------------------------------------------------------- responses --

// Verify that well-formed response heads are parsed, whatever body follows.
TEST(ParseResponseHeadTest, ParsesWellFormedHeads) {
  struct Case {
    std::string head;
    int status;
    int minor_version;
    std::string_view reason;
    size_t fields;
    std::optional<uint64_t> content_length;
    bool chunked;
    bool close;
  } cases[] = {
      {Head("HTTP/1.1 200 OK", {"Content-Length: 5"}), 200, 1, "OK", 1, 5, false, false},
      {Head("HTTP/1.1 204 No Content"), 204, 1, "No Content", 0, {}, false, false},
      {Head("HTTP/1.1 200"), 200, 1, "", 0, {}, false, false},
      {Head("HTTP/1.1 200 "), 200, 1, "", 0, {}, false, false},
      {Head("HTTP/1.1 404 Not  Found\t(really)\xc3\xa9"),
       404,
       1,
       "Not  Found\t(really)\xc3\xa9",
       0,
       {},
       false,
       false},
      {Head("HTTP/1.1 999 Odd"), 999, 1, "Odd", 0, {}, false, false},
      {Head("HTTP/1.1 100 Continue"), 100, 1, "Continue", 0, {}, false, false},
      {Head("HTTP/1.0 200 OK"), 200, 0, "OK", 0, {}, false, true},
      {Head("HTTP/1.0 200 OK", {"Connection: Keep-Alive"}), 200, 0, "OK", 1, {}, false, false},
      {Head("HTTP/1.0 200 OK", {"Connection: keep-alive, close"}),
       200,
       0,
       "OK",
       1,
       {},
       false,
       true},
      {Head("HTTP/1.1 200 OK", {"Connection: close"}), 200, 1, "OK", 1, {}, false, true},
      {Head("HTTP/1.1 200 OK", {"Connection: x, Close", "Connection: keep-alive"}),
       200,
       1,
       "OK",
       2,
       {},
       false,
       true},
      {Head("HTTP/1.2 200 OK"), 200, 2, "OK", 0, {}, false, false},
      {Head("HTTP/1.1 200 OK", {"Transfer-Encoding: chunked"}), 200, 1, "OK", 1, {}, true, false},
      {Head("HTTP/1.1 200 OK", {"transfer-encoding: gzip, CHUNKED"}),
       200,
       1,
       "OK",
       1,
       {},
       true,
       false},
      {Head("HTTP/1.1 200 OK", {"Transfer-Encoding: gzip", "Transfer-Encoding: ,chunked ,"}),
       200,
       1,
       "OK",
       2,
       {},
       true,
       false},
      {Head("HTTP/1.1 200 OK", {"Content-Length: 42", "content-length: 42"}), 200, 1, "OK", 2, 42,
       false, false},
      {Head("HTTP/1.1 200 OK", {"Content-Length: 9223372036854775807"}), 200, 1, "OK", 1,
       9223372036854775807u, false, false},
      {Head("HTTP/1.1 200 OK", {"X-Tab:\tv\t", "X-Empty:", "a:b"}),
       200,
       1,
       "OK",
       3,
       {},
       false,
       false},
      {Head("HTTP/1.1 101 Switching Protocols", {"Connection: Upgrade", "Upgrade: websocket"}),
       101,
       1,
       "Switching Protocols",
       2,
       {},
       false,
       false},
  };
  for (const Case& c : cases) {
    for (std::string_view body : {"", "hello", "HTTP/1.1 200 OK\r\n\r\n"}) {
      const std::string data = c.head + std::string(body);
      ResponseHead resp;
      std::string problem;
      ASSERT_EQ(ParseResponseHead(data, 8192, &resp, &problem), ParseState::kComplete)
          << c.head << ": " << problem;
      EXPECT_EQ(resp.length, c.head.size()) << c.head;
      EXPECT_EQ(resp.status, c.status) << c.head;
      EXPECT_EQ(resp.minor_version, c.minor_version) << c.head;
      EXPECT_EQ(resp.reason, c.reason) << c.head;
      EXPECT_EQ(resp.fields.size(), c.fields) << c.head;
      EXPECT_EQ(resp.content_length, c.content_length) << c.head;
      EXPECT_EQ(resp.chunked, c.chunked) << c.head;
      EXPECT_EQ(resp.close, c.close) << c.head;
      EXPECT_TRUE(resp.reason.empty() ||
                  Inside(resp.reason, std::string_view(data).substr(0, resp.length)));
      for (const Field& f : resp.fields) {
        EXPECT_TRUE(Inside(f.name, data) && Inside(f.value, data)) << c.head;
        EXPECT_LT(f.value.data() + f.value.size(), data.data() + resp.length) << c.head;
      }
    }
  }
}

// Verify that fields come out as sent, values trimmed.
TEST(ParseResponseHeadTest, FieldsAsSent) {
  const std::string data = Head("HTTP/1.1 200 OK", {"Content-Type: text/plain", "x-A:  a b \t"});
  ResponseHead resp;
  std::string problem;
  ASSERT_EQ(ParseResponseHead(data, 8192, &resp, &problem), ParseState::kComplete) << problem;
  ASSERT_EQ(resp.fields.size(), 2u);
  EXPECT_EQ(resp.fields[0].name, "Content-Type");
  EXPECT_EQ(resp.fields[0].value, "text/plain");
  EXPECT_EQ(resp.fields[1].name, "x-A");
  EXPECT_EQ(resp.fields[1].value, "a b");
}

// Verify that every proper prefix of a good head is incomplete, not bad.
TEST(ParseResponseHeadTest, PrefixesAreIncomplete) {
  for (const std::string& head :
       {Head("HTTP/1.1 200 OK", {"Content-Length: 5", "Content-Length: 5", "X:"}),
        Head("HTTP/1.0 304"), Head("HTTP/1.1 200 OK", {"Transfer-Encoding: gzip, chunked"})}) {
    for (size_t n = 0; n < head.size(); ++n) {
      ResponseHead resp;
      std::string problem;
      EXPECT_EQ(ParseResponseHead(head.substr(0, n), 8192, &resp, &problem),
                ParseState::kIncomplete)
          << n << " bytes of " << head << ": " << problem;
    }
  }
}

std::string ManyFields(size_t n) {
  std::string data = "HTTP/1.1 200 OK\r\n";
  for (size_t i = 0; i < n; ++i) data += "X-" + std::to_string(i) + ": v\r\n";
  return data;
}

// Verify that each thing an instance could smuggle or confuse a client with
// is refused, saying which.
TEST(ParseResponseHeadTest, RefusesBadHeads) {
  struct Case {
    std::string data;
    std::string_view problem;
  } cases[] = {
      {"HTTP/1.1 200 OK\nX: 1\r\n\r\n", "bare LF"},
      {"HTTP/1.1 200 OK\r\nX: 1\n\r\n", "bare LF"},
      {"HTTP/1.1 200 OK\r\nX\n: 1\r\n\r\n", "bare LF"},
      {"HTTP/1.1 200 OK\r\n\n", "bare LF"},
      {std::string("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 27), "NUL"},
      {std::string("HTTP/1.1 200 O\0K\r\n\r\n", 20), "NUL"},
      {std::string("HTTP/1.1 200 OK\r\nX\0: a\r\n\r\n", 26), "NUL"},
      {"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "CR without LF"},
      {"HTTP/1.1 200 O\rK\r\n\r\n", "CR without LF"},
      {"HTTP/1.1 200 OK\r\nX: a\r\n\r\r\n", "CR without LF"},
      {"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obsolete line folding"},
      {"HTTP/1.1 200 OK\r\n\tX: a\r\n\r\n", "obsolete line folding"},
      {"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", "whitespace before the colon"},
      {"HTTP/1.1 200 OK\r\nX\t: a\r\n\r\n", "whitespace before the colon"},
      {"HTTP/1.1 200 OK\r\n: a\r\n\r\n", "empty name"},
      {"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "without a colon"},
      {"HTTP/1.1 200 OK\r\nBad(Name: a\r\n\r\n", "invalid character"},
      {"HTTP/1.1 200 OK\r\nX\xc3\xa9: a\r\n\r\n", "invalid character"},
      {Head("HTTP/1.1 200 OK", {"Content-Length: 1", "Transfer-Encoding: chunked"}), "both"},
      {Head("HTTP/1.1 200 OK", {"Transfer-Encoding: chunked", "Content-Length: 1"}), "both"},
      {Head("HTTP/1.1 200 OK", {"Content-Length: 1", "Content-Length: 2"}), "different"},
      {Head("HTTP/1.1 200 OK", {"Content-Length: 42, 42"}), "not a number"},
      {Head("HTTP/1.1 200 OK", {"Content-Length: +1"}), "not a number"},
      {Head("HTTP/1.1 200 OK", {"Content-Length: -1"}), "not a number"},
      {Head("HTTP/1.1 200 OK", {"Content-Length: 0x10"}), "not a number"},
      {Head("HTTP/1.1 200 OK", {"Content-Length: 1 2"}), "not a number"},
      {Head("HTTP/1.1 200 OK", {"Content-Length:"}), "not a number"},
      {Head("HTTP/1.1 200 OK", {"Content-Length: 9223372036854775808"}), "2^63"},
      {Head("HTTP/1.1 200 OK", {"Content-Length: 184467440737095516160"}), "2^63"},
      {Head("HTTP/1.1 200 OK", {"Transfer-Encoding: gzip"}), "not ending in chunked"},
      {Head("HTTP/1.1 200 OK", {"Transfer-Encoding: chunked, gzip"}), "not ending in chunked"},
      {Head("HTTP/1.1 200 OK", {"Transfer-Encoding: chunked", "Transfer-Encoding: gzip"}),
       "not ending in chunked"},
      {Head("HTTP/1.1 200 OK", {"Transfer-Encoding: chunked;x=1"}), "not ending in chunked"},
      {Head("HTTP/1.1 200 OK", {"Transfer-Encoding:"}), "not ending in chunked"},
      {Head("HTTP/1.1 200 OK", {"Transfer-Encoding: chunked, chunked"}), "chunked given twice"},
      {Head("HTTP/1.1 200 OK", {"Transfer-Encoding: chunked", "Transfer-Encoding: chunked"}),
       "chunked given twice"},
      {Head("HTTP/1.0 200 OK", {"Transfer-Encoding: chunked"}), "HTTP/1.0"},
      {Head("HTTP/2 200 OK"), "HTTP/1.x"},
      {Head("HTTP/2.0 200 OK"), "HTTP/1.x"},
      {Head("http/1.1 200 OK"), "HTTP/1.x"},
      {Head("HTTP/1.x 200 OK"), "HTTP/1.x"},
      {Head("ICY 200 OK"), "HTTP/1.x"},
      {Head("HTTP/1.1  200 OK"), "3 digits"},
      {"\r\n" + Head("HTTP/1.1 200 OK"), "HTTP/1.x"},
      {Head("HTTP/1.1 20 OK"), "3 digits"},
      {Head("HTTP/1.1 20"), "3 digits"},
      {Head("HTTP/1.1 2000 OK"), "3 digits"},
      {Head("HTTP/1.1 200OK"), "3 digits"},
      {Head("HTTP/1.1 2x0 OK"), "3 digits"},
      {Head("HTTP/1.1 099 Low"), "under 100"},
      {ManyFields(101) + "\r\n", "more than 100"},
  };
  for (const Case& c : cases) {
    ResponseHead resp;
    std::string problem;
    EXPECT_EQ(ParseResponseHead(c.data, 1 << 20, &resp, &problem), ParseState::kBad) << c.data;
    EXPECT_NE(problem.find(c.problem), std::string::npos)
        << c.data << ": got \"" << problem << "\", want \"" << c.problem << "\"";
  }
}

// Verify that a refusal does not wait for the empty line: what is already
// seen is enough.
TEST(ParseResponseHeadTest, RefusesBeforeTheHeadEnds) {
  for (std::string data : {std::string("HTTP/1.1 200 OK\r\nX: a\0", 22), std::string("HTTP/2"),
                           std::string("HTTP/1.1 2x"), std::string("HTTP/1.1 200 OK\r\nX : "),
                           std::string("HTTP/1.1 200 OK\n"), std::string("HTTP/1.1 200 OK\r\n "),
                           std::string("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                                       "Content-Length: 2\r\n"),
                           ManyFields(101)}) {
    ResponseHead resp;
    std::string problem;
    EXPECT_EQ(ParseResponseHead(data, 1 << 20, &resp, &problem), ParseState::kBad) << data;
    EXPECT_FALSE(problem.empty());
  }
}

// Verify the 100-field limit: exactly 100 passes.
TEST(ParseResponseHeadTest, HundredFieldsPass) {
  ResponseHead resp;
  std::string problem;
  ASSERT_EQ(ParseResponseHead(ManyFields(100) + "\r\n", 1 << 20, &resp, &problem),
            ParseState::kComplete)
      << problem;
  EXPECT_EQ(resp.fields.size(), 100u);
}

// Verify max_bytes: a head of exactly max_bytes passes, one byte less is
// refused, complete or not; the body after the head does not count.
TEST(ParseResponseHeadTest, MaxBytesBoundsTheHeadOnly) {
  const std::string head = Head("HTTP/1.1 200 OK", {"Content-Length: 10"});
  const std::string data = head + "0123456789";
  ResponseHead resp;
  std::string problem;
  EXPECT_EQ(ParseResponseHead(data, head.size(), &resp, &problem), ParseState::kComplete);
  EXPECT_EQ(resp.length, head.size());
  EXPECT_EQ(ParseResponseHead(data, head.size() - 1, &resp, &problem), ParseState::kBad);
  EXPECT_NE(problem.find("over " + std::to_string(head.size() - 1) + " bytes"), std::string::npos)
      << problem;
  // Incomplete: at max_bytes it may still end; past it, it cannot.
  const std::string partial = head.substr(0, 20);
  EXPECT_EQ(ParseResponseHead(partial, 20, &resp, &problem), ParseState::kIncomplete);
  EXPECT_EQ(ParseResponseHead(partial, 19, &resp, &problem), ParseState::kBad);
  EXPECT_EQ(ParseResponseHead("", 0, &resp, &problem), ParseState::kIncomplete);
  EXPECT_EQ(ParseResponseHead("H", 0, &resp, &problem), ParseState::kBad);
}

// Verify that a parse keeps nothing of the one before but the fields' capacity.
TEST(ParseResponseHeadTest, ReusesFieldsCapacityOnly) {
  ResponseHead resp;
  std::string problem;
  ASSERT_EQ(ParseResponseHead(Head("HTTP/1.1 500 Oops", {"Content-Length: 1", "Connection: close",
                                                         "A: 1", "B: 2", "C: 3"}),
                              8192, &resp, &problem),
            ParseState::kComplete);
  const size_t capacity = resp.fields.capacity();
  ASSERT_EQ(ParseResponseHead(Head("HTTP/1.1 200"), 8192, &resp, &problem), ParseState::kComplete);
  EXPECT_TRUE(resp.fields.empty());
  EXPECT_EQ(resp.fields.capacity(), capacity);
  EXPECT_EQ(resp.reason, "");
  EXPECT_FALSE(resp.content_length.has_value());
  EXPECT_FALSE(resp.close);
}

// Verify which responses have a body (RFC 9112 6.3).
TEST(ResponseHasBodyTest, FollowsMethodAndStatus) {
  struct Case {
    std::string_view method;
    int status;
    bool body;
  } cases[] = {
      {"GET", 200, true},      {"GET", 404, true},     {"POST", 500, true}, {"HEAD", 200, false},
      {"HEAD", 404, false},    {"GET", 100, false},    {"GET", 101, false}, {"GET", 199, false},
      {"GET", 204, false},     {"GET", 304, false},    {"GET", 205, true},  {"CONNECT", 200, false},
      {"CONNECT", 299, false}, {"CONNECT", 407, true}, {"head", 200, true}, {"GET", 999, true},
      {"OPTIONS", 204, false}, {"PUT", 201, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ResponseHasBody(c.method, c.status), c.body) << c.method << " " << c.status;
  }
}

// ----------------------------------------------------------------- chunked --

struct Decoded {
  size_t consumed = 0;
  bool done = false;
  bool bad = false;
  std::string problem;
  std::string payload;
  uint64_t payload_bytes = 0;

  bool operator==(const Decoded&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Decoded& d) {
  return os << "{consumed " << d.consumed << (d.done ? ", done" : "") << (d.bad ? ", bad: " : "")
            << d.problem << ", payload " << d.payload.size() << " bytes}";
}

// Feeds `in` to a decoder in pieces ending at each of `cuts` (ascending) and at
// its end, as a reader would: each Feed gets what the last left over plus the
// next piece.
Decoded Decode(std::string_view in, const std::vector<size_t>& cuts = {}) {
  ChunkedDecoder decoder;
  Decoded d;
  std::vector<std::string_view> views;
  size_t start = 0;
  auto feed_up_to = [&](size_t end) {
    if (decoder.done() || decoder.bad()) return;
    const std::string_view piece = in.substr(start, end - start);
    views.clear();
    const size_t n = decoder.Feed(piece, &views);
    EXPECT_LE(n, piece.size());
    if (!decoder.done() && !decoder.bad()) {
      EXPECT_EQ(n, piece.size()) << "stopped early";
    }
    for (std::string_view v : views) {
      EXPECT_TRUE(Inside(v, piece.substr(0, n)));
      d.payload += v;
    }
    start += n;
  };
  for (size_t cut : cuts) feed_up_to(cut);
  feed_up_to(in.size());
  d.consumed = start;
  d.done = decoder.done();
  d.bad = decoder.bad();
  d.problem = decoder.problem();
  d.payload_bytes = decoder.payload_bytes();
  EXPECT_EQ(d.payload_bytes, d.payload.size());
  return d;
}

// The same message fed one byte at a time.
Decoded DecodeByteByByte(std::string_view in) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < in.size(); ++i) cuts.push_back(i);
  return Decode(in, cuts);
}

// Whole, byte by byte and cut anywhere in two, a message decodes alike.
void ExpectSplitsAgree(std::string_view in) {
  const Decoded whole = Decode(in);
  EXPECT_EQ(DecodeByteByByte(in), whole) << "byte by byte: " << in;
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    EXPECT_EQ(Decode(in, {cut}), whole) << "cut at " << cut << ": " << in;
  }
}

std::string Repeat(char c, size_t n) { return std::string(n, c); }

struct GoodChunked {
  std::string message;
  std::string payload;
};

std::vector<GoodChunked> GoodChunkedMessages() {
  return {
      {"0\r\n\r\n", ""},
      {"5\r\nhello\r\n0\r\n\r\n", "hello"},
      {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
      {"A\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
      {"a\r\n0123456789\r\n000\r\n\r\n", "0123456789"},
      {"0000000000000005\r\nhello\r\n0\r\n\r\n", "hello"},
      {"5;ext\r\nhello\r\n0\r\n\r\n", "hello"},
      {"5;a=b;c=\"d e\"\r\nhello\r\n0;last=1\r\n\r\n", "hello"},
      {"5;\tx = y\r\nhello\r\n0\r\n\r\n", "hello"},
      {"5;\xc3\xa9\r\nhello\r\n0\r\n\r\n", "hello"},
      {std::string("4\r\n\r\n\0\n\r\n0\r\n\r\n", 14), std::string("\r\n\0\n", 4)},
      {"5\r\nhello\r\n0\r\nX-Sum: 1\r\nx-other:\tv w\t\r\n\r\n", "hello"},
      {"0\r\nX:\r\n\r\n", ""},
      {"1;" + Repeat('x', 4094) + "\r\na\r\n0\r\n\r\n", "a"},
      {"0\r\nX: " + Repeat('v', 8192 - 5) + "\r\n\r\n", ""},
  };
}

// Verify that good messages decode to their payload, to the last byte and no further.
TEST(ChunkedDecoderTest, DecodesGoodMessages) {
  for (const GoodChunked& c : GoodChunkedMessages()) {
    const Decoded d = Decode(c.message);
    EXPECT_TRUE(d.done) << c.message << ": " << d.problem;
    EXPECT_FALSE(d.bad) << c.message;
    EXPECT_EQ(d.consumed, c.message.size()) << c.message;
    EXPECT_EQ(d.payload, c.payload) << c.message;
  }
}

// Verify that every proper prefix of a good message is neither done nor bad.
TEST(ChunkedDecoderTest, PrefixesWaitForMore) {
  for (const GoodChunked& c : GoodChunkedMessages()) {
    if (c.message.size() > 200) continue;
    for (size_t n = 0; n < c.message.size(); ++n) {
      const Decoded d = Decode(std::string_view(c.message).substr(0, n));
      EXPECT_FALSE(d.done || d.bad) << n << " bytes of " << c.message << ": " << d.problem;
      EXPECT_EQ(d.consumed, n);
    }
  }
}

struct BadChunked {
  std::string message;
  std::string_view problem;
};

std::vector<BadChunked> BadChunkedMessages() {
  return {
      {"x\r\n", "not a hex number"},
      {"\r\n", "not a hex number"},
      {" 5\r\nhello\r\n0\r\n\r\n", "not a hex number"},
      {"-5\r\n", "not a hex number"},
      {"+5\r\n", "not a hex number"},
      {"g\r\n", "not a hex number"},
      {"5 \r\nhello\r\n0\r\n\r\n", "invalid byte after a chunk size"},
      {"5\t;x\r\nhello\r\n0\r\n\r\n", "invalid byte after a chunk size"},
      {"0x5\r\nhello\r\n0\r\n\r\n", "invalid byte after a chunk size"},
      {"5g\r\n", "invalid byte after a chunk size"},
      {"12345678901234567\r\n", "more than 16 hex digits"},
      {"00000000000000000\r\n", "more than 16 hex digits"},
      {"8000000000000000\r\n", "2^63"},
      {"FFFFFFFFFFFFFFFF\r\n", "2^63"},
      {"1\r\na\r\n7FFFFFFFFFFFFFFF\r\n", "2^63"},
      {"5\nhello\r\n0\r\n\r\n", "bare LF after a chunk size"},
      {"5\rhello\r\n0\r\n\r\n", "CR without LF after a chunk size"},
      {"5;a\nhello\r\n0\r\n\r\n", "bare LF after a chunk extension"},
      {"5;a\rhello\r\n0\r\n\r\n", "CR without LF after a chunk size"},
      {std::string("5;a\0\r\nhello\r\n0\r\n\r\n", 18), "control byte in a chunk extension"},
      {"5;a\x7f\r\nhello\r\n0\r\n\r\n", "control byte in a chunk extension"},
      {"5;a\x01\r\nhello\r\n0\r\n\r\n", "control byte in a chunk extension"},
      {"1;" + Repeat('x', 4095) + "\r\na\r\n0\r\n\r\n", "over 4096 bytes"},
      {"5\r\nhelloX\r\n0\r\n\r\n", "not followed by CRLF"},
      {"5\r\nhello\n0\r\n\r\n", "not followed by CRLF"},
      {"5\r\nhello\r\r\n0\r\n\r\n", "not followed by CRLF"},
      {"5\r\nhello0\r\n\r\n", "not followed by CRLF"},
      {"0\r\n\n", "bare LF in the trailer"},
      {"0\r\nX: a\nb\r\n\r\n", "bare LF in the trailer"},
      {"0\r\nX: a\rb\r\n\r\n", "CR without LF in the trailer"},
      {"0\r\n\r\r", "CR without LF in the trailer"},
      {std::string("0\r\nX: a\0\r\n\r\n", 12), "NUL byte in the trailer"},
      {"0\r\nX : a\r\n\r\n", "whitespace before the colon"},
      {"0\r\n: a\r\n\r\n", "empty name"},
      {"0\r\nNoColon\r\n\r\n", "without a colon"},
      {"0\r\n folded\r\n\r\n", "obsolete line folding"},
      {"0\r\nX: a\r\n\tb\r\n\r\n", "obsolete line folding"},
      {"0\r\nB(d: 1\r\n\r\n", "invalid character in a trailer field name"},
      {"0\r\nX: " + Repeat('v', 8192 - 4) + "\r\n\r\n", "trailer over 8192 bytes"},
  };
}

// Verify that each malformed message is refused, saying why, and that the
// decoder consumes nothing more once bad.
TEST(ChunkedDecoderTest, RefusesBadMessages) {
  for (const BadChunked& c : BadChunkedMessages()) {
    ChunkedDecoder decoder;
    const size_t n = decoder.Feed(c.message);
    EXPECT_TRUE(decoder.bad()) << c.message;
    EXPECT_FALSE(decoder.done()) << c.message;
    EXPECT_LT(n, c.message.size()) << c.message;
    EXPECT_NE(decoder.problem().find(c.problem), std::string::npos)
        << c.message << ": got \"" << decoder.problem() << "\", want \"" << c.problem << "\"";
    EXPECT_EQ(decoder.Feed(c.message), 0u);
    EXPECT_EQ(decoder.Feed("0\r\n\r\n"), 0u);
  }
}

// Verify that feeding in pieces of any size decodes as feeding whole: byte by
// byte and cut in two anywhere, good and bad messages alike.
TEST(ChunkedDecoderTest, SplitsDecodeAlike) {
  for (const GoodChunked& c : GoodChunkedMessages()) {
    if (c.message.size() < 1000) ExpectSplitsAgree(c.message);
  }
  for (const BadChunked& c : BadChunkedMessages()) {
    if (c.message.size() < 1000) ExpectSplitsAgree(c.message);
  }
  // The long ones byte by byte only (every cut in two is quadratic).
  for (const GoodChunked& c : GoodChunkedMessages()) {
    EXPECT_EQ(DecodeByteByByte(c.message), Decode(c.message));
  }
  for (const BadChunked& c : BadChunkedMessages()) {
    EXPECT_EQ(DecodeByteByByte(c.message), Decode(c.message));
  }
}

// Verify that the decoder stops exactly at the message's end, leaving the next
// message unconsumed, however the bytes arrive.
TEST(ChunkedDecoderTest, StopsAtTheMessageEnd) {
  const std::string message = "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";
  const std::string next =
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  const std::string data = message + next;
  ChunkedDecoder decoder;
  EXPECT_EQ(decoder.Feed(data), message.size());
  EXPECT_TRUE(decoder.done());
  EXPECT_EQ(decoder.Feed(next), 0u);
  EXPECT_EQ(decoder.payload_bytes(), 5u);
  ExpectSplitsAgree(data);
  EXPECT_EQ(Decode(data).consumed, message.size());
  // Two messages back to back: the second decodes after Reset.
  decoder.Reset();
  EXPECT_FALSE(decoder.done());
  EXPECT_EQ(decoder.payload_bytes(), 0u);
  const std::string two = "3\r\nabc\r\n0\r\n\r\n2\r\nde\r\n0\r\n\r\n";
  const size_t first = decoder.Feed(two);
  EXPECT_EQ(first, 13u);
  decoder.Reset();
  std::vector<std::string_view> payload;
  EXPECT_EQ(decoder.Feed(std::string_view(two).substr(first), &payload), two.size() - first);
  EXPECT_TRUE(decoder.done());
  ASSERT_EQ(payload.size(), 1u);
  EXPECT_EQ(payload[0], "de");
}

// Verify that payload views come one per piece of chunk data, in order, and
// that a chunk spread over several feeds comes as several views.
TEST(ChunkedDecoderTest, PayloadViewsPerPiece) {
  ChunkedDecoder decoder;
  std::vector<std::string_view> payload;
  const std::string data = "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
  decoder.Feed(std::string_view(data).substr(0, 12), &payload);  // "3\r\nabc\r\n4\r\nd"
  ASSERT_EQ(payload.size(), 2u);
  EXPECT_EQ(payload[0], "abc");
  EXPECT_EQ(payload[1], "d");
  payload.clear();
  decoder.Feed(std::string_view(data).substr(12), &payload);
  ASSERT_EQ(payload.size(), 1u);
  EXPECT_EQ(payload[0], "efg");
  EXPECT_TRUE(decoder.done());
  EXPECT_EQ(decoder.payload_bytes(), 7u);
}

// Verify that a huge announced chunk is counted as it arrives, not when announced.
TEST(ChunkedDecoderTest, CountsPayloadAsItArrives) {
  ChunkedDecoder decoder;
  const std::string data = "7FFFFFFFFFFFFFFF\r\n" + Repeat('z', 1000);
  EXPECT_EQ(decoder.Feed(data), data.size());
  EXPECT_FALSE(decoder.done() || decoder.bad());
  EXPECT_EQ(decoder.payload_bytes(), 1000u);
}

}  // namespace
}  // namespace skiff::edge::http1
