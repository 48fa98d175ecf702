#include "runtime/memory_guard.hpp"

#include <gtest/gtest.h>

namespace nca {
namespace {

TEST(MemoryGuard, RefusesAboveTheMarkAndSamplesAtMostEveryQuarterSecond) {
  ManualClock clock;
  uint64_t rss = 100;
  int samples = 0;
  MemoryGuard guard(150, &clock, [&] {
    ++samples;
    return rss;
  });
  EXPECT_FALSE(guard.under_pressure());
  rss = 200;
  EXPECT_FALSE(guard.under_pressure()) << "the last sample still counts";
  EXPECT_EQ(samples, 1);
  clock.advance_us(250'000);
  EXPECT_TRUE(guard.under_pressure());
  EXPECT_EQ(guard.last_rss(), 200u);
  rss = 120;
  clock.advance_us(250'000);
  EXPECT_FALSE(guard.under_pressure());
  EXPECT_EQ(samples, 3);
}

TEST(MemoryGuard, DefaultsToMostOfWhatTheProcessMayUse) {
  ManualClock clock;
  MemoryGuard guard(0, &clock);
  uint64_t available = MemoryGuard::memory_available();
  ASSERT_GT(available, 0u);
  EXPECT_EQ(guard.high(), available / 100 * 85);
  EXPECT_GT(MemoryGuard::resident_bytes(), 0u);
  EXPECT_FALSE(guard.under_pressure()) << "a test process is far below 85% of the machine";
}

}  // namespace
}  // namespace nca
