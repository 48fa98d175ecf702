#include "actors/persona_actor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "actors/memory_item_actor.hpp"
#include "actors/reply.hpp"
#include "actors/tier_manager.hpp"
#include "runtime/idempotency_cache.hpp"
#include "runtime/input_validation.hpp"

namespace nca::actors {
namespace {

constexpr size_t kMaxGroup = 256;
constexpr size_t kIdempotencyEntries = 10000;
constexpr TimeUs kIdempotencyTtlUs = 10 * 60 * kUsPerSecond;
constexpr std::array<pb::Tier, 3> kTiers = {pb::STM, pb::MTM, pb::LTM};

size_t slot(pb::Tier t) { return t == pb::MTM ? 1 : t == pb::LTM ? 2 : 0; }

using Reply = std::pair<uint32_t, std::string>;

// A write waiting for its turn. `req` is the validated (normalised) request; null for reinforcement.
struct PendingWrite {
  std::shared_ptr<pb::Request> req;
  caf::response_promise rp;
  std::vector<std::vector<float>> vecs;
  std::vector<std::string> touch_ids;
};

struct InFlight {
  explicit InFlight(Plan p) : plan(std::move(p)) {}
  Plan plan;
  caf::response_promise rp;
  std::string request_id;
  uint32_t method = 0;
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
  std::unique_ptr<IdempotencyCache<Reply>> done;
  std::unordered_map<std::string, std::vector<caf::response_promise>> duplicates;
};

using Self = caf::stateful_actor<PersonaState>;

std::chrono::microseconds timeout_of(const NodeContext& ctx) {
  return std::chrono::microseconds(ctx.request_timeout_us);
}

// Runs `cont` with the embeddings of `texts`: inline for a fast embedder, on the embed worker (off the
// scheduler threads) for one that blocks on I/O.
void with_embeddings(Self* self, std::vector<std::string> texts,
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

void finish_request(Self* self, const std::string& request_id, uint32_t method,
                    const pb::Response& resp, caf::response_promise& rp) {
  auto& st = self->state;
  std::string bytes = resp.SerializeAsString();
  if (rp.pending()) rp.deliver(method, bytes);
  if (request_id.empty()) return;
  if (resp.status().code() == pb::OK) st.done->put(request_id, Reply{method, bytes});
  auto it = st.duplicates.find(request_id);
  if (it != st.duplicates.end()) {
    for (auto& dup : it->second) {
      if (dup.pending()) dup.deliver(method, bytes);
    }
    st.duplicates.erase(it);
  }
}

Result<Plan> make_plan(Self* self, PendingWrite& w) {
  auto& writer = *self->state.writer;
  if (!w.req) return writer.plan_touch(w.touch_ids, false);
  const pb::Request& req = *w.req;
  const std::string& rid = req.header().request_id();
  switch (req.body_case()) {
    case pb::Request::kRemember:
      return writer.plan_remember({req.remember().memory()}, std::move(w.vecs), false, rid);
    case pb::Request::kRememberBatch: {
      std::vector<pb::MemoryInput> inputs(req.remember_batch().memories().begin(),
                                          req.remember_batch().memories().end());
      return writer.plan_remember(inputs, std::move(w.vecs), true, rid);
    }
    case pb::Request::kUpdate:
      return writer.plan_update(req.update(), w.vecs.empty() ? std::vector<float>{} : w.vecs[0],
                                rid);
    case pb::Request::kForget: return writer.plan_forget(req.forget().id(), req.forget().reason(), rid);
    case pb::Request::kRestore: return writer.plan_restore(req.restore().id(), rid);
    case pb::Request::kDelete: return writer.plan_delete(req.delete_().id(), rid);
    case pb::Request::kTouch: return writer.plan_touch({req.touch().id()}, true);
    default:
      return make_error(ErrorCode::internal, "persona: not a write request");
  }
}

void apply_effects(Self* self, const Plan& plan, uint32_t method) {
  auto& st = self->state;
  std::array<std::shared_ptr<std::vector<TierEffect>>, 3> per_tier;
  for (const auto& e : plan.tier_effects) {
    auto& v = per_tier[slot(e.tier)];
    if (!v) v = std::make_shared<std::vector<TierEffect>>();
    v->push_back(e);
  }
  for (size_t i = 0; i < 3; ++i) {
    if (per_tier[i]) self->send(st.tiers[i], apply_atom::value, TierEffectsPtr(per_tier[i]));
  }
  // Item actors: refresh live ones; a client write that addresses one item activates it.
  bool activates = method == pb::Request::kUpdate || method == pb::Request::kTouch ||
                   method == pb::Request::kRestore;
  for (const auto& e : plan.item_effects) {
    auto rec = e.record ? std::make_shared<const pb::MemoryItem>(*e.record) : ItemRecordPtr{};
    auto it = st.items.find(e.id);
    if (it != st.items.end()) {
      self->send(it->second, refresh_atom::value, rec);
      if (!rec) st.items.erase(it);  // it answers "gone" until its idle timeout ends it
    } else if (activates && rec) {
      st.items.emplace(e.id, spawn_memory_item(self, st.ctx, st.writer->ref(), rec));
    }
  }
}

void pump(Self* self) {
  auto& st = self->state;
  if (st.outstanding > 0 || st.queue.empty()) return;
  st.group.clear();
  std::unordered_set<std::string> ids;
  while (!st.queue.empty() && st.group.size() < kMaxGroup) {
    auto touched = st.queue.front().req ? ids_touched(*st.queue.front().req)
                                        : st.queue.front().touch_ids;
    bool conflict = std::any_of(touched.begin(), touched.end(),
                                [&](const std::string& id) { return ids.count(id) > 0; });
    if (conflict) break;  // plans read committed state: the next group sees this one's changes
    PendingWrite w = std::move(st.queue.front());
    st.queue.pop_front();
    std::string rid = w.req ? w.req->header().request_id() : std::string{};
    uint32_t method = w.req ? static_cast<uint32_t>(w.req->body_case()) : 0;
    auto plan = make_plan(self, w);
    if (!plan) {
      if (w.req) finish_request(self, rid, method, error_response(plan.error()), w.rp);
      continue;
    }
    if (plan->batch.empty()) {
      if (w.req) finish_request(self, rid, method, plan->response, w.rp);
      continue;
    }
    ids.insert(touched.begin(), touched.end());
    InFlight f(std::move(*plan));
    f.rp = w.rp;
    f.request_id = rid;
    f.method = method;
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
    st.ctx->db->commit_async(std::move(st.group[i].plan.batch), [me, gno, i](Status s) {
      caf::anon_send(me, committed_atom::value, gno, static_cast<uint64_t>(i), s.ok(),
                     s.ok() ? std::string{} : s.error().message);
    });
  }
}

void on_committed(Self* self, uint64_t gno, uint64_t idx, bool ok, const std::string& msg) {
  auto& st = self->state;
  if (gno != st.group_no || idx >= st.group.size()) return;
  InFlight& f = st.group[idx];
  if (ok) {
    st.writer->committed(f.plan);
    apply_effects(self, f.plan, f.method);
    if (f.method != 0) finish_request(self, f.request_id, f.method, f.plan.response, f.rp);
  } else {
    spdlog::error("persona '{}': storage write failed: {}", st.writer->ref().persona, msg);
    if (f.method != 0) {
      finish_request(self, f.request_id, f.method,
                     error_response(make_error(ErrorCode::unavailable,
                                               "storage write failed, nothing was changed: " + msg)),
                     f.rp);
    }
  }
  if (--st.outstanding == 0) {
    st.group.clear();
    pump(self);
  }
}

caf::result<uint32_t, std::string> enqueue_write(Self* self, const RequestPtr& req) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  uint32_t method = static_cast<uint32_t>(req->body_case());
  const std::string& rid = req->header().request_id();
  if (!rid.empty()) {
    if (auto cached = st.done->find(rid)) return caf::result<uint32_t, std::string>(cached->first, cached->second);
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
        valid = make_error(ErrorCode::invalid_argument,
                           "remember_batch has " + std::to_string(mems->size()) +
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
    default: {
      const auto touched = ids_touched(*mreq);
      for (const auto& id : touched) {
        if (valid) valid = validate_id(id, "memory id");
      }
      break;
    }
  }
  if (!valid) return reply_error(method, valid.error());
  auto rp = self->make_response_promise();
  if (!rid.empty()) st.duplicates[rid];  // in flight: a retry now waits for this one's reply
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
  return rp;
}

struct RecallGather {
  size_t pending = 0;
  std::vector<TierHit> hits;
  std::string error;
  caf::response_promise rp;
  std::shared_ptr<pb::Request> req;
};

void finish_recall(Self* self, const std::shared_ptr<RecallGather>& g) {
  constexpr uint32_t method = pb::Request::kRecall;
  if (!g->error.empty()) {
    deliver(g->rp, method,
            error_response(make_error(ErrorCode::unavailable, "recall failed: " + g->error)));
    return;
  }
  const auto& r = g->req->recall();
  std::stable_sort(g->hits.begin(), g->hits.end(), [](const TierHit& a, const TierHit& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.item.id() < b.item.id();
  });
  if (g->hits.size() > r.k()) g->hits.resize(r.k());
  pb::Response resp;
  auto* out = resp.mutable_recall();
  std::vector<std::string> ids;
  for (auto& h : g->hits) {
    auto* hit = out->add_hits();
    ids.push_back(h.item.id());
    *hit->mutable_item() = std::move(h.item);
    hit->set_score(h.score);
    hit->set_similarity(h.similarity);
    hit->set_health(h.health);
    hit->set_vector_rank(h.vector_rank);
    if (!h.embedding.empty()) hit->mutable_embedding()->Add(h.embedding.begin(), h.embedding.end());
  }
  deliver(g->rp, method, resp);
  if (!r.no_reinforce() && !ids.empty()) {
    PendingWrite w;
    w.touch_ids = std::move(ids);
    self->state.queue.push_back(std::move(w));
    pump(self);
  }
}

caf::result<uint32_t, std::string> do_recall(Self* self, const RequestPtr& req) {
  auto& ctx = *self->state.ctx;
  auto mreq = std::make_shared<pb::Request>(*req);
  auto* r = mreq->mutable_recall();
  if (auto s = validate_recall(*r, ctx.policy); !s) return reply_error(pb::Request::kRecall, s.error());
  auto rp = self->make_response_promise();
  std::vector<std::string> texts;
  if (r->query_embedding().empty()) texts.push_back(r->query());
  with_embeddings(self, std::move(texts), [=](Result<std::vector<std::vector<float>>> emb) {
    auto& st = self->state;
    auto g = std::make_shared<RecallGather>();
    g->rp = rp;
    g->req = mreq;
    if (!emb) {
      deliver(g->rp, pb::Request::kRecall, error_response(emb.error()));
      return;
    }
    const auto& rr = mreq->recall();
    auto search = std::make_shared<TierSearch>();
    if (rr.query_embedding().empty()) {
      search->query = std::move((*emb)[0]);
    } else {
      search->query.assign(rr.query_embedding().begin(), rr.query_embedding().end());
    }
    search->k = rr.k();
    search->filter.min_health = rr.filter().min_health();
    search->filter.created_after_us = rr.filter().created_after_us();
    search->filter.created_before_us = rr.filter().created_before_us();
    search->tags.assign(rr.filter().tags().begin(), rr.filter().tags().end());
    for (const auto& [k, v] : rr.filter().metadata()) search->metadata.emplace_back(k, v);
    std::sort(search->metadata.begin(), search->metadata.end());
    search->include_embedding = rr.include_embedding();
    search->health_weight = st.ctx->policy.health_weight;
    search->overfetch = st.ctx->policy.overfetch;
    search->now_us = st.ctx->clock->now_us();
    std::vector<pb::Tier> tiers;
    for (int t : rr.tiers()) tiers.push_back(static_cast<pb::Tier>(t));
    if (tiers.empty()) tiers.assign(kTiers.begin(), kTiers.end());
    std::sort(tiers.begin(), tiers.end());
    tiers.erase(std::unique(tiers.begin(), tiers.end()), tiers.end());
    g->pending = tiers.size();
    TierSearchPtr q = search;
    for (pb::Tier t : tiers) {
      self->request(st.tiers[slot(t)], timeout_of(*st.ctx), search_atom::value, q)
          .then(
              [=](TierSearchResultPtr res) {
                if (!res->error.empty()) g->error = res->error;
                g->hits.insert(g->hits.end(), res->hits.begin(), res->hits.end());
                if (--g->pending == 0) finish_recall(self, g);
              },
              [=](caf::error& e) {
                g->error = "tier " + std::string(tier_name(t)) + ": " + caf::to_string(e);
                if (--g->pending == 0) finish_recall(self, g);
              });
    }
  });
  return rp;
}

caf::result<uint32_t, std::string> do_get(Self* self, const RequestPtr& req) {
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

caf::result<uint32_t, std::string> do_stats(Self* self) {
  auto& st = self->state;
  struct Gather {
    size_t pending = 3;
    pb::Response resp;
    caf::response_promise rp;
    std::string error;
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
  for (size_t i = 0; i < 3; ++i) {
    self->request(st.tiers[i], timeout_of(*st.ctx), tstats_atom::value)
        .then(
            [=](TierStatsPtr t) {
              *g->resp.mutable_stats()->mutable_persona(0)->add_tiers() = *t;
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
                deliver(g->rp, pb::Request::kStats,
                        error_response(make_error(ErrorCode::unavailable,
                                                  "stats: tier did not answer: " +
                                                      caf::to_string(e))));
              }
            });
  }
  return g->rp;
}

caf::behavior persona_actor(Self* self, NodeContextPtr ctx, std::string tenant,
                            std::string persona) {
  auto& st = self->state;
  st.ctx = ctx;
  st.done = std::make_unique<IdempotencyCache<Reply>>(*ctx->clock, kIdempotencyEntries,
                                                      kIdempotencyTtlUs);
  st.writer = std::make_unique<PersonaWriter>(
      *ctx->db, PersonaRef::make(tenant, persona, ctx->policy.shards), ctx->policy, ctx->health,
      *ctx->clock, *ctx->ids);
  ctx->counters.live_personas++;
  self->attach_functor([ctx] { ctx->counters.live_personas--; });
  auto loaded = st.writer->open();
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
  for (size_t i = 0; i < 3; ++i) {
    auto init = std::make_shared<TierManagerInit>();
    init->ref = st.writer->ref();
    init->tier = kTiers[i];
    init->items = std::move(tier_items[i]);
    st.tiers[i] = spawn_tier_manager(self, ctx, init);
  }
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
          case pb::Request::kRecall: return do_recall(self, req);
          case pb::Request::kGet: return do_get(self, req);
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
          case pb::Request::kStats: return do_stats(self);
          case pb::Request::kRemember:
          case pb::Request::kRememberBatch:
          case pb::Request::kUpdate:
          case pb::Request::kForget:
          case pb::Request::kRestore:
          case pb::Request::kDelete:
          case pb::Request::kTouch: return enqueue_write(self, req);
          default:
            return reply_error(method, make_error(ErrorCode::invalid_argument,
                                                  "this request is not served by a persona"));
        }
      },
      [=](committed_atom, uint64_t gno, uint64_t idx, bool ok, const std::string& msg) {
        on_committed(self, gno, idx, ok, msg);
      },
      [=](idle_atom, const std::string& id, caf::actor item) {
        auto& s = self->state;
        auto it = s.items.find(id);
        if (it != s.items.end() && it->second == item) s.items.erase(it);
        // Only this actor sends to item actors, and it no longer does: nothing can be lost now.
        self->unlink_from(item);
        self->send_exit(item, caf::exit_reason::user_shutdown);
      },
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
