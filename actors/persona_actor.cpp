#include "actors/persona_actor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "actors/memory_item_actor.hpp"
#include "actors/metadata_actor.hpp"
#include "actors/persona_directory.hpp"
#include "actors/raft_host_actor.hpp"
#include "actors/reply.hpp"
#include "actors/shard_log.hpp"
#include "actors/tier_manager.hpp"
#include "runtime/annealing.hpp"
#include "runtime/bm25_index.hpp"
#include "runtime/input_validation.hpp"
#include "runtime/recall_ranker.hpp"
#include "runtime/request_ledger.hpp"
#include "storage/keys.hpp"

namespace nca::actors {
namespace {

constexpr size_t kMaxGroup = 256;
// Credit between the write pipeline and the tier managers: at most this many apply messages may
// wait in a tier's mailbox. Writes are acknowledged once durable, long before their vectors are
// indexed; without a bound, a fast client grows the tier's mailbox without limit and every request
// to the tier (stats, a search fallback) waits behind the whole backlog.
constexpr uint64_t kMaxApplyBacklog = 4;
constexpr auto kBacklogRetry = std::chrono::milliseconds(2);
constexpr size_t kIdempotencyEntries = 10000;
constexpr TimeUs kIdempotencyTtlUs = 10 * 60 * kUsPerSecond;
constexpr size_t kMinCandidates = 20;
constexpr std::array<pb::Tier, 3> kTiers = {pb::STM, pb::MTM, pb::LTM};

size_t slot(pb::Tier t) { return t == pb::MTM ? 1 : t == pb::LTM ? 2 : 0; }

// A write waiting for its turn: a client request (validated, normalised), reinforcement after a
// recall, or a lymphatic tick's actions.
struct PendingWrite {
  std::shared_ptr<pb::Request> req;
  caf::response_promise rp;
  std::vector<std::vector<float>> vecs;
  std::vector<std::string> recalled;  // reinforcement + Hebbian after a recall
  bool consolidation = false;
  std::vector<ConsolidationAction> actions;
  size_t checked = 0;
  double temperature = 0;
};

struct InFlight {
  explicit InFlight(Plan p) : plan(std::move(p)) {}
  Plan plan;
  caf::response_promise rp;
  std::string request_id;
  uint32_t method = 0;
  std::string reply;  // the serialized response, when the request has an id ("" otherwise)
};

// Where each item is, for the persona-wide views (lexical index, tier filters, counts).
struct ItemRef {
  std::string id;
  pb::Tier tier = pb::STM;
  TimeUs created_at_us = 0;
  HealthValue health;  // lets lexical candidates be ranked without reading their records
};

struct PersonaState {
  NodeContextPtr ctx;
  std::unique_ptr<PersonaWriter> writer;
  std::array<caf::actor, 3> tiers;
  std::unordered_map<std::string, caf::actor> items;
  std::deque<PendingWrite> queue;
  std::vector<InFlight> group;
  size_t outstanding = 0;
  uint64_t group_no = 0;
  std::unique_ptr<RequestLedger> done;  // replies to recent writes by request id, stored too
  std::unordered_map<std::string, std::vector<caf::response_promise>> duplicates;
  Bm25Index lexical;
  std::unordered_map<uint64_t, ItemRef> by_ordinal;
  std::unordered_map<std::string, uint64_t> ordinal_of;
  std::array<size_t, 3> tier_counts{};
  double temperature = 0;
  TimeUs last_activity_us = 0;
  bool tick_running = false;
  bool deleted = false;  // a delete_persona is durable: the actor finishes and quits
  // The tiers' vector indices once their managers have loaded them: recall searches them on this
  // actor's thread (VectorIndex allows readers next to the manager's writes) instead of asking.
  std::array<IndexPtr, 3> indexes;
  std::shared_ptr<InFlight> delete_reply;  // the delete_persona waiting for the router
  std::array<uint64_t, 3> applies_sent{};
  bool pump_scheduled = false;  // a pump_atom retry is pending (tier backlog full)
  // limits.personas-per-tenant: the tenant's event router said this persona may come into being.
  bool quota_admitted = false;
  std::array<std::shared_ptr<std::atomic<uint64_t>>, 3> applied{
      std::make_shared<std::atomic<uint64_t>>(0), std::make_shared<std::atomic<uint64_t>>(0),
      std::make_shared<std::atomic<uint64_t>>(0)};
};

using PersonaSelf = caf::stateful_actor<PersonaState>;

std::chrono::microseconds timeout_of(const NodeContext& ctx) {
  return std::chrono::microseconds(ctx.request_timeout_us);
}

void forget_ref(PersonaState& st, const std::string& id) {
  auto it = st.ordinal_of.find(id);
  if (it == st.ordinal_of.end()) return;
  auto ref = st.by_ordinal.find(it->second);
  if (ref != st.by_ordinal.end()) {
    st.tier_counts[slot(ref->second.tier)]--;
    st.by_ordinal.erase(ref);
  }
  st.lexical.remove(it->second);
  st.ordinal_of.erase(it);
}

void apply_index_effect(PersonaState& st, const ItemIndexEffect& e) {
  if (e.remove) return forget_ref(st, e.id);
  auto [it, inserted] = st.by_ordinal.try_emplace(e.ordinal);
  if (!inserted) st.tier_counts[slot(it->second.tier)]--;
  it->second = ItemRef{e.id, e.tier, e.created_at_us, e.health};
  st.tier_counts[slot(e.tier)]++;
  st.ordinal_of[e.id] = e.ordinal;
  if (!e.content.empty()) st.lexical.add(e.ordinal, e.content);
}

// Runs `cont` with the embeddings of `texts`: inline for a fast embedder, on the embed worker (off
// the scheduler threads) for one that blocks on I/O.
void with_embeddings(PersonaSelf* self, std::vector<std::string> texts,
                     std::function<void(Result<std::vector<std::vector<float>>>)> cont) {
  auto& ctx = *self->state.ctx;
  if (texts.empty()) return cont(std::vector<std::vector<float>>{});
  if (!ctx.embedder->is_blocking()) return cont(ctx.embedder->embed(texts));
  auto payload = std::make_shared<const std::vector<std::string>>(std::move(texts));
  self->request(ctx.embed_worker, timeout_of(ctx), embed_atom::value, TextsPtr(payload))
      .then([cont](EmbeddingsPtr res) { cont(*res); },
            [cont](caf::error& e) {
              cont(make_error(ErrorCode::unavailable,
                              "embedder did not answer: " + caf::to_string(e)));
            });
}

// Answers a request (and its duplicates) with `bytes`, a serialized Response; an `ok` one answers
// its retries from now on.
void finish_request(PersonaSelf* self, const std::string& request_id, uint32_t method, bool ok,
                    std::string bytes, caf::response_promise& rp) {
  auto& st = self->state;
  if (rp.pending()) rp.deliver(method, bytes);
  if (request_id.empty()) return;
  if (ok) st.done->remember(request_id, {method, bytes});
  auto it = st.duplicates.find(request_id);
  if (it != st.duplicates.end()) {
    for (auto& dup : it->second) {
      if (dup.pending()) dup.deliver(method, bytes);
    }
    st.duplicates.erase(it);
  }
}

void finish_request(PersonaSelf* self, const std::string& request_id, uint32_t method,
                    const pb::Response& resp, caf::response_promise& rp) {
  finish_request(self, request_id, method, resp.status().code() == pb::OK, resp.SerializeAsString(),
                 rp);
}

bool deletes_persona(const PendingWrite& w) {
  return w.req && w.req->body_case() == pb::Request::kDeletePersona;
}

std::vector<std::string> ids_of(const PendingWrite& w) {
  if (w.req) return ids_touched(*w.req);
  if (!w.consolidation) return w.recalled;
  std::vector<std::string> out;
  for (const auto& a : w.actions) {
    out.push_back(a.id);
    if (!a.merge_into.empty()) out.push_back(a.merge_into);
  }
  return out;
}

Result<Plan> make_plan(PersonaSelf* self, PendingWrite& w) {
  auto& st = self->state;
  auto& writer = *st.writer;
  if (w.consolidation) {
    return writer.plan_consolidation(w.actions, w.temperature, w.checked,
                                     st.ctx->policy.lymphatic_batch);
  }
  if (!w.req) return writer.plan_recalled(w.recalled);
  const pb::Request& req = *w.req;
  const std::string& rid = req.header().request_id();
  switch (req.body_case()) {
    case pb::Request::kRemember:
      return writer.plan_remember({&req.remember().memory()}, std::move(w.vecs),
                                  PersonaWriter::RememberReply::single, rid);
    case pb::Request::kRememberBatch: {
      std::vector<const pb::MemoryInput*> inputs;
      inputs.reserve(static_cast<size_t>(req.remember_batch().memories_size()));
      for (const auto& in : req.remember_batch().memories()) inputs.push_back(&in);
      return writer.plan_remember(inputs, std::move(w.vecs),
                                  req.remember_batch().ids_only()
                                      ? PersonaWriter::RememberReply::batch_ids_only
                                      : PersonaWriter::RememberReply::batch,
                                  rid);
    }
    case pb::Request::kUpdate:
      return writer.plan_update(req.update(), w.vecs.empty() ? std::vector<float>{} : w.vecs[0],
                                rid);
    case pb::Request::kForget:
      return writer.plan_forget(req.forget().id(), req.forget().reason(), rid);
    case pb::Request::kRestore:
      return writer.plan_restore(req.restore().id(), rid);
    case pb::Request::kDelete:
      return writer.plan_delete(req.delete_().id(), rid);
    case pb::Request::kTouch:
      return writer.plan_touch({req.touch().id()}, true);
    case pb::Request::kLink: {
      double strength = req.link().strength() > 0 ? req.link().strength()
                                                  : st.ctx->policy.tubules.session_strength;
      return writer.plan_link(req.link().a(), req.link().b(), strength);
    }
    case pb::Request::kUnlink:
      return writer.plan_unlink(req.unlink().a(), req.unlink().b());
    case pb::Request::kCreatePersona:
      return writer.plan_create_profile(req.create_persona());
    case pb::Request::kUpdatePersona:
      return writer.plan_update_profile(req.update_persona());
    case pb::Request::kPausePersona:
      return writer.plan_status(pb::PERSONA_PAUSED);
    case pb::Request::kResumePersona:
      return writer.plan_status(pb::PERSONA_ACTIVE);
    case pb::Request::kDeletePersona:
      return writer.plan_delete_persona();
    default:
      return make_error(ErrorCode::internal, "persona: not a write request");
  }
}

// Takes the plan's tier and item effects (their vectors and records move to the tier managers and
// item actors); the rest of the plan stays as it was.
void apply_effects(PersonaSelf* self, Plan& plan, uint32_t method) {
  auto& st = self->state;
  std::array<std::shared_ptr<std::vector<TierEffect>>, 3> per_tier;
  for (auto& e : plan.tier_effects) {
    auto& v = per_tier[slot(e.tier)];
    if (!v) v = std::make_shared<std::vector<TierEffect>>();
    v->push_back(std::move(e));
  }
  for (size_t i = 0; i < 3; ++i) {
    if (per_tier[i]) {
      st.applies_sent[i]++;
      self->send(st.tiers[i], apply_atom::value, TierEffectsPtr(per_tier[i]));
    }
  }
  for (const auto& e : plan.index_effects) apply_index_effect(st, e);
  // Item actors: refresh live ones; a client write that addresses one item activates it.
  bool activates = method == pb::Request::kUpdate || method == pb::Request::kTouch ||
                   method == pb::Request::kRestore;
  for (auto& e : plan.item_effects) {
    auto it = st.items.find(e.id);
    // Most effects concern items without a live actor (every new memory): no copy for them.
    if (it == st.items.end() && !(activates && e.record)) continue;
    auto rec =
        e.record ? std::make_shared<const pb::MemoryItem>(std::move(*e.record)) : ItemRecordPtr{};
    if (it != st.items.end()) {
      self->send(it->second, refresh_atom::value, rec);
      if (!rec) st.items.erase(it);  // it answers "gone" until its idle timeout ends it
    } else if (activates && rec) {
      st.items.emplace(e.id, spawn_memory_item(self, st.ctx, st.writer->ref(), rec));
    }
  }
}

bool tier_backlog_full(const PersonaState& st) {
  for (size_t i = 0; i < 3; ++i) {
    if (st.applies_sent[i] - st.applied[i]->load(std::memory_order_acquire) >= kMaxApplyBacklog) {
      return true;
    }
  }
  return false;
}

void on_committed(PersonaSelf* self, uint64_t gno, uint64_t idx, bool ok, const std::string& msg);

// On a node of a cluster a plan's batch is an entry of the persona's shard log: the Raft host
// answers once the entry is committed and applied to this node's RocksDB (on every replica it is
// applied the same way), which is when a standalone node's commit would have answered. The request
// has no timeout on purpose: the Raft host answers every proposal, with the index once applied, or
// with an error when this node loses the leadership (a leader cut off from its quorum steps down
// after an election timeout) or its log fails. So the actor never gives up on an entry that may
// still be applied behind its back; on an error the node no longer leads the shard and the
// directory evicts this actor.
void propose(PersonaSelf* self, uint64_t gno, size_t i) {
  auto& st = self->state;
  if (!st.ctx->raft) {
    caf::anon_send(self, committed_atom::value, gno, static_cast<uint64_t>(i), false,
                   std::string("the node is shutting down"));
    return;
  }
  auto idx = static_cast<uint64_t>(i);
  propose_batch(self, *st.ctx, st.writer->ref().shard, st.group[i].plan.batch.rep().Data())
      .then([self, gno, idx](uint64_t) { on_committed(self, gno, idx, true, {}); },
            [self, gno, idx](caf::error& e) {
              on_committed(self, gno, idx, false,
                           "the shard's log did not take the write: " + self->system().render(e));
            });
}

void pump(PersonaSelf* self) {
  auto& st = self->state;
  if (st.outstanding > 0 || st.queue.empty()) return;
  if (tier_backlog_full(st)) {
    // The tier managers bump `applied` without telling us; look again shortly.
    if (!st.pump_scheduled) {
      st.pump_scheduled = true;
      self->delayed_send(self, kBacklogRetry, pump_atom::value);
    }
    return;
  }
  st.group.clear();
  std::unordered_set<std::string> ids;
  while (!st.queue.empty() && st.group.size() < kMaxGroup) {
    // A persona delete commits alone: nothing may be planned against the persona it removes.
    if (deletes_persona(st.queue.front()) && !st.group.empty()) break;
    if (!st.group.empty() && st.group.back().plan.deletes_persona) break;
    auto touched = ids_of(st.queue.front());
    bool conflict = std::any_of(touched.begin(), touched.end(),
                                [&](const std::string& id) { return ids.count(id) > 0; });
    if (conflict) break;  // plans read committed state: the next group sees this one's changes
    PendingWrite w = std::move(st.queue.front());
    st.queue.pop_front();
    std::string rid = w.req ? w.req->header().request_id() : std::string{};
    uint32_t method = w.req ? static_cast<uint32_t>(w.req->body_case())
                            : (w.consolidation ? uint32_t{pb::Request::kConsolidate} : 0u);
    auto plan = make_plan(self, w);
    if (!plan) {
      if (plan.code() == ErrorCode::resource_exhausted) st.ctx->counters.refused_count++;
      if (method != 0) finish_request(self, rid, method, error_response(plan.error()), w.rp);
      continue;
    }
    if (plan->batch.empty()) {
      if (method != 0) finish_request(self, rid, method, plan->response, w.rp);
      continue;
    }
    // The reply goes into the write's own batch: a retry after a failover finds it on the next
    // leader (runtime/request_ledger.hpp).
    // Serialized once: the same bytes answer the request when the write has committed.
    std::string reply;
    if (plan->response.status().code() == pb::OK && method != 0) {
      if (!rid.empty()) reply = plan->response.SerializeAsString();
      st.done->stage(plan->batch, rid, {method, reply});
    }
    ids.insert(touched.begin(), touched.end());
    InFlight f(std::move(*plan));
    f.rp = w.rp;
    f.request_id = rid;
    f.method = method;
    f.reply = std::move(reply);
    st.group.push_back(std::move(f));
  }
  if (st.group.empty()) {
    if (!st.queue.empty()) pump(self);
    return;
  }
  st.outstanding = st.group.size();
  uint64_t gno = ++st.group_no;
  auto me = caf::actor_cast<caf::actor>(self);
  for (size_t i = 0; i < st.group.size(); ++i) {
    if (st.ctx->replicated()) {
      propose(self, gno, i);
      continue;
    }
    st.ctx->db->commit_async(std::move(st.group[i].plan.batch), [me, gno, i](Status s) {
      caf::anon_send(me, committed_atom::value, gno, static_cast<uint64_t>(i), s.ok(),
                     s.ok() ? std::string{} : s.error().message);
    });
  }
}

// The persona's records are gone: drop its indices, tell the router, leave the directory and quit.
// Writes queued behind the delete fail (a retry reaches a fresh, empty persona).
void finish_delete(PersonaSelf* self) {
  auto& st = self->state;
  const auto& ref = st.writer->ref();
  for (auto& w : st.queue) {
    if (!w.req) continue;
    finish_request(self, w.req->header().request_id(), static_cast<uint32_t>(w.req->body_case()),
                   error_response(make_error(ErrorCode::unavailable,
                                             "persona '" + ref.persona +
                                                 "' was deleted while this request waited; retry")),
                   w.rp);
  }
  st.queue.clear();
  for (auto& t : st.tiers) self->send(t, drop_atom::value);
  if (st.ctx->directory != nullptr) {
    st.ctx->directory->remove(ref.tenant, ref.persona, caf::actor_cast<caf::actor>(self));
  }
  auto reply = st.delete_reply;
  auto done = [self, reply](uint64_t requeued) {
    if (reply && reply->method != 0) {
      reply->plan.response.mutable_delete_persona()->set_events_requeued(requeued);
      finish_request(self, reply->request_id, reply->method, reply->plan.response, reply->rp);
    }
    // Not a normal exit: the linked item actors and tier managers end with the persona.
    self->quit(caf::exit_reason::user_shutdown);
  };
  if (!st.ctx->router) return done(0);
  self->request(st.ctx->router, timeout_of(*st.ctx), persona_gone_atom::value, ref.tenant,
                ref.persona)
      .then([done](uint64_t n) { done(n); }, [done](caf::error&) { done(0); });
}

// This node lost the leadership of the persona's shard (actors/persona_directory.hpp): every
// request the actor holds is answered, so no client waits for a reply that would never come, and
// the actor leaves. Writes whose entries were proposed may still be applied by the new leader.
void evicted(PersonaSelf* self) {
  auto& st = self->state;
  const std::string why = std::string(kLeadershipMoved) +
                          ": this node no longer leads the shard of "
                          "persona '" +
                          st.writer->ref().persona + "'; retry";
  for (auto& w : st.queue) {
    if (!w.req) continue;
    finish_request(self, w.req->header().request_id(), static_cast<uint32_t>(w.req->body_case()),
                   error_response(make_error(ErrorCode::unavailable, why)), w.rp);
  }
  st.queue.clear();
  for (auto& f : st.group) {
    if (f.method == 0) continue;
    finish_request(self, f.request_id, f.method,
                   error_response(make_error(ErrorCode::unavailable,
                                             why + "; the write may still be applied")),
                   f.rp);
  }
  st.group.clear();
  self->quit(caf::exit_reason::user_shutdown);
}

void on_committed(PersonaSelf* self, uint64_t gno, uint64_t idx, bool ok, const std::string& msg) {
  auto& st = self->state;
  if (gno != st.group_no || idx >= st.group.size()) return;
  InFlight& f = st.group[idx];
  if (ok) {
    st.writer->committed(f.plan);
    if (f.plan.profile && st.ctx->router) {
      self->send(st.ctx->router, profile_atom::value,
                 std::make_shared<const pb::Persona>(*f.plan.profile));
    }
    apply_effects(self, f.plan, f.method);
    if (f.plan.deletes_persona) {
      // Answered by finish_delete, once the router says how many events it took back.
      st.deleted = true;
      st.delete_reply = std::make_shared<InFlight>(std::move(f));
    } else if (f.method != 0 && !f.reply.empty()) {
      finish_request(self, f.request_id, f.method, true, std::move(f.reply), f.rp);
    } else if (f.method != 0) {
      finish_request(self, f.request_id, f.method, f.plan.response, f.rp);
    }
  } else {
    spdlog::error("persona '{}': storage write failed: {}", st.writer->ref().persona, msg);
    // Tubules are updated when a change is planned: return to what is on disk.
    (void)st.writer->reload_tubules();
    st.writer->abandoned();
    if (f.method != 0) {
      finish_request(
          self, f.request_id, f.method,
          error_response(make_error(
              ErrorCode::unavailable,
              st.ctx->replicated()
                  ? std::string(kLeadershipMoved) + ": " + msg +
                        "; the write may still be applied: retry with the same request id"
                  : "storage write failed, nothing was changed: " + msg)),
          f.rp);
    }
  }
  if (--st.outstanding == 0) {
    st.group.clear();
    if (st.deleted) return finish_delete(self);
    pump(self);
  }
}

// Whether `method` would create the persona and must first be admitted under
// limits.personas-per-tenant (asked once per activation; a persona that exists needs no check).
bool needs_quota(const PersonaState& st, uint32_t method) {
  if (st.quota_admitted || st.ctx->settings.limits.personas_per_tenant <= 0 ||
      st.writer->exists()) {
    return false;
  }
  return method == pb::Request::kRemember || method == pb::Request::kRememberBatch ||
         method == pb::Request::kCreatePersona;
}

void embed_and_queue(PersonaSelf* self, std::shared_ptr<pb::Request> mreq, caf::response_promise rp,
                     std::vector<std::string> texts, std::vector<size_t> text_slots,
                     size_t n_inputs);

caf::result<uint32_t, std::string> enqueue_write(PersonaSelf* self, const RequestPtr& req) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  uint32_t method = static_cast<uint32_t>(req->body_case());
  const std::string& rid = req->header().request_id();
  if (!rid.empty()) {
    if (auto cached = st.done->find(rid)) {
      return caf::result<uint32_t, std::string>(cached->method, cached->bytes);
    }
    auto dup = st.duplicates.find(rid);
    if (dup != st.duplicates.end()) {
      auto rp = self->make_response_promise();
      dup->second.push_back(rp);
      return rp;
    }
  }
  auto mreq = std::make_shared<pb::Request>(*req);
  std::vector<std::string> texts;
  std::vector<size_t> text_slots;  // which input each text embeds
  size_t n_inputs = 0;
  auto validate_input = [&](pb::MemoryInput& in, const std::string& where) -> Status {
    auto s = validate_memory_input(in, ctx.policy);
    if (!s) return make_error(s.error().code, where + s.error().message);
    if (in.embedding().empty()) {
      texts.push_back(in.content());
      text_slots.push_back(n_inputs);
    }
    ++n_inputs;
    return {};
  };
  Status valid;
  switch (mreq->body_case()) {
    case pb::Request::kRemember:
      valid = validate_input(*mreq->mutable_remember()->mutable_memory(), "");
      break;
    case pb::Request::kRememberBatch: {
      auto* mems = mreq->mutable_remember_batch()->mutable_memories();
      if (mems->empty()) {
        valid = make_error(ErrorCode::invalid_argument, "remember_batch needs at least one memory");
      } else if (static_cast<size_t>(mems->size()) > ctx.policy.max_batch) {
        valid = make_error(ErrorCode::invalid_argument, "remember_batch has " +
                                                            std::to_string(mems->size()) +
                                                            " memories; memory.max-batch allows " +
                                                            std::to_string(ctx.policy.max_batch));
      }
      for (int i = 0; valid && i < mems->size(); ++i) {
        valid = validate_input(*mems->Mutable(i), "memories[" + std::to_string(i) + "]: ");
      }
      break;
    }
    case pb::Request::kUpdate: {
      auto* up = mreq->mutable_update();
      valid = validate_update(*up, ctx.policy);
      if (valid && up->has_content()) {
        if (up->embedding().empty()) {
          texts.push_back(up->content());
          text_slots.push_back(0);
        }
        n_inputs = 1;
      }
      break;
    }
    case pb::Request::kLink: {
      double s = mreq->link().strength();
      if (!std::isfinite(s) || s < 0 || s > 1) {
        valid = make_error(ErrorCode::invalid_argument, "link strength must be in [0, 1]");
      }
      [[fallthrough]];
    }
    default: {
      for (const auto& id : ids_touched(*mreq)) {
        if (valid) valid = validate_id(id, "memory id");
      }
      break;
    }
  }
  if (!valid) {
    if (is_limit_error(valid.error())) ctx.counters.refused_size++;
    return reply_error(method, valid.error());
  }
  auto rp = self->make_response_promise();
  if (!rid.empty()) st.duplicates[rid];  // in flight: a retry now waits for this one's reply
  auto proceed = [=]() mutable {
    embed_and_queue(self, mreq, rp, std::move(texts), std::move(text_slots), n_inputs);
  };
  if (!needs_quota(st, method)) {
    proceed();
    return rp;
  }
  // The write would create the persona: first the tenant's event router (which knows all of the
  // tenant's personas) must say there is room for it.
  const auto& ref = st.writer->ref();
  self->request(ctx.router, timeout_of(ctx), persona_quota_atom::value, ref.tenant, ref.persona)
      .then(
          [self, rid, method, rp, proceed](uint32_t, const std::string& bytes) mutable {
            pb::Response r;
            if (!r.ParseFromString(bytes)) {
              r = error_response(
                  make_error(ErrorCode::internal, "the persona count came back unreadable"));
            }
            if (r.status().code() != pb::OK) {
              if (r.status().code() == pb::RESOURCE_EXHAUSTED) {
                self->state.ctx->counters.refused_count++;
              }
              finish_request(self, rid, method, r, rp);
              return;
            }
            self->state.quota_admitted = true;
            proceed();
          },
          [self, rid, method, rp](caf::error& e) mutable {
            finish_request(self, rid, method,
                           error_response(make_error(ErrorCode::unavailable,
                                                     "the tenant's persona count did not come (" +
                                                         self->system().render(e) + "); retry")),
                           rp);
          });
  return rp;
}

void embed_and_queue(PersonaSelf* self, std::shared_ptr<pb::Request> mreq, caf::response_promise rp,
                     std::vector<std::string> texts, std::vector<size_t> text_slots,
                     size_t n_inputs) {
  const uint32_t method = static_cast<uint32_t>(mreq->body_case());
  const std::string rid = mreq->header().request_id();
  with_embeddings(self, std::move(texts), [=](Result<std::vector<std::vector<float>>> emb) mutable {
    auto& s = self->state;
    if (!emb) {
      finish_request(self, rid, method, error_response(emb.error()), rp);
      return;
    }
    PendingWrite w;
    w.req = mreq;
    w.rp = rp;
    w.vecs.resize(n_inputs);
    for (size_t i = 0; i < text_slots.size(); ++i) w.vecs[text_slots[i]] = std::move((*emb)[i]);
    // Inputs that came with their own (validated, normalised) embedding.
    auto own = [&](const pb::MemoryInput& in, size_t i) {
      if (!in.embedding().empty()) w.vecs[i].assign(in.embedding().begin(), in.embedding().end());
    };
    if (mreq->has_remember()) own(mreq->remember().memory(), 0);
    if (mreq->has_remember_batch()) {
      for (int i = 0; i < mreq->remember_batch().memories_size(); ++i) {
        own(mreq->remember_batch().memories(i), static_cast<size_t>(i));
      }
    }
    if (mreq->has_update() && !mreq->update().embedding().empty()) {
      w.vecs[0].assign(mreq->update().embedding().begin(), mreq->update().embedding().end());
    }
    s.queue.push_back(std::move(w));
    pump(self);
  });
}

// ---------------------------------------------------------------------------------------------
// Recall: vector candidates from the tiers (in parallel) and lexical candidates from the persona's
// BM25 index, fused by reciprocal rank, blended with health, spread one hop along tubules.
// ---------------------------------------------------------------------------------------------

struct RecallGather {
  size_t pending = 0;
  std::vector<TierHit> vector_hits;
  std::vector<Bm25Index::Hit> lexical_hits;
  std::string error;
  caf::response_promise rp;
  std::shared_ptr<pb::Request> req;
  RankMode mode = RankMode::hybrid;
  bool spread = true;
  TimeUs now_us = 0;
};

RankMode mode_of(const pb::RecallRequest& r, const MemoryPolicy& p) {
  switch (r.mode()) {
    case pb::VECTOR:
      return RankMode::vector;
    case pb::LEXICAL:
      return RankMode::lexical;
    case pb::HYBRID:
      return RankMode::hybrid;
    default:
      return p.recall_mode == "vector"    ? RankMode::vector
             : p.recall_mode == "lexical" ? RankMode::lexical
                                          : RankMode::hybrid;
  }
}

bool record_matches(const pb::MemoryItem& item, const pb::RecallFilter& f) {
  for (const auto& t : f.tags()) {
    if (std::find(item.tags().begin(), item.tags().end(), t) == item.tags().end()) return false;
  }
  for (const auto& [k, v] : f.metadata()) {
    auto it = item.metadata().find(k);
    if (it == item.metadata().end() || it->second != v) return false;
  }
  if (f.created_after_us() != 0 && item.created_at_us() < f.created_after_us()) return false;
  if (f.created_before_us() != 0 && item.created_at_us() > f.created_before_us()) return false;
  return true;
}

void finish_recall(PersonaSelf* self, const std::shared_ptr<RecallGather>& g) {
  constexpr uint32_t method = pb::Request::kRecall;
  auto& st = self->state;
  if (!g->error.empty()) {
    deliver(g->rp, method,
            error_response(make_error(ErrorCode::unavailable, "recall failed: " + g->error)));
    return;
  }
  const auto& r = g->req->recall();
  const auto& f = r.filter();
  bool record_filters = f.tags_size() > 0 || f.metadata_size() > 0;
  const auto& policy = st.ctx->policy;

  std::sort(g->vector_hits.begin(), g->vector_hits.end(), [](const TierHit& a, const TierHit& b) {
    return a.similarity != b.similarity ? a.similarity > b.similarity : a.id < b.id;
  });
  std::vector<ScoredId> vec_list, lex_list;
  std::unordered_map<std::string, double> health;
  std::unordered_map<std::string, const TierHit*> tier_hit;
  for (const auto& h : g->vector_hits) {
    vec_list.push_back({h.id, h.similarity});
    health[h.id] = h.health;
    tier_hit[h.id] = &h;
  }
  for (const auto& h : g->lexical_hits) {
    auto it = st.by_ordinal.find(h.doc);
    if (it == st.by_ordinal.end()) continue;
    lex_list.push_back({it->second.id, h.score});
    health.try_emplace(it->second.id, st.ctx->health.at(it->second.health, it->second.tier,
                                                        g->now_us, st.temperature));
  }

  // Records: needed for every returned item, for lexical-only candidates (their health) and, with
  // record filters, for every candidate.
  std::unordered_map<std::string, std::optional<pb::MemoryItem>> records;
  auto fetch = [&](const std::vector<std::string>& ids) {
    std::vector<std::string> missing;
    for (const auto& id : ids) {
      if (!records.count(id)) missing.push_back(id);
    }
    if (missing.empty()) return;
    auto got = st.writer->read_items(missing);
    for (size_t i = 0; i < missing.size(); ++i) {
      if (got[i]) {
        double h = st.ctx->health.at(HealthValue{got[i]->health(), got[i]->health_updated_at_us()},
                                     got[i]->tier(), g->now_us, st.temperature);
        health.try_emplace(missing[i], h);
      }
      records.emplace(missing[i], std::move(got[i]));
    }
  };
  auto health_of = [&](const std::string& id) -> std::optional<double> {
    auto rec = records.find(id);
    if (rec != records.end()) {
      if (!rec->second || !record_matches(*rec->second, f)) return std::nullopt;
    }
    auto h = health.find(id);
    if (h == health.end()) return std::nullopt;
    if (f.min_health() > 0 && h->second < f.min_health()) return std::nullopt;
    return h->second;
  };
  if (record_filters) {
    std::vector<std::string> need;
    for (const auto& s : lex_list) need.push_back(s.id);
    for (const auto& s : vec_list) need.push_back(s.id);
    fetch(need);
  }
  RankParams params;
  params.rrf_k = policy.rrf_k;
  params.vector_weight = policy.vector_weight;
  params.lexical_weight = policy.lexical_weight;
  params.health_weight = policy.health_weight;
  auto ranked = fuse(vec_list, lex_list, g->mode, params, health_of);
  if (g->spread && !ranked.empty()) {
    auto top = ranked;
    sort_and_truncate(top, r.k());
    std::vector<std::pair<std::string, double>> seeds;
    for (const auto& h : top) seeds.emplace_back(h.id, h.score);
    auto reached = st.writer->tubules().spread(seeds, g->now_us, true);
    std::vector<std::string> reached_ids;
    std::array<bool, 3> wanted{r.tiers_size() == 0, r.tiers_size() == 0, r.tiers_size() == 0};
    for (int t : r.tiers()) wanted[slot(static_cast<pb::Tier>(t))] = true;
    for (const auto& x : reached) {
      auto ord = st.ordinal_of.find(x.id);
      if (ord == st.ordinal_of.end()) continue;
      const ItemRef& ref = st.by_ordinal.at(ord->second);
      // Items reached through a tubule obey the same tier and time filters as the others.
      if (!wanted[slot(ref.tier)]) continue;
      if (f.created_after_us() != 0 && ref.created_at_us < f.created_after_us()) continue;
      if (f.created_before_us() != 0 && ref.created_at_us > f.created_before_us()) continue;
      health.try_emplace(x.id, st.ctx->health.at(ref.health, ref.tier, g->now_us, st.temperature));
      if (record_filters) reached_ids.push_back(x.id);
    }
    fetch(reached_ids);
    std::vector<SpreadHit> spread_hits;
    for (auto& x : reached) spread_hits.push_back({x.id, x.activation, x.source});
    add_spread(ranked, spread_hits, health_of);
  }
  sort_and_truncate(ranked, r.k());
  std::vector<std::string> final_ids;
  for (const auto& h : ranked) final_ids.push_back(h.id);
  fetch(final_ids);

  pb::Response resp;
  auto* out = resp.mutable_recall();
  std::vector<std::string> returned;
  for (const auto& h : ranked) {
    auto rec = records.find(h.id);
    if (rec == records.end() || !rec->second) continue;
    auto* hit = out->add_hits();
    pb::MemoryItem* item = hit->mutable_item();
    item->Swap(&*rec->second);
    rec->second.reset();  // a record is returned once
    item->set_health(h.health);
    item->set_health_updated_at_us(std::max(g->now_us, item->health_updated_at_us()));
    hit->set_tier(item->tier());
    hit->set_score(h.score);
    hit->set_similarity(h.similarity);
    hit->set_health(h.health);
    hit->set_vector_rank(h.vector_rank);
    hit->set_lexical_rank(h.lexical_rank);
    hit->set_via_item_id(h.via);
    hit->set_fused(h.fused);
    hit->set_activation(h.activation);
    if (r.include_embedding()) {
      auto th = tier_hit.find(h.id);
      if (th != tier_hit.end() && !th->second->embedding.empty()) {
        hit->mutable_embedding()->Add(th->second->embedding.begin(), th->second->embedding.end());
      } else if (auto vec = st.writer->read_vector(h.id)) {
        hit->mutable_embedding()->Add(vec->begin(), vec->end());
      }
    }
    returned.push_back(h.id);
  }
  deliver(g->rp, method, resp);
  if (!r.no_reinforce() && !returned.empty()) {
    PendingWrite w;
    w.recalled = std::move(returned);
    st.queue.push_back(std::move(w));
    pump(self);
  }
}

// One tier's vector search against its index, labels resolved through the persona's own view of its
// items (an item moving between tiers is taken only from the tier the persona has it in).
void search_index(const PersonaState& st, pb::Tier tier, const TierSearch& q, const float* query,
                  std::vector<TierHit>* out) {
  const VectorIndex& index = *st.indexes[slot(tier)];
  const auto& health = st.ctx->health;
  auto accept = [&](uint64_t label) {
    auto it = st.by_ordinal.find(label);
    if (it == st.by_ordinal.end() || it->second.tier != tier) return false;
    const ItemRef& ref = it->second;
    if (q.filter.created_after_us != 0 && ref.created_at_us < q.filter.created_after_us)
      return false;
    if (q.filter.created_before_us != 0 && ref.created_at_us > q.filter.created_before_us) {
      return false;
    }
    return q.filter.min_health <= 0 ||
           health.at(ref.health, tier, q.now_us, q.temperature) >= q.filter.min_health;
  };
  for (const auto& h : index.search(query, q.k, accept)) {
    const ItemRef& ref = st.by_ordinal.at(h.label);
    TierHit hit;
    hit.id = ref.id;
    hit.ordinal = h.label;
    hit.similarity = h.similarity;
    hit.health = health.at(ref.health, tier, q.now_us, q.temperature);
    if (q.include_embedding) {
      if (auto vec = index.vector_of(h.label)) hit.embedding = std::move(*vec);
    }
    out->push_back(std::move(hit));
  }
}

caf::result<uint32_t, std::string> do_recall(PersonaSelf* self, const RequestPtr& req) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  auto mreq = std::make_shared<pb::Request>(*req);
  auto* r = mreq->mutable_recall();
  if (auto s = validate_recall(*r, ctx.policy); !s) {
    return reply_error(pb::Request::kRecall, s.error());
  }
  auto g = std::make_shared<RecallGather>();
  g->rp = self->make_response_promise();
  g->req = mreq;
  g->mode = mode_of(*r, ctx.policy);
  g->spread = r->has_spread() ? r->spread() : ctx.policy.recall_spread;
  g->now_us = ctx.clock->now_us();
  st.last_activity_us = g->now_us;
  bool record_filters = r->filter().tags_size() > 0 || r->filter().metadata_size() > 0;
  size_t depth = std::max(kMinCandidates, r->k() * (record_filters ? ctx.policy.overfetch : 2));
  std::vector<pb::Tier> tiers;
  for (int t : r->tiers()) tiers.push_back(static_cast<pb::Tier>(t));
  if (tiers.empty()) tiers.assign(kTiers.begin(), kTiers.end());
  std::sort(tiers.begin(), tiers.end());
  tiers.erase(std::unique(tiers.begin(), tiers.end()), tiers.end());

