// DockerEngine: a blocking client of the Docker Engine API (v1.41) over its
// unix socket, on Skiff's own net::HttpClient. It speaks only the calls the
// docker driver needs and never shells out to the `docker` CLI.
//
// Thread-safety: every call opens its own connection, so one engine may be
// shared by any number of threads.
//
// Errors, for every call unless it says otherwise: kUnavailable when the
// socket does not answer; kNotFound when the engine says 404 (no such
// container or image); kAborted for 409 (a name in use, a container being
// removed); kInvalidArgument for 400; kInternal for a reply that is not what
// the API documents. The message is the engine's own ("No such container: x").
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "net/http_client.h"

namespace skiff::runtime::docker {

// The engine's socket: DOCKER_HOST when it is a unix:// URL, else
// unix:///var/run/docker.sock.
std::string DefaultEngineHost();

struct ContainerState {
  bool running = false;
  int exit_code = 0;
  bool oom_killed = false;
  int pid = 0;         // of its first process, on the host; 0 when not running
  std::string status;  // "created", "running", "exited", ...
  std::string error;   // the engine's error for a container that could not run
  Time started_at;
  Time finished_at;
};

struct ContainerInfo {
  std::string id;
  std::string name;  // without the leading "/"
  std::string image;
  ContainerState state;
  std::map<std::string, std::string> labels;
  boost::json::object host_config;  // as the engine reports it
};

struct ContainerSummary {
  std::string id;
  std::string state;  // "running", "exited", ...
  std::map<std::string, std::string> labels;
};

// One event of the engine's stream (GET /events) about a container.
struct ContainerEvent {
  std::string id;      // the container's full id
  std::string action;  // "die", "destroy", "oom", ...
  int64_t at_unix_nanos = 0;
  // The container's labels, and per action more ("exitCode" for "die").
  std::map<std::string, std::string> attributes;
};

// Which stream a log frame came from.
enum class LogStream { kStdout, kStderr };

class DockerEngine {
 public:
  // `host` is "unix:///path/to/docker.sock" (or "http://127.0.0.1:port" for
  // tests with a fake engine).
  explicit DockerEngine(std::string host);

  const std::string& host() const { return client_.base_url(); }

  // "20.10.24 (API 1.41)": the engine answers and speaks our API version.
  // kFailedPrecondition for an engine older than API 1.41.
  Result<std::string> Version() const;

  // Whether the image `name` ("repo:tag", "sha256:…") is present locally.
  Result<bool> ImageExists(std::string_view name) const;

  // Pulls `name` (a missing tag means "latest"), handing the engine's
  // progress lines to `on_output`. Blocks until the pull ends; `idle_timeout`
  // bounds each wait for more progress. Errors carry the engine's words: the
  // registry's answer or why it could not be reached.
  Status PullImage(
      std::string_view name,
      const std::function<void(std::string_view)>& on_output = [](std::string_view) {},
      Duration idle_timeout = std::chrono::minutes(5)) const;

  // Builds an image from `context_tar` (an uncompressed tar of the build
  // context) with the Dockerfile at `dockerfile` (relative to the context),
  // tagged `tag`. Each piece of the build's output (steps, the commands' own
  // output) is handed to `on_output` as the build runs. `idle_timeout` bounds
  // each wait for more output. A failed build returns kFailedPrecondition with
  // the build's own error ("The command '/bin/sh -c make' returned a non-zero
  // code: 2").
  Status BuildImage(std::string_view context_tar, std::string_view dockerfile, std::string_view tag,
                    const std::function<void(std::string_view)>& on_output,
                    Duration idle_timeout = std::chrono::minutes(10)) const;

  // Creates a container named `name` from `body` (the API's create body) and
  // returns its id. kNotFound when the image is missing; kAborted when the name
  // is in use.
  Result<std::string> CreateContainer(std::string_view name, const boost::json::object& body) const;
  // Starts it. Starting a running container succeeds.
  Status StartContainer(std::string_view id) const;
  // SIGTERM, then SIGKILL after `grace` (whole seconds, rounded up); blocks
  // until it has stopped. Stopping a stopped container succeeds.
  Status StopContainer(std::string_view id, Duration grace) const;
  // Sends `signal` ("KILL", "TERM"). kAborted (409) when it is not running.
  Status KillContainer(std::string_view id, std::string_view signal = "KILL") const;
  // Removes it (`force`: even when running). Removing a missing one succeeds.
  Status RemoveContainer(std::string_view id, bool force = true) const;
  Result<ContainerInfo> InspectContainer(std::string_view id) const;
  // Blocks until it is not running (up to `timeout`); its exit code.
  Result<int> WaitContainer(std::string_view id, Duration timeout) const;
  // Containers (running or not) carrying every label of `labels`
  // ("key=value", or "key" for any value). A stop requested on `stop` ends
  // the call at once with kAborted.
  Result<std::vector<ContainerSummary>> ListContainers(const std::vector<std::string>& labels,
                                                       std::stop_token stop = {}) const;

