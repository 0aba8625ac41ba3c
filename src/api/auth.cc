#include "api/auth.h"

#include <fmt/format.h>

#include <cctype>

#include "api/join_tokens.h"
#include "auth/users.h"
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

namespace {

std::vector<std::string> HashesOf(const std::vector<std::string>& tokens) {
  std::vector<std::string> hashes;
  for (const std::string& t : tokens) {
    if (!t.empty()) hashes.push_back(Sha256Hex(t));
  }
  return hashes;
}

}  // namespace

TokenAuthenticator::TokenAuthenticator(std::vector<std::string> tokens, const JoinTokenStore* nodes,
                                       const auth::ApiTokenStore* api_tokens,
                                       const auth::UserStore* users)
    : TokenAuthenticator(HashesOf(tokens), nodes, api_tokens, users, true) {}

TokenAuthenticator::TokenAuthenticator(std::vector<std::string> hashes, const JoinTokenStore* nodes,
                                       const auth::ApiTokenStore* api_tokens,
                                       const auth::UserStore* users, bool)
    : hashes_(std::move(hashes)), nodes_(nodes), api_tokens_(api_tokens), users_(users) {}

std::unique_ptr<TokenAuthenticator> TokenAuthenticator::FromHashes(
    std::vector<std::string> hashes, const JoinTokenStore* nodes,
    const auth::ApiTokenStore* api_tokens, const auth::UserStore* users) {
  std::erase_if(hashes, [](const std::string& h) { return h.empty(); });
  return std::unique_ptr<TokenAuthenticator>(
      new TokenAuthenticator(std::move(hashes), nodes, api_tokens, users, true));
}

Result<Caller> TokenAuthenticator::Identify(const net::HttpRequest& request) const {
  const std::string token = BearerToken(request);
  if (token.empty()) {
    return Unauthenticated("missing bearer token: send \"Authorization: Bearer <token>\"");
  }
  if (users_ != nullptr && token.starts_with(auth::kSessionPrefix)) {
    return users_->Authenticate(token);
  }
  // Compared by hash, every one, so timing does not say which one matched.
  const std::string hash = Sha256Hex(token);
  bool admin = false;
  for (const std::string& h : hashes_) {
    if (SecureEquals(hash, h)) admin = true;
  }
  if (admin)
    return Caller{.role = auth::Role::kAdmin, .name = "admin", .credential = "admin-token"};
  if (api_tokens_ != nullptr && token.starts_with(auth::kApiTokenPrefix)) {
    return api_tokens_->Authenticate(token);
  }
  if (nodes_ != nullptr) {
    auto node = nodes_->NodeForCredential(token);
    if (!node) return tl::unexpected(node.error());  // the store did not answer
    if (*node) return Caller{.role = auth::Role::kNode, .name = **node, .credential = "node"};
    auto edge = nodes_->EdgeForCredential(token);
    if (!edge) return tl::unexpected(edge.error());
    if (*edge) return Caller{.role = auth::Role::kEdge, .name = **edge, .credential = "edge"};
  }
  return Unauthenticated("the bearer token was refused");
}

}  // namespace skiff::api
