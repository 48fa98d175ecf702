#include "runtime/persona_writer.hpp"

#include "runtime/persona_profile.hpp"

#include <algorithm>
#include <unordered_set>

#include "storage/keys.hpp"
#include "storage/records.hpp"

namespace nca {
namespace {

constexpr uint32_t kSchema = storage::kRecordSchemaVersion;
constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;

int tier_slot(pb::Tier tier) {
  switch (tier) {
    case pb::MTM:
      return 1;
    case pb::LTM:
      return 2;
    default:
      return 0;
  }
}

std::vector<float> to_vector(const google::protobuf::RepeatedField<float>& f) {
  return std::vector<float>(f.begin(), f.end());
}

pb::Tubule to_pb(const Tubule& t) {
  pb::Tubule out;
  out.set_schema_version(kSchema);
  out.set_a(t.a);
  out.set_b(t.b);
  out.set_strength(t.strength);
  out.set_last_activated_us(t.last_activated_us);
  out.set_activations(t.activations);
  return out;
}

Tubule from_pb(const pb::Tubule& t) {
  Tubule out;
  out.a = t.a();
  out.b = t.b();
  out.strength = t.strength();
  out.last_activated_us = t.last_activated_us();
  out.activations = t.activations();
  return out;
}

// History action of a tier move.
pb::HistoryAction move_action(pb::Tier from, pb::Tier to) {
  return static_cast<int>(to) > static_cast<int>(from) ? pb::PROMOTE : pb::DEMOTE;
}

}  // namespace

PersonaRef PersonaRef::make(const std::string& tenant, const std::string& persona,
                            uint32_t shards) {
  PersonaRef r;
  r.shard = storage::shard_of(tenant, persona, shards);
  r.tenant = tenant;
  r.persona = persona;
  r.prefix = storage::persona_prefix(r.shard, tenant, persona);
  return r;
}

std::vector<std::string> ids_touched(const pb::Request& request) {
  switch (request.body_case()) {
    case pb::Request::kRemember:
      if (!request.remember().memory().id().empty()) return {request.remember().memory().id()};
      return {};
    case pb::Request::kRememberBatch: {
      std::vector<std::string> out;
      for (const auto& m : request.remember_batch().memories()) {
        if (!m.id().empty()) out.push_back(m.id());
      }
      return out;
    }
    case pb::Request::kUpdate:
      return {request.update().id()};
    case pb::Request::kForget:
      return {request.forget().id()};
    case pb::Request::kRestore:
      return {request.restore().id()};
    case pb::Request::kDelete:
      return {request.delete_().id()};
    case pb::Request::kTouch:
      return {request.touch().id()};
    case pb::Request::kLink:
      return {request.link().a(), request.link().b()};
    case pb::Request::kUnlink:
      return {request.unlink().a(), request.unlink().b()};
    default:
      return {};
  }
}

PersonaWriter::PersonaWriter(storage::Db& db, PersonaRef ref, const MemoryPolicy& policy,
                             const HealthModel& health, const Clock& clock, IdGenerator& ids,
                             TubuleParams tubule_params, size_t session_window)
    : db_(db),
      ref_(std::move(ref)),
      policy_(policy),
      health_(health),
      clock_(clock),
      ids_(ids),
      graph_(tubule_params),
      session_window_(session_window) {
  counters_.set_schema_version(kSchema);
  lymph_.set_schema_version(kSchema);
}

std::string PersonaWriter::item_what(const std::string& id) const {
  return "memory '" + id + "' of persona '" + ref_.persona + "'";
}

Result<std::array<std::vector<ItemMeta>, 3>> PersonaWriter::open(
    const std::function<void(const pb::MemoryItem&)>& on_item) {
  auto persona = db_.get(storage::Cf::personas, ref_.prefix);
  if (!persona) return persona.error();
  exists_ = persona->has_value();
  if (exists_) {
    auto decoded =
        storage::decode_record<pb::Persona>(**persona, "profile of persona '" + ref_.persona + "'");
    if (!decoded) return decoded.error();
    profile_ = std::move(*decoded);
  }
  auto counters = db_.get(storage::Cf::meta, storage::counters_key(ref_.prefix));
  if (!counters) return counters.error();
  if (counters->has_value()) {
    auto decoded = storage::decode_record<pb::PersonaCounters>(
        **counters, "counters of persona '" + ref_.persona + "'");
    if (!decoded) return decoded.error();
    counters_ = *decoded;
  }
  auto lymph = db_.get(storage::Cf::meta, storage::lymphatic_key(ref_.prefix));
  if (!lymph) return lymph.error();
  if (lymph->has_value()) {
    auto decoded = storage::decode_record<pb::ConsolidationCounters>(
        **lymph, "consolidation counters of persona '" + ref_.persona + "'");
    if (decoded) lymph_ = *decoded;  // counters only: a corrupt record restarts them
  }
  std::array<std::vector<ItemMeta>, 3> tiers;
  uint64_t max_ordinal = 0, max_seq = 0;
  corrupt_items_ = 0;
  std::unordered_map<std::string, std::vector<std::pair<uint64_t, std::string>>> sessions;
  auto st =
      db_.scan(storage::Cf::items, ref_.prefix, [&](std::string_view key, std::string_view value) {
        auto item =
            storage::decode_record<pb::MemoryItem>(value, "item " + storage::printable_key(key));
        if (!item) {
          ++corrupt_items_;
          return true;
        }
        max_ordinal = std::max(max_ordinal, item->ordinal());
        max_seq = std::max(max_seq, item->seq());
        tiers[tier_slot(item->tier())].push_back(meta_of(*item));
        if (!item->session_id().empty()) {
          sessions[item->session_id()].emplace_back(item->ordinal(), item->id());
        }
        if (on_item) on_item(*item);
        return true;
      });
  if (!st) return st.error();
  stored_items_ = 0;
  for (const auto& t : tiers) stored_items_ += static_cast<int64_t>(t.size());
  planned_items_ = 0;
  session_tail_.clear();
  for (auto& [session, members] : sessions) {
    std::sort(members.begin(), members.end());
    auto& tail = session_tail_[session];
    size_t from = members.size() > session_window_ ? members.size() - session_window_ : 0;
    for (size_t i = from; i < members.size(); ++i) tail.push_back(members[i].second);
  }
  if (auto t = reload_tubules(); !t) return t.error();
  // Counters are written with every change; taking the max also covers a counters record lost to
  // corruption, so ordinals are never reused.
  counters_.set_next_ordinal(std::max(counters_.next_ordinal(), max_ordinal + 1));
  counters_.set_seq(std::max(counters_.seq(), max_seq));
  return tiers;
}

Status PersonaWriter::reload_tubules() {
  graph_ = TubuleGraph(graph_.params());
  return db_.scan(
      storage::Cf::links, ref_.prefix, [&](std::string_view key, std::string_view value) {
        auto rec =
            storage::decode_record<pb::Tubule>(value, "tubule " + storage::printable_key(key));
        if (rec) (void)graph_.restore(from_pb(*rec));  // a corrupt link is soft state: skip it
        return true;
      });
}

Plan PersonaWriter::new_plan() { return Plan(db_.batch()); }

void PersonaWriter::put_tubules(Plan& plan, const std::vector<TubuleChange>& changes) {
  for (const auto& c : changes) {
    std::string key = storage::link_key(ref_.prefix, c.tubule.a, c.tubule.b);
    if (c.removed) {
      plan.batch.del(storage::Cf::links, key);
    } else {
      plan.batch.put_proto(storage::Cf::links, key, to_pb(c.tubule));
    }
  }
}

std::vector<Tubule> PersonaWriter::tubules_of(const std::string& id) const {
  std::vector<Tubule> out;
  for (const auto& n : graph_.neighbours(id, clock_.now_us())) {
    if (const Tubule* t = graph_.find(id, n.id)) out.push_back(*t);
  }
  return out;
}

void PersonaWriter::add_session_links(Plan& plan, const pb::MemoryItem& item, TimeUs now) {
  if (item.session_id().empty() || session_window_ == 0) return;
  auto& tail = session_tail_[item.session_id()];
  for (const auto& prev : tail) {
    if (prev == item.id()) continue;
    auto changes = graph_.link_session(prev, item.id(), now);
    if (changes) put_tubules(plan, *changes);
  }
  tail.push_back(item.id());
  while (tail.size() > session_window_) tail.pop_front();
}

ItemIndexEffect index_effect_of(const pb::MemoryItem& item, bool with_content) {
  ItemIndexEffect e;
  e.id = item.id();
  e.ordinal = item.ordinal();
  e.tier = item.tier();
  e.created_at_us = item.created_at_us();
  e.health = HealthValue{item.health(), item.health_updated_at_us()};
  if (with_content) e.content = item.content();
  return e;
}

void PersonaWriter::put_counters(Plan& plan) {
  counters_.set_schema_version(kSchema);
  plan.batch.put_proto(storage::Cf::meta, storage::counters_key(ref_.prefix), counters_);
}

void PersonaWriter::put_item(Plan& plan, const pb::MemoryItem& item,
                             const std::vector<float>* vec) {
  plan.batch.put_proto(storage::Cf::items, storage::item_key(ref_.prefix, item.id()), item);
  if (vec != nullptr) {
    pb::EmbeddingRecord rec;
    rec.set_schema_version(kSchema);
    rec.mutable_values()->Add(vec->begin(), vec->end());
    plan.batch.put_proto(storage::Cf::vectors, storage::item_key(ref_.prefix, item.id()), rec);
  }
}

void PersonaWriter::add_history(Plan& plan, const pb::MemoryItem& item, pb::HistoryAction action,
                                const std::string& reason, pb::Tier prev_tier, double prev_health,
                                const std::string& prev_content, const std::string& request_id,
                                const std::string& other_item_id) {
  pb::HistoryRecord h;
  h.set_schema_version(kSchema);
  h.set_item_id(item.id());
  h.set_seq(counters_.history_seq() + 1);
  counters_.set_history_seq(h.seq());
  h.set_at_us(clock_.now_us());
  h.set_action(action);
  h.set_reason(reason);
  h.set_prev_tier(prev_tier);
  h.set_new_tier(action == pb::DELETE ? pb::TIER_UNSPECIFIED : item.tier());
  h.set_prev_health(prev_health);
  h.set_new_health(action == pb::DELETE ? 0 : item.health());
  h.set_prev_content(prev_content);
  h.set_new_content(action == pb::DELETE ? "" : item.content());
  h.set_version(item.version());
  h.set_request_id(request_id);
  h.set_other_item_id(other_item_id);
  plan.batch.put_proto(storage::Cf::history, storage::history_key(ref_.prefix, item.id(), h.seq()),
                       h);
}

Result<std::optional<pb::ItemLocator>> PersonaWriter::read_locator(const std::string& id) const {
  auto raw = db_.get(storage::Cf::meta, storage::locator_key(ref_.tenant, id));
  if (!raw) return raw.error();
  if (!raw->has_value()) return std::optional<pb::ItemLocator>{};
  auto loc = storage::decode_record<pb::ItemLocator>(**raw, "locator of memory '" + id + "'");
  if (!loc) return loc.error();
  return std::optional<pb::ItemLocator>{std::move(*loc)};
}

Result<std::optional<pb::ArchivedItem>> PersonaWriter::read_archived(const std::string& id) const {
  auto raw = db_.get(storage::Cf::archive, storage::item_key(ref_.prefix, id));
  if (!raw) return raw.error();
  if (!raw->has_value()) return std::optional<pb::ArchivedItem>{};
  auto rec = storage::decode_record<pb::ArchivedItem>(**raw, "archived " + item_what(id));
  if (!rec) return rec.error();
  return std::optional<pb::ArchivedItem>{std::move(*rec)};
}

Result<pb::MemoryItem> PersonaWriter::read_item(const std::string& id) const {
  auto raw = db_.get(storage::Cf::items, storage::item_key(ref_.prefix, id));
  if (!raw) return raw.error();
  if (!raw->has_value()) {
    return make_error(ErrorCode::not_found, "no " + item_what(id));
  }
  return storage::decode_record<pb::MemoryItem>(**raw, item_what(id));
}

Result<std::vector<float>> PersonaWriter::read_vector(const std::string& id) const {
  auto raw = db_.get(storage::Cf::vectors, storage::item_key(ref_.prefix, id));
  if (!raw) return raw.error();
  if (!raw->has_value()) {
    return make_error(ErrorCode::data_loss, "the embedding of " + item_what(id) + " is missing");
  }
  auto rec = storage::decode_record<pb::EmbeddingRecord>(**raw, "embedding of " + item_what(id));
  if (!rec) return rec.error();
  if (static_cast<size_t>(rec->values_size()) != policy_.dim) {
    return make_error(ErrorCode::data_loss, "the embedding of " + item_what(id) + " has " +
                                                std::to_string(rec->values_size()) +
                                                " values; memory.dim is " +
                                                std::to_string(policy_.dim));
  }
  return to_vector(rec->values());
}

pb::MemoryItem PersonaWriter::present(pb::MemoryItem item) const {
  TimeUs now = clock_.now_us();
  double h = health_.at(HealthValue{item.health(), item.health_updated_at_us()}, item.tier(), now);
  item.set_health(h);
  item.set_health_updated_at_us(std::max(now, item.health_updated_at_us()));
  return item;
}

Result<Plan> PersonaWriter::plan_remember(const std::vector<pb::MemoryInput>& inputs,
                                          std::vector<std::vector<float>> vectors, bool batch_reply,
                                          const std::string& request_id) {
  std::vector<const pb::MemoryInput*> pointers;
  pointers.reserve(inputs.size());
  for (const auto& in : inputs) pointers.push_back(&in);
  return plan_remember(pointers, std::move(vectors),
                       batch_reply ? RememberReply::batch : RememberReply::single, request_id);
}

Result<Plan> PersonaWriter::plan_remember(const std::vector<const pb::MemoryInput*>& inputs,
                                          std::vector<std::vector<float>> vectors,
                                          RememberReply form, const std::string& request_id) {
  if (inputs.size() != vectors.size()) {
    return make_error(ErrorCode::internal, "remember: inputs and embeddings differ in number");
  }
  Plan plan = new_plan();
  TimeUs now = clock_.now_us();
  std::unordered_set<std::string> ids_in_call;
  pb::RememberBatchReply replies;
  auto saved_counters = counters_;
  auto fail = [&](Error e) -> Result<Plan> {
    counters_ = saved_counters;
    return e;
  };
  const bool ids_only = form == RememberReply::batch_ids_only;
  plan.tier_effects.reserve(inputs.size());
  plan.index_effects.reserve(inputs.size());
  plan.item_effects.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const pb::MemoryInput& in = *inputs[i];
    std::string where = inputs.size() > 1 ? "memories[" + std::to_string(i) + "]: " : "";
    auto* reply = replies.add_results();
    std::string id = in.id();
    if (!id.empty()) {
      if (!ids_in_call.insert(id).second) {
        return fail(make_error(ErrorCode::invalid_argument,
                               where + "memory id '" + id + "' appears twice in one call"));
      }
      auto loc = read_locator(id);
      if (!loc) return fail(loc.error());
      if (loc->has_value() && !(*loc)->deleted()) {
        if ((*loc)->persona_id() != ref_.persona) {
          return fail(make_error(ErrorCode::already_exists, where + "memory id '" + id +
                                                                "' is already used by persona '" +
                                                                (*loc)->persona_id() + "'"));
        }
        auto existing = read_item(id);
        if (existing) {
          // The same client id again: idempotent, the stored item is the answer.
          if (ids_only) {
            reply->mutable_item()->set_id(id);
          } else {
            *reply->mutable_item() = present(*existing);
          }
          reply->set_created(false);
          continue;
        }
        if (existing.code() != ErrorCode::not_found) return fail(existing.error());
        return fail(
            make_error(ErrorCode::already_exists,
                       where + "memory id '" + id +
                           "' is in the archive (forgotten or merged); restore it instead"));
      }
    } else {
      id = ids_.uuid_v7();
      ids_in_call.insert(id);
    }
    if (policy_.max_items != 0 && stored_items_ + planned_items_ + plan.stored_items_delta + 1 >
                                      static_cast<int64_t>(policy_.max_items)) {
      return fail(make_error(ErrorCode::resource_exhausted,
                             where + "persona '" + ref_.persona + "' holds " +
                                 std::to_string(stored_items_ + planned_items_) +
                                 " memories; limits.memories-per-persona allows " +
                                 std::to_string(policy_.max_items) +
                                 ": forget or delete some, or raise the limit"));
    }
    ++plan.stored_items_delta;
    pb::MemoryItem item;
    item.set_schema_version(kSchema);
    item.set_id(id);
    item.set_tenant(ref_.tenant);
    item.set_persona_id(ref_.persona);
    item.set_content(in.content());
    *item.mutable_metadata() = in.metadata();
    *item.mutable_tags() = in.tags();
    item.set_importance(in.importance());
    item.set_tier(in.tier() == pb::TIER_UNSPECIFIED ? pb::STM : in.tier());
    item.set_health(health_.initial(in.importance()));
    item.set_health_updated_at_us(now);
    item.set_access_count(0);
    item.set_created_at_us(in.created_at_us() != 0 ? in.created_at_us() : now);
    item.set_stored_at_us(now);
    item.set_last_access_at_us(now);
    item.set_session_id(in.session_id());
    item.set_version(1);
    item.set_ordinal(counters_.next_ordinal());
    counters_.set_next_ordinal(counters_.next_ordinal() + 1);
    item.set_seq(counters_.seq() + 1);
    counters_.set_seq(item.seq());
    item.set_updated_at_us(now);
    item.set_tier_entered_at_us(now);

    put_item(plan, item, &vectors[i]);
    pb::ItemLocator loc;
    loc.set_schema_version(kSchema);
    loc.set_persona_id(ref_.persona);
    plan.batch.put_proto(storage::Cf::meta, storage::locator_key(ref_.tenant, id), loc);
    add_history(plan, item, pb::ADD, "remembered", pb::TIER_UNSPECIFIED, 0, "", request_id);

    add_session_links(plan, item, now);
    TierEffect eff;
    eff.tier = item.tier();
    eff.meta = meta_of(item);
    eff.vec = std::move(vectors[i]);
    plan.tier_effects.push_back(std::move(eff));
    plan.index_effects.push_back(index_effect_of(item, true));
    if (ids_only) {
      reply->mutable_item()->set_id(id);
      plan.item_effects.push_back(ItemEffect{id, std::move(item)});
    } else {
      plan.item_effects.push_back(ItemEffect{id, item});
      *reply->mutable_item() = std::move(item);
    }
    reply->set_created(true);
  }
  if (!plan.tier_effects.empty()) {
    put_counters(plan);
    if (!exists_ && !planned_profile_) {
      pb::Persona p;
      p.set_schema_version(kSchema);
      p.set_id(ref_.persona);
      p.set_tenant(ref_.tenant);
      p.set_created_at_us(now);
      p.set_version(1);
      p.set_status(pb::PERSONA_ACTIVE);
      plan.batch.put_proto(storage::Cf::personas, ref_.prefix, p);
      plan.creates_persona = true;
      planned_profile_ = p;
      plan.profile = std::move(p);
    }
  }
  if (form != RememberReply::single) {
    *plan.response.mutable_remember_batch() = std::move(replies);
  } else {
    *plan.response.mutable_remember() = std::move(*replies.mutable_results(0));
  }
  planned_items_ += plan.stored_items_delta;
  return plan;
}

