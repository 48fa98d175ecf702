// runtime/persona_writer.hpp: every change to one persona's memories, planned against committed
// storage.
//
// A PersonaWriter turns a validated request into a Plan: one WriteBatch (item, vector, locator,
// history, counters, archive records of the change), the effects to apply to the in-memory tiers
// and item caches once the batch is durable, and the reply to send then. It never writes by itself:
// the caller commits plan.batch and, on success, applies the effects, so memory never runs ahead of
// disk. Plans read only committed state, so a caller that plans several requests before committing
// must not plan two that touch the same item id in one group (see ids_touched()).
//
// Also serves the persona's reads of committed state (item, vector, history, list, archive).
// Not thread-safe: one owner (the persona actor). Db, Clock and IdGenerator must outlive it.
#pragma once

#include <array>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"
#include "runtime/consolidation_planner.hpp"
#include "runtime/health.hpp"
#include "runtime/ids.hpp"
#include "runtime/memory_policy.hpp"
#include "runtime/tier.hpp"
#include "runtime/tubule_graph.hpp"
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

// A change to the persona-wide views of an item (lexical index, id/tier maps), applied after the
// batch is durable. `content` empty means unchanged.
struct ItemIndexEffect {
  bool remove = false;
  std::string id;
  uint64_t ordinal = 0;
  pb::Tier tier = pb::TIER_UNSPECIFIED;
  std::string content;
  TimeUs created_at_us = 0;
  HealthValue health;
};

ItemIndexEffect index_effect_of(const pb::MemoryItem& item, bool with_content);

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
  std::vector<ItemIndexEffect> index_effects;
  pb::Response response;
  // False for derived state (reinforcement after a recall) that nobody waits on.
  bool sync = true;
  bool creates_persona = false;
  // The profile as it is once this plan is durable (create, update, pause, resume, auto-create).
  std::optional<pb::Persona> profile;
  // The persona and everything it stored are gone once this plan is durable.
  bool deletes_persona = false;
  // Change in the number of stored (not archived) items once this plan is durable.
  int64_t stored_items_delta = 0;
};

// Item ids a request touches, for conflict detection within one commit group. Fresh server ids
// never conflict, so remember without client ids touches nothing.
std::vector<std::string> ids_touched(const pb::Request& request);

// Tubules are soft, derived state: the writer updates its TubuleGraph when it plans a change (so
// the plans of one commit group see each other's links) and puts the resulting link records in the
// same batch. If that batch fails, the caller calls reload_tubules() to return to what is on disk.
class PersonaWriter {
 public:
  PersonaWriter(storage::Db& db, PersonaRef ref, const MemoryPolicy& policy,
                const HealthModel& health, const Clock& clock, IdGenerator& ids,
                TubuleParams tubule_params = {}, size_t session_window = 2);

  // Reads counters, tubules and consolidation totals and scans the persona's items, returning them
  // per tier (index 0 STM, 1 MTM, 2 LTM); `on_item` (optional) sees every stored item once. Corrupt
  // item records are skipped and counted in corrupt_items().
  Result<std::array<std::vector<ItemMeta>, 3>> open(
      const std::function<void(const pb::MemoryItem&)>& on_item = {});
  Status reload_tubules();

  const TubuleGraph& tubules() const { return graph_; }
  const pb::ConsolidationCounters& consolidation_totals() const { return lymph_; }

  const PersonaRef& ref() const { return ref_; }
  bool exists() const { return exists_; }
  // The committed profile (empty when !exists()).
  const pb::Persona& profile() const { return profile_; }
  size_t corrupt_items() const { return corrupt_items_; }

  // How plan_remember answers: one RememberReply, a RememberBatchReply with the stored items, or
  // one with only their ids (RememberBatchRequest.ids_only).
  enum class RememberReply { single, batch, batch_ids_only };
  // `vectors[i]` is the normalised embedding of *inputs[i]. Inputs are validated; they are read,
  // not kept.
  Result<Plan> plan_remember(const std::vector<const pb::MemoryInput*>& inputs,
                             std::vector<std::vector<float>> vectors, RememberReply form,
                             const std::string& request_id);
  // Same, for inputs held by value.
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
  // Reinforces the items (health, access count, last access). `acknowledged` makes the write synced
  // and the reply the first item (explicit touch); otherwise it is derived state after a recall.
  Result<Plan> plan_touch(const std::vector<std::string>& ids, bool acknowledged);
  // Reinforcement after a recall: touch plus Hebbian strengthening between the returned items.
  Result<Plan> plan_recalled(const std::vector<std::string>& ids);
  Result<Plan> plan_link(const std::string& a, const std::string& b, double strength);
  Result<Plan> plan_unlink(const std::string& a, const std::string& b);
  // One lymphatic tick: the planner's actions for this persona (already bounded by the batch size),
  // then tubule pruning and expiry of archived items past their retention (at most `batch_size`).
  Result<Plan> plan_consolidation(const std::vector<ConsolidationAction>& actions,
                                  double temperature, size_t checked, size_t batch_size);

