// Routing, waiting order, capacity, leases and dead letters of the pure event queue.
#include "runtime/event_queue.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "runtime/event_input.hpp"
#include "runtime/event_routing.hpp"
#include "tests/support/test_seed.hpp"

namespace nca {
namespace {

constexpr TimeUs kSec = kUsPerSecond;

pb::Persona persona(const std::string& id, std::map<std::string, double> skills = {},
                    uint32_t capacity = 2) {
  pb::Persona p;
  p.set_id(id);
  p.set_tenant("t");
  p.set_version(1);
  p.set_capacity(capacity);
  for (auto& [k, v] : skills) (*p.mutable_skills())[k] = v;
  return p;
}

pb::Event event(const std::string& id, TimeUs at, pb::EventPriority prio = pb::NORMAL,
                std::vector<std::string> skills = {}) {
  pb::EventInput in;
  in.set_topic("support.ticket");
  in.set_priority(prio);
  for (auto& s : skills) in.add_required_skills(s);
  return event_from_input(in, "t", id, at);
}

class EventQueueTest : public ::testing::Test {
 protected:
  EventQueueTest() : q("t", policy()) {}
  static EventPolicy policy() {
    EventPolicy p;
    p.lease_us = 60 * kSec;
    p.max_attempts = 2;
    p.aging_us = 30 * kSec;
    return p;
  }
  std::string publish_one(pb::Event e, TimeUs now) {
    std::vector<pb::Event> out;
    q.publish({std::move(e)}, now, &out);
    return out.at(0).persona_id();
  }
  std::optional<pb::Event> take(const std::string& p, TimeUs now) {
    EventChanges ch;
    return q.next(p, now, &ch);
  }
  EventQueue q;
};

TEST_F(EventQueueTest, SkillMatchPicksTheProficientPersona) {
  q.put_persona(persona("ada", {{"billing", 0.2}}), 0);
  q.put_persona(persona("bob", {{"billing", 0.9}}), 0);
  EXPECT_EQ(publish_one(event("e1", 0, pb::NORMAL, {"billing"}), 0), "bob");
}

TEST_F(EventQueueTest, AffinityWithTheSenderBreaksOtherwiseEqualScores) {
  auto a = persona("ada");
  auto b = persona("bob");
  (*b.mutable_relationships())["carol"].set_affinity(0.8);
  q.put_persona(a, 0);
  q.put_persona(b, 0);
  auto e = event("e1", 0);
  e.set_from("carol");
  EXPECT_EQ(publish_one(e, 0), "bob");
  // Equal scores go to the lowest id.
  EXPECT_EQ(publish_one(event("e2", 0), 0), "ada");
}

TEST_F(EventQueueTest, LoadSpreadsEventsAndCapacityMakesThemWait) {
  q.put_persona(persona("ada", {}, 1), 0);
  q.put_persona(persona("bob", {}, 1), 0);
  EXPECT_EQ(publish_one(event("e1", 0), 0), "ada");
  EXPECT_EQ(publish_one(event("e2", 0), 0), "bob");
  std::vector<pb::Event> out;
  q.publish({event("e3", 1)}, 1, &out);
  EXPECT_EQ(out[0].state(), pb::EVENT_PENDING);
  EXPECT_EQ(q.pending(), 1u);
  // bob finishes: the waiting event goes to him.
  auto got = take("bob", 2);
  ASSERT_TRUE(got);
  EventChanges ch;
  ASSERT_TRUE(q.ack(got->id(), got->attempts(), "", 3, &ch));
  EXPECT_EQ(q.find("e3")->persona_id(), "bob");
  EXPECT_EQ(q.find("e3")->state(), pb::EVENT_ASSIGNED);
}

TEST_F(EventQueueTest, PausedPersonasGetNothingUntilResumed) {
  auto a = persona("ada");
  a.set_status(pb::PERSONA_PAUSED);
  q.put_persona(a, 0);
  std::vector<pb::Event> out;
  q.publish({event("e1", 0)}, 0, &out);
  EXPECT_EQ(out[0].state(), pb::EVENT_PENDING);
  a.set_status(pb::PERSONA_ACTIVE);
  auto ch = q.put_persona(a, 1);
  ASSERT_EQ(ch.assigned.size(), 1u);
  EXPECT_EQ(ch.assigned[0], "e1");
  EXPECT_EQ(q.find("e1")->persona_id(), "ada");
}

TEST_F(EventQueueTest, CriticalOverflowsCapacityOthersWait) {
  q.put_persona(persona("ada", {}, 1), 0);
  EXPECT_EQ(publish_one(event("e1", 0), 0), "ada");
  std::vector<pb::Event> out;
  q.publish({event("e2", 1, pb::HIGH), event("e3", 1, pb::CRITICAL)}, 1, &out);
  EXPECT_EQ(out[0].state(), pb::EVENT_PENDING);
  EXPECT_EQ(out[1].state(), pb::EVENT_ASSIGNED);
  EXPECT_EQ(q.in_flight("ada"), 2u);
  // The inbox hands out CRITICAL before the older NORMAL.
  EXPECT_EQ(take("ada", 2)->id(), "e3");
}

TEST_F(EventQueueTest, WaitingOrderIsPriorityThenAgeAndLowAgesPastHigh) {
  q.put_persona(persona("ada", {}, 1), 0);
  EXPECT_EQ(publish_one(event("busy", 0), 0), "ada");
  std::vector<pb::Event> out;
  // A LOW event that has waited 70 s (over two aging steps of 30 s) ranks above a fresh HIGH one
  // (two steps up), and a NORMAL one of the same age as the HIGH one ranks below it.
  q.publish({event("low", 0, pb::LOW)}, 0, &out);
  q.publish({event("high", 70 * kSec, pb::HIGH), event("normal", 70 * kSec, pb::NORMAL)}, 70 * kSec,
            &out);
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) {
    auto got = take("ada", 71 * kSec + i);
    ASSERT_TRUE(got) << i;
    order.push_back(got->id());
    EventChanges ch;
    ASSERT_TRUE(q.ack(got->id(), got->attempts(), "", 71 * kSec + i, &ch));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"busy", "low", "high", "normal"}));
}