Result<Plan> PersonaWriter::plan_update(const pb::UpdateRequest& req, std::vector<float> new_vec,
                                        const std::string& request_id) {
  auto current = read_item(req.id());
  if (!current) return current.error();
  pb::MemoryItem item = std::move(*current);
  if (req.expected_version() != 0 && req.expected_version() != item.version()) {
    return make_error(ErrorCode::conflict,
                      item_what(req.id()) + " is at version " + std::to_string(item.version()) +
                          ", not the expected " + std::to_string(req.expected_version()) +
                          "; read it again and retry");
  }
  if (req.has_content() && new_vec.size() != policy_.dim) {
    return make_error(ErrorCode::internal, "update: new content without its embedding");
  }
  TimeUs now = clock_.now_us();
  std::string prev_content = item.content();
  double prev_health =
      health_.at(HealthValue{item.health(), item.health_updated_at_us()}, item.tier(), now);
  if (req.has_content()) item.set_content(req.content());
  if (req.has_metadata()) *item.mutable_metadata() = req.metadata().entries();
  if (req.has_tags()) *item.mutable_tags() = req.tags().tags();
  if (req.has_importance()) item.set_importance(req.importance());
  item.set_version(item.version() + 1);
  item.set_seq(counters_.seq() + 1);
  counters_.set_seq(item.seq());
  item.set_updated_at_us(now);

  Plan plan = new_plan();
  put_item(plan, item, req.has_content() ? &new_vec : nullptr);
  add_history(plan, item, pb::UPDATE, "updated", item.tier(), prev_health, prev_content,
              request_id);
  put_counters(plan);
  TierEffect eff;
  eff.tier = item.tier();
  eff.meta = meta_of(item);
  if (req.has_content()) eff.vec = std::move(new_vec);
  plan.tier_effects.push_back(std::move(eff));
  plan.index_effects.push_back(index_effect_of(item, req.has_content()));
  plan.item_effects.push_back(ItemEffect{item.id(), item});
  *plan.response.mutable_update()->mutable_item() = present(std::move(item));
  return plan;
}