  if (g->mode != RankMode::vector && !r->query().empty()) {
    std::array<bool, 3> wanted{};
    for (auto t : tiers) wanted[slot(t)] = true;
    const auto& f = r->filter();
    g->lexical_hits = st.lexical.search(r->query(), depth, [&](uint64_t doc) {
      auto it = st.by_ordinal.find(doc);
      if (it == st.by_ordinal.end() || !wanted[slot(it->second.tier)]) return false;
      if (f.created_after_us() != 0 && it->second.created_at_us < f.created_after_us())
        return false;
      if (f.created_before_us() != 0 && it->second.created_at_us > f.created_before_us()) {
        return false;
      }
      return true;
    });
  }
  if (g->mode == RankMode::lexical) {
    finish_recall(self, g);
    return g->rp;
  }
  std::vector<std::string> texts;
  if (r->query_embedding().empty()) texts.push_back(r->query());
  with_embeddings(self, std::move(texts), [=](Result<std::vector<std::vector<float>>> emb) {
    auto& s = self->state;
    if (!emb) {
      deliver(g->rp, pb::Request::kRecall, error_response(emb.error()));
      return;
    }
    const auto& rr = mreq->recall();
    auto search = std::make_shared<TierSearch>();
    // The direct path searches with the request's own floats; only the fallback through the tier
    // actors needs its own copy (in TierSearch::query).
    const float* query =
        rr.query_embedding().empty() ? (*emb)[0].data() : rr.query_embedding().data();
    search->k = depth;
    search->filter.min_health = rr.filter().min_health();
    search->filter.created_after_us = rr.filter().created_after_us();
    search->filter.created_before_us = rr.filter().created_before_us();
    search->include_embedding = rr.include_embedding();
    search->now_us = g->now_us;
    search->temperature = s.temperature;
    auto readable = [&](pb::Tier t) {
      size_t i = slot(t);
      return s.indexes[i] && s.applied[i]->load(std::memory_order_acquire) == s.applies_sent[i];
    };
    if (std::all_of(tiers.begin(), tiers.end(), readable)) {
      for (pb::Tier t : tiers) search_index(s, t, *search, query, &g->vector_hits);
      finish_recall(self, g);
      return;
    }
    if (rr.query_embedding().empty()) {
      search->query = std::move((*emb)[0]);
    } else {
      search->query.assign(rr.query_embedding().begin(), rr.query_embedding().end());
    }
    g->pending = tiers.size();
    TierSearchPtr q = search;
    for (pb::Tier t : tiers) {
      self->request(s.tiers[slot(t)], timeout_of(*s.ctx), search_atom::value, q)
          .then(
              [=](TierSearchResultPtr res) {
                g->vector_hits.insert(g->vector_hits.end(), res->hits.begin(), res->hits.end());
                if (--g->pending == 0) finish_recall(self, g);
              },
              [=](caf::error& e) {
                g->error = "tier " + std::string(tier_name(t)) + ": " + caf::to_string(e);
                if (--g->pending == 0) finish_recall(self, g);
              });
    }
  });
  return g->rp;
}

