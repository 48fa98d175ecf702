#include "runtime/persona_writer.hpp"

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
    case pb::MTM: return 1;
    case pb::LTM: return 2;
    default: return 0;
  }
}

std::vector<float> to_vector(const google::protobuf::RepeatedField<float>& f) {
  return std::vector<float>(f.begin(), f.end());
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
    case pb::Request::kUpdate: return {request.update().id()};
    case pb::Request::kForget: return {request.forget().id()};
    case pb::Request::kRestore: return {request.restore().id()};
    case pb::Request::kDelete: return {request.delete_().id()};
    case pb::Request::kTouch: return {request.touch().id()};
    default: return {};
  }
}

PersonaWriter::PersonaWriter(storage::Db& db, PersonaRef ref, const MemoryPolicy& policy,
                             const HealthModel& health, const Clock& clock, IdGenerator& ids)
    : db_(db), ref_(std::move(ref)), policy_(policy), health_(health), clock_(clock), ids_(ids) {
  counters_.set_schema_version(kSchema);
}

std::string PersonaWriter::item_what(const std::string& id) const {
  return "memory '" + id + "' of persona '" + ref_.persona + "'";
}

Result<std::array<std::vector<ItemMeta>, 3>> PersonaWriter::open() {
  auto persona = db_.get(storage::Cf::personas, ref_.prefix);
  if (!persona) return persona.error();
  exists_ = persona->has_value();
  auto counters = db_.get(storage::Cf::meta, storage::counters_key(ref_.prefix));
  if (!counters) return counters.error();
  if (counters->has_value()) {
    auto decoded = storage::decode_record<pb::PersonaCounters>(
        **counters, "counters of persona '" + ref_.persona + "'");
    if (!decoded) return decoded.error();
    counters_ = *decoded;
  }
  std::array<std::vector<ItemMeta>, 3> tiers;
  uint64_t max_ordinal = 0, max_seq = 0;
  corrupt_items_ = 0;
  auto st = db_.scan(storage::Cf::items, ref_.prefix,
                     [&](std::string_view key, std::string_view value) {
                       auto item = storage::decode_record<pb::MemoryItem>(
                           value, "item " + storage::printable_key(key));
                       if (!item) {
                         ++corrupt_items_;
                         return true;
                       }
                       max_ordinal = std::max(max_ordinal, item->ordinal());
                       max_seq = std::max(max_seq, item->seq());
                       tiers[tier_slot(item->tier())].push_back(meta_of(*item));
                       return true;
                     });
  if (!st) return st.error();
  // Counters are written with every change; taking the max also covers a counters record lost to
  // corruption, so ordinals are never reused.
  counters_.set_next_ordinal(std::max(counters_.next_ordinal(), max_ordinal + 1));
  counters_.set_seq(std::max(counters_.seq(), max_seq));
  return tiers;
}

Plan PersonaWriter::new_plan() { return Plan(db_.batch()); }

void PersonaWriter::put_counters(Plan& plan) {
  counters_.set_schema_version(kSchema);
  plan.batch.put_proto(storage::Cf::meta, storage::counters_key(ref_.prefix), counters_);
}

void PersonaWriter::put_item(Plan& plan, const pb::MemoryItem& item, const std::vector<float>* vec) {
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
                                const std::string& prev_content, const std::string& request_id) {
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
                                          std::vector<std::vector<float>> vectors,
                                          bool batch_reply, const std::string& request_id) {
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
  for (size_t i = 0; i < inputs.size(); ++i) {
    const pb::MemoryInput& in = inputs[i];
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
          return fail(make_error(ErrorCode::already_exists,
                                 where + "memory id '" + id + "' is already used by persona '" +
                                     (*loc)->persona_id() + "'"));
        }
        auto existing = read_item(id);
        if (existing) {
          // The same client id again: idempotent, the stored item is the answer.
          *reply->mutable_item() = present(*existing);
          reply->set_created(false);
          continue;
        }
        if (existing.code() != ErrorCode::not_found) return fail(existing.error());
        return fail(make_error(ErrorCode::already_exists,
                               where + "memory id '" + id +
                                   "' is in the archive (forgotten or merged); restore it instead"));
      }
    } else {
      id = ids_.uuid_v7();
      ids_in_call.insert(id);
    }
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

    TierEffect eff;
    eff.tier = item.tier();
    eff.meta = meta_of(item);
    eff.vec = std::move(vectors[i]);
    plan.tier_effects.push_back(std::move(eff));
    plan.item_effects.push_back(ItemEffect{id, item});
    *reply->mutable_item() = std::move(item);
    reply->set_created(true);
  }
  if (!plan.tier_effects.empty()) {
    put_counters(plan);
    if (!exists_) {
      pb::Persona p;
      p.set_schema_version(kSchema);
      p.set_id(ref_.persona);
      p.set_tenant(ref_.tenant);
      p.set_created_at_us(now);
      p.set_version(1);
      plan.batch.put_proto(storage::Cf::personas, ref_.prefix, p);
      plan.creates_persona = true;
    }
  }
  if (batch_reply) {
    *plan.response.mutable_remember_batch() = std::move(replies);
  } else {
    *plan.response.mutable_remember() = std::move(*replies.mutable_results(0));
  }
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
  double prev_health = health_.at(HealthValue{item.health(), item.health_updated_at_us()},
                                  item.tier(), now);
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
  plan.item_effects.push_back(ItemEffect{item.id(), item});
  *plan.response.mutable_update()->mutable_item() = present(std::move(item));
  return plan;
}

