// Tests of the persona and event verbs of nca::Client against FakeNode: the requests they put on
// the wire, how replies decode, how errors map, and the long poll's deadline.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "nca/client.hpp"
#include "tests/sdk/fake_node.hpp"
#include "tests/sdk/test_client.hpp"

namespace nca {
namespace {

using std::chrono::milliseconds;
using test_support::connect_or_die;
using test_support::elapsed_ms;
using test_support::FakeNode;
using test_support::fast_options;
using test_support::wall_now_us;
using Clock = std::chrono::steady_clock;

pb::Persona ada_profile() {
  pb::Persona persona;
  persona.set_id("ada");
  persona.set_name("Ada");
  persona.set_role("support engineer");
  persona.set_description("handles billing tickets");
  (*persona.mutable_skills())["billing"] = 0.9;
  (*persona.mutable_skills())["sql"] = 0.4;
  persona.add_responsibilities("refunds");
  persona.add_traits("patient");
  persona.mutable_preferences()->add_likes("clear tickets");
  persona.mutable_preferences()->add_dislikes("vague bug reports");
  pb::Relationship manager;
  manager.set_relation("manager");
  manager.set_affinity(0.8);
  (*persona.mutable_relationships())["grace"] = manager;
  persona.set_capacity(6);
  return persona;
}

pb::EventInput ticket(const std::string& id) {
  pb::EventInput event;
  event.set_id(id);
  event.set_topic("support.ticket_created");
  event.set_priority(pb::HIGH);
  event.set_payload(R"({"ticket": 42})");
  (*event.mutable_metadata())["channel"] = "email";
  event.add_required_skills("billing");
  event.set_from("grace");
  event.set_thread_id("t-42");
  return event;
}

TEST(ClientPersonas, EveryPersonaVerbSendsItsBody) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(client->create_persona(ada_profile()).ok());
  ASSERT_TRUE(client->get_persona("ada").ok());
  ASSERT_TRUE(client->list_personas(25, "ada").ok());
  ASSERT_TRUE(client->list_personas().ok());
  pb::Persona change;
  change.set_id("ada");
  change.set_capacity(2);
  ASSERT_TRUE(client->update_persona(change, 7, {"capacity"}).ok());
  ASSERT_TRUE(client->update_persona(ada_profile()).ok());
  ASSERT_TRUE(client->pause_persona("ada").ok());
  ASSERT_TRUE(client->resume_persona("ada").ok());
  ASSERT_TRUE(client->delete_persona("ada", true).ok());

