// runtime/health.hpp: the health rules of DESIGN §2, as pure functions of their inputs.
//
// Health ∈ [0,100] is stored as (value, time of value) and decayed lazily:
//   h(t) = h0 · exp(−rate · hours · (1 + T))
// with the tier's rate and the persona's annealing temperature T. Access reinforces: h ← h + (100 − h)·r.
// HealthModel is an immutable value; all methods are const and thread-safe.
#pragma once

#include "proto/neuroca.pb.h"
#include "runtime/clock.hpp"

namespace nca {

struct HealthParams {
  double initial_base = 40;
  double initial_scale = 40;
  double decay_stm = 0.05;
  double decay_mtm = 0.01;
  double decay_ltm = 0.001;
  double promote = 80;
  double demote = 20;
  double reinforce = 0.2;
};

// A stored health value: the value at `at_us`.
struct HealthValue {
  double value = 0;
  TimeUs at_us = 0;
};

class HealthModel {
 public:
  explicit HealthModel(HealthParams params = {}) : p_(params) {}

  const HealthParams& params() const { return p_; }
  double initial(double importance) const;
  double decay_rate(pb::Tier tier) const;
  // The value at `now_us`; never increases, never below 0. Times before at_us count as no time passed.
  double at(const HealthValue& h, pb::Tier tier, TimeUs now_us, double temperature = 0) const;
  // Decays to now, then reinforces; the result is stamped `now_us`.
  HealthValue reinforced(const HealthValue& h, pb::Tier tier, TimeUs now_us,
                         double temperature = 0) const;

 private:
  HealthParams p_;
};

}  // namespace nca
