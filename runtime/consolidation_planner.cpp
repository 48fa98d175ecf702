#include "runtime/consolidation_planner.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "runtime/annealing.hpp"

namespace nca {

const char* action_name(ConsolidationAction::Kind kind) {
  switch (kind) {
    case ConsolidationAction::promote:
      return "promote";
    case ConsolidationAction::demote:
      return "demote";
    case ConsolidationAction::forget:
      return "forget";
    case ConsolidationAction::merge:
      return "merge";
  }
  return "promote";
}

TimeUs ConsolidationCursor::last_checked(const std::string& id) const {
  auto it = last_checked_.find(id);
  return it == last_checked_.end() ? 0 : it->second;
}

void ConsolidationCursor::advance(const ConsolidationPlan& plan, TimeUs now) {
  for (const auto& id : plan.checked_ids) last_checked_[id] = now;
  for (const auto& a : plan.actions) {
    if (a.kind == ConsolidationAction::forget || a.kind == ConsolidationAction::merge) {
      last_checked_.erase(a.id);
    }
  }
}

namespace {

struct Entry {
  const ItemMeta* meta;
  pb::Tier tier;
  double health;
};

pb::Tier tier_above(pb::Tier t) { return t == pb::STM ? pb::MTM : pb::LTM; }
pb::Tier tier_below(pb::Tier t) { return t == pb::LTM ? pb::MTM : pb::STM; }

class Planner {
 public:
  Planner(const MemoryPolicy& policy, const HealthModel& health, double temperature, TimeUs now,
          const ConsolidationOptions& options)
      : policy_(policy), health_(health), t_(temperature), now_(now), options_(options) {}

  Status load(const ConsolidationInput& items) {
    for (auto [tier, list] : {std::pair{pb::STM, &items.stm}, std::pair{pb::MTM, &items.mtm},
                              std::pair{pb::LTM, &items.ltm}}) {
      for (const ItemMeta* m : *list) {
        if (m == nullptr) {
          return make_error(ErrorCode::invalid_argument, "consolidation input has a null item");
        }
        if (m->id.empty()) {
          return make_error(ErrorCode::invalid_argument, "consolidation input has an empty id");
        }
        Entry e{m, tier, health_.at(m->health, tier, now_, t_)};
        if (!entries_.emplace(m->id, e).second) {
          return make_error(ErrorCode::invalid_argument,
                            "item " + m->id + " appears twice in the consolidation input");
        }
        count_[tier] += 1;
      }
    }
    return Status{};
  }

  // Rule 1: TTL and health for the oldest-checked batch.
  void check_batch(const ConsolidationCursor& cursor) {
    std::vector<std::tuple<TimeUs, std::string>> order;
    order.reserve(entries_.size());
    for (const auto& [id, e] : entries_) order.emplace_back(cursor.last_checked(id), id);
    size_t n = std::min(options_.batch_size, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end());
    for (size_t i = 0; i < n; ++i) {
      const std::string& id = std::get<1>(order[i]);
      plan_.checked_ids.push_back(id);
      check_one(entries_.at(id));
    }
    plan_.counts.checked = n;
  }

  // Rule 2: capacity, top tier first so a demotion counts against the tier it lands in.
  void enforce_capacity() {
    for (pb::Tier tier : {pb::LTM, pb::MTM, pb::STM}) {
      size_t cap = policy_.capacity(tier);
      if (cap == 0 || count_[tier] <= cap) continue;
      size_t excess = std::min(count_[tier] - cap, options_.batch_size);
      std::vector<const Entry*> candidates;
      for (const auto& [id, e] : entries_) {
        if (e.tier == tier && acted_.count(id) == 0) candidates.push_back(&e);
      }
      auto least_healthy_first = [](const Entry* x, const Entry* y) {
        return std::tie(x->health, x->meta->stored_at_us, x->meta->id) <
               std::tie(y->health, y->meta->stored_at_us, y->meta->id);
      };
      size_t n = std::min(excess, candidates.size());
      std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n),
                        candidates.end(), least_healthy_first);
      for (size_t i = 0; i < n; ++i) {
        const Entry& e = *candidates[i];
        if (tier == pb::STM) {
          forget(e, "capacity");
        } else {
          move(e, tier_below(tier), "capacity");
        }
        plan_.counts.capacity_evicted += 1;
      }
    }
  }

