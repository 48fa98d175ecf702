#include "actors/event_router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "actors/api_actor.hpp"
#include "actors/messages.hpp"
#include "actors/metadata_actor.hpp"
#include "actors/peer_transport.hpp"
#include "actors/persona_directory.hpp"
#include "actors/raft_host_actor.hpp"
#include "actors/reply.hpp"
#include "actors/shard_log.hpp"
#include "proto/wire.hpp"
#include "runtime/event_input.hpp"
#include "runtime/event_queue.hpp"
#include "runtime/ids.hpp"
#include "runtime/persona_profile.hpp"
#include "runtime/persona_quota.hpp"
#include "storage/keys.hpp"
#include "storage/records.hpp"

namespace nca::actors {

namespace {

using quota_retry_atom = caf::atom_constant<caf::atom("qretry")>;
// How often a persona-count question waiting for the tenant's event shard asks again.
constexpr std::chrono::microseconds kQuotaRetryEvery{25'000};
// Long polls end in slots of this length: one timer per slot with polls ending in it, not one per
// poll (a worker polling thousands of times a second would otherwise cost as many timer
// registrations, and as many late timer messages for polls answered early). A poll's wait may
// thus end up to one slot late.
constexpr TimeUs kWaitSlotUs = 10'000;

using Reply = caf::result<uint32_t, std::string>;

// The answer to a next_event that found nothing.
pb::Response no_event() {
  pb::Response resp;
  resp.mutable_next_event();
  return resp;
}

// A next_event long poll waiting for its persona's inbox.
struct Waiter {
  uint64_t id = 0;
  uint32_t max_events = 0;  // as asked (0: one event, in `event`)
  caf::response_promise rp;
};

using PersonaKey = std::pair<std::string, std::string>;  // (tenant, persona)

// The memories of a persona's assignments on their way to it: at most one remember_batch in
// flight per persona; what arrives meanwhile waits and goes in the next one.
struct PersonaMemories {
  std::vector<pb::MemoryInput> waiting;
  uint64_t request = 0;  // the one in flight, 0: none
  TimeUs deadline_us = 0;
  std::string what;                        // its memory ids, for a warning
  std::shared_ptr<pb::Request> in_flight;  // its body, to retry its memories one by one
  size_t one_by_one = 0;                   // waiting memories to send alone (after a failed batch)
  uint32_t ticks_waited = 0;               // memory flush ticks the oldest waiting one has seen
};

// A persona-count question from a persona actor about to create its persona.
struct QuotaAsk {
  std::string tenant, persona;
  caf::typed_response_promise<uint32_t, std::string> rp;
  TimeUs give_up_us = 0;  // after this, the question is answered unavailable
};

struct RouterState {
  NodeContextPtr ctx;
  std::map<std::string, EventQueue> queues;                                   // by tenant
  std::map<std::pair<std::string, std::string>, std::deque<Waiter>> waiters;  // (tenant, persona)
  uint64_t next_waiter = 0;
  // When each long poll's wait ends (a poll answered before stays here until then), and the wait
  // slots a timer is armed for (arm_wait_timer).
  std::multimap<TimeUs, std::tuple<std::string, std::string, uint64_t>> wait_ends;
  std::set<TimeUs> wait_timers;
  bool memory_flush_armed = false;  // a memory_flush_atom is on its way
  // Events acked shortly before the last stop (load()): their memories may still have been
  // waiting, so they are stored again (same ids: no duplicates).
  std::vector<pb::Event> recently_acked;
  bool draining = false;  // the node is stopping: memories go at once
  std::vector<caf::typed_response_promise<bool>> drains;
  // Commits in flight: what to do once each is durable (or failed), by sequence number.
  uint64_t commit_seq = 0;
  std::unordered_map<uint64_t, std::function<void(Status)>> in_flight;
  bool reload_needed = false;
  // The serving term (cluster::ShardRoutes::serving_term) of each shard this node served when the
  // queues were last loaded: a request for a shard served under another term is judged only after
  // a reload.
  std::map<uint32_t, uint64_t> loaded_terms;
  bool reload_queued = false;
  std::deque<std::pair<TimeUs, std::string>> acked;  // (finished_at, key) for retention
  uint64_t next_memory_request = 0;
  std::map<PersonaKey, PersonaMemories> memories;
  std::unique_ptr<PersonaQuota> quota;  // limits.personas-per-tenant, for tenants served here
  // Persona-count questions waiting for the tenant's event shard to have a leader to ask.
  std::unordered_map<uint64_t, QuotaAsk> quota_asks;
  uint64_t next_quota_ask = 0;
  static inline const char* name = "nca.event_router";
};

using RouterSelf = caf::stateful_actor<RouterState>;

// A tenant's events live in one shard: the one its empty persona name hashes to.
uint32_t event_shard(const NodeContext& ctx, const std::string& tenant) {
  return storage::events_shard(tenant, static_cast<uint32_t>(ctx.policy.shards));
}

void reload(RouterSelf* self);

// A persona's profile write or delete on a node that does not serve the tenant's events goes to
// the node that does (through the peer transport, as a peer-only cluster_admin report). When no
// node serves them right now it is dropped: the next leader reads profiles from its own copy, or
// looks a persona up when it polls (do_next).
void tell_event_leader(RouterSelf* self, const std::string& tenant, pb::Request report) {
  auto& ctx = *self->state.ctx;
  if (!ctx.replicated() || !ctx.transport) return;
  auto route = ctx.routes->route(event_shard(ctx, tenant));
  if (route.kind != cluster::ShardRoutes::Kind::forward) return;
  report.mutable_header()->set_schema_version(wire::kSchemaVersion);
  report.mutable_header()->set_tenant(tenant);
  self->request(ctx.transport, std::chrono::microseconds(ctx.request_timeout_us),
                forward_atom::value, route.leader, uint32_t{pb::Request::kClusterAdmin},
                report.SerializeAsString())
      .then([](uint32_t, const std::string&) {},
            [tenant](caf::error& e) {
              spdlog::info(
                  "event router: a persona change of tenant '{}' did not reach the "
                  "event leader ({})",
                  tenant, caf::to_string(e));
            });
}

// limits.personas-per-tenant is kept where every persona of a tenant is known: the router that
// serves the tenant's events. Another node's router asks that one.
void ask_quota(RouterSelf* self, QuotaAsk ask);

std::string prefix_of(const NodeContext& ctx, const std::string& tenant) {
  return storage::events_prefix(event_shard(ctx, tenant), tenant);
}

// On a cluster node the router changes a tenant's events only while this node serves the
// tenant's event shard (it leads it and has applied everything before its term).
bool serves(const NodeContext& ctx, const std::string& tenant) {
  return !ctx.replicated() || ctx.routes->serving(event_shard(ctx, tenant));
}

// Writes a batch of event records: committed locally on a standalone node, through the event
// shard's Raft log on a cluster node. `done` gets the outcome on the router's thread.
void write_batch(RouterSelf* self, uint32_t shard, storage::Batch batch, uint64_t seq) {
  auto& ctx = *self->state.ctx;
  auto me = caf::actor_cast<caf::actor>(self);
  if (!ctx.replicated()) {
    ctx.db->commit_async(std::move(batch), [me, seq](Status s) {
      caf::anon_send(me, committed_atom::value, seq, uint64_t{0}, s.ok(),
                     s.ok() ? std::string{} : s.error().message);
    });
    return;
  }
  if (!ctx.raft) {
    caf::anon_send(me, committed_atom::value, seq, uint64_t{0}, false,
                   std::string("the node is shutting down"));
    return;
  }
  propose_batch(self, ctx, shard, batch.rep().Data())
      .then(
          [self, seq](uint64_t) {
            caf::anon_send(caf::actor_cast<caf::actor>(self), committed_atom::value, seq,
                           uint64_t{0}, true, std::string{});
          },
          [self, seq](caf::error& e) {
            caf::anon_send(
                caf::actor_cast<caf::actor>(self), committed_atom::value, seq, uint64_t{0}, false,
                "the event shard's log did not take the write: " + self->system().render(e));
          });
}

EventQueue& queue_for(RouterState& st, const std::string& tenant) {
  auto it = st.queues.find(tenant);
  if (it == st.queues.end())
    it = st.queues.emplace(tenant, EventQueue(tenant, st.ctx->events)).first;
  return it->second;
}

Status load(RouterState& st) {
  auto& ctx = *st.ctx;
  // Taken before reading: a shard whose serving starts meanwhile reads as changed next time.
  st.loaded_terms.clear();
  if (ctx.routes) {
    for (uint32_t shard : ctx.routes->served()) {
      st.loaded_terms[shard] = ctx.routes->serving_term(shard);
    }
  }
  st.queues.clear();
  st.acked.clear();
  st.recently_acked.clear();
  // An acked event's memory may have waited up to events.memory-delay, and then been written: those
  // acked within this long of the last ack before the stop are remembered again.
  const TimeUs window = ctx.events.memory_delay_us + 2 * kUsPerSecond;
  TimeUs last_ack = 0;
  Status bad;
  auto s = ctx.db->scan(storage::Cf::personas, "", [&](std::string_view key, std::string_view v) {
    auto p = storage::decode_record<pb::Persona>(v, "persona " + storage::printable_key(key));
    if (!p) {
      spdlog::error("{}; the persona gets no events until it is written again", p.error().message);
      ctx.counters.corrupt_records++;
      return true;
    }
    queue_for(st, p->tenant()).load_persona(*p);
    return true;
  });
  if (!s) return s;
  s = ctx.db->scan(storage::Cf::events, "", [&](std::string_view key, std::string_view v) {
    auto e = storage::decode_record<pb::Event>(v, "event " + storage::printable_key(key));
    if (!e) {
      spdlog::error("{}; the record is left as it is", e.error().message);
      ctx.counters.corrupt_records++;
      return true;
    }
    if (e->state() == pb::EVENT_ACKED) {
      st.acked.emplace_back(e->finished_at_us(), std::string(key));
      last_ack = std::max(last_ack, e->finished_at_us());
      if (!e->persona_id().empty() && e->finished_at_us() + window >= last_ack) {
        st.recently_acked.push_back(std::move(*e));
      }
      return true;
    }
    queue_for(st, e->tenant()).load_event(std::move(*e));
    return true;
  });
  std::sort(st.acked.begin(), st.acked.end());
  auto old =
      std::remove_if(st.recently_acked.begin(), st.recently_acked.end(),
                     [&](const pb::Event& e) { return e.finished_at_us() + window < last_ack; });
  st.recently_acked.erase(old, st.recently_acked.end());
  return s;
}

void remember_events(RouterSelf* self, const std::vector<pb::Event>& events);
using PersonaMemory = std::pair<PersonaKey, pb::MemoryInput>;
void remember(RouterSelf* self, std::vector<PersonaMemory> memories);

void wake(RouterSelf* self, const std::string& tenant, const std::set<std::string>& personas);

// Writes `ch` durably, then runs `then`. Memories of new assignments are created and waiting
// long polls served only after the write is durable.
void persist(RouterSelf* self, const std::string& tenant, EventChanges ch,
             std::function<void(Status)> then);

// After a load, for each tenant this node serves: the memories of in-flight events and of events
// acked just before the stop are stored again (same ids: no duplicates), in case the stop came
// between a change and its memory; then the leases tick.
void resume_after_load(RouterSelf* self) {
  auto& st = self->state;
  TimeUs now = st.ctx->clock->now_us();
  for (auto& [tenant, q] : st.queues) {
    if (!serves(*st.ctx, tenant)) continue;  // a cluster node reloads once it serves the shard
    std::vector<pb::Event> events = q.in_flight_events();
    for (auto& e : st.recently_acked) {
      if (e.tenant() == tenant) events.push_back(std::move(e));
    }
    remember_events(self, events);
    persist(self, tenant, q.tick(now), {});
  }
  st.recently_acked.clear();
}
pb::Response next_event_response(uint32_t max_events, std::vector<pb::Event>& events);

// The STM memory of one assignment (its id is derived from the event, so storing it again is
// harmless).
pb::MemoryInput event_memory(const pb::Event& e) {
  pb::MemoryInput m;
  m.set_id(e.memory_id());
  m.set_content(e.topic() + (e.payload().empty() ? "" : "\n" + e.payload()));
  m.set_tier(pb::STM);
  m.add_tags("event");
  auto& md = *m.mutable_metadata();
  md["event_id"] = e.id();
  md["topic"] = e.topic();
  md["priority"] = pb::EventPriority_Name(e.priority());
  if (!e.from().empty()) md["from"] = e.from();
  if (!e.thread_id().empty()) {
    md["thread_id"] = e.thread_id();
    // One session per thread: the persona links each event to the previous one of its thread.
    m.set_session_id(e.thread_id());
  }
  return m;
}

// On a node of a cluster a persona this node does not serve is reached through the api actor,
// which forwards the request to the leader of the persona's shard.
bool via_api(const NodeContext& ctx) { return ctx.replicated() && ctx.api; }

void memory_failed(RouterState& st, const std::string& what, const std::string& why) {
  st.ctx->counters.event_memory_errors++;
  spdlog::warn("event memories {} were not stored: {}", what, why);
}

void flush_memories(RouterSelf* self, const PersonaKey& who);

// Whether a persona's waiting memories go now rather than at the next memory flush: with no delay
// configured, while the node stops, or when they fill a batch.
bool memories_due(const RouterState& st, const PersonaMemories& pm) {
  return st.ctx->events.memory_delay_us <= 0 || st.draining ||
         pm.waiting.size() >= std::max<size_t>(1, st.ctx->policy.max_batch);
}

// Memories wait up to events.memory-delay, so that those of a persona's assignments made meanwhile
// share one persona write (its message, plan, commit, index update and reply) instead of one each.
// One timer, every tenth of the delay while memories wait, sends those of the personas whose
// oldest has waited the delay (ten ticks; counted, not clocked, so an injected clock that stands
// still cannot hold them): the writes spread over the delay instead of all going at once.
void arm_memory_flush(RouterSelf* self) {
  auto& st = self->state;
  if (st.memory_flush_armed) return;
  st.memory_flush_armed = true;
  const TimeUs every = std::max<TimeUs>(st.ctx->events.memory_delay_us / 10, 1000);
  self->delayed_send(self, std::chrono::microseconds(every), memory_flush_atom::value);
}

// Answers the node's drain once no memory waits or is being written.
void check_drained(RouterSelf* self) {
  auto& st = self->state;
  if (st.drains.empty()) return;
  for (const auto& entry : st.memories) {
    if (entry.second.request != 0 || !entry.second.waiting.empty()) return;
  }
  for (auto& rp : st.drains) rp.deliver(true);
  st.drains.clear();
}

// The persona's request ended (answered, failed or given up on): the next one may go.
void memories_done(RouterSelf* self, const PersonaKey& who, uint64_t id, const std::string& error) {
  auto& st = self->state;
  auto it = st.memories.find(who);
  if (it == st.memories.end() || it->second.request != id) return;  // given up on in a tick
  PersonaMemories& pm = it->second;
  auto sent = std::move(pm.in_flight);
  pm.request = 0;
  const int n = sent ? sent->remember_batch().memories_size() : 0;
  if (!error.empty() && n > 1) {
    // A batch fails whole (one memory id already in the archive is enough): its memories are
    // tried again one by one, so one bad memory does not cost the others.
    auto* mems = sent->mutable_remember_batch()->mutable_memories();
    std::vector<pb::MemoryInput> retry;
    for (auto& m : *mems) retry.push_back(std::move(m));
    pm.waiting.insert(pm.waiting.begin(), std::make_move_iterator(retry.begin()),
                      std::make_move_iterator(retry.end()));
    pm.one_by_one = static_cast<size_t>(n);
  } else if (!error.empty()) {
    memory_failed(st, pm.what, error);
  }
  if (pm.one_by_one > 0 || memories_due(st, pm)) {
    flush_memories(self, who);
  } else {
    arm_memory_flush(self);
  }
  check_drained(self);
}

// Sends the memories waiting for `who` as one remember_batch, unless one is in flight already:
// under load the memories of many assignments share one persona write instead of one each.
// Nobody waits for these replies, so the requests carry no CAF timeout (each would cost the timer
// thread two wake-ups); the router's tick gives up on one older than the node's request timeout.
void flush_memories(RouterSelf* self, const PersonaKey& who) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  auto it = st.memories.find(who);
  if (it == st.memories.end()) return;
  PersonaMemories& pm = it->second;
  if (pm.request != 0) return;
  if (pm.waiting.empty()) {
    st.memories.erase(it);
    return;
  }
  auto persona = ctx.directory->get_or_spawn(who.first, who.second);
  if (!persona && !via_api(ctx)) {
    memory_failed(st, "of persona '" + who.second + "'", "the persona actor is not running");
    st.memories.erase(it);
    return;
  }
  size_t n = std::min(pm.waiting.size(), std::max<size_t>(1, ctx.policy.max_batch));
  if (pm.one_by_one > 0) {
    n = 1;
    pm.one_by_one--;
  }
  auto req = std::make_shared<pb::Request>();
  req->mutable_header()->set_tenant(who.first);
  // No request id: an event memory's id is its event's, so storing it again (a batch retried after
  // a timeout, a restart or a failover) answers created=false by itself, and the persona need not
  // store a reply for each batch in its request ledger (a record, and later its delete, per event).
  auto* r = req->mutable_remember_batch();
  r->set_persona_id(who.second);
  // The router reads only the reply's status: the stored items need not be sent back and parsed.
  r->set_ids_only(true);
  for (size_t i = 0; i < n; ++i) r->add_memories()->Swap(&pm.waiting[i]);
  pm.waiting.erase(pm.waiting.begin(), pm.waiting.begin() + static_cast<std::ptrdiff_t>(n));
  pm.what = n == 1 ? "'" + r->memories(0).id() + "'"
                   : "'" + r->memories(0).id() + "' and " + std::to_string(n - 1) + " more";
  pm.request = ++st.next_memory_request;
  pm.deadline_us = ctx.clock->now_us() + ctx.request_timeout_us;
  pm.in_flight = req;
  const uint64_t id = pm.request;
  auto sent = persona
                  ? self->request(persona, caf::infinite, handle_atom::value, RequestPtr(req))
                  : self->request(ctx.api, caf::infinite, local_request_atom::value,
                                  uint32_t{pb::Request::kRememberBatch}, req->SerializeAsString());
  std::move(sent).then(
      [self, who, id](uint32_t, const std::string& bytes) {
        pb::Response resp;
        std::string error;
        if (!resp.ParseFromString(bytes)) {
          error = "unparseable reply from the persona";
        } else if (resp.status().code() != pb::OK) {
          error = resp.status().message();
        }
        memories_done(self, who, id, error);
      },
      [self, who, id](caf::error& err) { memories_done(self, who, id, caf::to_string(err)); });
}

// Queues the memories of `events` (assignments made durable together) for their personas, in
// assignment order.
void remember_events(RouterSelf* self, const std::vector<pb::Event>& events) {
  std::vector<PersonaMemory> memories;
  memories.reserve(events.size());
  for (const auto& e : events) {
    memories.emplace_back(PersonaKey{e.tenant(), e.persona_id()}, event_memory(e));
  }
  remember(self, std::move(memories));
}

// Queues `memories` for their personas, in order.
void remember(RouterSelf* self, std::vector<PersonaMemory> memories) {
  auto& st = self->state;
  if (st.ctx->directory == nullptr || memories.empty()) return;
  std::vector<PersonaKey> due;
  for (auto& [who, memory] : memories) {
    auto& pm = st.memories[who];
    if (pm.waiting.empty()) pm.ticks_waited = 0;
    pm.waiting.push_back(std::move(memory));
    if (pm.request == 0 && memories_due(st, pm) && (due.empty() || due.back() != who)) {
      due.push_back(who);
    }
  }
  for (const auto& who : due) flush_memories(self, who);
  if (!st.memories.empty()) arm_memory_flush(self);
}

// Gives up on memory requests past their deadline (see flush_memories).
void expire_memory_requests(RouterSelf* self, TimeUs now) {
  std::vector<std::pair<PersonaKey, uint64_t>> late;
  for (const auto& [who, pm] : self->state.memories) {
    if (pm.request != 0 && pm.deadline_us <= now) late.emplace_back(who, pm.request);
  }
  for (const auto& [who, id] : late) {
    memories_done(self, who, id, "the persona did not answer in time");
  }
}

// Takes up to max(1, max_events) of `persona`'s assigned events as delivered (their changes go into
// `ch`).
std::shared_ptr<std::vector<pb::Event>> take_next(RouterState& st, EventQueue& q,
                                                  const std::string& persona, uint32_t max_events,
                                                  TimeUs now, EventChanges* ch) {
  auto events = std::make_shared<std::vector<pb::Event>>();
  const uint32_t n = std::max<uint32_t>(1, max_events);
  while (events->size() < n) {  // bounded by n
    auto e = q.next(persona, now, ch);
    if (!e) break;
    events->push_back(std::move(*e));
  }
  st.ctx->counters.events_delivered += events->size();
  return events;
}

// Answers a next_event with `events` once their delivery is durable (or with the write's error).
std::function<void(Status)> poll_answer(caf::response_promise rp, uint32_t max_events,
                                        std::shared_ptr<std::vector<pb::Event>> events) {
  return [rp, max_events, events](Status s) mutable {
    if (!s) return deliver(rp, pb::Request::kNextEvent, error_response(s.error()));
    deliver(rp, pb::Request::kNextEvent, next_event_response(max_events, *events));
  };
}

// Polls parked for the personas in `ready` (those that just got events) take them in the same
// write as the change that readied them (a publish, an ack that freed room, a lease that ran out):
// one record and one commit per event rather than the assignment's and then the delivery's. The
// deliveries go into `ch` (never into its `ready`, which `ready` may be). Returns what answers each
// poll once that write is durable (or failed).
std::vector<std::function<void(Status)>> take_for_parked_polls(RouterSelf* self,
                                                               const std::string& tenant,
                                                               const std::set<std::string>& ready,
                                                               EventChanges* ch) {
  auto& st = self->state;
  std::vector<std::function<void(Status)>> answers;
  if (ready.empty()) return answers;
  auto& q = queue_for(st, tenant);
  const TimeUs now = st.ctx->clock->now_us();
  for (const auto& p : ready) {
    auto it = st.waiters.find({tenant, p});
    if (it == st.waiters.end()) continue;
    // Bounded by the number of waiters of this persona.
    while (!it->second.empty() && q.has_ready(p)) {
      Waiter w = std::move(it->second.front());
      it->second.pop_front();
      answers.push_back(
          poll_answer(w.rp, w.max_events, take_next(st, q, p, w.max_events, now, ch)));
    }
    if (it->second.empty()) st.waiters.erase(it);
  }
  return answers;
}

void persist(RouterSelf* self, const std::string& tenant, EventChanges ch,
             std::function<void(Status)> then) {
  auto& st = self->state;
  if (ch.writes.empty()) {
    wake(self, tenant, ch.ready);
    if (then) then(Status{});
    return;
  }
  if (!serves(*st.ctx, tenant)) {
    // Another node leads the tenant's event shard: this copy of the queue is stale, and is
    // rebuilt from storage when this node serves the shard again (a new serving term).
    if (then) {
      then(make_error(ErrorCode::unavailable, std::string(kLeadershipMoved) +
                                                  ": this node does not serve the events of "
                                                  "tenant '" +
                                                  tenant + "'; retry"));
    }
    return;
  }
  auto polls = take_for_parked_polls(self, tenant, ch.ready, &ch);
  auto batch = st.ctx->db->batch();
  const std::string prefix = prefix_of(*st.ctx, tenant);
  TimeUs now = st.ctx->clock->now_us();
  // An event changed twice here (assigned, then handed to a parked poll) is stored once, in its
  // latest state.
  std::unordered_set<std::string_view> stored;
  for (auto w = ch.writes.rbegin(); w != ch.writes.rend(); ++w) {
    if (w->state == pb::EVENT_DEAD) st.ctx->counters.events_dead_lettered++;
    if (!stored.insert(w->id).second) continue;
    std::string key = storage::event_key(prefix, w->id);
    batch.put(storage::Cf::events, key, w->record);
    if (w->state == pb::EVENT_ACKED) st.acked.emplace_back(now, key);
  }
  st.ctx->counters.event_writes++;
  uint64_t seq = ++st.commit_seq;
  // The memories are made now, from the events as assigned (the queue may change them before the
  // write is durable), and queued once it is.
  auto memories = std::make_shared<std::vector<PersonaMemory>>();
  if (st.ctx->directory != nullptr) {
    const EventQueue& q = queue_for(st, tenant);
    memories->reserve(ch.assigned.size());
    for (const auto& id : ch.assigned) {
      if (const pb::Event* e = q.find(id)) {
        memories->emplace_back(PersonaKey{e->tenant(), e->persona_id()}, event_memory(*e));
      }
    }
  }
  st.in_flight[seq] = [self, memories, then, polls = std::move(polls)](Status s) {
    if (s) remember(self, std::move(*memories));
    if (then) then(s);
    for (const auto& poll : polls) poll(s);
  };
  write_batch(self, event_shard(*st.ctx, tenant), std::move(batch), seq);
}

void on_committed(RouterSelf* self, uint64_t seq, bool ok, const std::string& msg) {
  auto& st = self->state;
  auto it = st.in_flight.find(seq);
  if (it == st.in_flight.end()) return;
  auto done = std::move(it->second);
  st.in_flight.erase(it);
  if (!ok) {
    spdlog::error("event router: a write failed ({}); state is reloaded from storage", msg);
    st.reload_needed = true;
  }
  done(ok ? Status{}
          : make_error(ErrorCode::unavailable, "event write failed: " + msg + "; retry"));
  if (st.reload_needed && st.in_flight.empty()) reload(self);
}

// Rebuilds every queue from storage, then lets the served tenants' leases tick: after this node
// became the leader of an event shard (its RocksDB then holds everything committed before), or
// after a write failed. Waits for writes in flight first.
void reload(RouterSelf* self) {
  auto& st = self->state;
  st.reload_needed = true;
  if (!st.in_flight.empty()) return;  // on_committed reloads once the last one is answered
  st.reload_needed = false;
  if (auto s = load(st); !s) spdlog::error("event router: reload failed: {}", s.error().message);
  resume_after_load(self);
  // Long polls parked before the reload: the rebuilt queues may hold events for them (a node that
  // starts serving a shard learns its events from its own copy), which no publish will announce.
  std::map<std::string, std::set<std::string>> parked;
  for (const auto& entry : st.waiters) parked[entry.first.first].insert(entry.first.second);
  for (const auto& entry : parked) {
    if (serves(*st.ctx, entry.first)) wake(self, entry.first, entry.second);
  }
}

pb::Response event_response(uint32_t method, const pb::Event& e) {
  pb::Response resp;
  switch (method) {
    case pb::Request::kAck:
      *resp.mutable_ack()->mutable_event() = e;
      break;
    case pb::Request::kNack:
      *resp.mutable_nack()->mutable_event() = e;
      break;
    default:
      *resp.mutable_event_status()->mutable_event() = e;
      break;
  }
  return resp;
}

// The answer to a next_event that got `events` (possibly none): in `event` when the caller gave no
// max_events, else all of them in `events`.
pb::Response next_event_response(uint32_t max_events, std::vector<pb::Event>& events) {
  pb::Response resp;
  auto* out = resp.mutable_next_event();
  if (max_events == 0) {
    if (!events.empty()) *out->mutable_event() = std::move(events.front());
  } else {
    for (auto& e : events) *out->add_events() = std::move(e);
  }
  return resp;
}

// Hands up to max(1, max_events) of `persona`'s assigned events to `rp` once their delivery is
// durable (one write for all of them).
void deliver_next(RouterSelf* self, const std::string& tenant, const std::string& persona,
                  uint32_t max_events, caf::response_promise rp) {
  auto& st = self->state;
  EventChanges ch;
  auto events =
      take_next(st, queue_for(st, tenant), persona, max_events, st.ctx->clock->now_us(), &ch);
  if (events->empty()) {
    deliver(rp, pb::Request::kNextEvent, next_event_response(max_events, *events));
    return;
  }
  persist(self, tenant, std::move(ch), poll_answer(rp, max_events, events));
}

// Polls parked for `personas` take what their inboxes hold, all in one write.
void wake(RouterSelf* self, const std::string& tenant, const std::set<std::string>& personas) {
  EventChanges ch;
  auto polls = take_for_parked_polls(self, tenant, personas, &ch);
  if (polls.empty()) return;
  persist(self, tenant, std::move(ch), [polls = std::move(polls)](Status s) {
    for (const auto& poll : polls) poll(s);
  });
}

Reply fail(uint32_t method, const Error& e) { return reply_error(method, e); }

Reply do_publish(RouterSelf* self, const pb::Request& req) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  constexpr uint32_t method = pb::Request::kPublish;
  const auto& in = req.publish().events();
  if (in.empty())
    return fail(method,
                make_error(ErrorCode::invalid_argument, "publish needs at least one event"));
  if (static_cast<size_t>(in.size()) > ctx.events.max_batch) {
    return fail(method, make_error(ErrorCode::invalid_argument,
                                   "publish of " + std::to_string(in.size()) + " events; at most " +
                                       std::to_string(ctx.events.max_batch) +
                                       " (events.max-batch) per call"));
  }
  for (int i = 0; i < in.size(); ++i) {
    if (auto s = validate_event_input(in[i], ctx.events); !s) {
      return fail(method,
                  make_error(s.code(), "event " + std::to_string(i) + ": " + s.error().message));
    }
  }
  const std::string& tenant = req.header().tenant();
  auto& q = queue_for(st, tenant);
  TimeUs now = ctx.clock->now_us();
  std::vector<pb::Event> events;
  std::vector<pb::Event> already;  // client ids of events acked earlier (only in storage now)
  const std::string prefix = prefix_of(ctx, tenant);
  for (const auto& e : in) {
    if (!e.id().empty() && q.find(e.id()) == nullptr) {
      auto stored = ctx.db->get(storage::Cf::events, storage::event_key(prefix, e.id()));
      if (!stored) return fail(method, stored.error());
      if (stored->has_value()) {
        auto rec = storage::decode_record<pb::Event>(**stored, "event '" + e.id() + "'");
        if (!rec) return fail(method, rec.error());
        already.push_back(std::move(*rec));
        continue;
      }
    }
    std::string id = e.id().empty() ? ctx.ids->uuid_v7() : e.id();
    events.push_back(event_from_input(e, tenant, id, now));
  }
  size_t fresh = events.size();
  const auto limit = static_cast<size_t>(ctx.settings.limits.events_per_tenant);
  if (fresh > 0 && q.live() + fresh > limit) {
    ctx.counters.refused_count++;
    return fail(method, make_error(ErrorCode::resource_exhausted,
                                   "tenant '" + tenant + "' has " + std::to_string(q.live()) +
                                       " events not yet acknowledged; limits.events-per-tenant "
                                       "allows " +
                                       std::to_string(limit) +
                                       ": ack or requeue some, or raise the limit"));
  }
  auto out = std::make_shared<std::vector<pb::Event>>();
  auto ch = q.publish(std::move(events), now, out.get());
  ctx.counters.events_published += fresh;
  for (auto& e : already) out->push_back(std::move(e));
  auto rp = self->make_response_promise();
  persist(self, tenant, std::move(ch), [rp, out](Status s) mutable {
    if (!s) return deliver(rp, method, error_response(s.error()));
    pb::Response resp;
    for (auto& e : *out) *resp.mutable_publish()->add_events() = std::move(e);
    deliver(rp, method, resp);
  });
  return rp;
}

// Makes sure a timer fires by the end of the slot holding `end` (a time of the node's clock, read
// as `now`): one is armed for that slot unless one fires earlier, and each firing arms the next.
void arm_wait_timer(RouterSelf* self, TimeUs end, TimeUs now) {
  auto& st = self->state;
  const TimeUs slot = (end / kWaitSlotUs + 1) * kWaitSlotUs;
  if (!st.wait_timers.empty() && *st.wait_timers.begin() <= slot) return;
  st.wait_timers.insert(slot);
  self->delayed_send(self, std::chrono::microseconds(std::max<TimeUs>(slot - now, 0)),
                     wait_timeout_atom::value, slot);
}

// The timer of `slot` fired: every poll whose wait ended by then and is still waiting gets no
// event.
void end_waits(RouterSelf* self, TimeUs slot) {
  auto& st = self->state;
  st.wait_timers.erase(slot);
  // Bounded by the polls that ended by `slot`.
  while (!st.wait_ends.empty() && st.wait_ends.begin()->first <= slot) {
    auto [tenant, persona, id] = std::move(st.wait_ends.begin()->second);
    st.wait_ends.erase(st.wait_ends.begin());
    auto it = st.waiters.find({tenant, persona});
    if (it == st.waiters.end()) continue;
    auto& dq = it->second;
    auto w = std::find_if(dq.begin(), dq.end(), [&](const Waiter& x) { return x.id == id; });
    if (w == dq.end()) continue;                          // answered already
    deliver(w->rp, pb::Request::kNextEvent, no_event());  // nothing arrived in the wait
    dq.erase(w);
    if (dq.empty()) st.waiters.erase(it);
  }
  if (!st.wait_ends.empty()) {
    arm_wait_timer(self, st.wait_ends.begin()->first, st.ctx->clock->now_us());
  }
}

Reply do_next(RouterSelf* self, const pb::Request& req) {
  auto& st = self->state;
  constexpr uint32_t method = pb::Request::kNextEvent;
  const auto& r = req.next_event();
  if (auto s = validate_persona_id(r.persona_id()); !s) return fail(method, s.error());
  if (r.max_events() > st.ctx->events.max_batch) {
    return fail(
        method,
        make_error(ErrorCode::invalid_argument,
                   "next_event of up to " + std::to_string(r.max_events()) + " events; at most " +
                       std::to_string(st.ctx->events.max_batch) + " (events.max-batch) per call"));
  }
  const std::string& tenant = req.header().tenant();
  auto& q = queue_for(st, tenant);
  if (!q.has_persona(r.persona_id()) && via_api(*st.ctx)) {
    // On a cluster node the persona may live on a shard this node does not replicate: its profile
    // is asked from its leader (through the api actor), and the poll is handled again with it.
    auto rp = self->make_response_promise();
    pb::Request get;
    get.mutable_header()->set_tenant(tenant);
    get.mutable_header()->set_schema_version(req.header().schema_version());
    get.mutable_get_persona()->set_persona_id(r.persona_id());
    auto again = std::make_shared<pb::Request>(req);
    self->request(st.ctx->api, std::chrono::microseconds(st.ctx->request_timeout_us),
                  local_request_atom::value, uint32_t{pb::Request::kGetPersona},
                  get.SerializeAsString())
        .then(
            [self, rp, again, tenant](uint32_t, const std::string& bytes) mutable {
              pb::Response resp;
              if (!resp.ParseFromString(bytes) || resp.status().code() != pb::OK) {
                const std::string why = resp.status().message().empty()
                                            ? std::string("the persona could not be looked up")
                                            : resp.status().message();
                const auto code = resp.status().code() == pb::NOT_FOUND ? ErrorCode::not_found
                                                                        : ErrorCode::unavailable;
                return deliver(rp, method, error_response(make_error(code, why)));
              }
              auto& q = queue_for(self->state, tenant);
              persist(self, tenant,
                      q.put_persona(resp.get_persona().persona(), self->state.ctx->clock->now_us()),
                      {});
              rp.delegate(caf::actor_cast<caf::actor>(self), handle_atom::value, RequestPtr(again));
            },
            [rp](caf::error& e) mutable {
              deliver(rp, method,
                      error_response(
                          make_error(ErrorCode::unavailable,
                                     "the persona could not be looked up: " + caf::to_string(e))));
            });
    return rp;
  }
  if (!q.has_persona(r.persona_id())) {
    return fail(method, make_error(ErrorCode::not_found,
                                   "persona '" + r.persona_id() +
                                       "' does not exist; create it (or remember into it) first"));
  }
  auto rp = self->make_response_promise();
  if (q.has_ready(r.persona_id()) || r.wait_ms() == 0) {
    deliver_next(self, tenant, r.persona_id(), r.max_events(), rp);
    return rp;
  }
  TimeUs wait =
      std::min<TimeUs>(static_cast<TimeUs>(r.wait_ms()) * 1000, st.ctx->events.max_wait_us);
  // A poll never outlives its caller's deadline: an event handed to a caller that gave up would
  // wait for its lease to run out before anyone else got it.
  if (TimeUs deadline = req.header().deadline_us(); deadline != 0) {
    wait = std::min(wait, deadline - st.ctx->clock->now_us() - 100'000);
    if (wait <= 0) {
      deliver_next(self, tenant, r.persona_id(), r.max_events(), rp);
      return rp;
    }
  }
  uint64_t id = ++st.next_waiter;
  st.waiters[{tenant, r.persona_id()}].push_back(Waiter{id, r.max_events(), rp});
  const TimeUs now = st.ctx->clock->now_us();
  st.wait_ends.emplace(now + wait, std::make_tuple(tenant, r.persona_id(), id));
  arm_wait_timer(self, now + wait, now);
  return rp;
}

using AckDone = std::function<void(Result<pb::Event>)>;

Status validate_ack(const NodeContext& ctx, const pb::AckRequest& r) {
  if (auto s = validate_id(r.event_id(), "event_id"); !s) return s;
  if (r.result().size() > ctx.policy.max_content_bytes) {
    return make_error(ErrorCode::invalid_argument,
                      "ack result is " + std::to_string(r.result().size()) + " bytes; at most " +
                          std::to_string(ctx.policy.max_content_bytes));
  }
  return {};
}

// Applies one ack to the queue. The event as it is to be stored, with its record added to `ch`
// (`*changed`); or, for a retry of an ack already written, the stored record and nothing to write;
// or why the ack is refused.
Result<pb::Event> apply_ack(RouterSelf* self, const std::string& tenant, const pb::AckRequest& r,
                            EventChanges* ch, bool* changed) {
  auto& st = self->state;
  *changed = false;
  auto done =
      queue_for(st, tenant).ack(r.event_id(), r.attempt(), r.result(), st.ctx->clock->now_us(), ch);
  if (done) {
    *changed = true;
    st.ctx->counters.events_acked++;
    return done;
  }
  if (done.code() == ErrorCode::not_found) {
    // Acked before (a retry): the stored record answers, once it names the same delivery.
    auto stored = st.ctx->db->get(storage::Cf::events,
                                  storage::event_key(prefix_of(*st.ctx, tenant), r.event_id()));
    if (stored && stored->has_value()) {
      auto rec = storage::decode_record<pb::Event>(**stored, "event '" + r.event_id() + "'");
      if (rec && rec->state() == pb::EVENT_ACKED &&
          (r.attempt() == 0 || r.attempt() == rec->attempts())) {
        return rec;
      }
    }
  }
  return done;
}

// Acks one event and calls `then` once the ack is durable (or refused).
void finish_ack(RouterSelf* self, const std::string& tenant, const pb::AckRequest& r,
                AckDone then) {
  EventChanges ch;
  bool changed = false;
  auto done = apply_ack(self, tenant, r, &ch, &changed);
  if (!done || !changed) return then(std::move(done));
  auto event = std::make_shared<pb::Event>(std::move(*done));
  persist(self, tenant, std::move(ch), [event, then](Status s) {
    if (!s) return then(s.error());
    then(std::move(*event));
  });
}

// An ack whose result becomes a memory: the memory is stored before the ack is written (a crash in
// between redelivers the event, and storing the same memory id again is harmless). False when the
// ack has no memory to store first.
bool ack_with_result(RouterSelf* self, const std::string& tenant, const pb::AckRequest& r,
                     AckDone then) {
  auto& st = self->state;
  const pb::Event* e = queue_for(st, tenant).find(r.event_id());
  if (r.result().empty() || e == nullptr || e->state() != pb::EVENT_DELIVERED ||
      st.ctx->directory == nullptr) {
    return false;
  }
  auto persona = st.ctx->directory->get_or_spawn(tenant, e->persona_id());
  if (!persona && !via_api(*st.ctx)) return false;
  auto mem = std::make_shared<pb::Request>();
  mem->mutable_header()->set_tenant(tenant);
  auto* rr = mem->mutable_remember();
  rr->set_persona_id(e->persona_id());
  auto* m = rr->mutable_memory();
  m->set_id("ev-" + e->id() + "-result");
  m->set_content(r.result());
  m->set_tier(pb::STM);
  m->add_tags("event-result");
  (*m->mutable_metadata())["event_id"] = e->id();
  (*m->mutable_metadata())["topic"] = e->topic();
  m->set_session_id(e->thread_id().empty() ? "event-" + e->id() : e->thread_id());
  auto ack = std::make_shared<pb::AckRequest>(r);
  // The event's own memory goes first if it still waits (events.memory-delay), so the result
  // follows it in the persona's session.
  flush_memories(self, PersonaKey{tenant, e->persona_id()});
  auto timeout = std::chrono::microseconds(st.ctx->request_timeout_us);
  auto sent = persona ? self->request(persona, timeout, handle_atom::value, RequestPtr(mem))
                      : self->request(st.ctx->api, timeout, local_request_atom::value,
                                      uint32_t{pb::Request::kRemember}, mem->SerializeAsString());
  std::move(sent).then(
      [=](uint32_t, const std::string& bytes) {
        pb::Response resp;
        if (!resp.ParseFromString(bytes) || resp.status().code() != pb::OK) {
          return then(
              make_error(ErrorCode::unavailable, "the ack's result could not be stored (" +
                                                     resp.status().message() +
                                                     "); the event is still delivered: retry"));
        }
        finish_ack(self, tenant, *ack, then);
      },
      [=](caf::error& err) {
        then(make_error(ErrorCode::unavailable, "the ack's result could not be stored (" +
                                                    caf::to_string(err) + "); retry"));
      });
  return true;
}

Reply do_ack(RouterSelf* self, const pb::Request& req) {
  constexpr uint32_t method = pb::Request::kAck;
  const auto& r = req.ack();
  if (auto s = validate_ack(*self->state.ctx, r); !s) return fail(method, s.error());
  auto rp = self->make_response_promise();
  AckDone then = [rp](Result<pb::Event> e) mutable {
    deliver(rp, method, e ? event_response(method, *e) : error_response(e.error()));
  };
  const std::string tenant = req.header().tenant();
  if (!ack_with_result(self, tenant, r, then)) finish_ack(self, tenant, r, then);
  return rp;
}

// Several acks, each judged on its own; those without a result share one durable write.
Reply do_ack_batch(RouterSelf* self, const pb::Request& req) {
  auto& ctx = *self->state.ctx;
  constexpr uint32_t method = pb::Request::kAckBatch;
  const auto& acks = req.ack_batch().acks();
  if (acks.empty()) {
    return fail(method,
                make_error(ErrorCode::invalid_argument, "ack_batch needs at least one ack"));
  }
  if (static_cast<size_t>(acks.size()) > ctx.events.max_batch) {
    return fail(method, make_error(ErrorCode::invalid_argument,
                                   "ack_batch of " + std::to_string(acks.size()) +
                                       " acks; at most " + std::to_string(ctx.events.max_batch) +
                                       " (events.max-batch) per call"));
  }
  struct Batch {
    caf::response_promise rp;
    pb::Response resp;
    size_t waiting = 1;  // the shared write, plus one per ack with a result
    void settle(size_t i, Result<pb::Event> e) {
      auto* out = resp.mutable_ack_batch()->mutable_results(static_cast<int>(i));
      if (e) {
        out->mutable_status()->set_code(pb::OK);
        *out->mutable_event() = std::move(*e);
      } else {
        out->clear_event();
        out->mutable_status()->set_code(static_cast<pb::StatusCode>(e.error().code));
        out->mutable_status()->set_message(e.error().message);
      }
    }
    void done_one() {
      if (--waiting == 0) deliver(rp, method, resp);
    }
  };
  auto batch = std::make_shared<Batch>();
  batch->rp = self->make_response_promise();
  for (int i = 0; i < acks.size(); ++i) batch->resp.mutable_ack_batch()->add_results();
  const std::string tenant = req.header().tenant();
  EventChanges ch;
  std::vector<size_t> shared;  // acks whose outcome waits for the shared write
  for (int i = 0; i < acks.size(); ++i) {
    const auto& r = acks[i];
    const size_t at = static_cast<size_t>(i);
    if (auto s = validate_ack(ctx, r); !s) {
      batch->settle(at,
                    make_error(s.code(), "acks[" + std::to_string(i) + "]: " + s.error().message));
      continue;
    }
    // The callback runs only once the persona answers, later in this actor, never in this call.
    if (ack_with_result(self, tenant, r, [batch, at](Result<pb::Event> e) {
          batch->settle(at, std::move(e));
          batch->done_one();
        })) {
      batch->waiting++;
      continue;
    }
    bool changed = false;
    auto e = apply_ack(self, tenant, r, &ch, &changed);
    if (changed) shared.push_back(at);
    batch->settle(at, std::move(e));
  }
  persist(self, tenant, std::move(ch), [batch, shared](Status s) {
    if (!s) {
      for (size_t at : shared) batch->settle(at, s.error());
    }
    batch->done_one();
  });
  return batch->rp;
}

Reply do_nack(RouterSelf* self, const pb::Request& req) {
  auto& st = self->state;
  constexpr uint32_t method = pb::Request::kNack;
  const auto& r = req.nack();
  if (auto s = validate_id(r.event_id(), "event_id"); !s) return fail(method, s.error());
  if (r.reason().size() > 4096) {
    return fail(method, make_error(ErrorCode::invalid_argument, "nack reason is over 4096 bytes"));
  }
  const std::string& tenant = req.header().tenant();
  EventChanges ch;
  auto done = queue_for(st, tenant)
                  .nack(r.event_id(), r.attempt(), r.reason(), r.dead_letter(),
                        st.ctx->clock->now_us(), &ch);
  if (!done) return fail(method, done.error());
  auto event = std::make_shared<pb::Event>(std::move(*done));
  auto rp = self->make_response_promise();
  persist(self, tenant, std::move(ch), [rp, event](Status s) mutable {
    deliver(rp, method, s ? event_response(method, *event) : error_response(s.error()));
  });
  return rp;
}

Reply do_status(RouterSelf* self, const pb::Request& req) {
  auto& st = self->state;
  constexpr uint32_t method = pb::Request::kEventStatus;
  const std::string& id = req.event_status().event_id();
  if (auto s = validate_id(id, "event_id"); !s) return fail(method, s.error());
  const std::string& tenant = req.header().tenant();
  if (const pb::Event* e = queue_for(st, tenant).find(id)) {
    return reply_bytes(method, event_response(method, *e));
  }
  auto stored =
      st.ctx->db->get(storage::Cf::events, storage::event_key(prefix_of(*st.ctx, tenant), id));
  if (!stored) return fail(method, stored.error());
  if (!stored->has_value()) {
    return fail(method, make_error(ErrorCode::not_found,
                                   "event '" + id + "' does not exist (or its retention ran out)"));
  }
  auto rec = storage::decode_record<pb::Event>(**stored, "event '" + id + "'");
  if (!rec) return fail(method, rec.error());
  return reply_bytes(method, event_response(method, *rec));
}

size_t page_size_of(uint32_t asked) { return asked == 0 ? 100 : std::min<uint32_t>(asked, 1000); }

Reply do_dead_letters(RouterSelf* self, const pb::Request& req) {
  constexpr uint32_t method = pb::Request::kListDeadLetters;
  const auto& r = req.list_dead_letters();
  size_t n = page_size_of(r.page_size());
  auto page = queue_for(self->state, req.header().tenant()).dead_letters(r.page_token(), n + 1);
  pb::Response resp;
  auto* out = resp.mutable_list_dead_letters();
  for (size_t i = 0; i < page.size() && i < n; ++i) *out->add_events() = page[i];
  if (page.size() > n) out->set_next_page_token(page[n - 1].id());
  return reply_bytes(method, resp);
}

Reply do_requeue(RouterSelf* self, const pb::Request& req) {
  auto& st = self->state;
  constexpr uint32_t method = pb::Request::kRequeue;
  std::vector<std::string> ids(req.requeue().event_ids().begin(), req.requeue().event_ids().end());
  if (ids.empty())
    return fail(method, make_error(ErrorCode::invalid_argument, "requeue needs event ids"));
  for (const auto& id : ids) {
    if (auto s = validate_id(id, "event_id"); !s) return fail(method, s.error());
  }
  const std::string& tenant = req.header().tenant();
  EventChanges ch;
  auto done = queue_for(st, tenant).requeue(ids, st.ctx->clock->now_us(), &ch);
  if (!done) return fail(method, done.error());
  auto events = std::make_shared<std::vector<pb::Event>>(std::move(*done));
  auto rp = self->make_response_promise();
  persist(self, tenant, std::move(ch), [rp, events](Status s) mutable {
    if (!s) return deliver(rp, method, error_response(s.error()));
    pb::Response resp;
    for (auto& e : *events) *resp.mutable_requeue()->add_events() = std::move(e);
    deliver(rp, method, resp);
  });
  return rp;
}

Reply do_list_personas(RouterSelf* self, const pb::Request& req) {
  constexpr uint32_t method = pb::Request::kListPersonas;
  const auto& r = req.list_personas();
  size_t n = page_size_of(r.page_size());
  auto page = queue_for(self->state, req.header().tenant()).personas(r.page_token(), n + 1);
  pb::Response resp;
  auto* out = resp.mutable_list_personas();
  for (size_t i = 0; i < page.size() && i < n; ++i) *out->add_personas() = page[i];
  if (page.size() > n) out->set_next_page_token(page[n - 1].id());
  return reply_bytes(method, resp);
}

void sweep_acked(RouterSelf* self, TimeUs now) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  // Bounded: at most 10000 deletions per tick. On a cluster node the deletes go through each
  // event shard's log, and only for shards this node serves (the leader of another sweeps it).
  std::map<uint32_t, storage::Batch> batches;
  size_t n = 0;
  while (!st.acked.empty() && n < 10000 &&
         st.acked.front().first + ctx.events.retention_us <= now) {
    const std::string& key = st.acked.front().second;
    auto parsed = storage::parse_persona_prefix(key);
    const uint32_t shard = parsed ? parsed->shard : 0;
    if (!ctx.replicated() || ctx.routes->serving(shard)) {
      auto it = batches.find(shard);
      if (it == batches.end()) it = batches.emplace(shard, ctx.db->batch()).first;
      it->second.del(storage::Cf::events, key);
    }
    st.acked.pop_front();
    ++n;
  }
  for (auto& [shard, batch] : batches) {
    if (!ctx.replicated()) {
      if (auto s = ctx.db->write_unsynced(std::move(batch)); !s) {
        spdlog::warn("event router: expired acked events not deleted: {}", s.error().message);
      }
      continue;
    }
    // Garbage only: a lost proposal leaves the records for a later sweep after a reload.
    propose_batch(self, ctx, shard, batch.rep().Data()).then([](uint64_t) {}, [](caf::error&) {});
  }
}

std::chrono::microseconds tick_interval(const NodeContext& ctx) {
  return std::chrono::microseconds(std::clamp<TimeUs>(ctx.events.lease_us / 10, 10'000, 1'000'000));
}

// Whether the queues of `shard` were loaded under the term this node serves it now. A node that
// served the shard before, then did not (another leader changed its events meanwhile), and serves
// it again has a new term: its queues must be rebuilt from its copy. Always true without routes
// (a standalone node serves everything, always).
bool loaded_in_this_term(const RouterState& st, uint32_t shard) {
  if (!st.ctx->routes) return true;
  auto loaded = st.loaded_terms.find(shard);
  return loaded != st.loaded_terms.end() && loaded->second == st.ctx->routes->serving_term(shard);
}

// Whether the tenant's queue may be judged now (this node serves the tenant): reloads first when
// it was loaded in an earlier term (the reload the leadership change asks for is a message of its
// own and may come after a request). False while a reload waits for writes in flight.
bool queues_current(RouterSelf* self, const std::string& tenant) {
  if (!loaded_in_this_term(self->state, event_shard(*self->state.ctx, tenant))) reload(self);
  return !self->state.reload_needed;
}

// Asks again shortly while the question's time allows (a failover of the tenant's event shard
// then shows up as latency of the write that creates a persona, as for any write), or answers
// with `why`.
void retry_quota(RouterSelf* self, QuotaAsk ask, const Error& why) {
  auto& st = self->state;
  if (st.ctx->clock->now_us() + kQuotaRetryEvery.count() >= ask.give_up_us) {
    ask.rp.deliver(uint32_t{pb::Request::kClusterAdmin}, error_response(why).SerializeAsString());
    return;
  }
  const uint64_t id = ++st.next_quota_ask;
  st.quota_asks.emplace(id, std::move(ask));
  self->delayed_send(self, kQuotaRetryEvery, quota_retry_atom::value, id);
}

void ask_quota(RouterSelf* self, QuotaAsk ask) {
  constexpr uint32_t method = pb::Request::kClusterAdmin;
  auto& st = self->state;
  auto& ctx = *st.ctx;
  if (serves(ctx, ask.tenant)) {
    if (!queues_current(self, ask.tenant)) {
      return retry_quota(
          self, std::move(ask),
          make_error(ErrorCode::unavailable, "the event router is reloading its queues; retry"));
    }
    auto& q = queue_for(st, ask.tenant);
    auto ok = st.quota->admit(ask.tenant, ask.persona, q.persona_count(),
                              q.has_persona(ask.persona), ctx.clock->now_us());
    ask.rp.deliver(method, (ok ? pb::Response() : error_response(ok.error())).SerializeAsString());
    return;
  }
  const uint32_t shard = event_shard(ctx, ask.tenant);
  auto route = ctx.routes->route(shard);
  if (route.kind != cluster::ShardRoutes::Kind::forward || !ctx.transport) {
    const std::string why = "no node serves tenant '" + ask.tenant +
                            "' right now, so its persona count is not known; retry";
    return retry_quota(self, std::move(ask), make_error(ErrorCode::unavailable, why));
  }
  pb::Request question;
  question.mutable_header()->set_schema_version(wire::kSchemaVersion);
  question.mutable_header()->set_tenant(ask.tenant);
  question.mutable_cluster_admin()->mutable_persona_quota()->set_tenant(ask.tenant);
  question.mutable_cluster_admin()->mutable_persona_quota()->set_persona(ask.persona);
  const TimeUs left = std::max<TimeUs>(ask.give_up_us - ctx.clock->now_us(), 1000);
  const uint64_t leader = route.leader;
  self->request(ctx.transport, std::chrono::microseconds(left), forward_atom::value, leader, method,
                question.SerializeAsString())
      .then(
          [rp = ask.rp](uint32_t m, std::string& bytes) mutable {
            rp.deliver(m, std::move(bytes));
          },
          [self, ask, shard, leader](caf::error& e) mutable {
            Error why = make_error(ErrorCode::unavailable,
                                   "the node serving the tenant's events did not answer on its "
                                   "persona count (" +
                                       self->system().render(e) + "); retry");
            // Its node just died or was cut off: ask the next leader once there is one.
            if (e == caf::sec::no_route_to_receiving_node || e == caf::sec::request_receiver_down) {
              self->state.ctx->routes->unreachable(shard, leader);
              return retry_quota(self, std::move(ask), why);
            }
            ask.rp.deliver(uint32_t{pb::Request::kClusterAdmin},
                           error_response(why).SerializeAsString());
          });
}

caf::behavior event_router(RouterSelf* self, NodeContextPtr ctx) {
  self->state.ctx = ctx;
  // A place held for a persona being created outlasts its write: the write's own deadline.
  self->state.quota = std::make_unique<PersonaQuota>(ctx->settings.limits.personas_per_tenant,
                                                     2 * ctx->request_timeout_us);
  if (auto s = load(self->state); !s) {
    spdlog::error("event router: loading events failed: {}", s.error().message);
  }
  resume_after_load(self);
  self->delayed_send(self, tick_interval(*ctx), tick_atom::value);
  return {
      [=](handle_atom, RequestPtr req) -> Reply {
        uint32_t method = static_cast<uint32_t>(req->body_case());
        const std::string& tenant = req->header().tenant();
        if (!serves(*ctx, tenant)) {
          // The api actor routes it again, to the node that serves the tenant's event shard.
          return fail(method, make_error(ErrorCode::unavailable,
                                         std::string(kLeadershipMoved) + ": node '" + ctx->node_id +
                                             "' does not serve the events of " + "tenant '" +
                                             tenant + "'; retry"));
        }
        if (!queues_current(self, tenant)) {
          // A write failed (or this node came to serve a tenant) and the queues are rebuilt from
          // storage once the writes in flight are answered. Until then memory may hold changes
          // that never became durable (an ack whose write failed has already taken its event
          // out of flight), so nothing is judged against it: a retry is answered after the
          // reload, from what storage holds.
          return fail(method, make_error(ErrorCode::unavailable,
                                         "the event router is reloading its queues from storage; "
                                         "retry"));
        }
        switch (req->body_case()) {
          case pb::Request::kPublish:
            return do_publish(self, *req);
          case pb::Request::kNextEvent:
            return do_next(self, *req);
          case pb::Request::kAck:
            return do_ack(self, *req);
          case pb::Request::kAckBatch:
            return do_ack_batch(self, *req);
          case pb::Request::kNack:
            return do_nack(self, *req);
          case pb::Request::kEventStatus:
            return do_status(self, *req);
          case pb::Request::kListDeadLetters:
            return do_dead_letters(self, *req);
          case pb::Request::kRequeue:
            return do_requeue(self, *req);
          case pb::Request::kListPersonas:
            return do_list_personas(self, *req);
          default:
            return fail(method, make_error(ErrorCode::invalid_argument,
                                           "this request is not served by the event router"));
        }
      },
      [=](profile_atom, PersonaPtr p) {
        if (!serves(*ctx, p->tenant())) {
          pb::Request report;
          *report.mutable_cluster_admin()->mutable_persona_profile() = *p;
          return tell_event_leader(self, p->tenant(), std::move(report));
        }
        self->state.quota->settled(p->tenant(), p->id());
        auto& q = queue_for(self->state, p->tenant());
        persist(self, p->tenant(), q.put_persona(*p, self->state.ctx->clock->now_us()), {});
      },
      [=](persona_quota_atom, const std::string& tenant, const std::string& persona) {
        auto rp = self->make_response_promise<uint32_t, std::string>();
        // Half the request's time, so the persona's own request (request_timeout) gets the answer.
        ask_quota(self, QuotaAsk{tenant, persona, rp,
                                 ctx->clock->now_us() + ctx->request_timeout_us / 2});
        return rp;
      },
      [=](quota_retry_atom, uint64_t id) {
        auto it = self->state.quota_asks.find(id);
        if (it == self->state.quota_asks.end()) return;
        QuotaAsk ask = std::move(it->second);
        self->state.quota_asks.erase(it);
        ask_quota(self, std::move(ask));
      },
      [=](persona_gone_atom, const std::string& tenant, const std::string& persona) -> uint64_t {
        self->state.quota->settled(tenant, persona);
        if (!serves(*ctx, tenant)) {
          pb::Request report;
          report.mutable_cluster_admin()->mutable_persona_gone()->set_tenant(tenant);
          report.mutable_cluster_admin()->mutable_persona_gone()->set_persona(persona);
          tell_event_leader(self, tenant, std::move(report));
          return 0;
        }
        auto& q = queue_for(self->state, tenant);
        uint64_t held = q.in_flight(persona);
        persist(self, tenant, q.remove_persona(persona, self->state.ctx->clock->now_us()), {});
        auto it = self->state.waiters.find({tenant, persona});
        if (it != self->state.waiters.end()) {
          for (auto& w : it->second) deliver(w.rp, pb::Request::kNextEvent, no_event());
          self->state.waiters.erase(it);
        }
        return held;
      },
      [=](committed_atom, uint64_t seq, uint64_t, bool ok, const std::string& msg) {
        on_committed(self, seq, ok, msg);
      },
      // This node now serves an event shard: its queues are rebuilt from what the log applied.
      [=](reload_atom) {
        // Several shards are often won at once (a restart, a hand-over): one reload for them all.
        auto& st = self->state;
        if (st.reload_queued) return;
        st.reload_queued = true;
        self->delayed_send(self, std::chrono::milliseconds(5), reload_atom::value, true);
      },
      [=](reload_atom, bool) {
        self->state.reload_queued = false;
        reload(self);
      },
      [=](wait_timeout_atom, TimeUs slot) { end_waits(self, slot); },
      [=](memory_flush_atom) {
        auto& st = self->state;
        st.memory_flush_armed = false;
        std::vector<PersonaKey> due;
        for (auto& entry : st.memories) {
          PersonaMemories& pm = entry.second;
          if (pm.waiting.empty()) continue;
          if (++pm.ticks_waited >= 10 && pm.request == 0) due.push_back(entry.first);
        }
        for (const auto& who : due) flush_memories(self, who);
        // Personas with a write in flight send what waits when it ends (memories_done).
        if (!st.memories.empty()) arm_memory_flush(self);
      },
      [=](drain_memories_atom) -> caf::result<bool> {
        auto& st = self->state;
        st.draining = true;
        std::vector<PersonaKey> idle;
        for (const auto& entry : st.memories) {
          if (entry.second.request == 0) idle.push_back(entry.first);
        }
        for (const auto& who : idle) flush_memories(self, who);
        auto rp = self->make_response_promise<bool>();
        st.drains.push_back(rp);
        check_drained(self);
        return rp;
      },
      [=](estats_atom) -> EventStatsPtr {
        auto out = std::make_shared<EventStats>();
        std::map<std::tuple<std::string, int, int>, uint64_t> counts;
        for (const auto& entry : self->state.queues) {
          // Not a structured binding: C++17 lambdas may not capture those.
          const std::string& tenant = entry.first;
          entry.second.for_each_event([&](const pb::Event& e) {
            counts[{tenant, e.state(), e.priority()}]++;
          });
        }
        for (const auto& [k, n] : counts) {
          out->counts.push_back(EventCount{std::get<0>(k),
                                           static_cast<pb::EventState>(std::get<1>(k)),
                                           static_cast<pb::EventPriority>(std::get<2>(k)), n});
        }
        out->acked_retained = self->state.acked.size();
        return out;
      },
      [=](tick_atom) {
        auto& st = self->state;
        TimeUs t = st.ctx->clock->now_us();
        // Leases expire only on queues of the term this node serves them in.
        if (st.ctx->routes) {
          for (uint32_t shard : st.ctx->routes->served()) {
            if (!loaded_in_this_term(st, shard)) {
              reload(self);
              break;
            }
          }
        }
        for (auto& [tenant, q] : st.queues) {
          if (st.reload_needed) break;
          if (!serves(*st.ctx, tenant)) continue;
          auto next = q.next_lease_expiry();
          if (next && *next <= t) persist(self, tenant, q.tick(t), {});
        }
        sweep_acked(self, t);
        expire_memory_requests(self, t);
        self->delayed_send(self, tick_interval(*st.ctx), tick_atom::value);
      },
  };
}

}  // namespace

caf::actor spawn_event_router(caf::actor_system& sys, NodeContextPtr ctx) {
  return sys.spawn(event_router, std::move(ctx));
}

}  // namespace nca::actors