  auto seen = node.requests();
  ASSERT_EQ(seen.size(), 9u);
  const pb::Request::BodyCase expected[] = {
      pb::Request::kCreatePersona, pb::Request::kGetPersona,    pb::Request::kListPersonas,
      pb::Request::kListPersonas,  pb::Request::kUpdatePersona, pb::Request::kUpdatePersona,
      pb::Request::kPausePersona,  pb::Request::kResumePersona, pb::Request::kDeletePersona};
  for (size_t i = 0; i < seen.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(seen[i].parsed);
    EXPECT_EQ(seen[i].request.body_case(), expected[i]);
    EXPECT_EQ(seen[i].method, static_cast<uint32_t>(expected[i]));
    EXPECT_EQ(seen[i].request.header().tenant(), "acme");
    EXPECT_EQ(seen[i].request.header().auth_token(), "secret-token");
    EXPECT_FALSE(seen[i].request.header().request_id().empty());
  }
  const pb::PersonaWriteRequest& created = seen[0].request.create_persona();
  EXPECT_EQ(created.expected_version(), 0u);
  EXPECT_TRUE(created.fields().empty());
  EXPECT_EQ(created.persona().id(), "ada");
  EXPECT_EQ(created.persona().role(), "support engineer");
  EXPECT_DOUBLE_EQ(created.persona().skills().at("billing"), 0.9);
  EXPECT_EQ(created.persona().responsibilities(0), "refunds");
  EXPECT_EQ(created.persona().traits(0), "patient");
  EXPECT_EQ(created.persona().preferences().dislikes(0), "vague bug reports");
  EXPECT_EQ(created.persona().relationships().at("grace").relation(), "manager");
  EXPECT_DOUBLE_EQ(created.persona().relationships().at("grace").affinity(), 0.8);
  EXPECT_EQ(created.persona().capacity(), 6u);
  EXPECT_EQ(seen[1].request.get_persona().persona_id(), "ada");
  EXPECT_EQ(seen[2].request.list_personas().page_size(), 25u);
  EXPECT_EQ(seen[2].request.list_personas().page_token(), "ada");
  EXPECT_EQ(seen[3].request.list_personas().page_size(), 0u) << "0: the node's default";
  EXPECT_TRUE(seen[3].request.list_personas().page_token().empty());
  const pb::PersonaWriteRequest& updated = seen[4].request.update_persona();
  EXPECT_EQ(updated.expected_version(), 7u);
  ASSERT_EQ(updated.fields_size(), 1);
  EXPECT_EQ(updated.fields(0), "capacity");
  EXPECT_EQ(updated.persona().capacity(), 2u);
  EXPECT_EQ(seen[5].request.update_persona().expected_version(), 0u);
  EXPECT_TRUE(seen[5].request.update_persona().fields().empty()) << "no fields: all of them";
  EXPECT_EQ(seen[6].request.pause_persona().persona_id(), "ada");
  EXPECT_EQ(seen[7].request.resume_persona().persona_id(), "ada");
  EXPECT_EQ(seen[8].request.delete_persona().persona_id(), "ada");
  EXPECT_TRUE(seen[8].request.delete_persona().confirm());
}

TEST(ClientPersonas, UnconfirmedDeleteFailsWithoutSendingAnything) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  auto refused = client->delete_persona("ada", false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), ErrorCode::invalid_argument);
  EXPECT_NE(refused.error().message.find("confirm"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("ada"), std::string::npos) << refused.error().message;
  auto refused_async = client->delete_persona_async("ada", false);
  ASSERT_EQ(refused_async.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(refused_async.get().code(), ErrorCode::invalid_argument);
  EXPECT_TRUE(node.requests().empty());
}

TEST(ClientPersonas, RepliesDecodeAndStatusesMap) {
  FakeNode node;
  pb::Response created;
  *created.mutable_create_persona()->mutable_persona() = ada_profile();
  created.mutable_create_persona()->mutable_persona()->set_version(1);
  created.mutable_create_persona()->mutable_persona()->set_status(pb::PERSONA_ACTIVE);
  node.set_reply(pb::Request::kCreatePersona, created);
  pb::Response page;
  page.mutable_list_personas()->add_personas()->set_id("ada");
  page.mutable_list_personas()->add_personas()->set_id("bob");
  page.mutable_list_personas()->set_next_page_token("bob");
  node.set_reply(pb::Request::kListPersonas, page);
  pb::Response paused;
  paused.mutable_pause_persona()->mutable_persona()->set_status(pb::PERSONA_PAUSED);
  node.set_reply(pb::Request::kPausePersona, paused);
  pb::Response deleted;
  deleted.mutable_delete_persona()->set_persona_id("ada");
  deleted.mutable_delete_persona()->set_items_deleted(12);
  deleted.mutable_delete_persona()->set_events_requeued(2);
  node.set_reply(pb::Request::kDeletePersona, deleted);
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);

  auto made = client->create_persona_async(ada_profile()).get();
  ASSERT_TRUE(made.ok()) << made.error().to_string();
  EXPECT_EQ(made->persona().version(), 1u);
  EXPECT_EQ(made->persona().name(), "Ada");
  EXPECT_EQ(made->persona().status(), pb::PERSONA_ACTIVE);
  auto listed = client->list_personas_async(2).get();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->personas_size(), 2);
  EXPECT_EQ(listed->personas(1).id(), "bob");
  EXPECT_EQ(listed->next_page_token(), "bob");
  auto pause = client->pause_persona_async("ada").get();
  ASSERT_TRUE(pause.ok());
  EXPECT_EQ(pause->persona().status(), pb::PERSONA_PAUSED);
  auto gone = client->delete_persona_async("ada", true).get();
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->items_deleted(), 12u);
  EXPECT_EQ(gone->events_requeued(), 2u);
  EXPECT_TRUE(client->get_persona_async("ada").get().ok());
  EXPECT_TRUE(client->resume_persona_async("ada").get().ok());
  EXPECT_TRUE(client->update_persona_async(ada_profile(), 1, {"skills"}).get().ok());

  node.set_status(pb::Request::kUpdatePersona, pb::CONFLICT,
                  "persona ada is at version 4, not 3: read it again");
  auto stale = client->update_persona(ada_profile(), 3);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.code(), ErrorCode::conflict);
  EXPECT_EQ(stale.error().message, "persona ada is at version 4, not 3: read it again");
  node.set_status(pb::Request::kCreatePersona, pb::ALREADY_EXISTS, "persona ada exists");
  EXPECT_EQ(client->create_persona(ada_profile()).code(), ErrorCode::already_exists);
  node.set_status(pb::Request::kGetPersona, pb::NOT_FOUND, "no persona zed");
  EXPECT_EQ(client->get_persona("zed").code(), ErrorCode::not_found);
  // A reply whose body answers another verb is malformed, not an empty profile.
  pb::Response wrong;
  wrong.mutable_get_persona();
  node.set_reply(pb::Request::kResumePersona, wrong);
  EXPECT_EQ(client->resume_persona("ada").code(), ErrorCode::internal);
}