Result<Plan> PersonaWriter::plan_forget(const std::string& id, const std::string& reason,
                                        const std::string& request_id) {
  auto current = read_item(id);
  if (!current) return current.error();
  auto vec = read_vector(id);
  TimeUs now = clock_.now_us();
  pb::MemoryItem item = std::move(*current);
  double prev_health = health_.at(HealthValue{item.health(), item.health_updated_at_us()},
                                  item.tier(), now);

  Plan plan = new_plan();
  pb::ArchivedItem arch;
  arch.set_schema_version(kSchema);
  *arch.mutable_item() = item;
  if (vec) arch.mutable_embedding()->Add(vec->begin(), vec->end());
  arch.set_reason(reason.empty() ? "forgotten by client" : reason);
  arch.set_archived_at_us(now);
  arch.set_expires_at_us(now + policy_.archive_retention_us);
  plan.batch.put_proto(storage::Cf::archive, storage::item_key(ref_.prefix, id), arch);
  plan.batch.del(storage::Cf::items, storage::item_key(ref_.prefix, id));
  plan.batch.del(storage::Cf::vectors, storage::item_key(ref_.prefix, id));
  add_history(plan, item, pb::FORGET, arch.reason(), item.tier(), prev_health, item.content(),
              request_id);
  put_counters(plan);
  TierEffect eff;
  eff.tier = item.tier();
  eff.remove = true;
  eff.meta = meta_of(item);
  plan.tier_effects.push_back(std::move(eff));
  plan.item_effects.push_back(ItemEffect{id, std::nullopt});
  *plan.response.mutable_forget()->mutable_item() = present(std::move(item));
  return plan;
}

Result<Plan> PersonaWriter::plan_restore(const std::string& id, const std::string& request_id) {
  auto arch = read_archived(id);
  if (!arch) return arch.error();
  if (!arch->has_value()) {
    auto live = read_item(id);
    if (live) {
      return make_error(ErrorCode::conflict, item_what(id) + " is not archived; nothing to restore");
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
  add_history(plan, item, pb::RESTORE, "restored from archive (" + rec.reason() + ")",
              pb::TIER_UNSPECIFIED, 0, "", request_id);
  put_counters(plan);
  TierEffect eff;
  eff.tier = item.tier();
  eff.meta = meta_of(item);
  eff.vec = std::move(vec);
  plan.tier_effects.push_back(std::move(eff));
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
  plan.batch.del(storage::Cf::archive, storage::item_key(ref_.prefix, id));
  pb::ItemLocator loc;
  loc.set_schema_version(kSchema);
  loc.set_persona_id(ref_.persona);
  loc.set_deleted(true);
  plan.batch.put_proto(storage::Cf::meta, storage::locator_key(ref_.tenant, id), loc);
  add_history(plan, rec, pb::DELETE, "deleted by client", rec.tier(), rec.health(), rec.content(),
              request_id);
  put_counters(plan);
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
    plan.item_effects.push_back(ItemEffect{id, item});
    if (acknowledged && !plan.response.has_touch()) {
      *plan.response.mutable_touch()->mutable_item() = present(std::move(item));
    }
  }
  return plan;
}

void PersonaWriter::committed(const Plan& plan) {
  if (plan.creates_persona) exists_ = true;
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
    if (static_cast<uint32_t>(req.archived() ? reply.archived_size() : reply.items_size()) >= page) {
      more = true;
      return false;
    }
    last_id = std::string(key.substr(ref_.prefix.size()));
    if (req.archived()) {
      auto rec = storage::decode_record<pb::ArchivedItem>(value, "archived item " +
                                                                      storage::printable_key(key));
      if (!rec) return true;  // corrupt records are skipped in listings and reported by get
      if (!tiers.empty() && tiers.count(rec->item().tier()) == 0) return true;
      *reply.add_archived() = std::move(*rec);
    } else {
      auto rec = storage::decode_record<pb::MemoryItem>(value, "item " + storage::printable_key(key));
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
