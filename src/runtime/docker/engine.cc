#include "runtime/docker/engine.h"

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "common/logging.h"
#include "common/quantity.h"
#include "runtime/docker/engine_json.h"

namespace skiff::runtime::docker {
namespace {

namespace json = boost::json;

// The API version every path is prefixed with: Docker 20.10 and later speak it.
constexpr std::string_view kApi = "/v1.41";

std::string Path(std::string_view rest) { return std::string(kApi) + std::string(rest); }

// "repo:tag" -> {"repo", "tag"}; a ':' inside a registry's host:port is not a tag.
std::pair<std::string, std::string> SplitTag(std::string_view name) {
  size_t colon = name.rfind(':');
  size_t slash = name.rfind('/');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) {
    return {std::string(name), "latest"};
  }
  return {std::string(name.substr(0, colon)), std::string(name.substr(colon + 1))};
}

// "seconds.nanoseconds", as `since` takes it.
std::string UnixSeconds(int64_t unix_nanos) {
  return fmt::format("{}.{:09}", unix_nanos / 1'000'000'000, unix_nanos % 1'000'000'000);
}

}  // namespace

std::string DefaultEngineHost() {
  const char* env = std::getenv("DOCKER_HOST");
  if (env != nullptr && std::string_view(env).starts_with("unix://")) return env;
  return "unix:///var/run/docker.sock";
}

DockerEngine::DockerEngine(std::string host) : client_(std::move(host)) {}

Result<json::value> DockerEngine::Json(std::string_view method, const std::string& path,
                                       std::string_view body, Duration timeout,
                                       std::stop_token stop) const {
  SKIFF_ASSIGN_OR_RETURN(net::HttpResponse response,
                         client_.Do(method, path, body, {}, timeout, std::move(stop)));
  if (response.status < 200 || response.status >= 300) {
    return tl::unexpected(net::ErrorFromResponse(response.status, response.body));
  }
  if (response.body.empty()) return json::value();
  boost::system::error_code ec;
  json::value value = json::parse(response.body, ec);
  if (ec) return Internal(fmt::format("docker: {} {}: reply is not JSON", method, path));
  return value;
}

Result<json::value> DockerEngine::ApiCall(std::string_view method, std::string_view path,
                                          std::string_view body, Duration timeout) const {
  return Json(method, Path(path), body, timeout);
}

Status DockerEngine::Call(std::string_view method, const std::string& path,
                          Duration timeout) const {
  SKIFF_ASSIGN_OR_RETURN(net::HttpResponse response, client_.Do(method, path, {}, {}, timeout));
  // 304: "already started" / "already stopped", which is what the caller wanted.
  if (response.status == 304 || (response.status >= 200 && response.status < 300)) {
    return OkStatus();
  }
  return tl::unexpected(net::ErrorFromResponse(response.status, response.body));
}

Result<std::string> DockerEngine::Version() const {
  SKIFF_ASSIGN_OR_RETURN(json::value v, Json("GET", "/version"));
  if (!v.is_object()) return Internal("docker: /version reply is not an object");
  const std::string version = JsonString(v.get_object(), "Version");
  const std::string api = JsonString(v.get_object(), "ApiVersion");
  int major = 0;
  int minor = 0;
  if (std::sscanf(api.c_str(), "%d.%d", &major, &minor) != 2 || (major == 1 && minor < 41) ||
      major < 1) {
    return FailedPrecondition(
        fmt::format("docker engine {} speaks API {}; Skiff needs 1.41 or later", version, api));
  }
  return fmt::format("{} (API {})", version, api);
}

Result<bool> DockerEngine::ImageExists(std::string_view name) const {
  auto image = Json("GET", Path("/images/" + QueryEscape(name) + "/json"));
  if (image) return true;
  if (image.error().code == ErrorCode::kNotFound) return false;
  return tl::unexpected(image.error());
}

Result<std::string> DockerEngine::Progress(std::string_view path, std::string_view body,
                                           const net::HttpHeaders& headers,
                                           const std::function<void(std::string_view)>& on_output,
                                           Duration idle_timeout) const {
  // JSON lines while the work runs; each is handed on whole.
  std::string partial;
  std::string error;
  auto on_lines = [&](std::string_view chunk) {
    partial.append(chunk);
    size_t end = partial.rfind('\n');
    if (end == std::string::npos) return true;
    std::string found = ScanProgress(std::string_view(partial).substr(0, end + 1), on_output);
    if (error.empty()) error = std::move(found);
    partial.erase(0, end + 1);
    return true;
  };
  SKIFF_RETURN_IF_ERROR(client_.Stream("POST", path, body, headers, on_lines, idle_timeout));
  std::string last = ScanProgress(partial, on_output);
  if (error.empty()) error = std::move(last);
  return error;
}