  // Profile writes (runtime/persona_profile.hpp has the rules). Create fills a profile that does
  // not exist or was only auto-created by a remember; otherwise ALREADY_EXISTS.
  Result<Plan> plan_create_profile(const pb::PersonaWriteRequest& req);
  Result<Plan> plan_update_profile(const pb::PersonaWriteRequest& req);
  Result<Plan> plan_status(pb::PersonaStatus status);
  // Deletes every record of the persona (items, vectors, tubules, history, archive, counters,
  // profile) and its item locators.
  Result<Plan> plan_delete_persona();

  // To be called after a plan's batch is durable.
  void committed(const Plan& plan);
  // To be called when a planned batch failed: forgets what plans assumed about the profile.
  void abandoned();

  // Reads of committed state.
  Result<pb::MemoryItem> read_item(const std::string& id) const;
  Result<std::vector<float>> read_vector(const std::string& id) const;
  Result<pb::HistoryReply> history(const std::string& id) const;
  Result<pb::ListReply> list(const pb::ListRequest& req) const;
  Result<uint64_t> archived_count() const;
  Result<pb::NeighboursReply> neighbours(const std::string& id) const;
  // Records of many items at once; a missing or corrupt one is nullopt.
  std::vector<std::optional<pb::MemoryItem>> read_items(const std::vector<std::string>& ids) const;
  // The item as clients see it: health decayed to now.
  pb::MemoryItem present(pb::MemoryItem item) const;

 private:
  Plan new_plan();
  void add_history(Plan& plan, const pb::MemoryItem& item, pb::HistoryAction action,
                   const std::string& reason, pb::Tier prev_tier, double prev_health,
                   const std::string& prev_content, const std::string& request_id,
                   const std::string& other_item_id = {});
  void put_counters(Plan& plan);
  // What a profile plan builds on: the planned profile, else the committed one; null when the
  // persona does not exist or its delete is planned.
  const pb::Persona* planned_or_committed_profile() const;
  void put_item(Plan& plan, const pb::MemoryItem& item, const std::vector<float>* vec);
  Result<std::optional<pb::ItemLocator>> read_locator(const std::string& id) const;
  Result<std::optional<pb::ArchivedItem>> read_archived(const std::string& id) const;
  std::string item_what(const std::string& id) const;
  void put_tubules(Plan& plan, const std::vector<TubuleChange>& changes);
  std::vector<Tubule> tubules_of(const std::string& id) const;
  void add_session_links(Plan& plan, const pb::MemoryItem& item, TimeUs now);
  Status archive_item(Plan& plan, const pb::MemoryItem& item, const std::string& reason,
                      pb::HistoryAction action, const std::string& merged_into,
                      const std::string& request_id);

  storage::Db& db_;
  PersonaRef ref_;
  const MemoryPolicy& policy_;
  const HealthModel& health_;
  const Clock& clock_;
  IdGenerator& ids_;
  pb::PersonaCounters counters_;
  bool exists_ = false;
  pb::Persona profile_;
  // The profile planned but not yet durable: plans of one commit group see each other's.
  std::optional<pb::Persona> planned_profile_;
  bool planned_delete_ = false;
  size_t corrupt_items_ = 0;
  // Stored items (the memories-per-persona limit): committed, and planned but not yet committed.
  int64_t stored_items_ = 0;
  int64_t planned_items_ = 0;
  TubuleGraph graph_;
  size_t session_window_;
  // The last `session_window_` items of each session, newest last: new items link to them.
  std::unordered_map<std::string, std::deque<std::string>> session_tail_;
  pb::ConsolidationCounters lymph_;
};

}  // namespace nca
