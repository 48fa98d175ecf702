// Personas and events through a real node: profiles, the event life cycle, long polls, leases,
// dead letters, memories of events, shared knowledge and restart.
#include <gtest/gtest.h>

#include <caf/send.hpp>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "actors/messages.hpp"
#include "storage/column_family.hpp"
#include "tests/actors/node_test_util.hpp"
#include "tests/support/test_seed.hpp"

namespace nca::testing {
namespace {

class EventRouterTest : public NodeFixture {
 protected:
  void customize(config::Settings& s) override {
    s.events.lease = lease_us_;
    s.events.max_attempts = 2;
  }

  Result<pb::Response> rpc(pb::Request req) { return client_->call(std::move(req)); }

  Result<pb::Persona> create(const std::string& id, std::map<std::string, double> skills = {},
                             uint32_t capacity = 4) {
    pb::Request req;
    auto* p = req.mutable_create_persona()->mutable_persona();
    p->set_id(id);
    p->set_name("Persona " + id);
    p->set_capacity(capacity);
    for (auto& [k, v] : skills) (*p->mutable_skills())[k] = v;
    auto r = rpc(req);
    if (!r) return r.error();
    return r->create_persona().persona();
  }

  Result<pb::Event> publish(const std::string& topic, const std::string& thread = "",
                            pb::EventPriority prio = pb::NORMAL) {
    pb::Request req;
    auto* e = req.mutable_publish()->add_events();
    e->set_topic(topic);
    e->set_payload("{\"n\": 1}");
    e->set_thread_id(thread);
    e->set_priority(prio);
    auto r = rpc(req);
    if (!r) return r.error();
    return r->publish().events(0);
  }

  Result<pb::NextEventReply> next(const std::string& persona, uint32_t wait_ms = 0) {
    pb::Request req;
    req.mutable_next_event()->set_persona_id(persona);
    req.mutable_next_event()->set_wait_ms(wait_ms);
    auto r = rpc(req);
    if (!r) return r.error();
    return r->next_event();
  }

  Result<pb::Event> status(const std::string& id) {
    pb::Request req;
    req.mutable_event_status()->set_event_id(id);
    auto r = rpc(req);
    if (!r) return r.error();
    return r->event_status().event();
  }

  Result<pb::Event> ack(const pb::Event& e, const std::string& result = "") {
    pb::Request req;
    req.mutable_ack()->set_event_id(e.id());
    req.mutable_ack()->set_attempt(e.attempts());
    req.mutable_ack()->set_result(result);
    auto r = rpc(req);
    if (!r) return r.error();
    return r->ack().event();
  }

  // A long poll of `persona`, parked in the router when this returns: requests reach the router in
  // the order the client sends them, so the poll is parked once a status request sent after it is
  // answered.
  Client::Future<pb::Response> parked_poll(const std::string& persona) {
    pb::Request poll;
    poll.mutable_next_event()->set_persona_id(persona);
    poll.mutable_next_event()->set_wait_ms(10000);
    auto pending = client_->call_async(poll);
    EXPECT_EQ(status("no-such-event").code(), ErrorCode::not_found);
    return pending;
  }

  TimeUs lease_us_ = 60 * kUsPerSecond;
};

TEST_F(EventRouterTest, ProfileLifecycle) {
  auto ada = create("ada", {{"billing", 0.9}});
  ASSERT_TRUE(ada) << ada.error().message;
  EXPECT_EQ(ada->version(), 1u);
  EXPECT_EQ(create("ada").code(), ErrorCode::already_exists);
  EXPECT_EQ(create("_secret").code(), ErrorCode::invalid_argument);

  pb::Request upd;
  upd.mutable_update_persona()->mutable_persona()->set_id("ada");
  upd.mutable_update_persona()->mutable_persona()->set_role("support lead");
  upd.mutable_update_persona()->add_fields("role");
  upd.mutable_update_persona()->set_expected_version(1);
  auto u = rpc(upd);
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->update_persona().persona().version(), 2u);
  EXPECT_EQ(u->update_persona().persona().skills().at("billing"), 0.9);  // untouched field
  EXPECT_EQ(rpc(upd).code(), ErrorCode::conflict);                       // stale version

