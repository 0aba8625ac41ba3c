// Handlers that may stream: logs, events, watch.

// g++ 12 reports a false -Wmismatched-new-delete on Asio's coroutine frames
// (its frame allocator pairs operator new and delete correctly).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/commit_waiter.h"
#include "api/errors.h"
#include "api/handlers.h"
#include "api/request_util.h"
#include "api/visibility.h"
#include "model/codec.h"

namespace skiff::api {
namespace asio = boost::asio;
namespace json = boost::json;
namespace {

constexpr const char* kNdjson = "application/x-ndjson";
// Changes or events read per store call while catching up.
constexpr size_t kBatch = 1000;
// How long a follower sleeps without news before it checks on its client.
constexpr Duration kIdleCheck = std::chrono::seconds(1);
// How long a stream waits before it asks an unreachable store again.
constexpr Duration kStoreRetry = std::chrono::milliseconds(250);
// How often a followed log asks again whether its caller may still read it
// (a token revoked or expired, the app moved to another project).
constexpr auto kRecheckCaller = std::chrono::seconds(5);

std::string Line(const json::value& v) { return json::serialize(v) + "\n"; }

// Note for the coroutines below: g++ 12 destroys temporaries of a conditional
// expression inside a co_await twice; such values are built in a statement of
// their own first.

// The last line of a stream that broke: {"error":{"code","message"}}.
// (Built outside the coroutines: g++ 12 miscompiles braced lists in co_await.)
std::string ErrorLine(const Error& e) {
  return Line(json::object{
      {"error", json::object{{"code", ErrorCodeName(e.code)}, {"message", e.message}}}});
}

net::HttpResponse EventsReply(const std::vector<model::Event>& events) {
  json::array out;
  for (const model::Event& e : events) out.push_back(model::ToJson(e));
  return net::JsonResponse(200, json::object{{"events", std::move(out)}});
}

// A store that cannot be reached for now (its database restarting, a
// failover) does not end a stream that has begun: it waits and goes on from
// where it was, so the client misses nothing and need not re-list. Returns
// false when the client is gone meanwhile.
asio::awaitable<bool> WaitForStore(net::ResponseWriter& writer) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(kStoreRetry);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  // An empty chunk still tells whether the client is gone.
  co_return co_await writer.Write("");
}

json::value ChangeJson(const store::Change& change) {
  json::value object = std::visit([](const auto& o) { return model::ToJson(o); }, change.object);
  return json::object{{"revision", change.revision},
                      {"kind", store::ToString(store::KindOf(change.object))},
                      {"deleted", change.deleted},
                      {"object", std::move(object)}};
}

}  // namespace

