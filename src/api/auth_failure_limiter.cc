#include "api/auth_failure_limiter.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cmath>

#include "common/ids.h"

namespace skiff::api {

namespace {

// Distinct refused tokens remembered per address: a client cycling through
// more stale credentials than this counts again.
constexpr size_t kTriedPerAddress = 16;

std::string_view HostOf(std::string_view remote_address) {
  if (remote_address.starts_with('[')) {
    const size_t close = remote_address.find(']');
    if (close != std::string_view::npos) return remote_address.substr(1, close - 1);
  }
  const size_t colon = remote_address.rfind(':');
  // One colon: host:port; more: a bare IPv6 address.
  if (colon == std::string_view::npos || remote_address.find(':') != colon) return remote_address;
  return remote_address.substr(0, colon);
}

}  // namespace

std::string AddressKey(std::string_view remote_address) {
  const std::string host(HostOf(remote_address));
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(host, ec);
  if (ec) return host;
  if (address.is_v4()) return address.to_v4().to_string();
  const boost::asio::ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  }
  // One host may hold a whole /64: it is limited as one.
  boost::asio::ip::address_v6::bytes_type bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

double AuthFailureLimiter::LevelAt(const Bucket& bucket, MonoTime now) const {
  const double drained = std::chrono::duration<double>(now - bucket.at).count() /
                         std::chrono::duration<double>(options_.per_failure).count();
  return std::max(0.0, bucket.failures - std::max(0.0, drained));
}

AuthFailureLimiter::Bucket* AuthFailureLimiter::BucketOf(const std::string& key, MonoTime now) {
  if (auto it = buckets_.find(key); it != buckets_.end()) return &it->second;
  if (buckets_.size() >= options_.max_addresses) {
    // Drained buckets are the same as none; past them, the emptiest idle one
    // goes (a bucket with requests in flight is never dropped: its room
    // would be lost).
    std::erase_if(buckets_, [&](const auto& entry) {
      return entry.second.in_flight == 0 && LevelAt(entry.second, now) <= 0;
    });
    if (buckets_.size() >= options_.max_addresses) {
      auto emptiest = buckets_.end();
      for (auto it = buckets_.begin(); it != buckets_.end(); ++it) {
        if (it->second.in_flight > 0) continue;
        if (emptiest == buckets_.end() ||
            LevelAt(it->second, now) < LevelAt(emptiest->second, now)) {
          emptiest = it;
        }
      }
      if (emptiest == buckets_.end()) return nullptr;  // every one busy
      buckets_.erase(emptiest);
    }
  }
  Bucket& bucket = buckets_[key];
  bucket.at = now;
  return &bucket;
}

bool AuthFailureLimiter::GoodLately(const std::string& digest, MonoTime now) const {
  auto it = good_.find(digest);
  return it != good_.end() && now - it->second < options_.good_for;
}

AuthFailureLimiter::Admission AuthFailureLimiter::Admit(const std::string& address,
                                                        std::string_view token, MonoTime now) {
  Admission admission;
  if (options_.burst <= 0 || token.empty()) return admission;
  admission.digest = Sha256Hex(token);
  std::lock_guard lock(mu_);
  if (GoodLately(admission.digest, now)) return admission;
  auto it = buckets_.find(address);
  const bool repeat =
      it != buckets_.end() && std::find(it->second.tried.begin(), it->second.tried.end(),
                                        admission.digest) != it->second.tried.end();
  const double level = it == buckets_.end() ? 0 : LevelAt(it->second, now);
  const int in_flight = it == buckets_.end() ? 0 : it->second.in_flight;
  const auto refuse = [&](double wait_seconds) {
    admission.admitted = false;
    // Rounded up to whole seconds, less a hair of floating-point noise.
    admission.retry_after = std::chrono::seconds(
        std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait_seconds - 1e-6))));
    return admission;
  };
  if (level + in_flight + 1 > options_.burst) {
    // Room held by requests in flight comes back as they end, in moments.
    const double over = level + 1 - options_.burst;
    return refuse(over > 0 ? over * std::chrono::duration<double>(options_.per_failure).count()
                           : 1);
  }
  // A token refused here before cannot count again: it holds no room.
  if (!repeat) {
    Bucket* bucket = BucketOf(address, now);
    if (bucket == nullptr) {  // every address busy: a table full of guessers
      admission.table_full = true;
      return refuse(1);
    }
    bucket->in_flight++;
    admission.holds_room = true;
  }
  return admission;
}

void AuthFailureLimiter::Finish(const std::string& address, const Admission& admission,
                                Outcome outcome, MonoTime now) {
  if (admission.digest.empty()) return;
  std::lock_guard lock(mu_);
  if (outcome == Outcome::kAuthenticated) {
    if (good_.size() >= options_.max_good_tokens && !good_.contains(admission.digest)) {
      auto oldest = std::min_element(good_.begin(), good_.end(),
                                     [](auto& a, auto& b) { return a.second < b.second; });
      good_.erase(oldest);
    }
    good_[admission.digest] = now;
  }
  auto it = buckets_.find(address);
  if (it != buckets_.end() && admission.holds_room && it->second.in_flight > 0) {
    it->second.in_flight--;
  }
  if (outcome != Outcome::kRefused) return;
  Bucket* found = it != buckets_.end() ? &it->second : BucketOf(address, now);
  if (found == nullptr) return;
  Bucket& bucket = *found;
  if (std::find(bucket.tried.begin(), bucket.tried.end(), admission.digest) != bucket.tried.end()) {
    return;
  }
  bucket.failures = std::min<double>(LevelAt(bucket, now) + 1, options_.burst);
  bucket.at = now;
  bucket.tried.push_back(admission.digest);
  if (bucket.tried.size() > kTriedPerAddress) bucket.tried.pop_front();
}

size_t AuthFailureLimiter::size() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace skiff::api