// ---------------------------------------------------------------------------------------------
// Lymphatic consolidation and working memory
// ---------------------------------------------------------------------------------------------

double current_temperature(const PersonaState& st, TimeUs now) {
  const auto& p = st.ctx->policy;
  auto schedule = parse_schedule(p.annealing_schedule);
  if (!schedule) return 0;
  double pressure = 0;
  for (size_t i = 0; i < 3; ++i) {
    size_t cap = p.capacity(kTiers[i]);
    if (cap > 0) pressure = std::max(pressure, static_cast<double>(st.tier_counts[i]) / cap);
  }
  double idle_hours =
      static_cast<double>(std::max<TimeUs>(0, now - st.last_activity_us)) / kUsPerHour;
  return temperature(*schedule, p.annealing_intensity, pressure, idle_hours, p.annealing_max);
}

// One lymphatic tick: the tiers propose (at most the batch size checked in all), the persona
// writes.
void run_tick(PersonaSelf* self, caf::response_promise rp) {
  auto& st = self->state;
  if (st.tick_running) {
    if (rp.pending()) {
      deliver(rp, pb::Request::kConsolidate,
              error_response(make_error(ErrorCode::unavailable,
                                        "a consolidation tick is already running; retry")));
    }
    return;
  }
  st.tick_running = true;
  TimeUs now = st.ctx->clock->now_us();
  st.temperature = current_temperature(st, now);
  size_t total = st.tier_counts[0] + st.tier_counts[1] + st.tier_counts[2];
  size_t batch = st.ctx->policy.lymphatic_batch;
  struct Gather {
    size_t pending = 3;
    std::vector<ConsolidationAction> actions;
    size_t checked = 0;
    caf::response_promise rp;
  };
  auto g = std::make_shared<Gather>();
  g->rp = rp;
  double temp = st.temperature;
  auto finish = [self, g, temp]() {
    auto& s = self->state;
    s.tick_running = false;
    PendingWrite w;
    w.consolidation = true;
    w.actions = std::move(g->actions);
    w.checked = g->checked;
    w.temperature = temp;
    w.rp = g->rp;
    s.queue.push_back(std::move(w));
    pump(self);
  };
  // Each tier checks a share of the batch in proportion to its size, so a tick stays bounded.
  size_t given = 0;
  for (size_t i = 0; i < 3; ++i) {
    auto ask = std::make_shared<ConsolidationAsk>();
    ask->temperature = temp;
    ask->now_us = now;
    ask->merge_base = st.ctx->policy.merge_threshold;
    ask->budget = total == 0 ? 0 : (batch * st.tier_counts[i]) / total;
    if (i == 2) ask->budget = batch > given ? batch - given : 0;
    given += ask->budget;
    if (st.tier_counts[i] == 0) ask->budget = 0;
    self->request(st.tiers[i], timeout_of(*st.ctx), consolidate_atom::value,
                  ConsolidationAskPtr(ask))
        .then(
            [=](ConsolidationProposalPtr p) {
              if (!p->error.empty()) {
                spdlog::warn("persona '{}': consolidation of a tier failed: {}",
                             self->state.writer->ref().persona, p->error);
              }
              g->actions.insert(g->actions.end(), p->actions.begin(), p->actions.end());
              g->checked += p->checked;
              if (--g->pending == 0) finish();
            },
            [=](caf::error& e) {
              spdlog::warn("persona '{}': a tier did not answer the consolidation tick: {}",
                           self->state.writer->ref().persona, caf::to_string(e));
              if (--g->pending == 0) finish();
            });
  }
}

