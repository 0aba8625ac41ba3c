#include "edge/forwarding.h"

#include <gtest/gtest.h>

namespace skiff::edge {
namespace {

http1::RequestHead Request(std::vector<http1::Field> fields) {
  http1::RequestHead r;
  r.method = "GET";
  r.target = "/a?b=1";
  r.path = "/a";
  r.host = "web.test";
  r.fields = std::move(fields);
  return r;
}

// Verify that hop-by-hop fields, the ones Connection names, and the client's
// own X-Forwarded-Proto/-Host stay behind, while earlier proxies' X-Forwarded-For
// is kept in front of the client's address.
TEST(ForwardingTest, UpstreamHeadKeepsOnlyEndToEndFields) {
  http1::RequestHead r = Request({{"Host", "web.test"},
                                  {"Connection", "keep-alive, X-Secret"},
                                  {"X-Secret", "s"},
                                  {"Keep-Alive", "timeout=5"},
                                  {"TE", "trailers"},
                                  {"Expect", "100-continue"},
                                  {"X-Forwarded-For", "10.0.0.1"},
                                  {"X-Forwarded-Proto", "https"},
                                  {"X-Forwarded-Host", "evil"},
                                  {"X-Request-Id", "abc"},
                                  {"Accept", "*/*"}});
  std::string out;
  AppendUpstreamHead(r, "127.0.0.1", "abc", false, &out);
  EXPECT_EQ(out,
            "GET /a?b=1 HTTP/1.1\r\n"
            "Host: web.test\r\n"
            "Accept: */*\r\n"
            "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n"
            "X-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: web.test\r\n"
            "X-Request-Id: abc\r\n\r\n");
}

// Verify that the body's framing is set by the edge and an upgrade is passed on.
TEST(ForwardingTest, UpstreamHeadFramingAndUpgrade) {
  http1::RequestHead r = Request({{"Host", "web.test"},
                                  {"Content-Length", "5"},
                                  {"Connection", "Upgrade"},
                                  {"Upgrade", "websocket"}});
  r.content_length = 5;
  r.upgrade = true;
  std::string out;
  AppendUpstreamHead(r, "::1", "id", false, &out);
  EXPECT_NE(out.find("Content-Length: 5\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Connection: upgrade\r\nUpgrade: websocket\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Forwarded-For: ::1\r\n"), std::string::npos) << out;

  r.content_length.reset();
  r.upgrade = false;
  r.chunked = true;
  r.fields = {{"Host", "web.test"}, {"Transfer-Encoding", "chunked"}, {"Upgrade", "h2c"}};
  out.clear();
  AppendUpstreamHead(r, "127.0.0.1", "id", false, &out);
  EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("Upgrade"), std::string::npos) << "no upgrade without Connection: upgrade";
}

TEST(ForwardingTest, ClientRequestIdIsKeptOnlyWhenSane) {
  EXPECT_EQ(ClientRequestId(Request({{"X-Request-Id", "req-1"}})), "req-1");
  EXPECT_EQ(ClientRequestId(Request({{"x-request-id", "a b"}})), "");
  EXPECT_EQ(ClientRequestId(Request({{"X-Request-Id", std::string(201, 'a')}})), "");
  EXPECT_EQ(ClientRequestId(Request({})), "");
  const std::string id = NewRequestId();
  EXPECT_EQ(id.size(), 32u);
  EXPECT_NE(id, NewRequestId());
}

http1::ResponseHead Response(std::vector<http1::Field> fields) {
  http1::ResponseHead r;
  r.status = 200;
  r.reason = "OK";
  r.fields = std::move(fields);
  return r;
}

TEST(ForwardingTest, ClientHeadWithLengthAndRequestId) {
  http1::ResponseHead r = Response({{"Content-Type", "text/plain"},
                                    {"Content-Length", "12"},
                                    {"Connection", "keep-alive"},
                                    {"X-Request-Id", "theirs"}});
  r.content_length = 12;
  std::string out;
  AppendClientHead(r, ClientFraming{}, "ours", &out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
            "X-Request-Id: ours\r\n\r\n");
}

// Verify that a gzipped answer loses its length, says its encoding, varies on
// Accept-Encoding and weakens a strong ETag.
TEST(ForwardingTest, ClientHeadGzipChunked) {
  http1::ResponseHead r = Response(
      {{"Content-Length", "1000"}, {"ETag", "\"v1\""}, {"Vary", "Cookie"}, {"Server", "x"}});
  r.content_length = 1000;
  ClientFraming framing;
  framing.body = ClientFraming::Body::kChunked;
  framing.gzip = true;
  std::string out;
  AppendClientHead(r, framing, "id", &out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nETag: W/\"v1\"\r\nVary: Cookie, Accept-Encoding\r\nServer: x\r\n"
            "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nX-Request-Id: id\r\n\r\n");
}

TEST(ForwardingTest, ClientHeadCloseAndHttp10KeepAlive) {
  http1::ResponseHead r = Response({});
  r.status = 404;
  r.reason = "";
  ClientFraming framing;
  framing.body = ClientFraming::Body::kClose;
  framing.close = true;
  std::string out;
  AppendClientHead(r, framing, "id", &out);
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\nConnection: close\r\nX-Request-Id: id\r\n\r\n");

  r.content_length = 0;
  framing = ClientFraming{};
  framing.keep_alive_10 = true;
  out.clear();
  AppendClientHead(r, framing, "id", &out);
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos) << out;
}