TEST(ClientEvents, EveryEventVerbSendsItsBody) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  int64_t before_us = wall_now_us();

  ASSERT_TRUE(client->publish(ticket("e-1")).ok());
  ASSERT_TRUE(client->publish(std::vector<pb::EventInput>{ticket("e-2"), ticket("e-3")}).ok());
  ASSERT_TRUE(client->next_event("ada", milliseconds(0)).ok());
  ASSERT_TRUE(client->ack("e-1", 2, "refund issued").ok());
  ASSERT_TRUE(client->ack("e-1", 0).ok());
  ASSERT_TRUE(client->nack("e-2", 1, "customer unreachable").ok());
  ASSERT_TRUE(client->nack("e-3", 5, "poison payload", true).ok());
  ASSERT_TRUE(client->event_status("e-1").ok());
  ASSERT_TRUE(client->list_dead_letters(10, "e-3").ok());
  ASSERT_TRUE(client->requeue({"e-3", "e-4"}).ok());
  ASSERT_TRUE(client->next_events("ada", milliseconds(0), 5).ok());
  ASSERT_TRUE(client->next_events("ada", milliseconds(0), 0).ok());
  pb::AckRequest first, second;
  first.set_event_id("e-5");
  first.set_attempt(1);
  second.set_event_id("e-6");
  second.set_result("done");
  ASSERT_TRUE(client->ack_batch({first, second}).ok());
  int64_t after_us = wall_now_us();

  auto seen = node.requests();
  ASSERT_EQ(seen.size(), 13u);
  const pb::Request::BodyCase expected[] = {
      pb::Request::kPublish, pb::Request::kPublish,     pb::Request::kNextEvent,
      pb::Request::kAck,     pb::Request::kAck,         pb::Request::kNack,
      pb::Request::kNack,    pb::Request::kEventStatus, pb::Request::kListDeadLetters,
      pb::Request::kRequeue, pb::Request::kNextEvent,   pb::Request::kNextEvent,
      pb::Request::kAckBatch};
  for (size_t i = 0; i < seen.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(seen[i].parsed);
    EXPECT_EQ(seen[i].request.body_case(), expected[i]);
    EXPECT_EQ(seen[i].method, static_cast<uint32_t>(expected[i]));
    EXPECT_EQ(seen[i].request.header().tenant(), "acme");
    EXPECT_GE(seen[i].request.header().deadline_us(), before_us + 4'000'000);
    EXPECT_LE(seen[i].request.header().deadline_us(), after_us + 5'000'000);
  }
  ASSERT_EQ(seen[0].request.publish().events_size(), 1);
  const pb::EventInput& one = seen[0].request.publish().events(0);
  EXPECT_EQ(one.id(), "e-1");
  EXPECT_EQ(one.topic(), "support.ticket_created");
  EXPECT_EQ(one.priority(), pb::HIGH);
  EXPECT_EQ(one.payload(), R"({"ticket": 42})");
  EXPECT_EQ(one.metadata().at("channel"), "email");
  EXPECT_EQ(one.required_skills(0), "billing");
  EXPECT_EQ(one.from(), "grace");
  EXPECT_EQ(one.thread_id(), "t-42");
  ASSERT_EQ(seen[1].request.publish().events_size(), 2);
  EXPECT_EQ(seen[1].request.publish().events(1).id(), "e-3");
  EXPECT_EQ(seen[2].request.next_event().persona_id(), "ada");
  EXPECT_EQ(seen[2].request.next_event().wait_ms(), 0u);
  EXPECT_EQ(seen[3].request.ack().event_id(), "e-1");
  EXPECT_EQ(seen[3].request.ack().attempt(), 2u);
  EXPECT_EQ(seen[3].request.ack().result(), "refund issued");
  EXPECT_EQ(seen[4].request.ack().attempt(), 0u) << "0: the node does not check the attempt";
  EXPECT_TRUE(seen[4].request.ack().result().empty());
  EXPECT_EQ(seen[5].request.nack().event_id(), "e-2");
  EXPECT_EQ(seen[5].request.nack().attempt(), 1u);
  EXPECT_EQ(seen[5].request.nack().reason(), "customer unreachable");
  EXPECT_FALSE(seen[5].request.nack().dead_letter());
  EXPECT_TRUE(seen[6].request.nack().dead_letter());
  EXPECT_EQ(seen[6].request.nack().attempt(), 5u);
  EXPECT_EQ(seen[7].request.event_status().event_id(), "e-1");
  EXPECT_EQ(seen[8].request.list_dead_letters().page_size(), 10u);
  EXPECT_EQ(seen[8].request.list_dead_letters().page_token(), "e-3");
  ASSERT_EQ(seen[9].request.requeue().event_ids_size(), 2);
  EXPECT_EQ(seen[9].request.requeue().event_ids(1), "e-4");
  EXPECT_EQ(seen[2].request.next_event().max_events(), 0u) << "0: the single-event reply";
  EXPECT_EQ(seen[10].request.next_event().max_events(), 5u);
  EXPECT_EQ(seen[11].request.next_event().max_events(), 1u) << "next_events always asks a batch";
  ASSERT_EQ(seen[12].request.ack_batch().acks_size(), 2);
  EXPECT_EQ(seen[12].request.ack_batch().acks(0).event_id(), "e-5");
  EXPECT_EQ(seen[12].request.ack_batch().acks(0).attempt(), 1u);
  EXPECT_EQ(seen[12].request.ack_batch().acks(1).result(), "done");
}

