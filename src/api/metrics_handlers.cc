// An app's metrics: its history as a series (GET /v1/apps/{name}/metrics) and
// its live figures as Server-Sent Events (GET /v1/apps/{name}/metrics/live).
// docs/api.md has the shapes, docs/metrics.md where the figures come from.

// g++ 12 reports a false -Wmismatched-new-delete on Asio's coroutine frames.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <set>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/request_util.h"
#include "api/visibility.h"
#include "common/quantity.h"
#include "metrics/series.h"

namespace skiff::api {
namespace asio = boost::asio;
namespace json = boost::json;
namespace {

// How far past this server's clock `until` may be (another machine's clock).
constexpr Duration kUntilSkew = std::chrono::minutes(1);
// At most this many points by default, and never more than kMaxPoints.
constexpr int64_t kDefaultPoints = 300;
constexpr int64_t kMaxPoints = 10'000;
constexpr Duration kMinute = std::chrono::minutes(1);

// A time parameter: RFC 3339 ("2026-12-07T10:00:00Z"), or a duration back
// from now ("1h": an hour ago); `fallback` when absent.
Result<Time> MetricsTimeParam(const net::HttpRequest& request, const std::string& key,
                              Time fallback, Time now) {
  auto it = request.query.find(key);
  if (it == request.query.end() || it->second.empty()) return fallback;
  if (auto ago = ParseDuration(it->second)) return now - *ago;
  if (auto at = ParseTime(it->second)) return *at;
  return InvalidArgument(fmt::format("{}: not a time (\"{}\"); give an RFC 3339 time "
                                     "(2026-12-07T10:00:00Z) or a duration back from now (1h, 30m)",
                                     key, it->second),
                         key);
}

struct MetricsRange {
  Time since;
  Time until;
  Duration step;
};

Result<MetricsRange> ParseMetricsRange(const ApiDeps& deps, const net::HttpRequest& request,
                                       Time now) {
  MetricsRange r;
  SKIFF_ASSIGN_OR_RETURN(r.since,
                         MetricsTimeParam(request, "since", now - std::chrono::hours(1), now));
  SKIFF_ASSIGN_OR_RETURN(r.until, MetricsTimeParam(request, "until", now, now));
  if (r.until > now + kUntilSkew) {
    return InvalidArgument(
        fmt::format("until: {} is in the future (now is {}); give a time up to now",
                    FormatTime(r.until), FormatTime(now)),
        "until");
  }
  if (r.since >= r.until) {
    return InvalidArgument(fmt::format("since: must be before until ({} is not before {})",
                                       FormatTime(r.since), FormatTime(r.until)),
                           "since");
  }
  // A minute of slack: "since=7d" with a 7 d retention is what people type.
  if (r.since < now - deps.metrics_retention - kMinute) {
    return InvalidArgument(fmt::format("since: {} is further back than the metrics are kept ({}, "
                                       "--metrics-retention); give a later time",
                                       FormatTime(r.since), FormatDuration(deps.metrics_retention)),
                           "since");
  }
  const Duration span = std::chrono::duration_cast<Duration>(r.until - r.since);
  if (auto it = request.query.find("step"); it != request.query.end() && !it->second.empty()) {
    auto step = ParseDuration(it->second);
    if (!step || *step < kMinute || *step % kMinute != Duration(0)) {
      return InvalidArgument(
          fmt::format("step: a whole number of minutes, at least 60s (1m, 5m, 1h), got \"{}\"",
                      it->second),
          "step");
    }
    if (span / *step > kMaxPoints) {
      return InvalidArgument(fmt::format("step: {} makes more than {} points over the range; "
                                         "give a longer step",
                                         it->second, kMaxPoints),
                             "step");
    }
    r.step = *step;
  } else {
    // Whole minutes, enough of them for at most kDefaultPoints points.
    const int64_t minutes = (span / kMinute + kDefaultPoints - 1) / kDefaultPoints;
    r.step = kMinute * std::max<int64_t>(1, minutes);
  }
  return r;
}

// The minutes of `app` in [since, until): the history's, and those it does not
// have yet that the live series still holds (the minute going on, the last
// one before the roll-up loop wrote it).
Result<metrics::AppHistory> AppMinutes(const ApiDeps& deps, const std::string& app, Time since,
                                       Time until) {
  const Time first = metrics::MinuteOf(since);
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::MetricsRow> rows,
                         deps.history->Query(app, first, until));
  metrics::AppHistory history = metrics::FromRows(rows);
  if (deps.live == nullptr) return history;
  std::set<Time> stored;
  for (const metrics::AppMinute& m : history.minutes) stored.insert(m.minute);
  for (Time m = std::max(first, metrics::MinuteOf(deps.live->Horizon()) + kMinute); m < until;
       m += kMinute) {
    if (stored.count(m) > 0) continue;
    auto rollup = deps.live->RollupOf(app, m);
    if (!rollup) continue;
    history.minutes.push_back(std::move(rollup->app));
    for (metrics::InstanceMinute& i : rollup->instances) {
      history.instances[i.instance].push_back(std::move(i));
    }
  }
  return history;
}

json::value MetricsNumberOrNull(bool present, double v) {
  return present ? json::value(v) : json::value(nullptr);
}

json::value LiveJson(const std::string& app, const metrics::LivePoint& live) {
  const metrics::AppWindow& w = live.app;
  const bool latency = w.requests > 0;
  json::object o{
      {"app", app},
      {"time", FormatTime(w.now)},
      {"window_seconds", std::chrono::duration_cast<std::chrono::seconds>(w.window).count()},
      {"requests_per_second", MetricsNumberOrNull(w.has_traffic, w.requests_per_second)},
      {"errors_per_second", MetricsNumberOrNull(w.has_traffic, w.errors_per_second)},
      {"p50_ms", MetricsNumberOrNull(latency, w.p50_ms)},
      {"p95_ms", MetricsNumberOrNull(latency, w.p95_ms)},
      {"p99_ms", MetricsNumberOrNull(latency, w.p99_ms)},
      {"in_flight", w.has_traffic ? json::value(w.in_flight) : json::value(nullptr)},
      {"last_request",
       w.last_request ? json::value(FormatTime(*w.last_request)) : json::value(nullptr)},
  };
  const bool sampled = w.instances_sampled > 0;
  metrics::ForEachResourceField(
      [&](const char* name, auto, double metrics::ResourceFigures::*member) {
        o[name] = MetricsNumberOrNull(sampled, w.mean_per_instance.*member);
      });
  json::object instances;
  for (const auto& [id, i] : live.instances) {
    json::object one{{"time", FormatTime(i.at)}};
    metrics::ForEachResourceField(
        [&](const char* name, auto sample_member, auto) { one[name] = i.sample.*sample_member; });
    instances[id] = std::move(one);
  }
  o["instances"] = std::move(instances);
  return o;
}

std::string LiveEvent(const std::string& app, const metrics::LivePoint& live) {
  return "data: " + json::serialize(LiveJson(app, live)) + "\n\n";
}

std::string LiveErrorEvent(const Error& e) {
  return "event: error\ndata: " +
         json::serialize(json::object{
             {"error", json::object{{"code", ErrorCodeName(e.code)}, {"message", e.message}}}}) +
         "\n\n";
}

}  // namespace