Status PersonaWriter::archive_item(Plan& plan, const pb::MemoryItem& item,
                                   const std::string& reason, pb::HistoryAction action,
                                   const std::string& merged_into, const std::string& request_id) {
  const std::string& id = item.id();
  auto vec = read_vector(id);
  TimeUs now = clock_.now_us();
  double prev_health =
      health_.at(HealthValue{item.health(), item.health_updated_at_us()}, item.tier(), now);
  pb::ArchivedItem arch;
  arch.set_schema_version(kSchema);
  *arch.mutable_item() = item;
  if (vec) arch.mutable_embedding()->Add(vec->begin(), vec->end());
  arch.set_reason(reason);
  arch.set_archived_at_us(now);
  arch.set_expires_at_us(now + policy_.archive_retention_us);
  arch.set_merged_into(merged_into);
  for (const auto& t : tubules_of(id)) *arch.add_tubules() = to_pb(t);
  plan.batch.put_proto(storage::Cf::archive, storage::item_key(ref_.prefix, id), arch);
  plan.batch.del(storage::Cf::items, storage::item_key(ref_.prefix, id));
  --plan.stored_items_delta;
  plan.batch.del(storage::Cf::vectors, storage::item_key(ref_.prefix, id));
  pb::MemoryItem hist_item = item;
  add_history(plan, hist_item, action, reason, item.tier(), prev_health, item.content(),
              request_id);
  put_tubules(plan, graph_.remove_item(id));
  TierEffect eff;
  eff.tier = item.tier();
  eff.remove = true;
  eff.meta = meta_of(item);
  plan.tier_effects.push_back(std::move(eff));
  ItemIndexEffect ie = index_effect_of(item, false);
  ie.remove = true;
  plan.index_effects.push_back(std::move(ie));
  plan.item_effects.push_back(ItemEffect{id, std::nullopt});
  return {};
}