caf::result<uint32_t, std::string> do_context(PersonaSelf* self, const RequestPtr& req) {
  auto& st = self->state;
  size_t n = req->context().n() == 0 ? 10 : req->context().n();
  n = std::min(n, st.ctx->policy.working_size);
  struct Gather {
    size_t pending = 3;
    std::vector<std::pair<std::string, double>> active;
    caf::response_promise rp;
  };
  auto g = std::make_shared<Gather>();
  g->rp = self->make_response_promise();
  TimeUs now = st.ctx->clock->now_us();
  for (size_t i = 0; i < 3; ++i) {
    self->request(st.tiers[i], timeout_of(*st.ctx), context_atom::value, uint64_t{n}, int64_t{now},
                  st.temperature)
        .then(
            [=](ActivationsPtr a) {
              g->active.insert(g->active.end(), a->begin(), a->end());
              if (--g->pending > 0) return;
              std::sort(g->active.begin(), g->active.end(), [](const auto& x, const auto& y) {
                return x.second != y.second ? x.second > y.second : x.first < y.first;
              });
              if (g->active.size() > n) g->active.resize(n);
              std::vector<std::string> ids;
              for (const auto& x : g->active) ids.push_back(x.first);
              auto records = self->state.writer->read_items(ids);
              pb::Response resp;
              resp.mutable_context();  // an empty working memory is still a context reply
              for (size_t j = 0; j < ids.size(); ++j) {
                if (!records[j]) continue;
                auto* item = resp.mutable_context()->add_items();
                *item->mutable_item() = self->state.writer->present(std::move(*records[j]));
                item->set_activation(g->active[j].second);
              }
              deliver(g->rp, pb::Request::kContext, resp);
            },
            [=](caf::error& e) {
              if (g->rp.pending()) {
                deliver(g->rp, pb::Request::kContext,
                        error_response(
                            make_error(ErrorCode::unavailable,
                                       "context: tier did not answer: " + caf::to_string(e))));
              }
            });
  }
  return g->rp;
}

