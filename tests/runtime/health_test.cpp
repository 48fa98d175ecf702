#include "runtime/health.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace nca {
namespace {

TEST(HealthModel, InitialFollowsImportance) {
  HealthModel m;
  EXPECT_DOUBLE_EQ(m.initial(0.0), 40.0);
  EXPECT_DOUBLE_EQ(m.initial(0.5), 60.0);
  EXPECT_DOUBLE_EQ(m.initial(1.0), 80.0);
  EXPECT_DOUBLE_EQ(m.initial(7.0), 80.0) << "importance is clamped to [0,1]";
}

TEST(HealthModel, DecaysExponentiallyPerTierAndTemperature) {
  HealthModel m;
  HealthValue h{80, 0};
  TimeUs ten_hours = 10 * kUsPerHour;
  EXPECT_NEAR(m.at(h, pb::STM, ten_hours), 80 * std::exp(-0.05 * 10), 1e-9);
  EXPECT_NEAR(m.at(h, pb::MTM, ten_hours), 80 * std::exp(-0.01 * 10), 1e-9);
  EXPECT_NEAR(m.at(h, pb::LTM, ten_hours), 80 * std::exp(-0.001 * 10), 1e-9);
  EXPECT_NEAR(m.at(h, pb::STM, ten_hours, 1.0), 80 * std::exp(-0.05 * 10 * 2), 1e-9);
  EXPECT_DOUBLE_EQ(m.at(h, pb::STM, -kUsPerHour), 80) << "time before the stamp is no time";
}

TEST(HealthModel, ReinforceMovesTowardHundredAndRestamps) {
  HealthModel m;
  HealthValue h{50, 0};
  auto r = m.reinforced(h, pb::LTM, 0);
  EXPECT_DOUBLE_EQ(r.value, 60.0);
  EXPECT_EQ(r.at_us, 0);
  auto later = m.reinforced(h, pb::STM, 2 * kUsPerHour);
  double decayed = 50 * std::exp(-0.1);
  EXPECT_NEAR(later.value, decayed + (100 - decayed) * 0.2, 1e-9);
  EXPECT_EQ(later.at_us, 2 * kUsPerHour);
  HealthValue full{100, 0};
  EXPECT_DOUBLE_EQ(m.reinforced(full, pb::LTM, 0).value, 100.0);
}

}  // namespace
}  // namespace nca