  pb::Request pause;
  pause.mutable_pause_persona()->set_persona_id("ada");
  auto pz = rpc(pause);
  ASSERT_TRUE(pz);
  EXPECT_EQ(pz->pause_persona().persona().status(), pb::PERSONA_PAUSED);

  for (const char* id : {"bob", "cy", "dee"}) ASSERT_TRUE(create(id));
  pb::Request list;
  list.mutable_list_personas()->set_page_size(3);
  auto page1 = rpc(list);
  ASSERT_TRUE(page1);
  ASSERT_EQ(page1->list_personas().personas_size(), 3);
  EXPECT_EQ(page1->list_personas().personas(0).id(), "ada");
  list.mutable_list_personas()->set_page_token(page1->list_personas().next_page_token());
  auto page2 = rpc(list);
  ASSERT_TRUE(page2);
  ASSERT_EQ(page2->list_personas().personas_size(), 1);
  EXPECT_EQ(page2->list_personas().personas(0).id(), "dee");
  EXPECT_TRUE(page2->list_personas().next_page_token().empty());

  ASSERT_TRUE(client_->remember("bob", memory("bob likes tea")));
  pb::Request pub;
  auto* ev = pub.mutable_publish()->add_events();
  ev->set_topic("a.b");
  ev->set_target_persona("bob");
  auto published = rpc(pub);
  ASSERT_TRUE(published);
  ASSERT_EQ(published->publish().events(0).persona_id(), "bob");
  const std::string event_memory = published->publish().events(0).memory_id();
  ASSERT_TRUE(wait_until([&] { return client_->get(event_memory, "bob").ok(); }));
  pb::Request del;
  del.mutable_delete_persona()->set_persona_id("bob");
  EXPECT_EQ(rpc(del).code(), ErrorCode::invalid_argument);  // no confirmation
  del.mutable_delete_persona()->set_confirm(true);
  auto d = rpc(del);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->delete_persona().items_deleted(), 2u);  // the memory and the event's memory
  EXPECT_EQ(d->delete_persona().events_requeued(), 1u);
  pb::Request st;
  st.mutable_event_status()->set_event_id(published->publish().events(0).id());
  auto back = rpc(st);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->event_status().event().state(), pb::EVENT_PENDING);  // waits for a new bob
  pb::Request get;
  get.mutable_get_persona()->set_persona_id("bob");
  EXPECT_EQ(rpc(get).code(), ErrorCode::not_found);
  auto hits = client_->recall("bob", "tea", 5);
  ASSERT_TRUE(hits);
  EXPECT_EQ(hits->hits_size(), 0);
}

TEST_F(EventRouterTest, PublishDeliverAckWithMemories) {
  ASSERT_TRUE(create("ada"));
  auto e1 = publish("support.ticket_created", "t-1");
  ASSERT_TRUE(e1) << e1.error().message;
  EXPECT_EQ(e1->state(), pb::EVENT_ASSIGNED);
  EXPECT_EQ(e1->persona_id(), "ada");
  auto got = next("ada");
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_TRUE(got->has_event());
  EXPECT_EQ(got->event().id(), e1->id());
  EXPECT_EQ(got->event().attempts(), 1u);
  auto done = ack(got->event(), "refunded the order");
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->state(), pb::EVENT_ACKED);
  // A retried ack of the same delivery answers the same; the event is acked once.
  auto again = ack(got->event(), "refunded the order");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->version(), done->version());
  auto st = status(e1->id());
  ASSERT_TRUE(st);
  EXPECT_EQ(st->state(), pb::EVENT_ACKED);

  // The event and its result are memories of the persona; events of one thread are linked.
  auto e2 = publish("support.ticket_updated", "t-1");
  ASSERT_TRUE(e2);
  ASSERT_TRUE(wait_until([&] {
    return client_->get(e2->memory_id(), "ada").ok() && client_->get(e1->memory_id(), "ada").ok();
  }));
  EXPECT_TRUE(client_->get(done->result_memory_id(), "ada").ok());
  auto n = client_->neighbours(e2->memory_id());
  ASSERT_TRUE(n) << n.error().message;
  bool linked = false;
  for (const auto& x : n->neighbours()) linked = linked || x.item_id() == e1->memory_id();
  EXPECT_TRUE(linked);
}

