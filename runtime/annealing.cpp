#include "runtime/annealing.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace nca {

namespace {
double non_negative(double x) { return std::isfinite(x) && x > 0 ? x : 0.0; }
}  // namespace

Result<AnnealingSchedule> parse_schedule(std::string_view name) {
  if (name == "fixed") return AnnealingSchedule::fixed;
  if (name == "adaptive") return AnnealingSchedule::adaptive;
  if (name == "progressive") return AnnealingSchedule::progressive;
  return make_error(
      ErrorCode::invalid_argument,
      "unknown annealing schedule '" + std::string(name) + "': use fixed, adaptive or progressive");
}

const char* schedule_name(AnnealingSchedule schedule) {
  switch (schedule) {
    case AnnealingSchedule::fixed:
      return "fixed";
    case AnnealingSchedule::adaptive:
      return "adaptive";
    case AnnealingSchedule::progressive:
      return "progressive";
  }
  return "fixed";
}

double temperature(AnnealingSchedule schedule, double intensity, double memory_pressure,
                   double idle_hours, double max_temperature) {
  double i = non_negative(intensity);
  double t = 0;
  switch (schedule) {
    case AnnealingSchedule::fixed:
      t = i;
      break;
    case AnnealingSchedule::adaptive:
      t = i * non_negative(memory_pressure);
      break;
    case AnnealingSchedule::progressive:
      t = i * (1.0 - std::exp(-non_negative(idle_hours) / 6.0));
      break;
  }
  return std::clamp(t, 0.0, non_negative(max_temperature));
}

double merge_threshold(double base, double temperature) {
  return base - 0.1 * non_negative(temperature);
}

}  // namespace nca