  // Streams the container's stdout and stderr since `since_unix_nanos` (0:
  // from the start), each log entry handed to `on_entry` with its stream and
  // its time as the engine stamped it (unix nanoseconds). With `follow` it
  // keeps streaming until the container stops, `on_entry` returns false, or no
  // entry came for `idle_timeout` (then kDeadlineExceeded: call again from
  // the last time seen). REQUIRES: the container has no TTY.
  Status Logs(std::string_view id, bool follow, int64_t since_unix_nanos, Duration idle_timeout,
              const std::function<bool(LogStream stream, int64_t at_unix_nanos,
                                       std::string_view line)>& on_entry) const;

  // Streams the engine's container events whose action is one of `actions`
  // about containers carrying every label of `labels` ("key=value", or "key"),
  // those since `since_unix_nanos` first (the engine keeps its last 256
  // events; 0: only new ones), each handed to `on_event` in order. It streams
  // until `on_event` returns false, the engine ends the stream (it shut
  // down: OK), or a stop is requested on `stop` (kAborted); it never times
  // out while the engine is quiet. A line that is not a container event is
  // skipped (logged at debug level); a line that grows past
  // kMaxEventLineBytes without ending ends the stream with kUnavailable (the
  // engine's lines are a few hundred bytes: that is not the engine).
  static constexpr size_t kMaxEventLineBytes = 1 << 20;
  Status ContainerEvents(const std::vector<std::string>& actions,
                         const std::vector<std::string>& labels, int64_t since_unix_nanos,
                         std::stop_token stop,
                         const std::function<bool(const ContainerEvent&)>& on_event) const;

  // One sample of the container's stats (`stream=false&one-shot=true`, which
  // answers at once where the plain call takes over a second).
  Result<boost::json::object> Stats(std::string_view id) const;

  // One call of the API at `path` under the version prefix ("/services/x?…",
  // already escaped), with `body` as JSON: its JSON answer, null for an empty
  // one. For the calls this class does not wrap: the Swarm orchestrator's
  // (orchestrator/swarm/swarm_engine.h). Errors as above, with the engine's
  // message whatever the status.
  Result<boost::json::value> ApiCall(std::string_view method, std::string_view path,
                                     std::string_view body = {},
                                     Duration timeout = net::HttpClient::kDefaultTimeout) const;

 private:
  Result<boost::json::value> Json(std::string_view method, const std::string& path,
                                  std::string_view body = {},
                                  Duration timeout = net::HttpClient::kDefaultTimeout,
                                  std::stop_token stop = {}) const;
  Status Call(std::string_view method, const std::string& path, Duration timeout) const;
  // POSTs `body` to `path` and scans the JSON-lines answer as it comes
  // (ScanProgress); returns the first error the stream reports ("" if none).
  Result<std::string> Progress(std::string_view path, std::string_view body,
                               const net::HttpHeaders& headers,
                               const std::function<void(std::string_view)>& on_output,
                               Duration idle_timeout) const;

  net::HttpClient client_;
};

// Splits the multiplexed stream of a container without a TTY into frames: an
// 8-byte header (stream type, three zero bytes, the payload size big-endian)
// and the payload. Frames may arrive split anywhere.
class FrameDemuxer {
 public:
  // Hands every frame completed by `data` to `on_frame`; keeps the rest.
  // Returns false once `on_frame` does (the rest of `data` is dropped).
  bool Feed(std::string_view data,
            const std::function<bool(LogStream stream, std::string_view payload)>& on_frame);
  // Bytes of an unfinished frame held.
  size_t pending() const { return buffer_.size(); }

 private:
  std::string buffer_;
};

// The event on one line of the events stream; nullopt when the line is not
// a container event.
std::optional<ContainerEvent> ParseContainerEvent(std::string_view line);

// Unix nanoseconds of an RFC 3339 time with any fraction
// ("2026-11-23T00:39:23.583205805Z"); nullopt when it is not one or int64
// nanoseconds cannot hold it (Docker's zero time, 0001-01-01T00:00:00Z).
std::optional<int64_t> ParseUnixNanos(std::string_view text);

// Splits each line of a JSON-lines progress or build stream; returns the
// first {"error": …} or {"errorDetail": {"message": …}} found (empty if none)
// and hands every {"stream": …} text, and every {"status": …} line that is not
// a progress tick (as "id: status\n"), to `on_output`.
std::string ScanProgress(std::string_view body,
                         const std::function<void(std::string_view)>& on_output);

}  // namespace skiff::runtime::docker