caf::result<uint32_t, std::string> do_get(PersonaSelf* self, const RequestPtr& req) {
  auto& st = self->state;
  const std::string& id = req->get().id();
  if (auto s = validate_id(id, "memory id"); !s) return reply_error(pb::Request::kGet, s.error());
  auto it = st.items.find(id);
  if (it == st.items.end()) {
    auto rec = st.writer->read_item(id);
    if (!rec) return reply_error(pb::Request::kGet, rec.error());
    auto a = spawn_memory_item(self, st.ctx, st.writer->ref(),
                               std::make_shared<const pb::MemoryItem>(std::move(*rec)));
    it = st.items.emplace(id, a).first;
  }
  auto rp = self->make_response_promise();
  rp.delegate(it->second, item_get_atom::value, req);
  return rp;
}

caf::result<uint32_t, std::string> do_stats(PersonaSelf* self) {
  auto& st = self->state;
  struct Gather {
    size_t pending = 3;
    pb::Response resp;
    caf::response_promise rp;
  };
  auto g = std::make_shared<Gather>();
  g->rp = self->make_response_promise();
  auto* out = g->resp.mutable_stats();
  out->set_node_id(st.ctx->node_id);
  auto* ps = out->add_persona();
  ps->set_persona_id(st.writer->ref().persona);
  ps->set_live_item_actors(st.items.size());
  auto archived = st.writer->archived_count();
  ps->set_archived(archived ? *archived : 0);
  ps->set_temperature(st.temperature);
  ps->set_tubules(st.writer->tubules().size());
  *ps->mutable_consolidation() = st.writer->consolidation_totals();
  std::array<uint64_t, 3> backlog{};
  for (size_t i = 0; i < 3; ++i) {
    backlog[i] = st.applies_sent[i] - st.applied[i]->load(std::memory_order_acquire);
  }
  for (size_t i = 0; i < 3; ++i) {
    self->request(st.tiers[i], timeout_of(*st.ctx), tstats_atom::value)
        .then(
            [=](TierStatsPtr t) {
              pb::TierStats* ts = g->resp.mutable_stats()->mutable_persona(0)->add_tiers();
              *ts = *t;
              ts->set_index_backlog(backlog[i]);
              if (--g->pending == 0) {
                auto* p = g->resp.mutable_stats()->mutable_persona(0);
                std::sort(p->mutable_tiers()->begin(), p->mutable_tiers()->end(),
                          [](const pb::TierStats& a, const pb::TierStats& b) {
                            return a.tier() < b.tier();
                          });
                uint64_t total = 0;
                for (const auto& tt : p->tiers()) total += tt.items();
                g->resp.mutable_stats()->set_items(total);
                deliver(g->rp, pb::Request::kStats, g->resp);
              }
            },
            [=](caf::error& e) {
              if (g->rp.pending()) {
                deliver(
                    g->rp, pb::Request::kStats,
                    error_response(make_error(ErrorCode::unavailable,
                                              "stats: tier did not answer: " + caf::to_string(e))));
              }
            });
  }
  return g->rp;
}

