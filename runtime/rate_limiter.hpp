// runtime/rate_limiter.hpp: per-tenant token buckets (limits.rate-per-tenant, burst-per-tenant).
//
// Each tenant's bucket holds up to `burst` tokens and refills at `rate` per second; a request takes
// one. An empty bucket refuses the request and says how long until the next token, so a client
// can back off by exactly that much. The limit is per node: a tenant whose requests spread over n
// nodes gets up to n times the rate (docs/security.md). Buckets of tenants idle long enough to be
// full again are forgotten when the table grows past `max_tenants`, so memory stays bounded.
// Time comes from the caller. Not thread-safe: one owner (the api actor).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "runtime/clock.hpp"

namespace nca {

class RateLimiter {
 public:
  // rate <= 0: every request is admitted.
  RateLimiter(double rate_per_s, int64_t burst, size_t max_tenants = 100000);

  bool enabled() const { return rate_ > 0; }

  // 0 when admitted; otherwise the microseconds until the tenant's next token.
  TimeUs admit(std::string_view tenant, TimeUs now_us);

  size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens;
    TimeUs at_us;
  };
  void forget_idle(TimeUs now_us);

  double rate_;
  double burst_;
  size_t max_tenants_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace nca
