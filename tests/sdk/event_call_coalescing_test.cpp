// Tests of nca::Client's merging of concurrent publishes and acks (ClientOptions::
// coalesce_event_calls) against FakeNode. With coalesce_in_flight 1 and the first call held by the
// node, the calls made meanwhile must wait, so what is merged does not depend on timing.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "nca/client.hpp"
#include "tests/sdk/fake_node.hpp"
#include "tests/sdk/test_client.hpp"

namespace nca {
namespace {

using std::chrono::milliseconds;
using test_support::connect_or_die;
using test_support::FakeNode;
using test_support::fast_options;

constexpr auto kPublish = static_cast<uint32_t>(pb::Request::kPublish);
constexpr auto kAck = static_cast<uint32_t>(pb::Request::kAck);
constexpr auto kAckBatch = static_cast<uint32_t>(pb::Request::kAckBatch);

ClientOptions one_in_flight() {
  ClientOptions options = fast_options();
  options.coalesce_in_flight = 1;
  return options;
}

pb::EventInput input(const std::string& payload) {
  pb::EventInput e;
  e.set_topic("support.ticket_created");
  e.set_payload(payload);
  return e;
}

pb::Response publish_reply(const std::vector<std::string>& ids) {
  pb::Response r;
  r.mutable_status()->set_code(pb::OK);
  for (const std::string& id : ids) r.mutable_publish()->add_events()->set_id(id);
  return r;
}

std::vector<FakeNode::Seen> of_method(const FakeNode& node, uint32_t method) {
  std::vector<FakeNode::Seen> out;
  for (auto& s : node.requests()) {
    if (s.method == method) out.push_back(s);
  }
  return out;
}

// A client allowed one merged request in flight per kind, and a node that holds the first call of
// a kind until release_silent(): calls made meanwhile wait, and are merged, whatever the timing.
class EventCallCoalescing : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = connect_or_die({node_.address()}, one_in_flight());
    ASSERT_NE(client_, nullptr);
  }

  // The first publish, held by the node; the test fails unless it reached the node.
  Client::Future<pb::PublishReply> held_publish() {
    node_.set_silent(kPublish);
    auto first = client_->publish_async(input("{}"));
    EXPECT_TRUE(node_.wait_for_requests(1, milliseconds(5000)));
    return first;
  }

  FakeNode node_;
  std::unique_ptr<Client> client_;
};