Result<Plan> PersonaWriter::plan_forget(const std::string& id, const std::string& reason,
                                        const std::string& request_id) {
  auto current = read_item(id);
  if (!current) return current.error();
  Plan plan = new_plan();
  if (auto st = archive_item(plan, *current, reason.empty() ? "forgotten by client" : reason,
                             pb::FORGET, "", request_id);
      !st) {
    return st.error();
  }
  put_counters(plan);
  *plan.response.mutable_forget()->mutable_item() = present(std::move(*current));
  planned_items_ += plan.stored_items_delta;
  return plan;
}

Result<Plan> PersonaWriter::plan_restore(const std::string& id, const std::string& request_id) {
  auto arch = read_archived(id);
  if (!arch) return arch.error();
  if (!arch->has_value()) {
    auto live = read_item(id);
    if (live) {
      return make_error(ErrorCode::conflict,
                        item_what(id) + " is not archived; nothing to restore");
    }
    return make_error(ErrorCode::not_found, "no archived " + item_what(id));
  }
  pb::ArchivedItem rec = std::move(**arch);
  if (static_cast<size_t>(rec.embedding_size()) != policy_.dim) {
    return make_error(ErrorCode::data_loss, "the archived embedding of " + item_what(id) +
                                                " is missing or has the wrong dimension");
  }
  TimeUs now = clock_.now_us();
  pb::MemoryItem item = rec.item();
  // A restored item comes back into the tier it left, with the health it had then, as of now.
  item.set_health(health_.at(HealthValue{item.health(), item.health_updated_at_us()}, item.tier(),
                             rec.archived_at_us()));
  item.set_health_updated_at_us(now);
  item.set_last_access_at_us(now);
  item.set_tier_entered_at_us(now);
  item.set_version(item.version() + 1);
  item.set_seq(counters_.seq() + 1);
  counters_.set_seq(item.seq());
  item.set_updated_at_us(now);
  std::vector<float> vec = to_vector(rec.embedding());

  Plan plan = new_plan();
  put_item(plan, item, &vec);
  plan.batch.del(storage::Cf::archive, storage::item_key(ref_.prefix, id));
  plan.stored_items_delta = 1;
  planned_items_ += 1;
  add_history(plan, item, pb::RESTORE, "restored from archive (" + rec.reason() + ")",
              pb::TIER_UNSPECIFIED, 0, "", request_id);
  put_counters(plan);
  // Links come back with the item where the other end is still remembered.
  for (const auto& t : rec.tubules()) {
    const std::string& other = t.a() == id ? t.b() : t.a();
    if (read_item(other).ok()) {
      if (graph_.restore(from_pb(t))) {
        plan.batch.put_proto(storage::Cf::links, storage::link_key(ref_.prefix, t.a(), t.b()), t);
      }
      continue;
    }
    // The other end is archived too (e.g. both forgotten in one tick): hand the link to its archive
    // record, so restoring it later brings the link back.
    auto other_arch = read_archived(other);
    if (!other_arch || !other_arch->has_value()) continue;
    pb::ArchivedItem updated = **other_arch;
    bool known = std::any_of(updated.tubules().begin(), updated.tubules().end(),
                             [&](const pb::Tubule& x) { return x.a() == t.a() && x.b() == t.b(); });
    if (!known) {
      *updated.add_tubules() = t;
      plan.batch.put_proto(storage::Cf::archive, storage::item_key(ref_.prefix, other), updated);
    }
  }
  TierEffect eff;
  eff.tier = item.tier();
  eff.meta = meta_of(item);
  eff.vec = std::move(vec);
  plan.tier_effects.push_back(std::move(eff));
  plan.index_effects.push_back(index_effect_of(item, true));
  plan.item_effects.push_back(ItemEffect{id, item});
  *plan.response.mutable_restore()->mutable_item() = present(std::move(item));
  return plan;
}

