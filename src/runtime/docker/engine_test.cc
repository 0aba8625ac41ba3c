#include "runtime/docker/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "fakes/fake_docker_engine.h"
#include "fakes/testing.h"

namespace skiff::runtime::docker {
namespace {

std::string Frame(char stream, std::string_view payload) {
  std::string out(8, '\0');
  out[0] = stream;
  const auto size = static_cast<uint32_t>(payload.size());
  out[4] = static_cast<char>(size >> 24);
  out[5] = static_cast<char>(size >> 16);
  out[6] = static_cast<char>(size >> 8);
  out[7] = static_cast<char>(size);
  return out + std::string(payload);
}

using Frames = std::vector<std::pair<LogStream, std::string>>;

// Verify that frames split at any byte come out whole, in order, with their stream.
TEST(FrameDemuxerTest, ReassemblesFramesSplitAnywhere) {
  const std::string data = Frame(1, "out line\n") + Frame(2, "err line\n") + Frame(1, "") +
                           Frame(1, std::string(70000, 'x'));
  for (size_t step : {size_t{1}, size_t{3}, size_t{8}, size_t{9}, data.size()}) {
    FrameDemuxer demuxer;
    Frames frames;
    for (size_t at = 0; at < data.size(); at += step) {
      ASSERT_TRUE(demuxer.Feed(std::string_view(data).substr(at, step),
                               [&](LogStream s, std::string_view p) {
                                 frames.emplace_back(s, std::string(p));
                                 return true;
                               }));
    }
    ASSERT_EQ(frames.size(), 4u) << "step " << step;
    EXPECT_EQ(frames[0], (std::pair<LogStream, std::string>{LogStream::kStdout, "out line\n"}));
    EXPECT_EQ(frames[1], (std::pair<LogStream, std::string>{LogStream::kStderr, "err line\n"}));
    EXPECT_EQ(frames[2].second, "");
    EXPECT_EQ(frames[3].second.size(), 70000u);
    EXPECT_EQ(demuxer.pending(), 0u);
  }
}

// Verify that the demuxer stops handing frames once the callback says stop.
TEST(FrameDemuxerTest, StopsWhenAsked) {
  FrameDemuxer demuxer;
  int seen = 0;
  EXPECT_FALSE(demuxer.Feed(Frame(1, "a") + Frame(1, "b"), [&](LogStream, std::string_view) {
    ++seen;
    return false;
  }));
  EXPECT_EQ(seen, 1);
}

// Verify that engine times with any fraction become exact unix nanoseconds.
TEST(ParseUnixNanosTest, Fractions) {
  EXPECT_EQ(ParseUnixNanos("1970-01-01T00:00:01Z"), 1'000'000'000);
  EXPECT_EQ(ParseUnixNanos("1970-01-01T00:00:01.5Z"), 1'500'000'000);
  EXPECT_EQ(ParseUnixNanos("2026-11-23T00:39:23.583205805Z"), 1795394363583205805);
  // Docker's zero time (a container never started or finished) is no time:
  // int64 nanoseconds cannot hold it.
  EXPECT_EQ(ParseUnixNanos("0001-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseUnixNanos("yesterday"), std::nullopt);
  EXPECT_EQ(ParseUnixNanos("2026-11-23T00:39:23.5x3Z"), std::nullopt);
}

// Verify that a build or pull stream yields its output lines and its first error.
TEST(ScanProgressTest, OutputAndError) {
  const std::string body =
      "{\"stream\":\"Step 1/2 : FROM scratch\\n\"}\n"
      "{\"status\":\"Downloading\",\"progress\":\"[=>  ]\",\"id\":\"ab12\"}\r\n"
      "{\"status\":\"Pull complete\",\"id\":\"ab12\"}\n"
      "not json\n"
      "{\"errorDetail\":{\"message\":\"COPY failed: no such file\"},"
      "\"error\":\"COPY failed: no such file\\n\"}\n"
      "{\"error\":\"second\"}";
  std::vector<std::string> output;
  EXPECT_EQ(ScanProgress(body, [&](std::string_view s) { output.emplace_back(s); }),
            "COPY failed: no such file");
  EXPECT_EQ(output,
            (std::vector<std::string>{"Step 1/2 : FROM scratch\n", "ab12: Pull complete\n"}));
  EXPECT_EQ(ScanProgress("{\"stream\":\"ok\"}\n", [](std::string_view) {}), "");
}

// Verify that a socket nobody listens on is kUnavailable, naming the socket.
TEST(DockerEngineTest, NoEngineIsUnavailable) {
  DockerEngine engine("unix:///nonexistent/skiff-docker.sock");
  auto version = engine.Version();
  ASSERT_FALSE(version);
  EXPECT_EQ(version.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(version.error().message.find("/nonexistent/skiff-docker.sock"), std::string::npos);
}

// Verify that a line of the events stream becomes a container event with
// its id, action, time and attributes, and that other lines do not.
TEST(ParseContainerEventTest, ReadsWhatTheEngineSends) {
  auto event = ParseContainerEvent(
      R"({"status":"die","id":"577a","from":"skiff-test/testapp:latest","Type":"container",)"
      R"("Action":"die","Actor":{"ID":"577a","Attributes":{"exitCode":"137","name":"t1",)"
      R"("skiff.instance":"x"}},"scope":"local","time":1796556534,)"
      R"("timeNano":1796556534947671034})");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->id, "577a");
  EXPECT_EQ(event->action, "die");
  EXPECT_EQ(event->at_unix_nanos, 1796556534947671034);
  EXPECT_EQ(event->attributes.at("exitCode"), "137");
  EXPECT_EQ(event->attributes.at("skiff.instance"), "x");

  auto seconds_only = ParseContainerEvent(
      R"({"Type":"container","Action":"destroy","Actor":{"ID":"b"},"time":12})");
  ASSERT_TRUE(seconds_only.has_value());
  EXPECT_EQ(seconds_only->at_unix_nanos, 12'000'000'000);

  EXPECT_FALSE(ParseContainerEvent(R"({"Type":"image","Action":"pull","Actor":{"ID":"x"}})"));
  EXPECT_FALSE(ParseContainerEvent(R"({"Type":"container","Action":"die"})"));
  EXPECT_FALSE(ParseContainerEvent("not json"));
  EXPECT_FALSE(ParseContainerEvent(""));
}

// Verify that the events stream hands on the events before a line that grows
// past kMaxEventLineBytes without ending, skips a line that is not an event,
// and then ends with kUnavailable rather than buffering for ever.
TEST(ContainerEventsTest, OverlongLineEndsTheStream) {
  testing::TempDir dir;
  testing::FakeDockerEngine fake(dir.File("docker.sock"));
  const DockerEngine engine(fake.host());
  std::stop_source stop;
  std::vector<std::string> ids;
  auto streamed = std::async(std::launch::async, [&] {
    return engine.ContainerEvents({"die"}, {}, 0, stop.get_token(),
                                  [&](const ContainerEvent& event) {
                                    ids.push_back(event.id);
                                    return true;
                                  });
  });
  ASSERT_TRUE(testing::PollUntil([&] { return fake.streams_open() == 1; }));
  fake.Send(R"({"Type":"container","Action":"die","Actor":{"ID":"a"}})"
            "\nnot an event\n" +
            std::string(DockerEngine::kMaxEventLineBytes + 1, 'x'));
  const bool ended = streamed.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  stop.request_stop();  // so a stream that did not end cannot hang the test
  const Status status = streamed.get();
  EXPECT_TRUE(ended);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(ids, std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace skiff::runtime::docker