TEST_F(EventCallCoalescing, PublishesMadeWhileOneIsInFlightTravelAsOne) {
  FakeNode& node = node_;
  Client* client = client_.get();
  auto first = held_publish();

  auto one = client->publish_async(input(R"({"n":1})"));
  auto two =
      client->publish_async(std::vector<pb::EventInput>{input(R"({"n":2})"), input(R"({"n":3})")});
  auto three = client->publish_async(input(R"({"n":4})"));
  node.queue_reply(kPublish, publish_reply({"ev-1", "ev-2", "ev-3", "ev-4"}));
  node.set_reply(kPublish, publish_reply({"never"}));
  node.release_silent();

  auto r0 = first.get();
  ASSERT_TRUE(r0.ok()) << r0.error().to_string();
  auto r1 = one.get();
  auto r2 = two.get();
  auto r3 = three.get();
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  ASSERT_EQ(r1->events_size(), 1);
  EXPECT_EQ(r1->events(0).id(), "ev-1");
  ASSERT_EQ(r2->events_size(), 2);
  EXPECT_EQ(r2->events(0).id(), "ev-2");
  EXPECT_EQ(r2->events(1).id(), "ev-3");
  ASSERT_EQ(r3->events_size(), 1);
  EXPECT_EQ(r3->events(0).id(), "ev-4");

  auto seen = of_method(node, kPublish);
  ASSERT_EQ(seen.size(), 2u) << "the three calls made meanwhile must share one request";
  const pb::Request& merged = seen[1].request;
  ASSERT_EQ(merged.publish().events_size(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(merged.publish().events(i).payload(), "{\"n\":" + std::to_string(i + 1) + "}");
  }
  EXPECT_EQ(merged.header().tenant(), "acme");
  EXPECT_EQ(merged.header().auth_token(), "secret-token");
  EXPECT_NE(merged.header().request_id(), seen[0].request.header().request_id());
  EXPECT_GT(merged.header().deadline_us(), 0);
}

TEST_F(EventCallCoalescing, AcksAndAckBatchesShareOneAckBatchAndKeepTheirOwnOutcomes) {
  FakeNode& node = node_;
  Client* client = client_.get();
  node.set_silent(kAck);
  auto first = client->ack_async("e0", 1);
  ASSERT_TRUE(node.wait_for_requests(1, milliseconds(5000)));

  auto single = client->ack_async("e1", 1);
  pb::AckRequest a2, a3;
  a2.set_event_id("e2");
  a3.set_event_id("e3");
  auto batch = client->ack_batch_async({a2, a3});
  auto refused = client->ack_async("e4", 2);
  pb::Response reply;
  reply.mutable_status()->set_code(pb::OK);
  auto* results = reply.mutable_ack_batch()->mutable_results();
  auto add = [&](pb::StatusCode code, const std::string& message, const std::string& id) {
    pb::AckOutcome* o = results->Add();
    o->mutable_status()->set_code(code);
    o->mutable_status()->set_message(message);
    if (code == pb::OK) o->mutable_event()->set_id(id);
  };
  add(pb::OK, "", "e1");
  add(pb::NOT_FOUND, "acks[1]: no event 'e2'", "");
  add(pb::OK, "", "e3");
  add(pb::CONFLICT, "acks[3]: delivery 2 of event 'e4' is not the current one", "");
  node.set_reply(kAckBatch, reply);
  node.release_silent();

  ASSERT_TRUE(first.get().ok());
  auto r1 = single.get();
  ASSERT_TRUE(r1.ok()) << r1.error().to_string();
  EXPECT_EQ(r1->event().id(), "e1");
  auto rb = batch.get();
  ASSERT_TRUE(rb.ok()) << rb.error().to_string();
  ASSERT_EQ(rb->results_size(), 2);
  EXPECT_EQ(rb->results(0).status().code(), pb::NOT_FOUND);
  EXPECT_EQ(rb->results(0).status().message(), "acks[0]: no event 'e2'");
  EXPECT_EQ(rb->results(1).event().id(), "e3");
  auto r4 = refused.get();
  ASSERT_FALSE(r4.ok());
  EXPECT_EQ(r4.code(), ErrorCode::conflict);
  EXPECT_EQ(r4.error().message, "delivery 2 of event 'e4' is not the current one");

  auto merged = of_method(node, kAckBatch);
  ASSERT_EQ(merged.size(), 1u);
  ASSERT_EQ(merged[0].request.ack_batch().acks_size(), 4);
  EXPECT_EQ(merged[0].request.ack_batch().acks(3).event_id(), "e4");
  EXPECT_EQ(merged[0].request.ack_batch().acks(3).attempt(), 2u);
  EXPECT_EQ(of_method(node, kAck).size(), 1u);
}

TEST_F(EventCallCoalescing, AMergedPublishRefusedWholeIsSentAgainCallByCall) {
  FakeNode& node = node_;
  auto first = held_publish();
  std::vector<Client::Future<pb::PublishReply>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(client_->publish_async(input("{}")));
  pb::Response refused;
  refused.mutable_status()->set_code(pb::INVALID_ARGUMENT);
  refused.mutable_status()->set_message("event 1: payload is not JSON");
  node.queue_reply(kPublish, refused);
  node.set_reply(kPublish, publish_reply({"alone"}));
  node.release_silent();

  ASSERT_TRUE(first.get().ok());
  for (auto& call : calls) {
    auto r = call.get();
    ASSERT_TRUE(r.ok()) << "each call gets its own verdict: " << r.error().to_string();
    ASSERT_EQ(r->events_size(), 1);
    EXPECT_EQ(r->events(0).id(), "alone");
  }
  auto seen = of_method(node, kPublish);
  ASSERT_EQ(seen.size(), 5u) << "held + merged + three alone";
  EXPECT_EQ(seen[1].request.publish().events_size(), 3);
  for (size_t i = 2; i < 5; ++i) {
    EXPECT_EQ(seen[i].request.publish().events_size(), 1);
  }
}

TEST_F(EventCallCoalescing, AnUnavailableMergedRequestFailsEveryCallInIt) {
  FakeNode& node = node_;
  auto first = held_publish();
  auto a = client_->publish_async(input("{}"));
  auto b = client_->publish_async(input("{}"));
  node.set_status(kPublish, pb::UNAVAILABLE, "no leader for tenant 'acme'");
  node.release_silent();
  ASSERT_TRUE(first.get().ok());
  for (auto* call : {&a, &b}) {
    auto r = call->get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), ErrorCode::unavailable);
    EXPECT_EQ(r.error().message, "no leader for tenant 'acme'");
  }
  EXPECT_EQ(of_method(node, kPublish).size(), 2u) << "not sent again: the node refused them all";
}