caf::behavior persona_actor(PersonaSelf* self, NodeContextPtr ctx, std::string tenant,
                            std::string persona) {
  auto& st = self->state;
  st.ctx = ctx;
  st.done = std::make_unique<RequestLedger>(
      *ctx->clock,
      storage::persona_prefix(storage::shard_of(tenant, persona, ctx->policy.shards), tenant,
                              persona),
      kIdempotencyEntries, kIdempotencyTtlUs);
  if (auto n = st.done->load(*ctx->db); !n) {
    spdlog::error("persona '{}': cannot load its request records: {}", persona, n.error().message);
  }
  st.writer = std::make_unique<PersonaWriter>(
      *ctx->db, PersonaRef::make(tenant, persona, ctx->policy.shards), ctx->policy, ctx->health,
      *ctx->clock, *ctx->ids, ctx->policy.tubules, ctx->policy.session_window);
  st.last_activity_us = ctx->clock->now_us();
  ctx->counters.live_personas++;
  self->attach_functor([ctx] { ctx->counters.live_personas--; });
  auto loaded = st.writer->open(
      [&](const pb::MemoryItem& item) { apply_index_effect(st, index_effect_of(item, true)); });
  std::array<std::vector<ItemMeta>, 3> tier_items;
  if (loaded) {
    tier_items = std::move(*loaded);
  } else {
    spdlog::error("persona '{}': cannot load its memories: {}", persona, loaded.error().message);
  }
  if (st.writer->corrupt_items() > 0) {
    ctx->counters.corrupt_records += st.writer->corrupt_items();
    spdlog::error("persona '{}': {} corrupt memory records skipped (get reports each by id)",
                  persona, st.writer->corrupt_items());
  }
  st.temperature = st.writer->consolidation_totals().temperature();
  for (size_t i = 0; i < 3; ++i) {
    auto init = std::make_shared<TierManagerInit>();
    init->ref = st.writer->ref();
    init->tier = kTiers[i];
    init->items = std::move(tier_items[i]);
    init->persona = self->address();
    init->applied = st.applied[i];
    st.tiers[i] = spawn_tier_manager(self, ctx, init);
    // Loads the tier now (lazy_init) so its index reaches recall before the first query.
    self->send(st.tiers[i], tstats_atom::value);
  }
  auto interval = std::chrono::microseconds(ctx->policy.lymphatic_interval_us);
  if (ctx->policy.lymphatic_enabled) self->delayed_send(self, interval, tick_atom::value);
  return {
      [=](handle_atom, RequestPtr req) -> caf::result<uint32_t, std::string> {
        auto& s = self->state;
        uint32_t method = static_cast<uint32_t>(req->body_case());
        int64_t deadline = req->header().deadline_us();
        if (deadline != 0 && s.ctx->clock->now_us() > deadline) {
          return reply_error(method, make_error(ErrorCode::deadline_exceeded,
                                                "the request's deadline passed before persona '" +
                                                    s.writer->ref().persona + "' could start it"));
        }
        switch (req->body_case()) {
          case pb::Request::kRecall:
            return do_recall(self, req);
          case pb::Request::kGet:
            return do_get(self, req);
          case pb::Request::kContext:
            return do_context(self, req);
          case pb::Request::kNeighbours: {
            auto n = s.writer->neighbours(req->neighbours().id());
            if (!n) return reply_error(method, n.error());
            pb::Response resp;
            *resp.mutable_neighbours() = std::move(*n);
            return reply_bytes(method, resp);
          }
          case pb::Request::kConsolidate: {
            auto rp = self->make_response_promise();
            run_tick(self, rp);
            return rp;
          }
          case pb::Request::kHistory: {
            auto h = s.writer->history(req->history().id());
            if (!h) return reply_error(method, h.error());
            pb::Response resp;
            *resp.mutable_history() = std::move(*h);
            return reply_bytes(method, resp);
          }
          case pb::Request::kList: {
            for (int t : req->list().tiers()) {
              if (auto v = validate_tier(static_cast<pb::Tier>(t), false, "tiers"); !v) {
                return reply_error(method, v.error());
              }
            }
            auto l = s.writer->list(req->list());
            if (!l) return reply_error(method, l.error());
            pb::Response resp;
            *resp.mutable_list() = std::move(*l);
            return reply_bytes(method, resp);
          }
          case pb::Request::kStats:
            return do_stats(self);
          case pb::Request::kGetPersona: {
            if (!s.writer->exists()) {
              return reply_error(
                  method, make_error(ErrorCode::not_found,
                                     "persona '" + s.writer->ref().persona + "' does not exist"));
            }
            pb::Response resp;
            *resp.mutable_get_persona()->mutable_persona() = s.writer->profile();
            return reply_bytes(method, resp);
          }
          case pb::Request::kDeletePersona:
            if (!req->delete_persona().confirm()) {
              return reply_error(method, make_error(ErrorCode::invalid_argument,
                                                    "deleting persona '" + s.writer->ref().persona +
                                                        "' removes all its memories; set confirm "
                                                        "to do it"));
            }
            return enqueue_write(self, req);
          case pb::Request::kCreatePersona:
          case pb::Request::kUpdatePersona:
          case pb::Request::kPausePersona:
          case pb::Request::kResumePersona:
          case pb::Request::kRemember:
          case pb::Request::kRememberBatch:
          case pb::Request::kUpdate:
          case pb::Request::kForget:
          case pb::Request::kRestore:
          case pb::Request::kDelete:
          case pb::Request::kTouch:
          case pb::Request::kLink:
          case pb::Request::kUnlink:
            s.last_activity_us = s.ctx->clock->now_us();
            return enqueue_write(self, req);
          default:
            return reply_error(method, make_error(ErrorCode::invalid_argument,
                                                  "this request is not served by a persona"));
        }
      },
      [=](committed_atom, uint64_t gno, uint64_t idx, bool ok, const std::string& msg) {
        on_committed(self, gno, idx, ok, msg);
      },
      [=](pump_atom) {
        self->state.pump_scheduled = false;
        pump(self);
      },
      [=](index_atom, int32_t tier, IndexPtr index) {
        if (pb::Tier_IsValid(tier) && tier != pb::TIER_UNSPECIFIED) {
          self->state.indexes[slot(static_cast<pb::Tier>(tier))] = std::move(index);
        }
      },
      [=](const TierStatsPtr&) {},  // the answer to the loading nudge above
      [=](tick_atom) {
        run_tick(self, caf::response_promise{});
        self->delayed_send(self, interval, tick_atom::value);
      },
      [=](idle_atom, const std::string& id, caf::actor item) {
        auto& s = self->state;
        auto it = s.items.find(id);
        if (it != s.items.end() && it->second == item) s.items.erase(it);
        // Only this actor sends to item actors, and it no longer does: nothing can be lost now.
        self->unlink_from(item);
        self->send_exit(item, caf::exit_reason::user_shutdown);
      },
      [=](evict_atom) { evicted(self); },
      [=](save_atom) -> caf::result<bool> {
        auto& s = self->state;
        auto rp = self->make_response_promise<bool>();
        auto pending = std::make_shared<size_t>(3);
        auto all_ok = std::make_shared<bool>(true);
        for (size_t i = 0; i < 3; ++i) {
          self->request(s.tiers[i], timeout_of(*s.ctx) * 6, save_atom::value)
              .then(
                  [=](bool ok) mutable {
                    *all_ok = *all_ok && ok;
                    if (--*pending == 0) rp.deliver(*all_ok);
                  },
                  [=](caf::error&) mutable {
                    *all_ok = false;
                    if (--*pending == 0) rp.deliver(false);
                  });
        }
        return rp;
      },
  };
}

}  // namespace

caf::actor spawn_persona(caf::actor_system& sys, NodeContextPtr ctx, const std::string& tenant,
                         const std::string& persona) {
  return sys.spawn<caf::lazy_init>(persona_actor, std::move(ctx), tenant, persona);
}

}  // namespace nca::actors