TEST_F(EventQueueTest, ExpiredDeliveryIsReassignedAwayFromTheSilentPersona) {
  q.put_persona(persona("ada"), 0);
  q.put_persona(persona("bob"), 0);
  EXPECT_EQ(publish_one(event("e1", 0), 0), "ada");
  auto got = take("ada", 1);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->attempts(), 1u);
  EXPECT_TRUE(q.tick(60 * kSec).empty());  // not yet
  auto ch = q.tick(61 * kSec + 1);
  ASSERT_EQ(ch.assigned.size(), 1u);
  EXPECT_EQ(ch.assigned[0], "e1");
  EXPECT_EQ(q.find("e1")->persona_id(), "bob");
  EXPECT_EQ(q.find("e1")->assignments(), 2u);
  // ada's late ack names a superseded delivery.
  EventChanges late;
  auto r = q.ack("e1", 1, "", 62 * kSec, &late);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), ErrorCode::conflict);
}

TEST_F(EventQueueTest, ExpiredAssignmentDoesNotCountAnAttempt) {
  q.put_persona(persona("ada"), 0);
  publish_one(event("e1", 0), 0);
  q.tick(61 * kSec);
  const pb::Event* e = q.find("e1");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->attempts(), 0u);
  EXPECT_EQ(e->state(), pb::EVENT_ASSIGNED);  // back to ada, the only persona
}

TEST_F(EventQueueTest, DeadLetterAfterMaxAttemptsThenRequeue) {
  q.put_persona(persona("ada"), 0);
  publish_one(event("e1", 0), 0);
  for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
    auto got = take("ada", attempt);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->attempts(), attempt);
    EventChanges ch;
    auto r = q.nack("e1", attempt, "boom", false, attempt, &ch);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->state(), attempt < 2 ? pb::EVENT_ASSIGNED : pb::EVENT_DEAD);
  }
  auto dead = q.dead_letters("", 10);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].last_error().find("boom"), std::string::npos);
  EventChanges ch;
  auto back = q.requeue({"e1"}, 10, &ch);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->at(0).attempts(), 0u);
  EXPECT_EQ(back->at(0).state(), pb::EVENT_ASSIGNED);
  EXPECT_TRUE(q.dead_letters("", 10).empty());
  EventChanges bad;
  EXPECT_EQ(q.requeue({"e1"}, 11, &bad).code(), ErrorCode::conflict);
  EXPECT_TRUE(bad.empty());
}

TEST_F(EventQueueTest, TargetedEventsWaitForTheirPersona) {
  q.put_persona(persona("ada", {}, 1), 0);
  q.put_persona(persona("bob", {}, 1), 0);
  publish_one(event("e0", 0), 0);  // ada is full
  auto e = event("e1", 1);
  e.set_target_persona("ada");
  std::vector<pb::Event> out;
  q.publish({e}, 1, &out);
  EXPECT_EQ(out[0].state(), pb::EVENT_PENDING);
  EXPECT_EQ(q.in_flight("bob"), 0u);
}