TEST(ClientEvents, RepliesDecodeAndStatusesMap) {
  FakeNode node;
  pb::Response published;
  pb::Event* stored = published.mutable_publish()->add_events();
  stored->set_id("e-1");
  stored->set_state(pb::EVENT_ASSIGNED);
  stored->set_persona_id("ada");
  node.set_reply(pb::Request::kPublish, published);
  pb::Response status;
  pb::Event* acked = status.mutable_event_status()->mutable_event();
  acked->set_id("e-1");
  acked->set_state(pb::EVENT_ACKED);
  acked->set_result("refund issued");
  acked->set_attempts(2);
  node.set_reply(pb::Request::kEventStatus, status);
  pb::Response dead;
  dead.mutable_list_dead_letters()->add_events()->set_id("e-9");
  dead.mutable_list_dead_letters()->set_next_page_token("e-9");
  node.set_reply(pb::Request::kListDeadLetters, dead);
  pb::Response requeued;
  pb::Event* back = requeued.mutable_requeue()->add_events();
  back->set_id("e-9");
  back->set_state(pb::EVENT_PENDING);
  node.set_reply(pb::Request::kRequeue, requeued);
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);

  auto sent = client->publish_async(ticket("e-1")).get();
  ASSERT_TRUE(sent.ok()) << sent.error().to_string();
  ASSERT_EQ(sent->events_size(), 1);
  EXPECT_EQ(sent->events(0).state(), pb::EVENT_ASSIGNED);
  EXPECT_EQ(sent->events(0).persona_id(), "ada");
  auto batch = client->publish_async(std::vector<pb::EventInput>{ticket("e-1")}).get();
  EXPECT_TRUE(batch.ok());
  auto shown = client->event_status_async("e-1").get();
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->event().state(), pb::EVENT_ACKED);
  EXPECT_EQ(shown->event().result(), "refund issued");
  auto letters = client->list_dead_letters_async().get();
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ(letters->events_size(), 1);
  EXPECT_EQ(letters->next_page_token(), "e-9");
  auto again = client->requeue_async({"e-9"}).get();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->events(0).state(), pb::EVENT_PENDING);
  EXPECT_TRUE(client->ack_async("e-1", 1).get().ok());
  EXPECT_TRUE(client->nack_async("e-1", 1, "later").get().ok());

  // No event within the wait is success without an event, not an error.
  auto none = client->next_event_async("ada", milliseconds(0)).get();
  ASSERT_TRUE(none.ok()) << none.error().to_string();
  EXPECT_FALSE(none->has_event());
  pb::Response delivery;
  pb::Event* event = delivery.mutable_next_event()->mutable_event();
  event->set_id("e-1");
  event->set_state(pb::EVENT_DELIVERED);
  event->set_attempts(3);
  node.queue_reply(pb::Request::kNextEvent, delivery);
  auto some = client->next_event("ada", milliseconds(1000));
  ASSERT_TRUE(some.ok()) << some.error().to_string();
  ASSERT_TRUE(some->has_event());
  EXPECT_EQ(some->event().id(), "e-1");
  EXPECT_EQ(some->event().attempts(), 3u);

  node.set_status(pb::Request::kAck, pb::CONFLICT,
                  "event e-1 is at delivery 3, not 2: its lease ran out and it was redelivered");
  auto stale = client->ack("e-1", 2);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.code(), ErrorCode::conflict);
  EXPECT_NE(stale.error().message.find("delivery 3"), std::string::npos);
  node.set_status(pb::Request::kEventStatus, pb::NOT_FOUND, "no event e-404");
  EXPECT_EQ(client->event_status("e-404").code(), ErrorCode::not_found);
  node.set_status(pb::Request::kPublish, pb::INVALID_ARGUMENT, "event 0: topic is empty");
  EXPECT_EQ(client->publish(pb::EventInput()).code(), ErrorCode::invalid_argument);
  node.set_status(pb::Request::kRequeue, pb::INVALID_ARGUMENT, "e-1 is not a dead letter");
  EXPECT_EQ(client->requeue({"e-1"}).code(), ErrorCode::invalid_argument);
}