  // Rule 3: near-duplicates among the checked items that are staying put.
  void merge_duplicates(const SimilarItems& similar) {
    plan_.merge_threshold = merge_threshold(options_.merge_base, t_);
    if (!similar) return;
    std::set<std::string> survivors;
    for (const auto& id : plan_.checked_ids) {
      if (acted_.count(id) != 0) continue;
      const Entry& self = entries_.at(id);
      for (const auto& [other_id, cosine] : similar(id, options_.merge_candidates)) {
        if (acted_.count(id) != 0) break;  // merged away by an earlier candidate
        if (other_id == id || !std::isfinite(cosine) || cosine < plan_.merge_threshold) continue;
        auto other_it = entries_.find(other_id);
        if (other_it == entries_.end()) continue;
        const Entry& other = other_it->second;
        if (other.tier != self.tier || acted_.count(other_id) != 0) continue;
        bool self_wins = std::make_tuple(-self.health, self.meta->stored_at_us, self.meta->id) <
                         std::make_tuple(-other.health, other.meta->stored_at_us, other.meta->id);
        const Entry& keep = self_wins ? self : other;
        const Entry& gone = self_wins ? other : self;
        if (survivors.count(gone.meta->id) != 0) continue;  // no chains within one tick
        ConsolidationAction a;
        a.kind = ConsolidationAction::merge;
        a.id = gone.meta->id;
        a.from = a.to = self.tier;
        a.reason = "duplicate";
        a.merge_into = keep.meta->id;
        add(std::move(a));
        survivors.insert(keep.meta->id);
        plan_.counts.merged += 1;
      }
    }
  }

  ConsolidationPlan take() {
    plan_.temperature = t_;
    return std::move(plan_);
  }

 private:
  void check_one(const Entry& e) {
    const ItemMeta& m = *e.meta;
    const HealthParams& hp = health_.params();
    TimeUs ttl = policy_.ttl_us(e.tier);
    TimeUs since = m.last_access_us != 0 ? m.last_access_us : m.stored_at_us;
    bool expired = ttl > 0 && now_ - since >= ttl;
    if (e.health >= hp.promote) {
      if (e.tier != pb::LTM) move(e, tier_above(e.tier), expired ? "ttl" : "health");
      return;
    }
    if (e.health < hp.demote || expired) {
      const char* reason = e.health < hp.demote ? "low_health" : "ttl";
      if (e.tier == pb::STM) {
        forget(e, reason);
      } else {
        move(e, tier_below(e.tier), reason);
      }
    }
  }

  void move(const Entry& e, pb::Tier to, const char* reason) {
    ConsolidationAction a;
    a.kind = to > e.tier ? ConsolidationAction::promote : ConsolidationAction::demote;
    a.id = e.meta->id;
    a.from = e.tier;
    a.to = to;
    a.reason = reason;
    count_[e.tier] -= 1;
    count_[to] += 1;
    if (a.kind == ConsolidationAction::promote) {
      plan_.counts.promoted += 1;
    } else {
      plan_.counts.demoted += 1;
    }
    add(std::move(a));
  }

  void forget(const Entry& e, const char* reason) {
    ConsolidationAction a;
    a.kind = ConsolidationAction::forget;
    a.id = e.meta->id;
    a.from = a.to = e.tier;
    a.reason = reason;
    count_[e.tier] -= 1;
    plan_.counts.forgotten += 1;
    add(std::move(a));
  }

  void add(ConsolidationAction a) {
    acted_.insert(a.id);
    plan_.actions.push_back(std::move(a));
  }

  const MemoryPolicy& policy_;
  const HealthModel& health_;
  double t_;
  TimeUs now_;
  ConsolidationOptions options_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<int, size_t> count_;
  std::set<std::string> acted_;
  ConsolidationPlan plan_;
};

}  // namespace

Result<ConsolidationPlan> plan_consolidation(const ConsolidationInput& items,
                                             const MemoryPolicy& policy, const HealthModel& health,
                                             double temperature, TimeUs now,
                                             const ConsolidationOptions& options,
                                             const ConsolidationCursor& cursor,
                                             const SimilarItems& similar) {
  if (options.batch_size == 0) {
    return make_error(ErrorCode::invalid_argument, "lymphatic batch size must be at least 1");
  }
  if (!std::isfinite(temperature) || temperature < 0) {
    return make_error(ErrorCode::invalid_argument,
                      "annealing temperature must be a finite number >= 0");
  }
  if (!std::isfinite(options.merge_base)) {
    return make_error(ErrorCode::invalid_argument, "merge threshold base must be finite");
  }
  Planner planner(policy, health, temperature, now, options);
  if (auto s = planner.load(items); !s.ok()) return s.error();
  planner.check_batch(cursor);
  planner.enforce_capacity();
  planner.merge_duplicates(similar);
  return planner.take();
}

}  // namespace nca
