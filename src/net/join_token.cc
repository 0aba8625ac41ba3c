#include "net/join_token.h"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <cctype>

#include "net/http_syntax.h"

namespace skiff::net {
namespace {

constexpr size_t kFingerprintChars = 64;

bool IsLowerHex(std::string_view text) {
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

}  // namespace

ParsedJoinToken ParseJoinToken(std::string_view token) {
  const size_t head = kJoinTokenVersion.size() + 1;  // "SKIFF1-"
  if (token.size() > head + kFingerprintChars + 1 && token.starts_with(kJoinTokenVersion) &&
      token[head - 1] == '-' && token[head + kFingerprintChars] == '-') {
    std::string_view fingerprint = token.substr(head, kFingerprintChars);
    if (IsLowerHex(fingerprint)) {
      return {std::string(fingerprint), std::string(token.substr(head + kFingerprintChars + 1))};
    }
  }
  return {"", std::string(token)};
}

std::string FormatJoinToken(std::string_view ca_fingerprint, std::string_view secret) {
  if (ca_fingerprint.empty()) return std::string(secret);
  return std::string(kJoinTokenVersion) + "-" + std::string(ca_fingerprint) + "-" +
         std::string(secret);
}

bool IsCaFingerprint(std::string_view text) {
  return text.size() == kFingerprintChars && IsLowerHex(text);
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && address.is_loopback();
}

bool SendsInClear(std::string_view url) {
  auto parsed = boost::urls::parse_uri(TrimOws(url));
  return parsed && parsed->scheme() == "http" && !IsLoopbackHost(parsed->host_address());
}

Result<TlsTrust> TrustForSecrets(std::string_view servers, const std::string& ca_file,
                                 const std::string& ca_fingerprint) {
  size_t start = 0;
  while (start < servers.size()) {
    size_t comma = servers.find(',', start);
    if (comma == std::string_view::npos) comma = servers.size();
    std::string_view entry = TrimOws(servers.substr(start, comma - start));
    start = comma + 1;
    if (SendsInClear(entry)) {
      return FailedPrecondition(
          "refusing to send a token or credential in clear to " + std::string(entry) +
          ": use the server's https:// URL (it serves HTTPS off loopback unless started with "
          "--insecure-http)");
    }
  }
  if (!ca_file.empty()) return TlsTrust::FromCaFile(ca_file);
  if (!ca_fingerprint.empty() && !IsCaFingerprint(ca_fingerprint)) {
    return InvalidArgument("CA fingerprint \"" + ca_fingerprint +
                           "\" is not a SHA-256 in 64 lowercase hex digits");
  }
  return TlsTrust{.ca_fingerprint = ca_fingerprint};
}

}  // namespace skiff::net
