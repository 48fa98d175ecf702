#include "runtime/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace nca {
namespace {

TEST(RateLimiter, ABurstThenTheRate) {
  RateLimiter limiter(10, 5);  // 10/s, burst 5
  TimeUs t = 1'000'000;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.admit("acme", t), 0) << i;
  TimeUs wait = limiter.admit("acme", t);
  EXPECT_EQ(wait, 100'000);  // one token every 100 ms
  EXPECT_GT(limiter.admit("acme", t + wait - 1), 0);
  EXPECT_EQ(limiter.admit("acme", t + wait), 0);
  // One second later: 10 more tokens, capped at the burst.
  TimeUs later = t + wait + 1'000'000;
  int admitted = 0;
  for (int i = 0; i < 20; ++i) admitted += limiter.admit("acme", later) == 0;
  EXPECT_EQ(admitted, 5);
}

TEST(RateLimiter, TenantsHaveTheirOwnBuckets) {
  RateLimiter limiter(1, 1);
  EXPECT_EQ(limiter.admit("a", 0), 0);
  EXPECT_GT(limiter.admit("a", 0), 0);
  EXPECT_EQ(limiter.admit("b", 0), 0);
}

TEST(RateLimiter, OffAdmitsEverything) {
  RateLimiter limiter(0, 1);
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(limiter.admit("a", 0), 0);
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(RateLimiter, ForgetsIdleTenantsWhenTheTableIsFull) {
  RateLimiter limiter(1000, 2, 100);
  for (int i = 0; i < 100; ++i) limiter.admit("t" + std::to_string(i), 0);
  EXPECT_EQ(limiter.tracked(), 100u);
  // Ten seconds on, every bucket is full again: the next new tenant clears them out.
  limiter.admit("new", 10'000'000);
  EXPECT_EQ(limiter.tracked(), 1u);
  // A tenant still short of tokens is kept, so forgetting never hands out a fresh burst early.
  RateLimiter busy(1, 2, 2);
  busy.admit("a", 0);
  busy.admit("a", 0);
  busy.admit("b", 0);
  busy.admit("c", 0);
  EXPECT_GT(busy.admit("a", 0), 0);
}

}  // namespace
}  // namespace nca