// The long poll's deadline is its wait plus the request timeout: a poll that the node holds for its
// whole wait still succeeds even when the wait is longer than the request timeout.
TEST(ClientEvents, LongPollDeadlineCoversTheWait) {
  FakeNode node;
  ClientOptions options = fast_options();
  options.request_timeout = milliseconds(300);
  auto client = connect_or_die({node.address()}, options);
  ASSERT_NE(client, nullptr);
  int64_t before_us = wall_now_us();
  auto start = Clock::now();
  auto reply = client->next_event("ada", milliseconds(800));
  int64_t took = elapsed_ms(start);
  ASSERT_TRUE(reply.ok()) << reply.error().to_string();
  EXPECT_FALSE(reply->has_event());
  EXPECT_GE(took, 750) << "the fake node holds the poll for its wait";
  auto seen = node.requests_of(pb::Request::kNextEvent);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].next_event().wait_ms(), 800u);
  EXPECT_GE(seen[0].header().deadline_us(), before_us + 1'100'000);
  EXPECT_LE(seen[0].header().deadline_us(), wall_now_us() + 1'100'000);

  // A node that never answers still ends the call, at wait + timeout.
  node.set_silent(pb::Request::kNextEvent);
  start = Clock::now();
  auto lost = client->next_event("ada", milliseconds(200));
  took = elapsed_ms(start);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.code(), ErrorCode::deadline_exceeded);
  EXPECT_GE(took, 450);
  EXPECT_LT(took, 3000);

  // Negative waits mean "answer at once"; the generic call() extends the deadline the same way.
  EXPECT_EQ(client->next_event_async("ada", milliseconds(-5)).get().code(),
            ErrorCode::deadline_exceeded);
  EXPECT_EQ(node.requests_of(pb::Request::kNextEvent).back().next_event().wait_ms(), 0u);
  pb::Request generic;
  generic.mutable_next_event()->set_persona_id("ada");
  generic.mutable_next_event()->set_wait_ms(2000);
  int64_t generic_before_us = wall_now_us();
  node.queue_reply(pb::Request::kNextEvent, pb::Response());
  EXPECT_FALSE(client->call(generic).ok()) << "an empty Response has no next_event body";
  EXPECT_GE(node.requests_of(pb::Request::kNextEvent).back().header().deadline_us(),
            generic_before_us + 2'300'000);
}

TEST(ClientRecall, IncludeSharedGoesOnTheWire) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->recall("ada", "refund policy", 5, true).ok());
  ASSERT_TRUE(client->recall_async("ada", "refund policy", 5, true).get().ok());
  ASSERT_TRUE(client->recall("ada", "refund policy").ok());
  auto seen = node.requests_of(pb::Request::kRecall);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[0].recall().include_shared());
  EXPECT_EQ(seen[0].recall().k(), 5u);
  EXPECT_TRUE(seen[1].recall().include_shared());
  EXPECT_FALSE(seen[2].recall().include_shared()) << "off unless asked for";
}

}  // namespace
}  // namespace nca