asio::awaitable<void> Logs(const ApiDeps& deps, const net::HttpRequest& request,
                           const PathParams& params, net::ResponseWriter& writer) {
  const std::string& app = params.at("name");
  auto tail = QueryInt(request, "tail", 100, 0);
  auto follow = QueryBool(request, "follow", false);
  if (!tail || !follow) {
    net::HttpResponse reply = ErrorReply(!tail ? tail.error() : follow.error());
    co_await writer.Send(std::move(reply));
    co_return;
  }
  // The cursor is made before the tail is read: a line written in between may
  // show twice, but none goes missing.
  std::unique_ptr<LogCursor> cursor;
  if (*follow) {
    auto made = deps.logs->Follow(app);
    if (!made) {
      co_await writer.Send(ErrorReply(made.error()));
      co_return;
    }
    cursor = std::move(*made);
  }
  auto lines = deps.logs->Tail(app, static_cast<size_t>(*tail));
  if (!lines) {
    co_await writer.Send(ErrorReply(lines.error()));
    co_return;
  }
  std::string text;
  for (const std::string& line : *lines) text += line + "\n";
  if (!*follow) {
    co_await writer.Send(net::TextResponse(200, std::move(text)));
    co_return;
  }
  if (!co_await writer.Begin(200, StreamHeaders("text/plain; charset=utf-8"))) co_return;
  if (!text.empty() && !co_await writer.Write(text)) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto next_check = std::chrono::steady_clock::now() + kRecheckCaller;
  while (true) {
    timer.expires_after(deps.log_poll_interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (std::chrono::steady_clock::now() >= next_check) {
      next_check = std::chrono::steady_clock::now() + kRecheckCaller;
      if (Status allowed = StillAllowed(deps, request, app); !allowed) {
        co_await writer.Write(fmt::format("error: {}\n", allowed.error().ToString()));
        break;
      }
    }
    auto fresh = cursor->Poll();
    if (!fresh) {
      co_await writer.Write(fmt::format("error: {}\n", fresh.error().ToString()));
      break;
    }
    std::string chunk;
    for (const std::string& line : *fresh) chunk += line + "\n";
    // An empty chunk still tells whether the client is gone.
    if (!co_await writer.Write(chunk)) co_return;
  }
  co_await writer.End();
}

asio::awaitable<void> Events(const ApiDeps& deps, const net::HttpRequest& request,
                             const PathParams&, const Caller& caller, net::ResponseWriter& writer) {
  std::string app = request.QueryOr("app");
  auto since = QueryInt(request, "since", 0, 0);
  auto limit = QueryInt(request, "limit", static_cast<int64_t>(kBatch), 1);
  auto follow = QueryBool(request, "follow", false);
  const Error* bad = !since    ? &since.error()
                     : !limit  ? &limit.error()
                     : !follow ? &follow.error()
                               : nullptr;
  if (bad != nullptr) {
    co_await writer.Send(ErrorReply(*bad));
    co_return;
  }
  store::EventFilter filter;
  filter.app = app;
  filter.after_id = *since;
  filter.limit = std::min<size_t>(static_cast<size_t>(*limit), kBatch);
  // A caller below admin sees the events of its projects' apps only (read
  // again for each batch: apps come and go); an app it may not see is
  // answered as one that does not exist.
  auto visible = VisibleApps(deps, caller);
  if (visible && *visible && !app.empty() && (*visible)->count(app) == 0) {
    // Built outside the co_await: g++ 12 frees braced temporaries there twice.
    net::HttpResponse unknown =
        ErrorReply(Error{ErrorCode::kNotFound, fmt::format("app {} not found", app), "app"});
    co_await writer.Send(std::move(unknown));
    co_return;
  }
  if (!visible) {
    co_await writer.Send(ErrorReply(visible.error()));
    co_return;
  }
  auto hide = [](std::vector<model::Event>& events,
                 const std::optional<std::set<std::string>>& shown) {
    if (!shown) return;
    std::erase_if(events, [&shown](const model::Event& e) { return shown->count(e.app) == 0; });
  };
  if (!*follow) {
    auto events = deps.store->ListEvents(filter);
    if (!events) {
      co_await writer.Send(ErrorReply(events.error()));
      co_return;
    }
    hide(*events, *visible);
    co_await writer.Send(EventsReply(*events));
    co_return;
  }

  // Subscribed before the first read, so no event between the read and the wait is missed.
  CommitWaiter waiter(deps.store, co_await asio::this_coro::executor);
  bool begun = false;
  while (true) {
    int64_t seen = deps.store->Revision();
    auto events = deps.store->ListEvents(filter);
    if (!events) {
      if (!begun) {
        co_await writer.Send(ErrorReply(events.error()));
        co_return;
      }
      if (events.error().code == ErrorCode::kUnavailable) {
        if (!co_await WaitForStore(writer)) co_return;
        continue;
      }
      co_await writer.Write(ErrorLine(events.error()));
      break;
    }
    if (!begun) {
      if (!co_await writer.Begin(200, StreamHeaders(kNdjson))) co_return;
      begun = true;
      // `limit` bounds the history only; from here on, page forward so a burst
      // of more than a batch is delivered whole, in order.
      filter.limit = kBatch;
      filter.oldest_first = true;
    }
    if (!caller.admin()) {
      visible = VisibleApps(deps, caller);
      if (!visible) {  // read this batch again once the state can be
        if (!begun) {
          co_await writer.Send(ErrorReply(visible.error()));
          co_return;
        }
        if (!co_await WaitForStore(writer)) co_return;
        continue;
      }
    }
    const size_t got = events->size();
    for (const model::Event& e : *events) filter.after_id = std::max(filter.after_id, e.id);
    hide(*events, *visible);
    std::string chunk;
    for (const model::Event& e : *events) chunk += Line(model::ToJson(e));
    if (!co_await writer.Write(chunk)) co_return;
    if (got == kBatch) continue;  // more may be waiting
    co_await waiter.WaitPast(std::max(seen, filter.after_id), kIdleCheck);
    if (Status allowed = StillAllowed(deps, request, app); !allowed) {
      co_await writer.Write(ErrorLine(allowed.error()));
      break;
    }
  }
  co_await writer.End();
}

asio::awaitable<void> Watch(const ApiDeps& deps, const net::HttpRequest& request, const PathParams&,
                            net::ResponseWriter& writer) {
  auto since = QueryInt(request, "since", deps.store->Revision(), 0);
  if (!since) {
    co_await writer.Send(ErrorReply(since.error()));
    co_return;
  }
  CommitWaiter waiter(deps.store, co_await asio::this_coro::executor);
  int64_t last = *since;
  bool begun = false;
  while (true) {
    int64_t seen = deps.store->Revision();
    auto changes = deps.store->ChangesSince(last, kBatch);
    if (!changes) {
      const Error& e = changes.error();
      if (!begun) {
        net::HttpResponse reply =
            e.code == ErrorCode::kFailedPrecondition ? GoneReply(e) : ErrorReply(e);
        co_await writer.Send(std::move(reply));
        co_return;
      }
      if (e.code == ErrorCode::kUnavailable) {
        if (!co_await WaitForStore(writer)) co_return;
        continue;
      }
      // Fell behind the compaction while streaming: one error line, then the
      // end; the client re-lists and watches again (and would now get 410).
      co_await writer.Write(ErrorLine(e));
      break;
    }
    if (!begun) {
      if (!co_await writer.Begin(200, StreamHeaders(kNdjson))) co_return;
      begun = true;
    }
    std::string chunk;
    for (const store::Change& change : *changes) {
      chunk += Line(ChangeJson(change));
      last = std::max(last, change.revision);
    }
    if (!co_await writer.Write(chunk)) co_return;
    if (changes->size() == kBatch) continue;
    // Nothing newer than `seen` was in the log when read: skip ahead so a
    // revision without a change (none expected) cannot spin this loop.
    if (changes->empty()) last = std::max(last, seen);
    co_await waiter.WaitPast(last, kIdleCheck);
    if (Status allowed = StillAllowed(deps, request, ""); !allowed) {
      co_await writer.Write(ErrorLine(allowed.error()));
      break;
    }
  }
  co_await writer.End();
}

}  // namespace skiff::api