// Verify that a HEAD answer keeps the length a GET would have.
TEST(ForwardingTest, ClientHeadForHeadKeepsLength) {
  http1::ResponseHead r = Response({{"Content-Length", "42"}});
  r.content_length = 42;
  ClientFraming framing;
  framing.body = ClientFraming::Body::kNone;
  std::string out;
  AppendClientHead(r, framing, "id", &out);
  EXPECT_NE(out.find("Content-Length: 42\r\n"), std::string::npos) << out;
}

TEST(ForwardingTest, Refusal) {
  std::string out;
  AppendRefusal(503, "app web has no healthy instance now", "id", 1, false, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 36\r\nRetry-After: 1\r\nX-Request-Id: id\r\n\r\n"
            "app web has no healthy instance now\n");
  out.clear();
  AppendRefusal(400, "bad", "", 1, true, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 4\r\nConnection: close\r\n\r\nbad\n");
}

// Verify that a redirect to https keeps host and target, is 301 for GET and
// HEAD and 308 for other methods (so a POST is repeated as a POST).
TEST(ForwardingTest, RedirectStatusByMethod) {
  http1::RequestHead r = Request({});
  std::string out;
  EXPECT_EQ(AppendRedirect(r, 8443, "", false, &out), 301);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 301 Moved Permanently\r\n")) << out;
  EXPECT_NE(out.find("\r\nLocation: https://web.test:8443/a?b=1\r\n"), std::string::npos) << out;
  r.method = "HEAD";
  out.clear();
  EXPECT_EQ(AppendRedirect(r, 443, "", false, &out), 301);
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    r.method = method;
    out.clear();
    EXPECT_EQ(AppendRedirect(r, 443, "", true, &out), 308) << method;
    EXPECT_TRUE(out.starts_with("HTTP/1.1 308 Permanent Redirect\r\n")) << out;
    EXPECT_NE(out.find("\r\nLocation: https://web.test/a?b=1\r\n"), std::string::npos) << out;
  }
}

TEST(ForwardingTest, Idempotent) {
  EXPECT_TRUE(IsIdempotent("GET"));
  EXPECT_TRUE(IsIdempotent("DELETE"));
  EXPECT_FALSE(IsIdempotent("POST"));
  EXPECT_FALSE(IsIdempotent("PATCH"));
}

}  // namespace
}  // namespace skiff::edge