net::HttpResponse GetAppMetrics(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams& params) {
  if (deps.history == nullptr) {
    return ErrorReply(Error{ErrorCode::kNotFound, "this server keeps no metrics history"});
  }
  const std::string& app = params.at("name");
  if (auto known = deps.store->GetApp(app); !known) return ErrorReply(known.error());
  const Time now = deps.clock->Now();
  auto range = ParseMetricsRange(deps, request, now);
  if (!range) return ErrorReply(range.error());
  auto minutes = AppMinutes(deps, app, range->since, range->until);
  if (!minutes) return ErrorReply(minutes.error());
  const metrics::Series series =
      metrics::Aggregate(*minutes, range->since, range->until, range->step);
  return net::JsonResponse(200, metrics::ToJson(app, series));
}

asio::awaitable<void> LiveAppMetrics(const ApiDeps& deps, const net::HttpRequest& request,
                                     const PathParams& params, net::ResponseWriter& writer) {
  const std::string& app = params.at("name");
  if (deps.live == nullptr) {
    net::HttpResponse reply =
        ErrorReply(Error{ErrorCode::kNotFound, "this server keeps no live metrics"});
    co_await writer.Send(std::move(reply));
    co_return;
  }
  if (auto known = deps.store->GetApp(app); !known) {
    net::HttpResponse reply = ErrorReply(known.error());
    co_await writer.Send(std::move(reply));
    co_return;
  }
  if (deps.leadership && !deps.leadership().leading) {
    // Agents and edges report to the leader only: this server has no live
    // figures, and an empty stream would read as an idle app.
    net::HttpResponse reply = ErrorReply(
        Error{ErrorCode::kUnavailable,
              "this server does not lead: live metrics are held by the leader (GET /v1/servers "
              "names it); ask it, or read the minutes with GET /v1/apps/" +
                  app + "/metrics"});
    co_await writer.Send(std::move(reply));
    co_return;
  }
  net::HttpHeaders headers = StreamHeaders("text/event-stream");
  if (!co_await writer.Begin(200, std::move(headers))) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    if (Status allowed = StillAllowed(deps, request, app); !allowed) {
      const std::string last = LiveErrorEvent(allowed.error());
      co_await writer.Write(last);
      break;
    }
    const std::string event = LiveEvent(app, deps.live->Live(app));
    if (!co_await writer.Write(event)) co_return;
    timer.expires_after(deps.live_metrics_interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_await writer.End();
}

}  // namespace skiff::api
