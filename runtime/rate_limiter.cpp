#include "runtime/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace nca {

RateLimiter::RateLimiter(double rate_per_s, int64_t burst, size_t max_tenants)
    : rate_(rate_per_s),
      burst_(static_cast<double>(std::max<int64_t>(burst, 1))),
      max_tenants_(std::max<size_t>(max_tenants, 1)) {}

void RateLimiter::forget_idle(TimeUs now_us) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double refilled = it->second.tokens + rate_ * double(now_us - it->second.at_us) / 1e6;
    it = refilled >= burst_ ? buckets_.erase(it) : std::next(it);
  }
}

TimeUs RateLimiter::admit(std::string_view tenant, TimeUs now_us) {
  if (rate_ <= 0) return 0;
  auto it = buckets_.find(std::string(tenant));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_tenants_) forget_idle(now_us);
    it = buckets_.emplace(std::string(tenant), Bucket{burst_, now_us}).first;
  }
  Bucket& b = it->second;
  if (now_us > b.at_us) {
    b.tokens = std::min(burst_, b.tokens + rate_ * double(now_us - b.at_us) / 1e6);
    b.at_us = now_us;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max<TimeUs>(1, static_cast<TimeUs>(std::ceil((1.0 - b.tokens) / rate_ * 1e6)));
}

}  // namespace nca
