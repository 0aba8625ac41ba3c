#include "net/server_pool.h"

#include "net/http_syntax.h"

namespace skiff::net {
namespace {

// Methods are case-sensitive (RFC 9110 9.1).
bool IsRead(std::string_view method) { return method == "GET" || method == "HEAD"; }

// Whether a failed attempt may go to the next server (see the header).
bool SendOn(std::string_view method, const Error& error, ServerPool::Resend resend) {
  if (NeverSent(error)) return true;
  return (IsRead(method) || resend == ServerPool::Resend::kAlways) &&
         (error.code == ErrorCode::kUnavailable || error.code == ErrorCode::kDeadlineExceeded);
}

constexpr int kServiceUnavailable = 503;

// The clients of a comma-separated list; one whose empty URL fails every call
// when it names none (as the header documents).
std::vector<HttpClient> Parse(std::string_view urls, const TlsTrust& trust) {
  std::vector<HttpClient> clients;
  size_t start = 0;
  while (start <= urls.size()) {
    size_t comma = urls.find(',', start);
    if (comma == std::string_view::npos) comma = urls.size();
    std::string_view entry = TrimOws(urls.substr(start, comma - start));
    start = comma + 1;
    if (!entry.empty()) clients.emplace_back(std::string(entry), trust);
  }
  if (clients.empty()) clients.emplace_back("");
  return clients;
}

}  // namespace

ServerPool::ServerPool(std::string_view urls, TlsTrust trust) {
  state_->trust = std::move(trust);
  state_->clients = std::make_shared<const Clients>(Parse(urls, state_->trust));
}

void ServerPool::SetUrls(std::string_view urls) {
  auto clients = std::make_shared<const Clients>(Parse(urls, state_->trust));
  std::lock_guard lock(state_->mu);
  const std::string& current = (*state_->clients)[state_->current].base_url();
  size_t at = 0;
  for (size_t i = 0; i < clients->size(); ++i) {
    if ((*clients)[i].base_url() == current) at = i;
  }
  state_->clients = std::move(clients);
  state_->current = at;
}

std::pair<std::shared_ptr<const ServerPool::Clients>, size_t> ServerPool::Load() const {
  std::lock_guard lock(state_->mu);
  return {state_->clients, state_->current};
}

void ServerPool::Answered(const std::shared_ptr<const Clients>& clients, size_t at) const {
  std::lock_guard lock(state_->mu);
  if (state_->clients == clients) {
    state_->current = at;
    return;
  }
  // A call spanning a SetUrls still says who answers: without this, calls as
  // long as the list's refresh period would never move the pool.
  const std::string& url = (*clients)[at].base_url();
  for (size_t i = 0; i < state_->clients->size(); ++i) {
    if ((*state_->clients)[i].base_url() == url) state_->current = i;
  }
}

Status ServerPool::Check() const {
  const auto [clients, first] = Load();
  if (clients->size() == 1 && (*clients)[0].base_url().empty()) {
    return InvalidArgument(
        "no server address given: name one or more, separated by commas "
        "(http://host:port,http://host2:port)");
  }
  for (const auto& client : *clients) SKIFF_RETURN_IF_ERROR(client.Check());
  return OkStatus();
}

Result<HttpResponse> ServerPool::Do(std::string_view method, std::string_view path,
                                    std::string_view body, const HttpHeaders& headers,
                                    Duration timeout, Resend resend) const {
  const auto [clients, first] = Load();
  Result<HttpResponse> result = Unavailable("no server tried");
  for (size_t i = 0; i < clients->size(); ++i) {
    const size_t at = (first + i) % clients->size();
    result = (*clients)[at].Do(method, path, body, headers, timeout);
    const bool pass_on =
        result ? result->status == kServiceUnavailable : SendOn(method, result.error(), resend);
    if (!pass_on) {
      Answered(clients, at);
      return result;
    }
  }
  return result;
}

Result<int> ServerPool::Stream(std::string_view method, std::string_view path,
                               const HttpHeaders& headers,
                               const std::function<bool(std::string_view chunk)>& on_data,
                               Duration timeout, std::stop_token stop) const {
  const auto [clients, first] = Load();
  Result<int> result = Unavailable("no server tried");
  for (size_t i = 0; i < clients->size(); ++i) {
    const size_t at = (first + i) % clients->size();
    bool streamed = false;
    result = (*clients)[at].Stream(
        method, path, headers,
        [&](std::string_view chunk) {
          streamed = true;
          return on_data(chunk);
        },
        timeout, stop);
    // A non-2xx answer comes back as the Error it stands for (503 is
    // kUnavailable), so a stream cannot tell a 503 from a dropped connection:
    // only reads, which may go anywhere, are sent on after either.
    const bool pass_on = !streamed && !result && !stop.stop_requested() &&
                         SendOn(method, result.error(), Resend::kByMethod);
    if (!pass_on) {
      Answered(clients, at);
      return result;
    }
  }
  return result;
}

std::string ServerPool::current() const {
  const auto [clients, first] = Load();
  return (*clients)[first].base_url();
}

std::vector<std::string> ServerPool::urls() const {
  // Held by name: a temporary's list would die before the loop body when
  // SetUrls replaces it meanwhile.
  const auto [clients, first] = Load();
  std::vector<std::string> out;
  for (const auto& client : *clients) out.push_back(client.base_url());
  return out;
}

std::string ServerPool::ToString() const { return JoinUrls(urls()); }

std::string JoinUrls(const std::vector<std::string>& urls) {
  std::string out;
  for (const std::string& url : urls) {
    if (!out.empty()) out += ',';
    out += url;
  }
  return out;
}

}  // namespace skiff::net