TEST_F(EventQueueTest, RecoveryKeepsLeasesAndStates) {
  q.put_persona(persona("ada"), 0);
  publish_one(event("e1", 0), 0);
  publish_one(event("e2", 0), 0);
  auto delivered = take("ada", 5);
  ASSERT_TRUE(delivered);
  EventQueue r("t", policy());
  r.load_persona(persona("ada"));
  for (const auto& id : {"e1", "e2"}) r.load_event(*q.find(id));
  EXPECT_EQ(r.in_flight("ada"), 2u);
  EXPECT_TRUE(r.tick(10 * kSec).empty());  // leases resume, none expired
  EXPECT_EQ(r.find(delivered->id())->state(), pb::EVENT_DELIVERED);
  EventChanges ch;
  auto next = r.next("ada", 11 * kSec, &ch);
  ASSERT_TRUE(next);
  EXPECT_NE(next->id(), delivered->id());  // only the undelivered one is handed out
  EXPECT_FALSE(r.next("ada", 12 * kSec, &ch));
}

TEST_F(EventQueueTest, RemovedPersonaGivesItsEventsBack) {
  q.put_persona(persona("ada"), 0);
  q.put_persona(persona("bob"), 0);
  EXPECT_EQ(publish_one(event("e1", 0), 0), "ada");
  auto ch = q.remove_persona("ada", 1);
  EXPECT_EQ(q.find("e1")->persona_id(), "bob");
  EXPECT_FALSE(q.has_persona("ada"));
}

// The queue gathers the score's parts through its skill and sender index; every choice must be the
// one a plain argmax of routing_score over all personas makes (ties: lowest id), also after
// profiles change between events.
TEST_F(EventQueueTest, IndexedRoutingChoosesAsTheFormulaOverAllPersonas) {
  const uint64_t seed = testing::test_seed("indexed routing");
  std::mt19937_64 rng(seed);
  const std::vector<std::string> skills = {"billing", "refunds", "legal", "tech", "sales", "ops"};
  const std::vector<std::string> senders = {"carol", "dave", "erin", "frank"};
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  // Proficiencies and affinities from a few steps, so equal scores (ties) happen often.
  auto level = [&] { return static_cast<double>(pick(4)) * 0.25; };
  std::map<std::string, pb::Persona> profiles;
  std::map<std::string, size_t> held;
  auto random_persona = [&](const std::string& id) {
    pb::Persona p = persona(id, {}, 100000);
    for (size_t k = pick(4); k > 0; --k)
      (*p.mutable_skills())[skills[pick(skills.size())]] = level();
    for (size_t k = pick(3); k > 0; --k)
      (*p.mutable_relationships())[senders[pick(senders.size())]].set_affinity(level());
    return p;
  };
  for (int i = 0; i < 12; ++i) {
    std::string id = "p" + std::to_string(i);
    profiles[id] = random_persona(id);
    q.put_persona(profiles[id], 0);
  }
  for (int n = 0; n < 400; ++n) {
    if (n % 50 == 49) {  // a profile changes: the index must follow
      std::string id = "p" + std::to_string(pick(12));
      profiles[id] = random_persona(id);
      q.put_persona(profiles[id], 0);
    }
    std::vector<std::string> required;
    for (size_t k = pick(4); k > 0; --k) required.push_back(skills[pick(skills.size())]);
    pb::Event e = event("e" + std::to_string(n), n, pb::NORMAL, required);
    if (pick(3) != 0) e.set_from(senders[pick(senders.size())]);
    std::string expected;
    double best = 0;
    for (const auto& [id, p] : profiles) {  // ordered by id: the first of equal scores wins
      double score = routing_score(e, p, held[id], p.capacity());
      if (expected.empty() || score > best) {
        expected = id;
        best = score;
      }
    }
    ASSERT_EQ(publish_one(e, n), expected) << "event " << n << ", seed " << seed;
    held[expected]++;
  }
}

TEST(EventRouting, ScoreFollowsTheDesignFormula) {
  auto p = persona("ada", {{"a", 1.0}, {"b", 0.5}}, 4);
  (*p.mutable_relationships())["x"].set_affinity(-1);
  auto e = event("e", 0, pb::NORMAL, {"a", "b"});
  e.set_from("x");
  EXPECT_DOUBLE_EQ(routing_score(e, p, 2, 4), 0.75 - 0.3 - 0.25);
}

TEST(EventInput, RejectsBadTopicsPayloadsAndIds) {
  EventPolicy pol;
  pb::EventInput in;
  EXPECT_FALSE(validate_event_input(in, pol));
  in.set_topic("a..b");
  EXPECT_FALSE(validate_event_input(in, pol));
  in.set_topic("support.ticket_created");
  EXPECT_TRUE(validate_event_input(in, pol));
  in.set_payload("{not json");
  EXPECT_FALSE(validate_event_input(in, pol));
  in.set_payload("{\"a\": 1}");
  in.set_target_persona("_internal");
  EXPECT_FALSE(validate_event_input(in, pol));
  in.set_target_persona("ada");
  in.set_priority(static_cast<pb::EventPriority>(17));
  EXPECT_FALSE(validate_event_input(in, pol));
}

}  // namespace
}  // namespace nca
