#include "api/auth.h"

#include <cctype>

#include "api/join_tokens.h"
#include "common/ids.h"

namespace skiff::api {

std::string BearerToken(const net::HttpRequest& request) {
  std::string_view h = request.Header("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (h.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(h[i])) != kScheme[i]) return {};
  }
  h.remove_prefix(kScheme.size());
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  return std::string(h);
}

TokenAuthenticator::TokenAuthenticator(std::vector<std::string> tokens, const JoinTokenStore* nodes)
    : tokens_(std::move(tokens)), nodes_(nodes) {}

Result<Caller> TokenAuthenticator::Identify(const net::HttpRequest& request) const {
  Status admin = Authenticate(request);
  if (admin) return Caller{true, ""};
  if (nodes_ != nullptr) {
    if (auto node = nodes_->NodeForCredential(BearerToken(request))) return Caller{false, *node};
  }
  return tl::unexpected(admin.error());
}

Status TokenAuthenticator::Authenticate(const net::HttpRequest& request) const {
  std::string token = BearerToken(request);
  if (token.empty()) {
    return Unauthenticated("missing bearer token: send \"Authorization: Bearer <token>\"");
  }
  // Every configured token is compared, so timing does not say which one matched.
  bool ok = false;
  for (const std::string& t : tokens_) {
    if (!t.empty() && SecureEquals(token, t)) ok = true;
  }
  if (!ok) return Unauthenticated("the bearer token was refused");
  return OkStatus();
}

}  // namespace skiff::api
