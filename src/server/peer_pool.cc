#include "server/peer_pool.h"

#include <algorithm>

#include "common/logging.h"
#include "net/join_token.h"

namespace skiff::server {

std::vector<std::string> PeerUrls(const std::string& own,
                                  const std::vector<store::ServerRecord>& servers, Duration alive,
                                  std::vector<std::string>* in_clear) {
  const bool own_tls = own.starts_with("https://");
  Time newest{};
  for (const store::ServerRecord& s : servers) newest = std::max(newest, s.last_seen);
  std::vector<const store::ServerRecord*> others;
  for (const store::ServerRecord& s : servers) {
    if (s.leader || newest - s.last_seen <= alive) others.push_back(&s);
  }
  // The leader first (it takes every call of an agent or an edge), then the
  // others by id: an order that changes only when the servers do.
  std::sort(others.begin(), others.end(),
            [](const store::ServerRecord* a, const store::ServerRecord* b) {
              if (a->leader != b->leader) return a->leader;
              return a->id < b->id;
            });
  std::vector<std::string> urls{own};
  for (const store::ServerRecord* s : others) {
    if (s->address.empty()) continue;
    if (std::find(urls.begin(), urls.end(), s->address) != urls.end()) continue;
    if (own_tls && net::SendsInClear(s->address)) {
      if (in_clear != nullptr) in_clear->push_back(s->id + " (" + s->address + ")");
      continue;
    }
    urls.push_back(s->address);
  }
  return urls;
}

PeerPool::PeerPool(store::LeaderLease* lease, const Clock* clock, std::string own_url,
                   Duration interval, Duration alive, net::TlsTrust trust)
    : lease_(lease),
      clock_(clock),
      own_url_(std::move(own_url)),
      interval_(interval),
      alive_(alive),
      pool_(own_url_, std::move(trust)) {}

PeerPool::~PeerPool() { Stop(); }

Status PeerPool::Refresh() {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::ServerRecord> servers, lease_->ListServers());
  std::vector<std::string> in_clear;
  const std::string urls = net::JoinUrls(PeerUrls(own_url_, servers, alive_, &in_clear));
  std::lock_guard lock(mu_);
  // The same list is not given again: nothing would change but the pool's
  // list, which calls in flight then find replaced.
  if (urls == last_) return OkStatus();
  for (const std::string& server : in_clear) {
    SKIFF_LOG_WARN(
        "server: this server's agent and edge do not reach server {}: it advertises plain "
        "http:// off loopback, where their credentials would cross the network in clear (give "
        "it an https:// --advertise)",
        server);
  }
  SKIFF_LOG_INFO("server: this server's agent and edge reach the leader through {}", urls);
  pool_.SetUrls(urls);
  last_ = urls;
  return OkStatus();
}

void PeerPool::Start() {
  if (Status read = Refresh(); !read) {
    SKIFF_LOG_WARN("server: cannot read the servers' list yet: {}", read.error().ToString());
  }
  thread_ = std::thread([this] { Run(); });
}

void PeerPool::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeerPool::Run() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (clock_->WaitFor(cv_, lock, interval_, [this] { return stopping_; })) return;
    }
    if (Status read = Refresh(); !read) {
      SKIFF_LOG_DEBUG("server: cannot read the servers' list: {}", read.error().ToString());
    }
  }
}

}  // namespace skiff::server
