// Unit tests of sdk/src/call_coalescer: which calls may be merged, the merged request, and how its
// reply is split back into what each call would have got alone.
#include "sdk/src/call_coalescer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nca::sdk {
namespace {

pb::Request with_header(pb::Request r, const std::string& tenant = "acme",
                        const std::string& token = "t0") {
  r.mutable_header()->set_schema_version(1);
  r.mutable_header()->set_tenant(tenant);
  r.mutable_header()->set_auth_token(token);
  r.mutable_header()->set_request_id("rid-" + tenant);
  r.mutable_header()->set_deadline_us(1000);
  return r;
}

pb::Request publish(std::vector<std::string> payloads, const std::string& tenant = "acme") {
  pb::Request r;
  for (const std::string& p : payloads) {
    pb::EventInput* e = r.mutable_publish()->add_events();
    e->set_topic("t");
    e->set_payload(p);
  }
  return with_header(std::move(r), tenant);
}

pb::Request ack(const std::string& id, uint32_t attempt = 1) {
  pb::Request r;
  r.mutable_ack()->set_event_id(id);
  r.mutable_ack()->set_attempt(attempt);
  return with_header(std::move(r));
}

pb::Request ack_batch(std::vector<std::string> ids) {
  pb::Request r;
  for (const std::string& id : ids) r.mutable_ack_batch()->add_acks()->set_event_id(id);
  return with_header(std::move(r));
}

pb::Event event(const std::string& id, const std::string& payload = "") {
  pb::Event e;
  e.set_id(id);
  e.set_payload(payload);
  return e;
}

pb::AckOutcome outcome(pb::StatusCode code, const std::string& message, const std::string& id) {
  pb::AckOutcome o;
  o.mutable_status()->set_code(code);
  o.mutable_status()->set_message(message);
  if (code == pb::OK) *o.mutable_event() = event(id);
  return o;
}

TEST(CoalesceLane, PublishesAndAcksOfOneTenantTokenAndRouteShareALane) {
  const std::string key =
      "e\x1f"
      "acme";
  std::string p1 = coalesce_lane(publish({"a"}), key, false, 100);
  std::string p2 = coalesce_lane(publish({"b", "c"}), key, false, 100);
  std::string a1 = coalesce_lane(ack("e1"), key, false, 100);
  std::string a2 = coalesce_lane(ack_batch({"e2", "e3"}), key, false, 100);
  ASSERT_FALSE(p1.empty());
  ASSERT_FALSE(a1.empty());
  EXPECT_EQ(p1, p2);
  EXPECT_EQ(a1, a2);
  EXPECT_NE(p1, a1) << "a publish never merges with an ack";

  EXPECT_NE(coalesce_lane(publish({"a"}, "other"), key, false, 100), p1);
  pb::Request other_token = publish({"a"});
  other_token.mutable_header()->set_auth_token("t1");
  EXPECT_NE(coalesce_lane(other_token, key, false, 100), p1);
  EXPECT_NE(coalesce_lane(publish({"a"}), "", false, 100), p1);
  // Lengths keep the parts apart: tenant "ab" + token "c" is not tenant "a" + token "bc".
  pb::Request x = publish({"a"}, "ab");
  x.mutable_header()->set_auth_token("c");
  pb::Request y = publish({"a"}, "a");
  y.mutable_header()->set_auth_token("bc");
  EXPECT_NE(coalesce_lane(x, key, false, 100), coalesce_lane(y, key, false, 100));
}

TEST(CoalesceLane, CallsThatMustGoAloneGetNoLane) {
  const std::string key =
      "e\x1f"
      "acme";
  EXPECT_EQ(coalesce_lane(publish({"a"}), key, true, 100), "")
      << "a caller's own request id or deadline belongs to that call";
  pb::Request with_client_id = publish({"a", "b"});
  with_client_id.mutable_publish()->mutable_events(1)->set_id("mine");
  EXPECT_EQ(coalesce_lane(with_client_id, key, false, 100), "");
  EXPECT_EQ(coalesce_lane(publish({"a", "b", "c"}), key, false, 2), "") << "more than max_items";
  EXPECT_EQ(coalesce_lane(publish({}), key, false, 100), "") << "nothing to merge";
  pb::Request next;
  next.mutable_next_event()->set_persona_id("ada");
  EXPECT_EQ(coalesce_lane(with_header(next), key, false, 100), "");
  pb::Request nack;
  nack.mutable_nack()->set_event_id("e1");
  EXPECT_EQ(coalesce_lane(with_header(nack), key, false, 100), "");
}

TEST(MergeRequests, CarriesEveryEventInCallOrderWithTheFirstHeader) {
  pb::Request a = publish({"a"});
  pb::Request b = publish({"b", "c"});
  b.mutable_header()->set_request_id("other");
  pb::Request merged = merge_requests({&a, &b});
  ASSERT_TRUE(merged.has_publish());
  ASSERT_EQ(merged.publish().events_size(), 3);
  EXPECT_EQ(merged.publish().events(0).payload(), "a");
  EXPECT_EQ(merged.publish().events(1).payload(), "b");
  EXPECT_EQ(merged.publish().events(2).payload(), "c");
  EXPECT_EQ(merged.header().tenant(), "acme");
  EXPECT_EQ(merged.header().request_id(), a.header().request_id());
}

TEST(MergeRequests, AcksAndAckBatchesBecomeOneAckBatch) {
  pb::Request a = ack("e1", 3);
  pb::Request b = ack_batch({"e2", "e3"});
  pb::Request merged = merge_requests({&a, &b});
  ASSERT_TRUE(merged.has_ack_batch());
  ASSERT_EQ(merged.ack_batch().acks_size(), 3);
  EXPECT_EQ(merged.ack_batch().acks(0).event_id(), "e1");
  EXPECT_EQ(merged.ack_batch().acks(0).attempt(), 3u);
  EXPECT_EQ(merged.ack_batch().acks(2).event_id(), "e3");
}

TEST(SplitReply, EachPublishGetsItsOwnEventsInOrder) {
  pb::Request a = publish({"a"});
  pb::Request b = publish({"b", "c"});
  pb::Response merged;
  merged.mutable_status()->set_code(pb::OK);
  merged.set_served_by("10.0.0.2:7420");
  for (const char* id : {"e-a", "e-b", "e-c"}) *merged.mutable_publish()->add_events() = event(id);
  auto parts = split_reply({&a, &b}, merged);
  ASSERT_TRUE(parts.ok()) << parts.error().to_string();
  ASSERT_EQ(parts->size(), 2u);
  ASSERT_EQ((*parts)[0].publish().events_size(), 1);
  EXPECT_EQ((*parts)[0].publish().events(0).id(), "e-a");
  ASSERT_EQ((*parts)[1].publish().events_size(), 2);
  EXPECT_EQ((*parts)[1].publish().events(0).id(), "e-b");
  EXPECT_EQ((*parts)[1].publish().events(1).id(), "e-c");
  EXPECT_EQ((*parts)[1].served_by(), "10.0.0.2:7420") << "the route is every call's";
  EXPECT_EQ((*parts)[1].status().code(), pb::OK);
}

TEST(SplitReply, AnAckGetsItsEventOrItsOwnErrorAndABatchItsOwnIndices) {
  pb::Request single_ok = ack("e0");
  pb::Request batch = ack_batch({"e1", "e2"});
  pb::Request single_refused = ack("e3");
  pb::Response merged;
  merged.mutable_status()->set_code(pb::OK);
  auto* results = merged.mutable_ack_batch()->mutable_results();
  *results->Add() = outcome(pb::OK, "", "e0");
  *results->Add() = outcome(pb::CONFLICT, "acks[1]: delivery 2 of event 'e1' is not current", "");
  *results->Add() = outcome(pb::OK, "", "e2");
  *results->Add() = outcome(pb::INVALID_ARGUMENT, "acks[3]: event_id is empty", "");
  auto parts = split_reply({&single_ok, &batch, &single_refused}, merged);
  ASSERT_TRUE(parts.ok()) << parts.error().to_string();
  ASSERT_EQ(parts->size(), 3u);

  EXPECT_EQ((*parts)[0].status().code(), pb::OK);
  ASSERT_TRUE((*parts)[0].has_ack());
  EXPECT_EQ((*parts)[0].ack().event().id(), "e0");

  ASSERT_TRUE((*parts)[1].has_ack_batch());
  ASSERT_EQ((*parts)[1].ack_batch().results_size(), 2);
  EXPECT_EQ((*parts)[1].ack_batch().results(0).status().code(), pb::CONFLICT);
  EXPECT_EQ((*parts)[1].ack_batch().results(0).status().message(),
            "acks[0]: delivery 2 of event 'e1' is not current");
  EXPECT_EQ((*parts)[1].ack_batch().results(1).event().id(), "e2");

  EXPECT_EQ((*parts)[2].status().code(), pb::INVALID_ARGUMENT);
  EXPECT_EQ((*parts)[2].status().message(), "event_id is empty");
  EXPECT_FALSE((*parts)[2].has_ack());
}

TEST(SplitReply, AReplyOfTheWrongShapeIsInternal) {
  pb::Request a = publish({"a"});
  pb::Request b = publish({"b"});
  pb::Response short_reply;
  *short_reply.mutable_publish()->add_events() = event("only-one");
  auto parts = split_reply({&a, &b}, short_reply);
  ASSERT_FALSE(parts.ok());
  EXPECT_EQ(parts.error().code, ErrorCode::internal);
  EXPECT_NE(parts.error().message.find("1 results for 2 events"), std::string::npos)
      << parts.error().message;

  pb::Request c = ack("e1");
  pb::Response wrong_body;
  *wrong_body.mutable_publish()->add_events() = event("e1");
  EXPECT_FALSE(split_reply({&c}, wrong_body).ok());
}

TEST(RetryAlone, OnlyWholeRefusalsBeforeAnyChange) {
  EXPECT_TRUE(retry_alone(make_error(ErrorCode::invalid_argument, "event 3: payload")));
  EXPECT_TRUE(retry_alone(make_error(ErrorCode::resource_exhausted, "tenant is full")));
  EXPECT_FALSE(retry_alone(make_error(ErrorCode::unavailable, "no leader")));
  EXPECT_FALSE(retry_alone(make_error(ErrorCode::deadline_exceeded, "late")));
  EXPECT_FALSE(retry_alone(make_error(ErrorCode::permission_denied, "no")));
  EXPECT_FALSE(retry_alone(make_error(ErrorCode::internal, "write failed")));
}

}  // namespace
}  // namespace nca::sdk
