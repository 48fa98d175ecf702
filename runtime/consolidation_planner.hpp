// runtime/consolidation_planner.hpp: what one lymphatic tick (DESIGN §2) does to one persona,
// decided without touching storage.
//
// plan_consolidation reads the three tiers' item tables and returns actions (promote, demote,
// forget, merge) for the caller to apply durably; it changes nothing itself. Rules, in order:
//   1. TTL and health, for at most batch_size items, oldest-checked first (the cursor): health ≥
//   promote
//      moves an item one tier up (LTM stays); an item whose TTL ran out since its last access (or
//      its storing, if never accessed) is promoted when healthy, otherwise forgotten in STM and
//      demoted above; health < demote demotes (forgets in STM). Health is evaluated at `now` with
//      temperature T.
//   2. Capacity, counting the plan's own moves: the least healthy items of an over-full tier go
//   first
//      (demoted from MTM and LTM, forgotten from STM), processed LTM → MTM → STM so demotions count
//      against the tier below. At most batch_size evictions per tier per tick; an overflow drains
//      over ticks. Choosing them evaluates the health of the whole tier (arithmetic only, no
//      storage reads).
//   3. Merging: each checked item that is not moving asks `similar` for its nearest items in the
//   same tier;
//      a pair at cosine ≥ merge_base − 0.1·T merges into the healthier (ties: older stored_at, then
//      lower id). No item gets two actions in one tick and a merge never chains (a survivor is not
//      merged away).
// Pure and thread-safe; ConsolidationCursor is a plain value owned by the caller (not thread-safe).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"
#include "runtime/clock.hpp"
#include "runtime/health.hpp"
#include "runtime/memory_policy.hpp"
#include "runtime/tier.hpp"

namespace nca {

struct ConsolidationAction {
  enum Kind { promote, demote, forget, merge };
  Kind kind = promote;
  std::string id;
  pb::Tier from = pb::STM;
  pb::Tier to = pb::STM;   // for forget: from; for merge: the shared tier
  std::string reason;      // "health", "ttl", "low_health", "capacity", "duplicate"
  std::string merge_into;  // merge only: the surviving item
};

const char* action_name(ConsolidationAction::Kind kind);

struct ConsolidationCounts {
  size_t promoted = 0;
  size_t demoted = 0;
  size_t forgotten = 0;
  size_t merged = 0;
  size_t capacity_evicted = 0;  // also counted in demoted or forgotten
  size_t checked = 0;
};

struct ConsolidationPlan {
  std::vector<ConsolidationAction> actions;
  ConsolidationCounts counts;
  std::vector<std::string> checked_ids;  // the batch whose TTL/health rules ran, for the cursor
  double temperature = 0;
  double merge_threshold = 0;
};

// The items of one persona, by tier (Tier::items() gives these). Pointers must be non-null and stay
// valid for the call; an id may appear in one tier only.
struct ConsolidationInput {
  std::vector<const ItemMeta*> stm;
  std::vector<const ItemMeta*> mtm;
  std::vector<const ItemMeta*> ltm;
};

struct ConsolidationOptions {
  size_t batch_size = 100;
  double merge_base = 0.95;
  size_t merge_candidates = 8;  // k asked of `similar` per checked item
};

// Nearest items of `id`'s tier with their cosine similarity, best first.
using SimilarItems =
    std::function<std::vector<std::pair<std::string, float>>(const std::string& id, size_t k)>;

// When each item was last checked, so ticks walk the whole persona oldest-checked first.
class ConsolidationCursor {
 public:
  // 0 for an item never checked.
  TimeUs last_checked(const std::string& id) const;
  // Stamps the plan's checked items with `now` and drops the items it forgets or merges away.
  void advance(const ConsolidationPlan& plan, TimeUs now);
  void erase(const std::string& id) { last_checked_.erase(id); }
  size_t size() const { return last_checked_.size(); }

 private:
  std::unordered_map<std::string, TimeUs> last_checked_;
};

Result<ConsolidationPlan> plan_consolidation(const ConsolidationInput& items,
                                             const MemoryPolicy& policy, const HealthModel& health,
                                             double temperature, TimeUs now,
                                             const ConsolidationOptions& options,
                                             const ConsolidationCursor& cursor,
                                             const SimilarItems& similar = {});

}  // namespace nca
