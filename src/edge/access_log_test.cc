#include "edge/access_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "fakes/testing.h"

namespace skiff::edge {
namespace {

using std::chrono::milliseconds;

AccessLogEntry SampleEntry() {
  return {.time = std::chrono::system_clock::time_point(milliseconds(1'795'395'723'456)),
          .client = "127.0.0.1",
          .method = "GET",
          .host = "hello.localhost",
          .target = "/x?y=1",
          .app = "hello",
          .upstream = "127.0.0.1:41000",
          .status = 200,
          .request_bytes = 0,
          .response_bytes = 12,
          .duration = std::chrono::microseconds(412),
          .request_id = "5f0c2a1e",
          .user_agent = "curl/7.88.1"};
}

std::string Line(const AccessLogEntry& entry) {
  std::string line;
  AppendAccessLogLine(entry, &line);
  return line;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Verify the exact line of a sample entry: the fields in order, the time in
// RFC 3339 UTC with milliseconds, the duration in ms with three decimals.
TEST(AccessLogTest, SampleLine) {
  EXPECT_EQ(Line(SampleEntry()),
            R"({"time":"2026-11-23T01:02:03.456Z","client":"127.0.0.1","method":"GET",)"
            R"("host":"hello.localhost","target":"/x?y=1","app":"hello",)"
            R"("upstream":"127.0.0.1:41000","status":200,"request_bytes":0,)"
            R"("response_bytes":12,"duration_ms":0.412,"request_id":"5f0c2a1e",)"
            R"("user_agent":"curl/7.88.1"})"
            "\n");
}

// Verify durations and sizes at their edges, empty strings, and that lines
// are appended after what *out holds.
TEST(AccessLogTest, NumbersAndEmptyFields) {
  AccessLogEntry entry{.time = std::chrono::system_clock::time_point(milliseconds(1)),
                       .status = 502,
                       .request_bytes = UINT64_MAX,
                       .duration = std::chrono::microseconds(1'234'567'005)};
  std::string out = "before\n";
  AppendAccessLogLine(entry, &out);
  EXPECT_EQ(out,
            "before\n"
            R"({"time":"1970-01-01T00:00:00.001Z","client":"","method":"","host":"",)"
            R"("target":"","app":"","upstream":"","status":502,)"
            R"("request_bytes":18446744073709551615,"response_bytes":0,)"
            R"("duration_ms":1234567.005,"request_id":"","user_agent":""})"
            "\n");
  for (auto [micros, text] : {std::pair<int64_t, const char*>{0, "0.000"},
                              {5, "0.005"},
                              {1000, "1.000"},
                              {99'999, "99.999"},
                              {-7, "0.000"}}) {
    entry.duration = std::chrono::microseconds(micros);
    EXPECT_NE(Line(entry).find(std::string("\"duration_ms\":") + text + ","), std::string::npos)
        << micros;
  }
}

// Verify the escaping of strings: JSON's specials, control characters,
// UTF-8 passed through when valid and \ufffd for each maximal invalid part,
// and that a JSON parser reads back what the escaping means.
TEST(AccessLogTest, Escaping) {
  struct Case {
    std::string in;
    std::string escaped;  // as written in the line
    std::string decoded;  // as a JSON parser reads it
  };
  const std::string fffd = "\xef\xbf\xbd";  // U+FFFD in UTF-8
  const Case cases[] = {
      {"plain text", "plain text", "plain text"},
      {R"(say "hi")", R"(say \"hi\")", R"(say "hi")"},
      {R"(a\b)", R"(a\\b)", R"(a\b)"},
      {"a\nb", R"(a\u000ab)", "a\nb"},
      {"\r\t", R"(\u000d\u0009)", "\r\t"},
      {"\x01", R"(\u0001)", "\x01"},
      {std::string("a\0b", 3), R"(a\u0000b)", std::string("a\0b", 3)},
      {"\x1f\x7f", R"(\u001f\u007f)", "\x1f\x7f"},
      {"caf\xc3\xa9", "caf\xc3\xa9", "caf\xc3\xa9"},                    // é
      {"\xe2\x82\xac", "\xe2\x82\xac", "\xe2\x82\xac"},                 // €
      {"\xef\xbf\xbf", "\xef\xbf\xbf", "\xef\xbf\xbf"},                 // U+FFFF
      {"\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"},  // emoji
      {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},     // U+10FFFF
      {"\xff", R"(\ufffd)", fffd},
      {"\x80x", R"(\ufffdx)", fffd + "x"},                            // a lone continuation byte
      {"\xc3", R"(\ufffd)", fffd},                                    // cut at the end
      {"\xc3(", R"(\ufffd()", fffd + "("},                            // cut by ASCII
      {"\xf0\x9f\x98x", R"(\ufffdx)", fffd + "x"},                    // one for the maximal part
      {"\xc0\xaf", R"(\ufffd\ufffd)", fffd + fffd},                   // overlong '/'
      {"\xe0\x80\xaf", R"(\ufffd\ufffd\ufffd)", fffd + fffd + fffd},  // overlong '/'
      {"\xf0\x80\x80\xaf", R"(\ufffd\ufffd\ufffd\ufffd)", fffd + fffd + fffd + fffd},
      {"\xed\xa0\x80", R"(\ufffd\ufffd\ufffd)", fffd + fffd + fffd},  // surrogate D800
      {"\xf4\x90\x80\x80", R"(\ufffd\ufffd\ufffd\ufffd)", fffd + fffd + fffd + fffd},
      {"\xf5\xbf", R"(\ufffd\ufffd)", fffd + fffd},
      {"\xe2\x82\xe2\x82\xac",
       R"(\ufffd)"
       "\xe2\x82\xac",
       fffd + "\xe2\x82\xac"},
  };
  for (const auto& c : cases) {
    AccessLogEntry entry = SampleEntry();
    entry.user_agent = c.in;
    const std::string line = Line(entry);
    const std::string want = R"("user_agent":")" + c.escaped + "\"}\n";
    ASSERT_GE(line.size(), want.size());
    EXPECT_EQ(line.substr(line.size() - want.size()), want) << c.escaped;
    const auto parsed = boost::json::parse(line);
    EXPECT_EQ(std::string(parsed.at("user_agent").as_string()), c.decoded) << c.escaped;
  }
}

// Verify that a hostile header with a newline and a forged object stays
// inside its own field of one line.
TEST(AccessLogTest, HostileUserAgentCannotForgeALine) {
  AccessLogEntry entry = SampleEntry();
  const std::string hostile = "x\"}\n{\"time\":\"2000-01-01T00:00:00.000Z\",\"status\":200}\r\n{";
  entry.user_agent = hostile;
  entry.target = "/\n{";
  const std::string line = Line(entry);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  const auto parsed = boost::json::parse(line);
  EXPECT_EQ(std::string(parsed.at("user_agent").as_string()), hostile);
  EXPECT_EQ(std::string(parsed.at("target").as_string()), "/\n{");
  EXPECT_EQ(parsed.at("status").as_int64(), 200);
}

// Verify that a file is created (no more than 0640), appended to across
// opens, and that lines go out as given.
TEST(AccessLogTest, FileIsCreatedAndAppended) {
  testing::TempDir dir;
  const std::string path = dir.File("access.log");
  for (const char* line : {"one\n", "two\nthree\n"}) {
    auto log = AccessLog::Open(path);
    ASSERT_TRUE(log) << log.error().ToString();
    (*log)->Write(line);
    EXPECT_EQ((*log)->write_errors(), 0u);
  }
  EXPECT_EQ(ReadFile(path), "one\ntwo\nthree\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777 & ~0640u, 0u);  // the umask may take more away
  EXPECT_EQ(st.st_mode & 0600, 0600u);
}

// Verify that a path in a missing directory is kUnavailable, naming the path.
TEST(AccessLogTest, OpenInMissingDirectory) {
  testing::TempDir dir;
  const std::string path = dir.File("missing/access.log");
  auto log = AccessLog::Open(path);
  ASSERT_FALSE(log);
  EXPECT_EQ(log.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(log.error().message.find(path), std::string::npos) << log.error().message;
}

// Verify that "-" writes to standard output and leaves it open when closed.
TEST(AccessLogTest, DashIsStandardOutput) {
  testing::TempDir dir;
  const std::string path = dir.File("stdout");
  const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(file, 0);
  std::fflush(stdout);
  const int saved = ::dup(STDOUT_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(::dup2(file, STDOUT_FILENO), STDOUT_FILENO);
  uint64_t errors = 0;
  {
    auto log = AccessLog::Open("-");
    if (log) {
      (*log)->Write("{\"status\":200}\n");
      errors = (*log)->write_errors();
    }
  }
  const bool still_open = ::fcntl(STDOUT_FILENO, F_GETFD) != -1;
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  ::close(file);
  EXPECT_TRUE(still_open);
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(ReadFile(path), "{\"status\":200}\n");
}

// Verify that a failing write is counted, not thrown, and the log goes on.
TEST(AccessLogTest, WriteErrorsAreCounted) {
  auto log = AccessLog::Open("/dev/full");
  ASSERT_TRUE(log) << log.error().ToString();
  (*log)->Write("a line\n");
  (*log)->Write("another\n");
  EXPECT_EQ((*log)->write_errors(), 2u);
}

// Verify that lines written from 4 threads at once come out whole: every
// line once, none cut or mixed with another, batches and long lines included.
TEST(AccessLogTest, ConcurrentWritersWriteWholeLines) {
  testing::TempDir dir;
  const std::string path = dir.File("access.log");
  auto log = AccessLog::Open(path);
  ASSERT_TRUE(log) << log.error().ToString();
  constexpr int kThreads = 4;
  constexpr int kLines = 2000;
  // Line i of thread t: "t i " and a padding of its own length, some over
  // PIPE_BUF so a write may be partial.
  auto make_line = [](int t, int i) {
    const size_t pad = (i % 100 == 0) ? 10'000 : static_cast<size_t>(i % 50);
    return std::to_string(t) + " " + std::to_string(i) + " " + std::string(pad, 'a' + t) + "\n";
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string batch;
      for (int i = 0; i < kLines; ++i) {
        batch += make_line(t, i);
        if (i % 3 != 0) continue;  // some Writes carry several lines
        (*log)->Write(batch);
        batch.clear();
      }
      (*log)->Write(batch);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ((*log)->write_errors(), 0u);

  std::istringstream in(ReadFile(path));
  std::set<std::pair<int, int>> seen;
  std::string line;
  while (std::getline(in, line)) {
    int t = -1, i = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "%d %d ", &t, &i), 2) << line.substr(0, 80);
    ASSERT_TRUE(t >= 0 && t < kThreads && i >= 0 && i < kLines) << line.substr(0, 80);
    ASSERT_EQ(line + "\n", make_line(t, i)) << line.substr(0, 80);
    EXPECT_TRUE(seen.emplace(t, i).second) << "twice: " << t << " " << i;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kLines));
}

}  // namespace
}  // namespace skiff::edge