Result<Plan> PersonaWriter::plan_delete(const std::string& id, const std::string& request_id) {
  auto current = read_item(id);
  std::optional<pb::MemoryItem> item;
  if (current) {
    item = std::move(*current);
  } else if (current.code() == ErrorCode::not_found) {
    auto arch = read_archived(id);
    if (!arch) return arch.error();
    if (!arch->has_value()) return make_error(ErrorCode::not_found, "no " + item_what(id));
    item = (*arch)->item();
  } else if (current.code() != ErrorCode::data_loss) {
    return current.error();
  }
  // A corrupt record can still be deleted: that is how an operator gets rid of it.
  pb::MemoryItem rec = item ? *item : pb::MemoryItem{};
  if (!item) {
    rec.set_id(id);
    rec.set_persona_id(ref_.persona);
  }
  Plan plan = new_plan();
  plan.batch.del(storage::Cf::items, storage::item_key(ref_.prefix, id));
  plan.batch.del(storage::Cf::vectors, storage::item_key(ref_.prefix, id));
  if (current) {
    plan.stored_items_delta = -1;
    planned_items_ -= 1;
  }
  plan.batch.del(storage::Cf::archive, storage::item_key(ref_.prefix, id));
  pb::ItemLocator loc;
  loc.set_schema_version(kSchema);
  loc.set_persona_id(ref_.persona);
  loc.set_deleted(true);
  plan.batch.put_proto(storage::Cf::meta, storage::locator_key(ref_.tenant, id), loc);
  add_history(plan, rec, pb::DELETE, "deleted by client", rec.tier(), rec.health(), rec.content(),
              request_id);
  put_counters(plan);
  put_tubules(plan, graph_.remove_item(id));
  ItemIndexEffect ie = index_effect_of(rec, false);
  ie.remove = true;
  plan.index_effects.push_back(std::move(ie));
  if (rec.tier() != pb::TIER_UNSPECIFIED) {
    TierEffect eff;
    eff.tier = rec.tier();
    eff.remove = true;
    eff.meta = meta_of(rec);
    plan.tier_effects.push_back(std::move(eff));
  }
  plan.item_effects.push_back(ItemEffect{id, std::nullopt});
  plan.response.mutable_delete_()->set_id(id);
  return plan;
}

Result<Plan> PersonaWriter::plan_touch(const std::vector<std::string>& ids, bool acknowledged) {
  Plan plan = new_plan();
  plan.sync = acknowledged;
  TimeUs now = clock_.now_us();
  for (const auto& id : ids) {
    auto current = read_item(id);
    if (!current) {
      // Reinforcement after a recall may race with a forget; only an explicit touch reports it.
      if (acknowledged) return current.error();
      continue;
    }
    pb::MemoryItem item = std::move(*current);
    HealthValue h = health_.reinforced(HealthValue{item.health(), item.health_updated_at_us()},
                                       item.tier(), now);
    item.set_health(h.value);
    item.set_health_updated_at_us(h.at_us);
    item.set_access_count(item.access_count() + 1);
    item.set_last_access_at_us(now);
    put_item(plan, item, nullptr);
    TierEffect eff;
    eff.tier = item.tier();
    eff.meta = meta_of(item);
    plan.tier_effects.push_back(std::move(eff));
    plan.index_effects.push_back(index_effect_of(item, false));
    plan.item_effects.push_back(ItemEffect{id, item});
    if (acknowledged && !plan.response.has_touch()) {
      *plan.response.mutable_touch()->mutable_item() = present(std::move(item));
    }
  }
  return plan;
}