Status DockerEngine::PullImage(std::string_view name,
                               const std::function<void(std::string_view)>& on_output,
                               Duration idle_timeout) const {
  auto [repo, tag] = SplitTag(name);
  // A pull that fails half-way still answers 200; the error is in the stream.
  SKIFF_ASSIGN_OR_RETURN(
      std::string error,
      Progress(Path("/images/create?fromImage=" + QueryEscape(repo) + "&tag=" + QueryEscape(tag)),
               {}, {}, on_output, idle_timeout));
  if (!error.empty()) return Unavailable(error);
  return OkStatus();
}

Status DockerEngine::BuildImage(std::string_view context_tar, std::string_view dockerfile,
                                std::string_view tag,
                                const std::function<void(std::string_view)>& on_output,
                                Duration idle_timeout) const {
  const std::string path = Path("/build?t=" + QueryEscape(tag) +
                                "&dockerfile=" + QueryEscape(dockerfile) + "&rm=1&forcerm=1");
  auto error =
      Progress(path, context_tar, {{"Content-Type", "application/x-tar"}}, on_output, idle_timeout);
  if (!error) {
    Error failed = error.error();
    // The engine refused the build itself (a bad Dockerfile path, say).
    if (failed.code != ErrorCode::kUnavailable && failed.code != ErrorCode::kDeadlineExceeded) {
      failed.code = ErrorCode::kFailedPrecondition;
    }
    return tl::unexpected(failed);
  }
  if (!error->empty()) return FailedPrecondition(*error);
  return OkStatus();
}

Result<std::string> DockerEngine::CreateContainer(std::string_view name,
                                                  const json::object& body) const {
  SKIFF_ASSIGN_OR_RETURN(
      json::value v,
      Json("POST", Path("/containers/create?name=" + QueryEscape(name)), json::serialize(body)));
  if (!v.is_object() || JsonString(v.get_object(), "Id").empty()) {
    return Internal("docker: create reply has no Id");
  }
  return JsonString(v.get_object(), "Id");
}

Status DockerEngine::StartContainer(std::string_view id) const {
  return Call("POST", Path("/containers/" + std::string(id) + "/start"),
              net::HttpClient::kDefaultTimeout);
}

Status DockerEngine::StopContainer(std::string_view id, Duration grace) const {
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(grace).count();
  auto stopped = Call("POST", Path(fmt::format("/containers/{}/stop?t={}", id, seconds)),
                      grace + std::chrono::seconds(30));
  if (!stopped && stopped.error().code == ErrorCode::kNotFound) return OkStatus();
  return stopped;
}

Status DockerEngine::KillContainer(std::string_view id, std::string_view signal) const {
  return Call("POST", Path(fmt::format("/containers/{}/kill?signal={}", id, signal)),
              net::HttpClient::kDefaultTimeout);
}

Status DockerEngine::RemoveContainer(std::string_view id, bool force) const {
  auto removed =
      Call("DELETE", Path(fmt::format("/containers/{}?force={}&v=1", id, force ? "1" : "0")),
           net::HttpClient::kDefaultTimeout);
  if (!removed && removed.error().code == ErrorCode::kNotFound) return OkStatus();
  // 409 "removal already in progress": it is going away, as asked.
  if (!removed && removed.error().message.find("already in progress") != std::string::npos) {
    return OkStatus();
  }
  return removed;
}

Result<ContainerInfo> DockerEngine::InspectContainer(std::string_view id) const {
  SKIFF_ASSIGN_OR_RETURN(json::value v,
                         Json("GET", Path("/containers/" + std::string(id) + "/json")));
  if (!v.is_object()) return Internal("docker: inspect reply is not an object");
  const json::object& o = v.get_object();
  ContainerInfo info;
  info.id = JsonString(o, "Id");
  info.name = JsonString(o, "Name");
  if (info.name.starts_with('/')) info.name.erase(0, 1);
  info.image = JsonString(o, "Image");
  if (const json::value* state = o.if_contains("State"); state && state->is_object()) {
    const json::object& s = state->get_object();
    info.state.status = JsonString(s, "Status");
    info.state.error = JsonString(s, "Error");
    if (const json::value* r = s.if_contains("Running"); r && r->is_bool()) {
      info.state.running = r->get_bool();
    }
    if (const json::value* k = s.if_contains("OOMKilled"); k && k->is_bool()) {
      info.state.oom_killed = k->get_bool();
    }
    if (const json::value* c = s.if_contains("ExitCode"); c && c->is_int64()) {
      info.state.exit_code = static_cast<int>(c->get_int64());
    }
    if (const json::value* p = s.if_contains("Pid"); p && p->is_int64()) {
      info.state.pid = static_cast<int>(p->get_int64());
    }
    info.state.started_at = JsonTime(s, "StartedAt");
    info.state.finished_at = JsonTime(s, "FinishedAt");
  }
  if (const json::value* config = o.if_contains("Config"); config && config->is_object()) {
    info.labels = JsonLabels(config->get_object().if_contains("Labels"));
  }
  if (const json::value* hc = o.if_contains("HostConfig"); hc && hc->is_object()) {
    info.host_config = hc->get_object();
  }
  return info;
}

