#include "runtime/annealing.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/clock.hpp"
#include "runtime/health.hpp"

namespace nca {
namespace {

TEST(Annealing, ParsesScheduleNames) {
  EXPECT_EQ(*parse_schedule("fixed"), AnnealingSchedule::fixed);
  EXPECT_EQ(*parse_schedule("adaptive"), AnnealingSchedule::adaptive);
  EXPECT_EQ(*parse_schedule("progressive"), AnnealingSchedule::progressive);
  auto bad = parse_schedule("Fixed ");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), ErrorCode::invalid_argument);
  EXPECT_NE(bad.error().message.find("fixed, adaptive or progressive"), std::string::npos);
  EXPECT_FALSE(parse_schedule("").ok());
  for (auto s :
       {AnnealingSchedule::fixed, AnnealingSchedule::adaptive, AnnealingSchedule::progressive}) {
    EXPECT_EQ(*parse_schedule(schedule_name(s)), s);
  }
}

TEST(Annealing, FixedIsIntensity) {
  EXPECT_DOUBLE_EQ(temperature(AnnealingSchedule::fixed, 0.5, 0.9, 100), 0.5);
  EXPECT_DOUBLE_EQ(temperature(AnnealingSchedule::fixed, 0.0, 0.9, 100), 0.0);
  EXPECT_DOUBLE_EQ(temperature(AnnealingSchedule::fixed, 3.0, 0, 0), 1.5) << "clamped";
  EXPECT_DOUBLE_EQ(temperature(AnnealingSchedule::fixed, 3.0, 0, 0, 2.0), 2.0);
  EXPECT_DOUBLE_EQ(temperature(AnnealingSchedule::fixed, -1.0, 0, 0), 0.0);
}

TEST(Annealing, AdaptiveFollowsMemoryPressure) {
  EXPECT_DOUBLE_EQ(temperature(AnnealingSchedule::adaptive, 0.5, 0.0, 10), 0.0);
  EXPECT_DOUBLE_EQ(temperature(AnnealingSchedule::adaptive, 0.5, 0.4, 10), 0.2);
  EXPECT_DOUBLE_EQ(temperature(AnnealingSchedule::adaptive, 0.5, 1.0, 10), 0.5);
  EXPECT_DOUBLE_EQ(temperature(AnnealingSchedule::adaptive, 1.0, 2.0, 10), 1.5) << "clamped";
  EXPECT_DOUBLE_EQ(
      temperature(AnnealingSchedule::adaptive, 0.5, std::numeric_limits<double>::quiet_NaN(), 0),
      0.0);
}

TEST(Annealing, ProgressiveDeepensWithIdleTime) {
  EXPECT_DOUBLE_EQ(temperature(AnnealingSchedule::progressive, 0.5, 1, 0), 0.0);
  EXPECT_NEAR(temperature(AnnealingSchedule::progressive, 0.5, 1, 6), 0.5 * (1 - std::exp(-1.0)),
              1e-12);
  double previous = -1;
  for (double h = 0; h <= 48; h += 6) {
    double t = temperature(AnnealingSchedule::progressive, 0.5, 1, h);
    EXPECT_GT(t, previous) << "strictly deeper at " << h << " h idle";
    previous = t;
  }
  EXPECT_NEAR(temperature(AnnealingSchedule::progressive, 0.5, 1, 1000), 0.5, 1e-9);
}

TEST(Annealing, MergeThresholdDropsWithTemperature) {
  EXPECT_DOUBLE_EQ(merge_threshold(0.95, 0), 0.95);
  EXPECT_NEAR(merge_threshold(0.95, 0.5), 0.90, 1e-12);
  EXPECT_NEAR(merge_threshold(0.95, 1.5), 0.80, 1e-12);
}

TEST(Annealing, HigherTemperatureDecaysHealthFaster) {
  HealthModel m;
  HealthValue h{60, 0};
  double cold = m.at(h, pb::STM, 10 * kUsPerHour, temperature(AnnealingSchedule::fixed, 0, 0, 0));
  double warm = m.at(h, pb::STM, 10 * kUsPerHour, temperature(AnnealingSchedule::fixed, 0.5, 0, 0));
  EXPECT_LT(warm, cold);
  EXPECT_NEAR(warm, 60 * std::exp(-0.05 * 10 * 1.5), 1e-9);
}

}  // namespace
}  // namespace nca
