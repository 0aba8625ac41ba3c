// GET /v1/audit: the audit trail (store/audit.h), the admin's.
#include <fmt/format.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/request_util.h"
#include "api/visibility.h"
#include "common/quantity.h"

namespace skiff::api {
namespace json = boost::json;
namespace {

constexpr size_t kAuditPage = 1000;
// Entries take no revision (nothing wakes a follower): it looks this often.
constexpr auto kFollowPoll = std::chrono::milliseconds(500);

json::object EntryJson(const store::AuditEntry& e) {
  return json::object{{"id", e.id},
                      {"time", FormatTime(e.time)},
                      {"who", e.who},
                      {"role", e.role},
                      {"credential", e.credential},
                      {"source", e.source},
                      {"method", e.method},
                      {"path", e.path},
                      {"project", e.project},
                      {"app", e.app},
                      {"request_id", e.request_id},
                      {"code", e.code},
                      {"revision", e.revision}};
}

// The last line of a stream that ends: {"error":{"code","message"}}.
std::string ErrorLineOf(const Error& e) {
  return json::serialize(json::object{
             {"error", json::object{{"code", ErrorCodeName(e.code)}, {"message", e.message}}}}) +
         "\n";
}

// ?since= as a time (RFC 3339) or an age ("1h": that long ago).
Result<Time> SinceOf(const std::string& text, Time now) {
  if (text.empty()) return Time{};
  if (auto age = ParseDuration(text)) return now - *age;
  if (auto at = ParseTime(text)) return *at;
  return tl::unexpected(Error{ErrorCode::kInvalidArgument,
                              fmt::format("since: neither an age (1h, 90d) nor a time "
                                          "(2026-12-07T10:00:00Z): \"{}\"",
                                          text),
                              "since"});
}

}  // namespace

asio::awaitable<void> Audit(const ApiDeps& deps, const net::HttpRequest& request, const PathParams&,
                            net::ResponseWriter& writer) {
  auto since = SinceOf(request.QueryOr("since"), deps.clock->Now());
  auto after = QueryInt(request, "after", 0, 0);
  auto limit = QueryInt(request, "limit", 100, 1);
  auto follow = QueryBool(request, "follow", false);
  const Error* bad = !since    ? &since.error()
                     : !after  ? &after.error()
                     : !limit  ? &limit.error()
                     : !follow ? &follow.error()
                               : nullptr;
  if (bad != nullptr) {
    net::HttpResponse reply = ErrorReply(*bad);
    co_await writer.Send(std::move(reply));
    co_return;
  }
  store::AuditFilter filter;
  filter.since = *since;
  filter.who = request.QueryOr("who");
  filter.app = request.QueryOr("app");
  filter.after_id = *after;
  filter.limit = std::min<size_t>(static_cast<size_t>(*limit), kAuditPage);
  auto entries = deps.store->ListAudit(filter);
  if (!entries) {
    net::HttpResponse reply = ErrorReply(entries.error());
    co_await writer.Send(std::move(reply));
    co_return;
  }
  if (!*follow) {
    json::array list;
    for (const store::AuditEntry& e : *entries) list.push_back(EntryJson(e));
    net::HttpResponse reply = net::JsonResponse(200, json::object{{"entries", std::move(list)}});
    co_await writer.Send(std::move(reply));
    co_return;
  }
  net::HttpHeaders headers = StreamHeaders("application/x-ndjson");
  if (!co_await writer.Begin(200, std::move(headers))) co_return;
  filter.oldest_first = true;
  filter.limit = kAuditPage;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  int polls = 0;
  while (true) {
    std::string chunk;
    if (entries) {
      for (const store::AuditEntry& e : *entries) {
        chunk += json::serialize(EntryJson(e)) + "\n";
        filter.after_id = std::max(filter.after_id, e.id);
      }
    }
    // An empty chunk still tells whether the client is gone.
    if (!co_await writer.Write(chunk)) co_return;
    if (!entries || entries->size() < kAuditPage) {
      timer.expires_after(kFollowPoll);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    // Every few seconds: is its caller still an admin (a token revoked, a
    // session ended)?
    if (++polls % 10 == 0) {
      if (Status allowed = StillAllowed(deps, request, ""); !allowed) {
        // Built outside the co_await: g++ 12 frees braced temporaries there twice.
        const std::string last = ErrorLineOf(allowed.error());
        co_await writer.Write(last);
        co_return;
      }
    }
    entries = deps.store->ListAudit(filter);  // a store down for now: tried again
  }
}

}  // namespace skiff::api