Result<Plan> PersonaWriter::plan_recalled(const std::vector<std::string>& ids) {
  auto plan = plan_touch(ids, false);
  if (!plan) return plan;
  if (ids.size() > 1) put_tubules(*plan, graph_.hebbian(ids, clock_.now_us()));
  return plan;
}

Result<Plan> PersonaWriter::plan_link(const std::string& a, const std::string& b, double strength) {
  for (const auto* id : {&a, &b}) {
    auto item = read_item(*id);
    if (!item) return item.error();
  }
  auto changes = graph_.link(a, b, strength, clock_.now_us());
  if (!changes) return changes.error();
  Plan plan = new_plan();
  put_tubules(plan, *changes);
  if (const Tubule* t = graph_.find(a, b)) {
    *plan.response.mutable_link()->mutable_tubule() = to_pb(*t);
  }
  return plan;
}

Result<Plan> PersonaWriter::plan_unlink(const std::string& a, const std::string& b) {
  const Tubule* t = graph_.find(a, b);
  if (t == nullptr) {
    return make_error(ErrorCode::not_found, "no tubule between memories '" + a + "' and '" + b +
                                                "' of persona '" + ref_.persona + "'");
  }
  pb::Tubule old = to_pb(*t);
  Plan plan = new_plan();
  put_tubules(plan, graph_.unlink(a, b));
  *plan.response.mutable_unlink()->mutable_tubule() = std::move(old);
  return plan;
}

Result<Plan> PersonaWriter::plan_consolidation(const std::vector<ConsolidationAction>& actions,
                                               double temperature, size_t checked,
                                               size_t batch_size) {
  Plan plan = new_plan();
  TimeUs now = clock_.now_us();
  pb::ConsolidationCounters tick;
  tick.set_schema_version(kSchema);
  tick.set_ticks(1);
  tick.set_checked(checked);
  tick.set_temperature(temperature);
  tick.set_last_tick_us(now);
  std::unordered_set<std::string> touched;
  auto moved_reason = [](const ConsolidationAction& a) {
    return std::string("consolidation: ") + a.reason;
  };
  for (const auto& a : actions) {
    if (touched.count(a.id) || (!a.merge_into.empty() && touched.count(a.merge_into))) continue;
    auto item = read_item(a.id);
    if (!item || item->tier() != a.from) continue;  // changed since the tier planned it
    switch (a.kind) {
      case ConsolidationAction::promote:
      case ConsolidationAction::demote: {
        auto vec = read_vector(a.id);
        if (!vec) continue;
        pb::MemoryItem moved = *item;
        double prev_health = health_.at(HealthValue{moved.health(), moved.health_updated_at_us()},
                                        moved.tier(), now, temperature);
        // Health is carried over as it is now, so the new tier's decay rate applies from here on.
        moved.set_health(prev_health);
        moved.set_health_updated_at_us(now);
        moved.set_tier(a.to);
        moved.set_tier_entered_at_us(now);
        moved.set_seq(counters_.seq() + 1);
        counters_.set_seq(moved.seq());
        moved.set_updated_at_us(now);
        put_item(plan, moved, nullptr);
        add_history(plan, moved, move_action(a.from, a.to), moved_reason(a), a.from, prev_health,
                    "", "");
        TierEffect out;
        out.tier = a.from;
        out.remove = true;
        out.meta = meta_of(*item);
        plan.tier_effects.push_back(std::move(out));
        TierEffect in;
        in.tier = a.to;
        in.meta = meta_of(moved);
        in.vec = std::move(*vec);
        plan.tier_effects.push_back(std::move(in));
        plan.index_effects.push_back(index_effect_of(moved, false));
        plan.item_effects.push_back(ItemEffect{moved.id(), moved});
        if (a.kind == ConsolidationAction::promote) {
          tick.set_promoted(tick.promoted() + 1);
        } else {
          tick.set_demoted(tick.demoted() + 1);
        }
        if (a.reason == "capacity") tick.set_capacity_evicted(tick.capacity_evicted() + 1);
        break;
      }
      case ConsolidationAction::forget: {
        if (!archive_item(plan, *item, moved_reason(a), pb::FORGET, "", "")) continue;
        tick.set_forgotten(tick.forgotten() + 1);
        if (a.reason == "capacity") tick.set_capacity_evicted(tick.capacity_evicted() + 1);
        break;
      }
      case ConsolidationAction::merge: {
        auto keep = read_item(a.merge_into);
        if (!keep || keep->tier() != a.from) continue;
        pb::MemoryItem k = *keep;
        const pb::MemoryItem& g = *item;
        double hk = health_.at(HealthValue{k.health(), k.health_updated_at_us()}, k.tier(), now,
                               temperature);
        double hg = health_.at(HealthValue{g.health(), g.health_updated_at_us()}, g.tier(), now,
                               temperature);
        k.add_consolidated_from(g.id());
        for (const auto& c : g.consolidated_from()) k.add_consolidated_from(c);
        k.set_access_count(k.access_count() + g.access_count());
        k.set_health(std::max(hk, hg));
        k.set_health_updated_at_us(now);
        k.set_last_access_at_us(std::max(k.last_access_at_us(), g.last_access_at_us()));
        for (const auto& [mk, mv] : g.metadata()) k.mutable_metadata()->insert({mk, mv});
        for (const auto& tag : g.tags()) {
          if (std::find(k.tags().begin(), k.tags().end(), tag) == k.tags().end()) k.add_tags(tag);
        }
        k.set_version(k.version() + 1);
        k.set_seq(counters_.seq() + 1);
        counters_.set_seq(k.seq());
        k.set_updated_at_us(now);
        put_item(plan, k, nullptr);
        add_history(plan, k, pb::MERGE, "consolidation: absorbed near-duplicate '" + g.id() + "'",
                    k.tier(), hk, keep->content(), "", g.id());
        // The kept item takes the other's tubules before the other leaves the graph.
        auto moved_links = graph_.merge_into(k.id(), g.id(), now);
        if (moved_links) put_tubules(plan, *moved_links);
        if (!archive_item(plan, g, "merged into '" + k.id() + "'", pb::MERGE, k.id(), "")) continue;
        TierEffect eff;
        eff.tier = k.tier();
        eff.meta = meta_of(k);
        plan.tier_effects.push_back(std::move(eff));
        plan.index_effects.push_back(index_effect_of(k, false));
        plan.item_effects.push_back(ItemEffect{k.id(), k});
        touched.insert(k.id());
        tick.set_merged(tick.merged() + 1);
        break;
      }
    }
    touched.insert(a.id);
  }
  auto pruned = graph_.prune(now);
  tick.set_tubules_pruned(pruned.size());
  put_tubules(plan, pruned);
  // Archived items past their retention leave for good (a bounded number per tick).
  size_t expired = 0;
  auto st = db_.scan(storage::Cf::archive, ref_.prefix,
                     [&](std::string_view key, std::string_view value) {
                       if (expired >= batch_size) return false;
                       auto rec = storage::decode_record<pb::ArchivedItem>(value, "archived item");
                       if (rec && rec->expires_at_us() > now) return true;
                       plan.batch.del(storage::Cf::archive, key);
                       ++expired;
                       return true;
                     });
  if (!st) return st.error();
  tick.set_archive_expired(expired);

  lymph_.set_schema_version(kSchema);
  lymph_.set_ticks(lymph_.ticks() + 1);
  lymph_.set_checked(lymph_.checked() + tick.checked());
  lymph_.set_promoted(lymph_.promoted() + tick.promoted());
  lymph_.set_demoted(lymph_.demoted() + tick.demoted());
  lymph_.set_forgotten(lymph_.forgotten() + tick.forgotten());
  lymph_.set_merged(lymph_.merged() + tick.merged());
  lymph_.set_capacity_evicted(lymph_.capacity_evicted() + tick.capacity_evicted());
  lymph_.set_tubules_pruned(lymph_.tubules_pruned() + tick.tubules_pruned());
  lymph_.set_archive_expired(lymph_.archive_expired() + tick.archive_expired());
  lymph_.set_last_tick_us(now);
  lymph_.set_temperature(temperature);
  plan.batch.put_proto(storage::Cf::meta, storage::lymphatic_key(ref_.prefix), lymph_);
  put_counters(plan);
  *plan.response.mutable_consolidate()->mutable_tick() = tick;
  *plan.response.mutable_consolidate()->mutable_total() = lymph_;
  planned_items_ += plan.stored_items_delta;
  return plan;
}

