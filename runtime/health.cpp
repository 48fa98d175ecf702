#include "runtime/health.hpp"

#include <algorithm>
#include <cmath>

namespace nca {

double HealthModel::initial(double importance) const {
  return std::clamp(p_.initial_base + p_.initial_scale * std::clamp(importance, 0.0, 1.0), 0.0,
                    100.0);
}

double HealthModel::decay_rate(pb::Tier tier) const {
  switch (tier) {
    case pb::MTM: return p_.decay_mtm;
    case pb::LTM: return p_.decay_ltm;
    default: return p_.decay_stm;
  }
}

double HealthModel::at(const HealthValue& h, pb::Tier tier, TimeUs now_us,
                       double temperature) const {
  double hours = static_cast<double>(std::max<TimeUs>(0, now_us - h.at_us)) / kUsPerHour;
  double v = h.value * std::exp(-decay_rate(tier) * hours * (1.0 + std::max(0.0, temperature)));
  return std::clamp(v, 0.0, 100.0);
}

HealthValue HealthModel::reinforced(const HealthValue& h, pb::Tier tier, TimeUs now_us,
                                    double temperature) const {
  double v = at(h, tier, now_us, temperature);
  v = v + (100.0 - v) * p_.reinforce;
  return HealthValue{std::clamp(v, 0.0, 100.0), std::max(now_us, h.at_us)};
}

}  // namespace nca
