#include "metrics/scrape_endpoint.h"

namespace skiff::metrics {

net::HttpHandler ScrapeHandler(const Registry* registry) {
  return [registry](const net::HttpRequest& request,
                    net::ResponseWriter& writer) -> boost::asio::awaitable<void> {
    net::HttpResponse response;
    if (request.method == "GET" && request.path == "/metrics") {
      response = net::TextResponse(200, registry->Render(), Registry::kContentType);
    } else if (request.method == "GET" && request.path == "/health") {
      response = net::TextResponse(200, "ok\n");
    } else {
      response = net::TextResponse(404, "only GET /metrics and GET /health are served here\n");
    }
    co_await writer.Send(std::move(response));
  };
}

}  // namespace skiff::metrics