Result<pb::NeighboursReply> PersonaWriter::neighbours(const std::string& id) const {
  auto item = read_item(id);
  if (!item) return item.error();
  pb::NeighboursReply reply;
  reply.set_item_id(id);
  TimeUs now = clock_.now_us();
  for (const auto& n : graph_.neighbours(id, now)) {
    auto* out = reply.add_neighbours();
    out->set_item_id(n.id);
    out->set_strength(n.strength);
    if (const Tubule* t = graph_.find(id, n.id)) {
      out->set_consolidated(t->consolidated(graph_.params().consolidate_at));
      out->set_activations(t->activations);
    }
  }
  return reply;
}

std::vector<std::optional<pb::MemoryItem>> PersonaWriter::read_items(
    const std::vector<std::string>& ids) const {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const auto& id : ids) keys.push_back(storage::item_key(ref_.prefix, id));
  auto values = db_.multi_get(storage::Cf::items, keys);
  std::vector<std::optional<pb::MemoryItem>> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!values[i] || !values[i]->has_value()) continue;
    auto rec = storage::decode_record<pb::MemoryItem>(**values[i], item_what(ids[i]));
    if (rec) out[i] = std::move(*rec);
  }
  return out;
}

void PersonaWriter::committed(const Plan& plan) {
  stored_items_ += plan.stored_items_delta;
  planned_items_ -= plan.stored_items_delta;
  if (plan.creates_persona) exists_ = true;
  if (plan.profile) {
    exists_ = true;
    profile_ = *plan.profile;
    if (planned_profile_ && planned_profile_->version() <= profile_.version()) {
      planned_profile_.reset();
    }
  }
  if (plan.deletes_persona) {
    exists_ = false;
    profile_ = pb::Persona();
    planned_profile_.reset();
    planned_delete_ = false;
  }
}

void PersonaWriter::abandoned() {
  planned_items_ = 0;
  planned_profile_.reset();
  planned_delete_ = false;
}

namespace {

pb::Response profile_response(pb::Request::BodyCase method, const pb::Persona& p) {
  pb::Response resp;
  switch (method) {
    case pb::Request::kCreatePersona:
      *resp.mutable_create_persona()->mutable_persona() = p;
      break;
    case pb::Request::kUpdatePersona:
      *resp.mutable_update_persona()->mutable_persona() = p;
      break;
    case pb::Request::kPausePersona:
      *resp.mutable_pause_persona()->mutable_persona() = p;
      break;
    default:
      *resp.mutable_resume_persona()->mutable_persona() = p;
      break;
  }
  return resp;
}

}  // namespace

const pb::Persona* PersonaWriter::planned_or_committed_profile() const {
  if (planned_delete_) return nullptr;
  if (planned_profile_) return &*planned_profile_;
  return exists_ ? &profile_ : nullptr;
}

Result<Plan> PersonaWriter::plan_create_profile(const pb::PersonaWriteRequest& req) {
  const pb::Persona* current = planned_or_committed_profile();
  // A profile only auto-created by a remember (never written through the profile API) may be filled
  // in by create: a persona id used as a plain namespace first can get its profile later.
  if (current != nullptr && current->updated_at_us() != 0) {
    return make_error(ErrorCode::already_exists,
                      "persona '" + ref_.persona + "' already exists (version " +
                          std::to_string(current->version()) + "); use update_persona");
  }
  TimeUs now = clock_.now_us();
  pb::Persona p;
  p.set_schema_version(kSchema);
  p.set_id(ref_.persona);
  p.set_tenant(ref_.tenant);
  p.set_created_at_us(current != nullptr ? current->created_at_us() : now);
  p.set_version(current != nullptr ? current->version() + 1 : 1);
  p.set_status(req.persona().status() == pb::PERSONA_PAUSED ? pb::PERSONA_PAUSED
                                                            : pb::PERSONA_ACTIVE);
  if (auto st = copy_profile_fields(req.persona(), req.fields(), &p); !st) return st.error();
  p.set_updated_at_us(now);
  if (auto st = validate_profile(p); !st) return st.error();
  Plan plan = new_plan();
  plan.batch.put_proto(storage::Cf::personas, ref_.prefix, p);
  plan.creates_persona = current == nullptr;
  plan.response = profile_response(pb::Request::kCreatePersona, p);
  planned_profile_ = p;
  plan.profile = std::move(p);
  return plan;
}