// A poll parked for its persona takes the event in the publish's own write (one durable write,
// the event stored DELIVERED); a poll that comes after the publish costs a write of its own.
TEST_F(EventRouterTest, LongPollWakesOnPublishAndTimesOutEmpty) {
  ASSERT_TRUE(create("ada"));
  auto empty = next("ada", 50);
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->has_event());
  auto writes = [&] { return node_->context().counters.event_writes.load(); };
  auto pending = parked_poll("ada");
  uint64_t before = writes();
  auto e = publish("a.b");
  ASSERT_TRUE(e);
  auto got = pending.get();
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_TRUE(got->next_event().has_event());
  EXPECT_EQ(got->next_event().event().id(), e->id());
  EXPECT_EQ(got->next_event().event().state(), pb::EVENT_DELIVERED);
  EXPECT_EQ(writes() - before, 1u) << "published, assigned and delivered in one write";
  auto stored = status(e->id());
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state(), pb::EVENT_DELIVERED);
  ASSERT_TRUE(ack(*stored));

  before = writes();
  auto later = publish("a.b");
  ASSERT_TRUE(later);
  auto taken = next("ada", 0);
  ASSERT_TRUE(taken);
  ASSERT_TRUE(taken->has_event());
  EXPECT_EQ(writes() - before, 2u) << "no poll was parked: the delivery is a write of its own";
  EXPECT_EQ(next("nobody").code(), ErrorCode::not_found);
}

// An event's memory is stored under an id derived from the event, so a retried batch is idempotent
// without the persona's request ledger: the router's memory batches leave no reply records.
TEST_F(EventRouterTest, EventMemoriesLeaveNoRequestLedgerRecords) {
  ASSERT_TRUE(create("ada"));
  auto ledger_records = [&] {
    size_t n = 0;
    auto s = node_->context().db->scan(storage::Cf::meta, "",
                                       [&](std::string_view key, std::string_view) {
                                         if (key.find("\x01req") != std::string_view::npos) ++n;
                                         return true;
                                       });
    EXPECT_TRUE(s) << s.error().message;
    return n;
  };
  const size_t before = ledger_records();
  std::vector<pb::Event> events;
  for (int i = 0; i < 3; ++i) {
    auto e = publish("support.ticket_created", "t-" + std::to_string(i));
    ASSERT_TRUE(e) << e.error().message;
    events.push_back(*e);
  }
  ASSERT_TRUE(wait_until([&] {
    for (const auto& e : events) {
      if (!client_->get(e.memory_id(), "ada").ok()) return false;
    }
    return true;
  }));
  EXPECT_EQ(ledger_records(), before);
}