TEST_F(EventCallCoalescing, CallsThatMustGoAloneAreNeverMerged) {
  FakeNode& node = node_;
  auto first = held_publish();
  // A client id, and a caller's own request id: neither waits for the held publish.
  pb::EventInput with_id = input("{}");
  with_id.set_id("client-chosen");
  auto by_id = client_->publish_async(with_id);
  pb::Request own;
  own.mutable_header()->set_request_id("caller-rid");
  *own.mutable_publish()->add_events() = input("{}");
  auto by_rid = client_->call_async(own);
  ASSERT_TRUE(node.wait_for_requests(3, milliseconds(5000)))
      << "both went out while the first publish was still held";
  node.release_silent();
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(by_id.get().ok());
  EXPECT_TRUE(by_rid.get().ok());
  auto seen = of_method(node, kPublish);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].request.header().request_id() == "caller-rid" ||
                seen[1].request.header().request_id() == "caller-rid",
            true);
}

TEST(EventCallCoalescingOff, OffSendsEveryCallAlone) {
  FakeNode node;
  ClientOptions options = one_in_flight();
  options.coalesce_event_calls = false;
  auto client = connect_or_die({node.address()}, options);
  ASSERT_NE(client, nullptr);
  node.set_silent(kPublish);
  std::vector<Client::Future<pb::PublishReply>> calls;
  for (int i = 0; i < 4; ++i) calls.push_back(client->publish_async(input("{}")));
  ASSERT_TRUE(node.wait_for_requests(4, milliseconds(5000)));
  node.release_silent();
  for (auto& call : calls) EXPECT_TRUE(call.get().ok());
  EXPECT_EQ(of_method(node, kPublish).size(), 4u);
}

TEST_F(EventCallCoalescing, ClosingTheClientFailsCallsStillWaitingToBeMerged) {
  auto first = held_publish();
  auto waiting = client_->publish_async(input("{}"));
  client_.reset();
  auto r0 = first.get();
  auto r1 = waiting.get();
  ASSERT_FALSE(r0.ok());
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.code(), ErrorCode::unavailable) << r1.error().to_string();
}

TEST(EventCallCoalescingOff, ZeroMaxItemsIsRefusedAtConnect) {
  FakeNode node;
  ClientOptions options = fast_options();
  options.coalesce_max_items = 0;
  auto client = Client::connect({node.address()}, options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.code(), ErrorCode::invalid_argument);
  EXPECT_NE(client.error().message.find("coalesce_max_items"), std::string::npos);
}

}  // namespace
}  // namespace nca