Result<Plan> PersonaWriter::plan_update_profile(const pb::PersonaWriteRequest& req) {
  const pb::Persona* current = planned_or_committed_profile();
  if (current == nullptr) {
    return make_error(ErrorCode::not_found,
                      "persona '" + ref_.persona + "' does not exist; create it first");
  }
  auto next = apply_profile_update(*current, req, clock_.now_us());
  if (!next) return next.error();
  next->set_schema_version(kSchema);
  Plan plan = new_plan();
  plan.batch.put_proto(storage::Cf::personas, ref_.prefix, *next);
  plan.response = profile_response(pb::Request::kUpdatePersona, *next);
  planned_profile_ = *next;
  plan.profile = std::move(*next);
  return plan;
}

Result<Plan> PersonaWriter::plan_status(pb::PersonaStatus status) {
  const pb::Persona* current = planned_or_committed_profile();
  if (current == nullptr) {
    return make_error(ErrorCode::not_found,
                      "persona '" + ref_.persona + "' does not exist; create it first");
  }
  pb::Persona next = *current;
  auto method =
      status == pb::PERSONA_PAUSED ? pb::Request::kPausePersona : pb::Request::kResumePersona;
  Plan plan = new_plan();
  if (next.status() == status ||
      (status == pb::PERSONA_ACTIVE && next.status() == pb::PERSONA_STATUS_UNSPECIFIED)) {
    plan.response = profile_response(method, next);  // already so: nothing to write
    return plan;
  }
  next.set_status(status);
  next.set_version(next.version() + 1);
  next.set_updated_at_us(clock_.now_us());
  plan.batch.put_proto(storage::Cf::personas, ref_.prefix, next);
  plan.response = profile_response(method, next);
  planned_profile_ = next;
  plan.profile = std::move(next);
  return plan;
}

Result<Plan> PersonaWriter::plan_delete_persona() {
  if ((!exists_ && !planned_profile_) || planned_delete_) {
    return make_error(ErrorCode::not_found, "persona '" + ref_.persona + "' does not exist");
  }
  Plan plan = new_plan();
  uint64_t items = 0;
  Status scan_error;
  for (storage::Cf cf : {storage::Cf::items, storage::Cf::archive}) {
    auto s = db_.scan(cf, ref_.prefix, [&](std::string_view key, std::string_view) {
      std::string id(key.substr(ref_.prefix.size()));
      plan.batch.del(storage::Cf::meta, storage::locator_key(ref_.tenant, id));
      if (cf == storage::Cf::items) ++items;
      return true;
    });
    if (!s) return s.error();
  }
  const std::string end = storage::prefix_successor(ref_.prefix);
  for (storage::Cf cf :
       {storage::Cf::items, storage::Cf::vectors, storage::Cf::links, storage::Cf::personas,
        storage::Cf::history, storage::Cf::archive, storage::Cf::meta}) {
    plan.batch.delete_range(cf, ref_.prefix, end);
  }
  plan.deletes_persona = true;
  planned_delete_ = true;
  auto* r = plan.response.mutable_delete_persona();
  r->set_persona_id(ref_.persona);
  r->set_items_deleted(items);
  return plan;
}

Result<pb::HistoryReply> PersonaWriter::history(const std::string& id) const {
  pb::HistoryReply reply;
  Status decode_error;
  auto st = db_.scan(storage::Cf::history, storage::history_prefix(ref_.prefix, id),
                     [&](std::string_view key, std::string_view value) {
                       auto rec = storage::decode_record<pb::HistoryRecord>(
                           value, "history record " + storage::printable_key(key));
                       if (!rec) {
                         decode_error = rec.error();
                         return true;  // report the rest; the corrupt one is named below
                       }
                       *reply.add_records() = std::move(*rec);
                       return true;
                     });
  if (!st) return st.error();
  if (reply.records_size() == 0) {
    if (!decode_error) return decode_error.error();
    return make_error(ErrorCode::not_found, "no history for " + item_what(id));
  }
  return reply;
}

Result<pb::ListReply> PersonaWriter::list(const pb::ListRequest& req) const {
  uint32_t page = req.page_size() == 0 ? kDefaultPageSize : std::min(req.page_size(), kMaxPageSize);
  std::unordered_set<int> tiers(req.tiers().begin(), req.tiers().end());
  pb::ListReply reply;
  std::string start_after =
      req.page_token().empty() ? "" : storage::item_key(ref_.prefix, req.page_token());
  std::string last_id;
  bool more = false;
  Status decode_error;
  auto visit = [&](std::string_view key, std::string_view value) {
    if (static_cast<uint32_t>(req.archived() ? reply.archived_size() : reply.items_size()) >=
        page) {
      more = true;
      return false;
    }
    last_id = std::string(key.substr(ref_.prefix.size()));
    if (req.archived()) {
      auto rec = storage::decode_record<pb::ArchivedItem>(
          value, "archived item " + storage::printable_key(key));
      if (!rec) return true;  // corrupt records are skipped in listings and reported by get
      if (!tiers.empty() && tiers.count(rec->item().tier()) == 0) return true;
      *reply.add_archived() = std::move(*rec);
    } else {
      auto rec =
          storage::decode_record<pb::MemoryItem>(value, "item " + storage::printable_key(key));
      if (!rec) return true;
      if (!tiers.empty() && tiers.count(rec->tier()) == 0) return true;
      *reply.add_items() = present(std::move(*rec));
    }
    return true;
  };
  auto st = db_.scan(req.archived() ? storage::Cf::archive : storage::Cf::items, ref_.prefix, visit,
                     start_after);
  if (!st) return st.error();
  if (more) reply.set_next_page_token(last_id);
  return reply;
}

Result<uint64_t> PersonaWriter::archived_count() const {
  uint64_t n = 0;
  auto st = db_.scan(storage::Cf::archive, ref_.prefix, [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  if (!st) return st.error();
  return n;
}

}  // namespace nca