// Polls end in shared timer slots (kWaitSlotUs), not one timer each: every poll still ends empty
// no earlier than its own wait, whatever the order the waits were asked in, and a poll answered
// early by a publish is not answered again when its slot's timer fires.
TEST_F(EventRouterTest, ManyLongPollsEachEndAfterTheirOwnWait) {
  const uint64_t seed = test_seed("long poll waits");
  std::mt19937_64 rng(seed);
  ASSERT_TRUE(create("ada"));
  ASSERT_TRUE(create("bob"));
  pb::Request early;
  early.mutable_next_event()->set_persona_id("bob");
  early.mutable_next_event()->set_wait_ms(400);
  auto answered = client_->call_async(early);
  std::vector<uint32_t> waits;
  for (uint32_t w = 20; w <= 400; w += 20) waits.push_back(w);
  std::shuffle(waits.begin(), waits.end(), rng);
  struct Poll {
    uint32_t wait_ms;
    std::chrono::steady_clock::time_point sent;
    Client::Future<pb::Response> reply;
  };
  std::vector<Poll> polls;
  for (uint32_t w : waits) {
    pb::Request req;
    req.mutable_next_event()->set_persona_id("ada");
    req.mutable_next_event()->set_wait_ms(w);
    polls.push_back(Poll{w, std::chrono::steady_clock::now(), client_->call_async(req)});
  }
  pb::Request to_bob;
  auto* e = to_bob.mutable_publish()->add_events();
  e->set_topic("a.b");
  e->set_target_persona("bob");
  ASSERT_TRUE(rpc(to_bob));
  auto got = answered.get();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_TRUE(got->next_event().has_event()) << "bob's poll is answered by the publish";
  for (auto& p : polls) {
    SCOPED_TRACE("wait " + std::to_string(p.wait_ms) + " ms, seed " + std::to_string(seed));
    auto r = p.reply.get();
    auto took = std::chrono::steady_clock::now() - p.sent;
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->next_event().has_event());
    EXPECT_GE(took, std::chrono::milliseconds(p.wait_ms)) << "ended before its wait";
  }
  // The slot timers of the answered poll and of the others have fired by now; the router still
  // serves bob (one reply per poll: a second one would have been a CAF error above, not silence).
  auto again = next("bob", 0);
  ASSERT_TRUE(again) << again.error().message;
}

// A router that reloads its queues (its node starts serving the tenant's event shard and learns
// the events from its own copy) hands a long poll parked before the reload what the reload found.
TEST_F(EventRouterTest, ALongPollParkedBeforeAReloadGetsWhatTheReloadFound) {
  ASSERT_TRUE(create("bob"));
  auto e = publish("a.b");  // bob is the only persona: assigned to him
  ASSERT_TRUE(e);
  ASSERT_EQ(e->persona_id(), "bob");
  ASSERT_TRUE(create("ada"));
  pb::Request req;
  req.mutable_next_event()->set_persona_id("ada");
  req.mutable_next_event()->set_wait_ms(8000);
  auto pending = client_->call_async(req);
  EXPECT_FALSE(status("no-such-event"));  // answered after the poll was parked (one connection)

  // The stored event becomes ada's behind the router's back, as a new leader's copy would differ
  // from what the old leader's router held.
  auto& ctx = node_->context();
  std::string key;
  pb::Event stored;
  ASSERT_TRUE(ctx.db->scan(storage::Cf::events, "", [&](std::string_view k, std::string_view v) {
    pb::Event x;
    if (x.ParseFromArray(v.data(), static_cast<int>(v.size())) && x.id() == e->id()) {
      key = std::string(k);
      stored = x;
    }
    return true;
  }));
  ASSERT_FALSE(key.empty());
  stored.set_persona_id("ada");
  auto batch = ctx.db->batch();
  batch.put_proto(storage::Cf::events, key, stored);
  ASSERT_TRUE(ctx.db->commit(std::move(batch)));
  caf::anon_send(ctx.router, actors::reload_atom::value);

  auto got = pending.get();
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_TRUE(got->next_event().has_event()) << "the parked poll waited out its 8 s, empty";
  EXPECT_EQ(got->next_event().event().id(), e->id());
}

