// runtime/annealing.hpp: temporal annealing (DESIGN §2): the temperature T a persona's
// consolidation tick runs at, from the configured schedule and intensity, and how T loosens the
// merge threshold.
//
// T raises health decay (h·exp(−rate·hours·(1 + T)), see HealthModel) and lowers the cosine a pair
// of near-duplicates needs to merge. Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "nca/result.hpp"

namespace nca {

enum class AnnealingSchedule { fixed, adaptive, progressive };

// "fixed", "adaptive" or "progressive".
Result<AnnealingSchedule> parse_schedule(std::string_view name);
const char* schedule_name(AnnealingSchedule schedule);

// fixed: T = I; adaptive: T = I × memory_pressure (max over tiers of count/capacity); progressive:
// T = I × (1 − exp(−idle_hours / 6)). Clamped to [0, max_temperature]; negative or non-finite
// inputs count as 0 so a bad reading cools the persona rather than heating it.
double temperature(AnnealingSchedule schedule, double intensity, double memory_pressure,
                   double idle_hours, double max_temperature = 1.5);

// The cosine at or above which two items of a tier merge: base − 0.1·T.
double merge_threshold(double base, double temperature);

}  // namespace nca
