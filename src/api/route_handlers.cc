// GET /v1/routes: the routes document (protocol/routes_codec.h) for standalone
// edges, as a long poll. `unless=TAG` names the document the caller has; the
// answer waits (up to `wait` seconds, at most 60) until the routes differ from
// it, then sends the new document with its tag in ETag; 304 when the wait ran
// out with nothing new. X-Skiff-Revision names the store revision of the document.
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <string>

#include "api/commit_waiter.h"
#include "api/errors.h"
#include "api/handlers.h"
#include "api/request_util.h"
#include "controller/routes.h"
#include "protocol/routes_codec.h"

namespace skiff::api {
namespace asio = boost::asio;
namespace {

// The answer to every edge polling one state.
struct RoutesReply {
  std::string document;
  std::string tag;
  int64_t revision = 0;
};

}  // namespace

asio::awaitable<void> Routes(const ApiDeps& deps, const net::HttpRequest& request,
                             const PathParams&, net::ResponseWriter& writer) {
  const std::string unless = request.QueryOr("unless");
  auto wait = QueryInt(request, "wait", 0, 0);
  if (!wait || *wait > 60) {
    Error bad = wait ? Error{ErrorCode::kInvalidArgument,
                             "wait: at most 60 seconds (got " + std::to_string(*wait) + ")", "wait"}
                     : wait.error();
    co_await writer.Send(ErrorReply(bad));
    co_return;
  }
  // Subscribed before the first read: no commit between a read and the wait is missed.
  CommitWaiter waiter(deps.store, co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*wait);
  while (true) {
    const int64_t seen = deps.store->Revision();
    // From the shared cache, made once per state for every edge: each edge's
    // poll wakes on every commit, and reading the whole state each time cost
    // seconds at 150,000 instances.
    auto built = deps.snapshots->ReadMemo([&deps](const store::Snapshot& snapshot) {
      RoutesReply reply;
      // Read after the snapshot: a certificate kept before the event that
      // made the snapshot's revision is in it (certificate_store.h).
      const protocol::RouteSet routes =
          controller::BuildRoutes(snapshot, controller::CertificatesForRoutes(deps.certificates),
                                  controller::ChallengesForRoutes(deps.challenges));
      reply.revision = routes.revision;
      reply.document = protocol::RoutesDocument(routes);
      reply.tag = protocol::RoutesTag(reply.document);
      return reply;
    });
    if (!built) {
      co_await writer.Send(ErrorReply(built.error()));
      co_return;
    }
    const RoutesReply& routes = **built;
    if (routes.tag != unless) {
      net::HttpResponse reply = net::TextResponse(200, routes.document, "application/json");
      reply.headers.emplace_back("ETag", routes.tag);
      // What the edge reports back, so that a drain knows when it has these routes.
      reply.headers.emplace_back(protocol::kRevisionHeader, std::to_string(routes.revision));
      co_await writer.Send(std::move(reply));
      co_return;
    }
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) break;
    co_await waiter.WaitPast(seen, std::chrono::duration_cast<Duration>(left));
  }
  net::HttpResponse unchanged = net::TextResponse(304, "");
  unchanged.headers.emplace_back("ETag", unless);
  co_await writer.Send(std::move(unchanged));
}

}  // namespace skiff::api