Result<int> DockerEngine::WaitContainer(std::string_view id, Duration timeout) const {
  SKIFF_ASSIGN_OR_RETURN(
      json::value v,
      Json("POST", Path("/containers/" + std::string(id) + "/wait?condition=not-running"), {},
           timeout));
  const json::value* code = v.is_object() ? v.get_object().if_contains("StatusCode") : nullptr;
  if (code == nullptr || !code->is_int64()) return Internal("docker: wait reply has no StatusCode");
  return static_cast<int>(code->get_int64());
}

Result<std::vector<ContainerSummary>> DockerEngine::ListContainers(
    const std::vector<std::string>& labels, std::stop_token stop) const {
  json::array label_filters;
  for (const std::string& label : labels) label_filters.emplace_back(label);
  const std::string filters = json::serialize(json::object{{"label", std::move(label_filters)}});
  SKIFF_ASSIGN_OR_RETURN(
      json::value v, Json("GET", Path("/containers/json?all=1&filters=" + QueryEscape(filters)), {},
                          net::HttpClient::kDefaultTimeout, std::move(stop)));
  if (!v.is_array()) return Internal("docker: container list is not an array");
  std::vector<ContainerSummary> out;
  for (const json::value& item : v.get_array()) {
    if (!item.is_object()) continue;
    const json::object& o = item.get_object();
    out.push_back(ContainerSummary{JsonString(o, "Id"), JsonString(o, "State"),
                                   JsonLabels(o.if_contains("Labels"))});
  }
  return out;
}

Status DockerEngine::Logs(
    std::string_view id, bool follow, int64_t since_unix_nanos, Duration idle_timeout,
    const std::function<bool(LogStream, int64_t, std::string_view)>& on_entry) const {
  std::string path = fmt::format("/containers/{}/logs?stdout=1&stderr=1&timestamps=1&follow={}", id,
                                 follow ? 1 : 0);
  if (since_unix_nanos > 0) path += "&since=" + UnixSeconds(since_unix_nanos);
  FrameDemuxer demuxer;
  auto on_frame = [&](LogStream stream, std::string_view payload) {
    // "2026-11-23T00:39:23.583205805Z the line\n"
    size_t space = payload.find(' ');
    std::optional<int64_t> at;
    if (space != std::string_view::npos) at = ParseUnixNanos(payload.substr(0, space));
    if (!at) return on_entry(stream, 0, payload);
    return on_entry(stream, *at, payload.substr(space + 1));
  };
  auto streamed = client_.Stream(
      "GET", Path(path), {}, [&](std::string_view chunk) { return demuxer.Feed(chunk, on_frame); },
      idle_timeout);
  if (!streamed) return tl::unexpected(streamed.error());
  return OkStatus();
}

Status DockerEngine::ContainerEvents(
    const std::vector<std::string>& actions, const std::vector<std::string>& labels,
    int64_t since_unix_nanos, std::stop_token stop,
    const std::function<bool(const ContainerEvent&)>& on_event) const {
  json::array action_filter(actions.begin(), actions.end());
  json::array label_filter(labels.begin(), labels.end());
  json::object filters{{"type", json::array{"container"}}, {"event", std::move(action_filter)}};
  if (!label_filter.empty()) filters["label"] = std::move(label_filter);
  std::string path = "/events?filters=" + QueryEscape(json::serialize(filters));
  if (since_unix_nanos > 0) path += "&since=" + UnixSeconds(since_unix_nanos);
  // One JSON object a line, as each event happens.
  std::string partial;
  bool overlong = false;
  auto on_data = [&](std::string_view chunk) {
    partial.append(chunk);
    size_t begin = 0;
    for (size_t end; (end = partial.find('\n', begin)) != std::string::npos; begin = end + 1) {
      const std::string_view line = std::string_view(partial).substr(begin, end - begin);
      auto event = ParseContainerEvent(line);
      if (!event) {
        // Not an event of ours (or not JSON): said, so a changed API shows.
        SKIFF_LOG_DEBUG("docker: skipping an event line of {}: {:.200}", host(), line);
        continue;
      }
      if (!on_event(*event)) return false;
    }
    partial.erase(0, begin);
    overlong = partial.size() > kMaxEventLineBytes;
    return !overlong;
  };
  // No inactivity limit: a quiet engine is the usual case.
  SKIFF_RETURN_IF_ERROR(client_.Stream("GET", Path(path), {}, on_data, Duration::zero(), stop));
  if (overlong) {
    return Unavailable(fmt::format("docker: an event line of {} passed {} bytes without ending",
                                   host(), kMaxEventLineBytes));
  }
  return OkStatus();
}