// next_event with max_events hands out several events in one durable write; ack_batch settles
// several, judging each on its own; memories of all of them are stored.
TEST_F(EventRouterTest, BatchedNextAndAck) {
  ASSERT_TRUE(create("ada", {}, 8));
  std::vector<pb::Event> published;
  for (int i = 0; i < 5; ++i) {
    auto e = publish("batch.task", "t-9");
    ASSERT_TRUE(e) << e.error().message;
    published.push_back(*e);
  }
  auto got = client_->next_events("ada", std::chrono::milliseconds(0), 3);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_FALSE(got->has_event()) << "the batch form answers in `events` only";
  ASSERT_EQ(got->events_size(), 3);
  for (const auto& e : got->events()) {
    EXPECT_EQ(e.state(), pb::EVENT_DELIVERED);
    EXPECT_EQ(e.attempts(), 1u);
  }
  // Oldest first, as single next_event calls would hand them out.
  EXPECT_EQ(got->events(0).id(), published[0].id());
  EXPECT_EQ(got->events(2).id(), published[2].id());
  auto rest = client_->next_events("ada", std::chrono::milliseconds(0), 10);
  ASSERT_TRUE(rest) << rest.error().message;
  ASSERT_EQ(rest->events_size(), 2);
  auto none = client_->next_events("ada", std::chrono::milliseconds(20), 10);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->events_size(), 0);

  std::vector<pb::AckRequest> acks;
  for (const auto& e : got->events()) {
    pb::AckRequest a;
    a.set_event_id(e.id());
    a.set_attempt(e.attempts());
    acks.push_back(a);
  }
  acks[1].set_attempt(7);   // a stale delivery: refused, the others go on
  acks.push_back(acks[0]);  // the same ack twice in one call
  pb::AckRequest with_result;
  with_result.set_event_id(rest->events(0).id());
  with_result.set_attempt(1);
  with_result.set_result("done with a note");
  acks.push_back(with_result);
  pb::AckRequest bad;
  bad.set_event_id("");
  acks.push_back(bad);
  auto settled = client_->ack_batch(acks);
  ASSERT_TRUE(settled) << settled.error().message;
  ASSERT_EQ(settled->results_size(), 6);
  EXPECT_EQ(settled->results(0).status().code(), pb::OK);
  EXPECT_EQ(settled->results(0).event().state(), pb::EVENT_ACKED);
  EXPECT_EQ(settled->results(1).status().code(), pb::CONFLICT)
      << settled->results(1).status().message();
  EXPECT_FALSE(settled->results(1).has_event());
  EXPECT_EQ(settled->results(2).status().code(), pb::OK);
  // The repeat finds the event no longer in flight and its ack not yet stored: refused, and the
  // first ack of the pair stands.
  EXPECT_NE(settled->results(3).status().code(), pb::OK);
  EXPECT_EQ(settled->results(4).status().code(), pb::OK) << settled->results(4).status().message();
  EXPECT_FALSE(settled->results(4).event().result_memory_id().empty());
  EXPECT_EQ(settled->results(5).status().code(), pb::INVALID_ARGUMENT);
  // The refused ack changed nothing; the others are durable states.
  auto still = status(got->events(1).id());
  ASSERT_TRUE(still);
  EXPECT_EQ(still->state(), pb::EVENT_DELIVERED);
  auto acked = status(got->events(2).id());
  ASSERT_TRUE(acked);
  EXPECT_EQ(acked->state(), pb::EVENT_ACKED);
  // Every assignment became a memory of the persona.
  ASSERT_TRUE(wait_until([&] {
    for (const auto& e : published) {
      if (!client_->get(e.memory_id(), "ada").ok()) return false;
    }
    return true;
  }));
  EXPECT_TRUE(client_->get(settled->results(4).event().result_memory_id(), "ada").ok());

  // Limits: an empty batch, and more than events.max-batch, are refused whole.
  EXPECT_EQ(client_->ack_batch({}).code(), ErrorCode::invalid_argument);
  pb::Request big;
  big.mutable_next_event()->set_persona_id("ada");
  big.mutable_next_event()->set_max_events(1000000);
  EXPECT_EQ(rpc(big).code(), ErrorCode::invalid_argument);
}

