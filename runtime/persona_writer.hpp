// runtime/persona_writer.hpp: every change to one persona's memories, planned against committed storage.
//
// A PersonaWriter turns a validated request into a Plan: one WriteBatch (item, vector, locator, history,
// counters, archive records of the change), the effects to apply to the in-memory tiers and item caches
// once the batch is durable, and the reply to send then. It never writes by itself: the caller commits
// plan.batch and, on success, applies the effects, so memory never runs ahead of disk. Plans read only
// committed state, so a caller that plans several requests before committing must not plan two that touch
// the same item id in one group (see ids_touched()).
//
// Also serves the persona's reads of committed state (item, vector, history, list, archive).
// Not thread-safe: one owner (the persona actor). Db, Clock and IdGenerator must outlive it.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"
#include "runtime/health.hpp"
#include "runtime/ids.hpp"
#include "runtime/memory_policy.hpp"
#include "runtime/tier.hpp"
#include "storage/batch.hpp"
#include "storage/db.hpp"

namespace nca {

// Where a persona lives in storage.
struct PersonaRef {
  uint32_t shard = 0;
  std::string tenant;
  std::string persona;
  std::string prefix;  // storage::persona_prefix(shard, tenant, persona)

  static PersonaRef make(const std::string& tenant, const std::string& persona, uint32_t shards);
};

// A change to one tier's in-memory view, applied after the batch is durable.
struct TierEffect {
  pb::Tier tier = pb::TIER_UNSPECIFIED;
  bool remove = false;
  ItemMeta meta;
  std::vector<float> vec;  // empty: keep the vector the tier has
};

// A change to an item's cached record (item actors): nullopt means the item is gone.
struct ItemEffect {
  std::string id;
  std::optional<pb::MemoryItem> record;
};

struct Plan {
  explicit Plan(storage::Batch b) : batch(std::move(b)) {}
  storage::Batch batch;
  std::vector<TierEffect> tier_effects;
  std::vector<ItemEffect> item_effects;
  pb::Response response;
  // False for derived state (reinforcement after a recall) that nobody waits on.
  bool sync = true;
  bool creates_persona = false;
};

// Item ids a request touches, for conflict detection within one commit group. Fresh server ids never
// conflict, so remember without client ids touches nothing.
std::vector<std::string> ids_touched(const pb::Request& request);

class PersonaWriter {
 public:
  PersonaWriter(storage::Db& db, PersonaRef ref, const MemoryPolicy& policy,
                const HealthModel& health, const Clock& clock, IdGenerator& ids);

  // Reads counters and scans the persona's items, returning them per tier (index 0 STM, 1 MTM, 2 LTM).
  // Corrupt item records are skipped and counted in corrupt_items().
  Result<std::array<std::vector<ItemMeta>, 3>> open();

  const PersonaRef& ref() const { return ref_; }
  bool exists() const { return exists_; }
  size_t corrupt_items() const { return corrupt_items_; }

  // `vectors[i]` is the normalised embedding of inputs[i]. Inputs are validated.
  Result<Plan> plan_remember(const std::vector<pb::MemoryInput>& inputs,
                             std::vector<std::vector<float>> vectors, bool batch_reply,
                             const std::string& request_id);
  // `new_vec` is the embedding of the new content when the request changes content.
  Result<Plan> plan_update(const pb::UpdateRequest& req, std::vector<float> new_vec,
                           const std::string& request_id);
  Result<Plan> plan_forget(const std::string& id, const std::string& reason,
                           const std::string& request_id);
  Result<Plan> plan_restore(const std::string& id, const std::string& request_id);
  Result<Plan> plan_delete(const std::string& id, const std::string& request_id);
  // Reinforces the items (health, access count, last access). `acknowledged` makes the write synced and
  // the reply the first item (explicit touch); otherwise it is derived state after a recall.
  Result<Plan> plan_touch(const std::vector<std::string>& ids, bool acknowledged);

  // To be called after a plan's batch is durable.
  void committed(const Plan& plan);

  // Reads of committed state.
  Result<pb::MemoryItem> read_item(const std::string& id) const;
  Result<std::vector<float>> read_vector(const std::string& id) const;
  Result<pb::HistoryReply> history(const std::string& id) const;
  Result<pb::ListReply> list(const pb::ListRequest& req) const;
  Result<uint64_t> archived_count() const;
  // The item as clients see it: health decayed to now.
  pb::MemoryItem present(pb::MemoryItem item) const;

 private:
  Plan new_plan();
  void add_history(Plan& plan, const pb::MemoryItem& item, pb::HistoryAction action,
                   const std::string& reason, pb::Tier prev_tier, double prev_health,
                   const std::string& prev_content, const std::string& request_id);
  void put_counters(Plan& plan);
  void put_item(Plan& plan, const pb::MemoryItem& item, const std::vector<float>* vec);
  Result<std::optional<pb::ItemLocator>> read_locator(const std::string& id) const;
  Result<std::optional<pb::ArchivedItem>> read_archived(const std::string& id) const;
  std::string item_what(const std::string& id) const;

  storage::Db& db_;
  PersonaRef ref_;
  const MemoryPolicy& policy_;
  const HealthModel& health_;
  const Clock& clock_;
  IdGenerator& ids_;
  pb::PersonaCounters counters_;
  bool exists_ = false;
  size_t corrupt_items_ = 0;
};

}  // namespace nca
