#include "net/server_pool.h"

#include "net/http_syntax.h"

namespace skiff::net {
namespace {

// Methods are case-sensitive (RFC 9110 9.1).
bool IsRead(std::string_view method) { return method == "GET" || method == "HEAD"; }

// Whether a failed attempt may go to the next server (see the header).
bool SendOn(std::string_view method, const Error& error) {
  if (NeverSent(error)) return true;
  return IsRead(method) &&
         (error.code == ErrorCode::kUnavailable || error.code == ErrorCode::kDeadlineExceeded);
}

constexpr int kServiceUnavailable = 503;

}  // namespace

ServerPool::ServerPool(std::string_view urls) {
  size_t start = 0;
  while (start <= urls.size()) {
    size_t comma = urls.find(',', start);
    if (comma == std::string_view::npos) comma = urls.size();
    std::string_view entry = TrimOws(urls.substr(start, comma - start));
    start = comma + 1;
    if (!entry.empty()) clients_.emplace_back(std::string(entry));
  }
  // None named: one client whose empty URL fails every call, as documented.
  if (clients_.empty()) clients_.emplace_back("");
}

Status ServerPool::Check() const {
  if (clients_.size() == 1 && clients_[0].base_url().empty()) {
    return InvalidArgument(
        "no server address given: name one or more, separated by commas "
        "(http://host:port,http://host2:port)");
  }
  for (const auto& client : clients_) SKIFF_RETURN_IF_ERROR(client.Check());
  return OkStatus();
}

Result<HttpResponse> ServerPool::Do(std::string_view method, std::string_view path,
                                    std::string_view body, const HttpHeaders& headers,
                                    Duration timeout) const {
  const size_t first = current_->load();
  Result<HttpResponse> result = Unavailable("no server tried");
  for (size_t i = 0; i < clients_.size(); ++i) {
    const size_t at = (first + i) % clients_.size();
    result = clients_[at].Do(method, path, body, headers, timeout);
    const bool pass_on =
        result ? result->status == kServiceUnavailable : SendOn(method, result.error());
    if (!pass_on) {
      current_->store(at);
      return result;
    }
  }
  return result;
}

Result<int> ServerPool::Stream(std::string_view method, std::string_view path,
                               const HttpHeaders& headers,
                               const std::function<bool(std::string_view chunk)>& on_data,
                               Duration timeout, std::stop_token stop) const {
  const size_t first = current_->load();
  Result<int> result = Unavailable("no server tried");
  for (size_t i = 0; i < clients_.size(); ++i) {
    const size_t at = (first + i) % clients_.size();
    bool streamed = false;
    result = clients_[at].Stream(
        method, path, headers,
        [&](std::string_view chunk) {
          streamed = true;
          return on_data(chunk);
        },
        timeout, stop);
    // A non-2xx answer comes back as the Error it stands for (503 is
    // kUnavailable), so a stream cannot tell a 503 from a dropped connection:
    // only reads, which may go anywhere, are sent on after either.
    const bool pass_on =
        !streamed && !result && !stop.stop_requested() && SendOn(method, result.error());
    if (!pass_on) {
      current_->store(at);
      return result;
    }
  }
  return result;
}

const std::string& ServerPool::current() const { return clients_[current_->load()].base_url(); }

std::vector<std::string> ServerPool::urls() const {
  std::vector<std::string> out;
  for (const auto& client : clients_) out.push_back(client.base_url());
  return out;
}

std::string ServerPool::ToString() const {
  std::string out;
  for (const auto& client : clients_) {
    if (!out.empty()) out += ',';
    out += client.base_url();
  }
  return out;
}

}  // namespace skiff::net