TEST_F(EventRouterTest, NackDeadLetterAndRequeue) {
  ASSERT_TRUE(create("ada"));
  auto e = publish("a.b");
  ASSERT_TRUE(e);
  for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
    auto got = next("ada");
    ASSERT_TRUE(got && got->has_event());
    pb::Request nack;
    nack.mutable_nack()->set_event_id(e->id());
    nack.mutable_nack()->set_attempt(attempt);
    nack.mutable_nack()->set_reason("downstream down");
    auto r = rpc(nack);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->nack().event().state(), attempt < 2 ? pb::EVENT_ASSIGNED : pb::EVENT_DEAD);
  }
  pb::Request dead;
  dead.mutable_list_dead_letters();
  auto d = rpc(dead);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->list_dead_letters().events_size(), 1);
  pb::Request rq;
  rq.mutable_requeue()->add_event_ids(e->id());
  auto back = rpc(rq);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->requeue().events(0).state(), pb::EVENT_ASSIGNED);
  EXPECT_EQ(back->requeue().events(0).attempts(), 0u);
}

// Memories of assignments wait events.memory-delay to share one persona write.
class EventMemoryDelayTest : public EventRouterTest {
 protected:
  void customize(config::Settings& s) override {
    EventRouterTest::customize(s);
    s.events.memory_delay = delay_us_;
  }

  // The event's memory as stored, once it is (within 20 s).
  pb::MemoryItem stored_memory(const pb::Event& e) {
    pb::MemoryItem item;
    EXPECT_TRUE(wait_until(
        [&] {
          auto got = client_->get(e.memory_id(), e.persona_id());
          if (got) item = got->item();
          return got.ok();
        },
        std::chrono::seconds(20)))
        << "no memory " << e.memory_id();
    return item;
  }

  TimeUs delay_us_ = 3 * kUsPerSecond;
};

// Five assignments made by five publishes, one after the other within the delay, become one
// persona write: their memories were planned together (one stored_at). Without the delay the
// first would go alone while the others waited for it.
TEST_F(EventMemoryDelayTest, MemoriesOfAssignmentsWithinTheDelayShareOneWrite) {
  ASSERT_TRUE(create("ada", {}, 10));
  std::vector<pb::Event> events;
  for (int i = 0; i < 5; ++i) {
    auto e = publish("support.ticket_created", "t-" + std::to_string(i));
    ASSERT_TRUE(e) << e.error().message;
    events.push_back(*e);
  }
  const int64_t first = stored_memory(events.front()).stored_at_us();
  for (const auto& e : events) EXPECT_EQ(stored_memory(e).stored_at_us(), first) << e.id();
}

class EventMemoryDrainTest : public EventMemoryDelayTest {
 protected:
  void customize(config::Settings& s) override {
    delay_us_ = 10 * kUsPerSecond;
    EventMemoryDelayTest::customize(s);
  }
};

// A node that stops writes the memories still waiting before its personas stop: the memory of an
// event acked just before is there at once after the restart (the delay is 10 s, so it was not
// written by the timer, nor yet by the restart's own pass over recently acked events).
TEST_F(EventMemoryDrainTest, AStoppingNodeWritesTheMemoriesStillWaiting) {
  ASSERT_TRUE(create("ada"));
  auto e = publish("support.ticket_created", "t-1");
  ASSERT_TRUE(e) << e.error().message;
  auto got = next("ada");
  ASSERT_TRUE(got && got->has_event());
  ASSERT_TRUE(ack(got->event()));
  EXPECT_EQ(client_->get(e->memory_id(), "ada").code(), ErrorCode::not_found)
      << "the memory waits for its delay";
  restart();
  auto after = client_->get(e->memory_id(), "ada");
  EXPECT_TRUE(after) << "not written before the stop: " << after.error().message;
}

class EventLeaseTest : public EventRouterTest {
 protected:
  void customize(config::Settings& s) override {
    lease_us_ = 300 * 1000;
    EventRouterTest::customize(s);
  }
};