Result<json::object> DockerEngine::Stats(std::string_view id) const {
  SKIFF_ASSIGN_OR_RETURN(json::value v, Json("GET", Path("/containers/" + std::string(id) +
                                                         "/stats?stream=false&one-shot=true")));
  if (!v.is_object()) return Internal("docker: stats reply is not an object");
  return v.get_object();
}

bool FrameDemuxer::Feed(std::string_view data,
                        const std::function<bool(LogStream, std::string_view)>& on_frame) {
  buffer_.append(data);
  size_t at = 0;
  bool go_on = true;
  while (go_on && buffer_.size() - at >= 8) {
    const auto* header = reinterpret_cast<const unsigned char*>(buffer_.data() + at);
    const size_t size = (size_t{header[4]} << 24) | (size_t{header[5]} << 16) |
                        (size_t{header[6]} << 8) | size_t{header[7]};
    if (buffer_.size() - at - 8 < size) break;
    const LogStream stream = header[0] == 2 ? LogStream::kStderr : LogStream::kStdout;
    go_on = on_frame(stream, std::string_view(buffer_).substr(at + 8, size));
    at += 8 + size;
  }
  if (!go_on) {
    buffer_.clear();
    return false;
  }
  buffer_.erase(0, at);
  return true;
}

std::optional<ContainerEvent> ParseContainerEvent(std::string_view line) {
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  if (JsonString(o, "Type") != "container") return std::nullopt;
  const json::value* actor = o.if_contains("Actor");
  if (actor == nullptr || !actor->is_object()) return std::nullopt;
  ContainerEvent event;
  event.id = JsonString(actor->get_object(), "ID");
  event.action = JsonString(o, "Action");
  if (event.id.empty() || event.action.empty()) return std::nullopt;
  event.attributes = JsonLabels(actor->get_object().if_contains("Attributes"));
  if (const json::value* at = o.if_contains("timeNano"); at != nullptr && at->is_int64()) {
    event.at_unix_nanos = at->get_int64();
  } else if (const json::value* seconds = o.if_contains("time");
             seconds != nullptr && seconds->is_int64()) {
    event.at_unix_nanos = seconds->get_int64() * 1'000'000'000;
  }
  return event;
}

std::optional<int64_t> ParseUnixNanos(std::string_view text) {
  // Seconds through ParseTime (which checks the layout), the fraction here.
  if (text.size() < 20 || text.back() != 'Z') return std::nullopt;
  std::string whole(text.substr(0, 19));
  whole += 'Z';
  auto seconds = ParseTime(whole);
  if (!seconds) return std::nullopt;
  int64_t nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(seconds->time_since_epoch()).count();
  std::string_view fraction = text.substr(19, text.size() - 20);
  if (!fraction.empty()) {
    if (fraction[0] != '.' || fraction.size() < 2) return std::nullopt;
    int64_t scale = 100'000'000;
    for (char c : fraction.substr(1)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      nanos += (c - '0') * scale;
      scale /= 10;
    }
  }
  return nanos;
}

std::string ScanProgress(std::string_view body,
                         const std::function<void(std::string_view)>& on_output) {
  std::string error;
  while (!body.empty()) {
    size_t end = body.find('\n');
    std::string_view line = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const json::object& o = v.get_object();
    if (std::string text = JsonString(o, "stream"); !text.empty()) on_output(text);
    // Pull progress: the steps, not every tick of a download.
    if (std::string status = JsonString(o, "status"); !status.empty() && !o.contains("progress")) {
      const std::string id = JsonString(o, "id");
      on_output(id.empty() ? status + "\n" : id + ": " + status + "\n");
    }
    if (!error.empty()) continue;
    error = JsonString(o, "error");
    if (error.empty()) {
      if (const json::value* d = o.if_contains("errorDetail"); d && d->is_object()) {
        error = JsonString(d->get_object(), "message");
      }
    }
  }
  while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
  return error;
}

}  // namespace skiff::runtime::docker