TEST_F(EventLeaseTest, ExpiredLeaseReassignsAndStaleAckIsRefused) {
  ASSERT_TRUE(create("ada"));
  ASSERT_TRUE(create("bob"));
  auto e = publish("a.b");
  ASSERT_TRUE(e);
  auto got = next(e->persona_id());
  ASSERT_TRUE(got && got->has_event());
  std::string first = e->persona_id();
  ASSERT_TRUE(wait_until([&] {
    auto s = status(e->id());
    return s && s->assignments() == 2;
  }));
  auto s = status(e->id());
  ASSERT_TRUE(s);
  EXPECT_NE(s->persona_id(), first);
  EXPECT_NE(s->last_error().find("lease expired"), std::string::npos);
  EXPECT_EQ(ack(got->event()).code(), ErrorCode::conflict);
}

TEST_F(EventRouterTest, StatesSurviveRestart) {
  ASSERT_TRUE(create("ada", {}, 4));
  auto a = publish("a.one");
  auto b = publish("a.two");
  ASSERT_TRUE(a && b);
  auto got = next("ada");
  ASSERT_TRUE(got && got->has_event());
  restart();
  auto sa = status(got->event().id());
  ASSERT_TRUE(sa);
  EXPECT_EQ(sa->state(), pb::EVENT_DELIVERED);
  auto other = next("ada");
  ASSERT_TRUE(other && other->has_event());
  EXPECT_NE(other->event().id(), got->event().id());
  EXPECT_TRUE(ack(got->event()).ok());
  auto nothing = next("ada");
  ASSERT_TRUE(nothing);
  EXPECT_FALSE(nothing->has_event());
}

// After a restart the router stores the memories of in-flight events again, in one batch per
// persona. One of them is in the archive by then (forgotten), which fails a batch whole: the others
// must still be stored, one by one.
TEST_F(EventRouterTest, MemoriesOfInFlightEventsSurviveOneThatCannotBeStored) {
  ASSERT_TRUE(create("ada", {}, 4));
  auto a = publish("a.one");
  auto b = publish("a.two");
  auto c = publish("a.three");
  ASSERT_TRUE(a && b && c);
  ASSERT_TRUE(wait_until([&] {
    return client_->get(a->memory_id(), "ada").ok() && client_->get(b->memory_id(), "ada").ok() &&
           client_->get(c->memory_id(), "ada").ok();
  }));
  ASSERT_TRUE(client_->forget(a->memory_id()).ok());  // archived: its id cannot be stored again
  ASSERT_TRUE(client_->remove(b->memory_id()).ok());  // gone: stored again after the restart
  ASSERT_TRUE(client_->remove(c->memory_id()).ok());
  ASSERT_FALSE(client_->get(b->memory_id(), "ada").ok());
  restart();
  ASSERT_TRUE(wait_until([&] {
    return client_->get(b->memory_id(), "ada").ok() && client_->get(c->memory_id(), "ada").ok();
  })) << "the batch with the archived memory failed whole and was not retried one by one";
}

TEST_F(EventRouterTest, RecallCanIncludeSharedKnowledge) {
  ASSERT_TRUE(client_->remember("_shared", memory("the office wifi password is tulip")));
  ASSERT_TRUE(client_->remember("ada", memory("ada prefers morning meetings")));
  pb::RecallRequest r;
  r.set_persona_id("ada");
  r.set_query("wifi password");
  r.set_k(5);
  r.set_mode(pb::LEXICAL);
  auto own = client_->recall(r);
  ASSERT_TRUE(own);
  for (const auto& h : own->hits()) EXPECT_NE(h.item().persona_id(), "_shared");
  r.set_include_shared(true);
  auto both = client_->recall(r);
  ASSERT_TRUE(both) << both.error().message;
  ASSERT_GE(both->hits_size(), 1);
  EXPECT_EQ(both->hits(0).item().persona_id(), "_shared");
}

}  // namespace
}  // namespace nca::testing
