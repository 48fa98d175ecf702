// Tests of nca::Subscription against FakeNode, whose next_event holds a long poll for its wait and
// answers it early when a test queues an event: the decisions sent (with the delivery's attempt),
// errors and retries, and stopping.
#include "nca/subscription.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
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
using Clock = std::chrono::steady_clock;

constexpr milliseconds kPatience{10000};

pb::Response delivery(const std::string& id, const std::string& topic, uint32_t attempts) {
  pb::Response response;
  pb::Event* event = response.mutable_next_event()->mutable_event();
  event->set_id(id);
  event->set_topic(topic);
  event->set_state(pb::EVENT_DELIVERED);
  event->set_persona_id("ada");
  event->set_attempts(attempts);
  return response;
}

pb::Response status(pb::StatusCode code, const std::string& message) {
  pb::Response response;
  response.mutable_status()->set_code(code);
  response.mutable_status()->set_message(message);
  return response;
}

SubscriptionOptions quick_options() {
  SubscriptionOptions options;
  options.wait = milliseconds(200);
  options.min_backoff = milliseconds(10);
  options.max_backoff = milliseconds(40);
  return options;
}

// What the handler and the error callback saw, shared with the test thread.
struct Recorder {
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::string> handled;  // event ids, in order
  std::vector<Error> errors;

  void handle(const pb::Event& event) {
    std::lock_guard<std::mutex> lock(mu);
    handled.push_back(event.id());
    changed.notify_all();
  }
  void error(const Error& error) {
    std::lock_guard<std::mutex> lock(mu);
    errors.push_back(error);
    changed.notify_all();
  }
  bool wait_for_errors(size_t count) {
    std::unique_lock<std::mutex> lock(mu);
    return changed.wait_for(lock, kPatience, [&] { return errors.size() >= count; });
  }
  std::vector<std::string> handled_ids() {
    std::lock_guard<std::mutex> lock(mu);
    return handled;
  }
  std::vector<Error> errors_seen() {
    std::lock_guard<std::mutex> lock(mu);
    return errors;
  }
};

TEST(Subscription, SendsEachDecisionWithTheDeliveryAttempt) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  Recorder recorder;
  auto subscription = client->subscribe(
      "ada",
      [&](const pb::Event& event) {
        recorder.handle(event);
        if (event.topic() == "refund") return EventDecision::ack("refund issued");
        if (event.topic() == "busy") return EventDecision::nack("try later");
        if (event.topic() == "poison") return EventDecision::dead_letter("payload unreadable");
        return EventDecision::ack();
      },
      quick_options());
  ASSERT_TRUE(subscription.ok()) << subscription.error().to_string();
  EXPECT_TRUE(subscription->running());
  node.queue_reply(pb::Request::kNextEvent, delivery("e-1", "refund", 1));
  node.queue_reply(pb::Request::kNextEvent, delivery("e-2", "busy", 2));
  node.queue_reply(pb::Request::kNextEvent, delivery("e-3", "poison", 5));
  node.queue_reply(pb::Request::kNextEvent, delivery("e-4", "plain", 3));
  ASSERT_TRUE(node.wait_for_method(pb::Request::kAck, 2, kPatience));
  ASSERT_TRUE(node.wait_for_method(pb::Request::kNack, 2, kPatience));
  subscription->stop();
  EXPECT_FALSE(subscription->running());

  EXPECT_EQ(recorder.handled_ids(), (std::vector<std::string>{"e-1", "e-2", "e-3", "e-4"}));
  auto acks = node.requests_of(pb::Request::kAck);
  auto nacks = node.requests_of(pb::Request::kNack);
  ASSERT_EQ(acks.size(), 2u);
  ASSERT_EQ(nacks.size(), 2u);
  EXPECT_EQ(acks[0].ack().event_id(), "e-1");
  EXPECT_EQ(acks[0].ack().attempt(), 1u);
  EXPECT_EQ(acks[0].ack().result(), "refund issued");
  EXPECT_EQ(acks[1].ack().event_id(), "e-4");
  EXPECT_EQ(acks[1].ack().attempt(), 3u);
  EXPECT_TRUE(acks[1].ack().result().empty());
  EXPECT_EQ(nacks[0].nack().event_id(), "e-2");
  EXPECT_EQ(nacks[0].nack().attempt(), 2u);
  EXPECT_EQ(nacks[0].nack().reason(), "try later");
  EXPECT_FALSE(nacks[0].nack().dead_letter());
  EXPECT_EQ(nacks[1].nack().event_id(), "e-3");
  EXPECT_EQ(nacks[1].nack().attempt(), 5u);
  EXPECT_EQ(nacks[1].nack().reason(), "payload unreadable");
  EXPECT_TRUE(nacks[1].nack().dead_letter());
  for (const pb::Request& poll : node.requests_of(pb::Request::kNextEvent)) {
    EXPECT_EQ(poll.next_event().persona_id(), "ada");
    EXPECT_EQ(poll.next_event().wait_ms(), 200u);
    EXPECT_EQ(poll.header().tenant(), "acme");
  }
  Subscription::Counters counters = subscription->counters();
  EXPECT_EQ(counters.events, 4u);
  EXPECT_EQ(counters.acked, 2u);
  EXPECT_EQ(counters.nacked, 2u);
  EXPECT_EQ(counters.errors, 0u);
  EXPECT_GE(counters.polls, 4u);
}

TEST(Subscription, AThrowingHandlerNacksWithTheExceptionText) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  auto subscription = client->subscribe(
      "ada",
      [](const pb::Event& event) -> EventDecision {
        if (event.id() == "e-1") throw std::runtime_error("database is down");
        throw 42;
      },
      quick_options());
  ASSERT_TRUE(subscription.ok());
  node.queue_reply(pb::Request::kNextEvent, delivery("e-1", "t", 2));
  node.queue_reply(pb::Request::kNextEvent, delivery("e-2", "t", 1));
  ASSERT_TRUE(node.wait_for_method(pb::Request::kNack, 2, kPatience));
  subscription->stop();
  auto nacks = node.requests_of(pb::Request::kNack);
  ASSERT_EQ(nacks.size(), 2u);
  EXPECT_EQ(nacks[0].nack().event_id(), "e-1");
  EXPECT_EQ(nacks[0].nack().attempt(), 2u);
  EXPECT_EQ(nacks[0].nack().reason(), "handler threw: database is down");
  EXPECT_FALSE(nacks[0].nack().dead_letter());
  EXPECT_NE(nacks[1].nack().reason().find("handler threw"), std::string::npos);
  EXPECT_TRUE(node.requests_of(pb::Request::kAck).empty());
}

TEST(Subscription, PollErrorsAreReportedAndRetriedWithBackoff) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  node.queue_reply(pb::Request::kNextEvent, status(pb::UNAVAILABLE, "node is starting"));
  node.queue_reply(pb::Request::kNextEvent, status(pb::UNAVAILABLE, "node is starting"));
  node.queue_reply(pb::Request::kNextEvent, status(pb::INTERNAL, "disk hiccup"));
  node.queue_reply(pb::Request::kNextEvent, delivery("e-1", "t", 1));
  Recorder recorder;
  SubscriptionOptions options = quick_options();
  options.on_error = [&](const Error& error) { recorder.error(error); };
  auto subscription = client->subscribe(
      "ada",
      [&](const pb::Event& event) {
        recorder.handle(event);
        return EventDecision::ack();
      },
      options);
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(node.wait_for_method(pb::Request::kAck, 1, kPatience));
  subscription->stop();
  auto errors = recorder.errors_seen();
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].code, ErrorCode::unavailable);
  EXPECT_EQ(errors[0].message, "next_event for ada: node is starting");
  EXPECT_EQ(errors[2].code, ErrorCode::internal);
  EXPECT_EQ(recorder.handled_ids(), std::vector<std::string>{"e-1"});
  EXPECT_EQ(subscription->counters().errors, 3u);
}

// Transport failures (the node's actor gone) come back as unavailable after the client's own
// retries, and the subscription keeps going once the node answers again.
TEST(Subscription, SurvivesTransportFailures) {
  FakeNode node;
  ClientOptions client_options = fast_options();
  client_options.max_attempts = 2;
  auto client = connect_or_die({node.address()}, client_options);
  ASSERT_NE(client, nullptr);
  node.fail_next(4);  // two polls, each sent twice
  Recorder recorder;
  SubscriptionOptions options = quick_options();
  options.on_error = [&](const Error& error) { recorder.error(error); };
  auto subscription = client->subscribe(
      "ada",
      [&](const pb::Event& event) {
        recorder.handle(event);
        return EventDecision::ack();
      },
      options);
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(recorder.wait_for_errors(2));
  node.queue_reply(pb::Request::kNextEvent, delivery("e-1", "t", 1));
  ASSERT_TRUE(node.wait_for_method(pb::Request::kAck, 1, kPatience));
  subscription->stop();
  auto errors = recorder.errors_seen();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].code, ErrorCode::unavailable) << errors[0].message;
}

TEST(Subscription, AFailedAckIsRetriedOnlyWhenTheNodeWasUnavailable) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  node.queue_reply(pb::Request::kAck, status(pb::UNAVAILABLE, "storage busy"));
  node.queue_reply(pb::Request::kAck, pb::Response(delivery("e-1", "t", 1)));
  Recorder recorder;
  SubscriptionOptions options = quick_options();
  options.on_error = [&](const Error& error) { recorder.error(error); };
  auto subscription = client->subscribe(
      "ada", [](const pb::Event&) { return EventDecision::ack("done"); }, options);
  ASSERT_TRUE(subscription.ok());

  // The second ack reply above is malformed on purpose (a next_event body): internal, not retried.
  node.queue_reply(pb::Request::kNextEvent, delivery("e-1", "t", 1));
  ASSERT_TRUE(recorder.wait_for_errors(2));
  // A conflict (the delivery was reassigned) is final too.
  node.set_status(pb::Request::kAck, pb::CONFLICT, "event e-2 is at delivery 2, not 1");
  node.queue_reply(pb::Request::kNextEvent, delivery("e-2", "t", 1));
  ASSERT_TRUE(recorder.wait_for_errors(3));
  subscription->stop();

  auto acks = node.requests_of(pb::Request::kAck);
  ASSERT_EQ(acks.size(), 3u) << "e-1: unavailable then malformed; e-2: conflict, once";
  EXPECT_EQ(acks[0].ack().event_id(), "e-1");
  EXPECT_EQ(acks[1].ack().event_id(), "e-1");
  EXPECT_EQ(acks[0].header().request_id(), acks[1].header().request_id())
      << "a resent decision keeps its request id, so the node applies it once";
  EXPECT_NE(acks[1].header().request_id(), acks[2].header().request_id());
  EXPECT_EQ(acks[2].ack().event_id(), "e-2");
  auto errors = recorder.errors_seen();
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].code, ErrorCode::unavailable);
  EXPECT_EQ(errors[0].message, "ack of event e-1 (attempt 1): storage busy");
  EXPECT_EQ(errors[1].code, ErrorCode::internal);
  EXPECT_EQ(errors[2].code, ErrorCode::conflict);
  EXPECT_EQ(subscription->counters().acked, 0u);
}

TEST(Subscription, StopReturnsWithinOnePollWhileTheNodeHoldsIt) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  SubscriptionOptions options = quick_options();
  options.wait = milliseconds(1000);
  auto subscription = client->subscribe(
      "ada", [](const pb::Event&) { return EventDecision::ack(); }, options);
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(node.wait_for_method(pb::Request::kNextEvent, 1, kPatience));
  auto start = Clock::now();
  subscription->stop();
  EXPECT_LT(elapsed_ms(start), 1000 + 5000) << "at most the poll in flight: wait + timeout";
  size_t polls = node.requests_of(pb::Request::kNextEvent).size();
  subscription->stop();  // twice is harmless
  EXPECT_FALSE(subscription->running());
  EXPECT_EQ(node.requests_of(pb::Request::kNextEvent).size(), polls) << "no poll after stop()";
}

TEST(Subscription, StopInterruptsABackoffPause) {
  FakeNode node;
  node.set_status(pb::Request::kNextEvent, pb::UNAVAILABLE, "draining");
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  Recorder recorder;
  SubscriptionOptions options = quick_options();
  options.min_backoff = milliseconds(60'000);
  options.max_backoff = milliseconds(60'000);
  options.on_error = [&](const Error& error) { recorder.error(error); };
  auto subscription = client->subscribe(
      "ada", [](const pb::Event&) { return EventDecision::ack(); }, options);
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(recorder.wait_for_errors(1));
  auto start = Clock::now();
  subscription->stop();
  EXPECT_LT(elapsed_ms(start), 5000) << "a one-minute backoff must not delay stop()";
  EXPECT_EQ(node.requests_of(pb::Request::kNextEvent).size(), 1u);
}

TEST(Subscription, AnEventArrivingAfterAStopRequestIsReleasedNotHandled) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  Recorder recorder;
  SubscriptionOptions options = quick_options();
  options.wait = milliseconds(5000);
  auto subscription = client->subscribe(
      "ada",
      [&](const pb::Event& event) {
        recorder.handle(event);
        return EventDecision::ack();
      },
      options);
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(node.wait_for_method(pb::Request::kNextEvent, 1, kPatience));
  subscription->request_stop();
  EXPECT_FALSE(subscription->running());
  node.queue_reply(pb::Request::kNextEvent, delivery("e-7", "t", 4));
  subscription->stop();
  EXPECT_TRUE(recorder.handled_ids().empty());
  auto nacks = node.requests_of(pb::Request::kNack);
  ASSERT_EQ(nacks.size(), 1u);
  EXPECT_EQ(nacks[0].nack().event_id(), "e-7");
  EXPECT_EQ(nacks[0].nack().attempt(), 4u);
  EXPECT_EQ(nacks[0].nack().reason(), "subscription stopped");
  EXPECT_FALSE(nacks[0].nack().dead_letter());
  EXPECT_EQ(subscription->counters().released, 1u);
  EXPECT_EQ(subscription->counters().events, 0u);
}

TEST(Subscription, TheHandlerMayStopItsOwnSubscription) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  Subscription subscription;
  std::mutex mu;
  std::condition_variable handled;
  bool done = false;
  auto started = client->subscribe(
      "ada",
      [&](const pb::Event&) {
        subscription.stop();  // from the worker's own thread: a request, not a join
        std::lock_guard<std::mutex> lock(mu);
        done = true;
        handled.notify_all();
        return EventDecision::ack("last one");
      },
      quick_options());
  ASSERT_TRUE(started.ok());
  subscription = std::move(started).value();
  node.queue_reply(pb::Request::kNextEvent, delivery("e-1", "t", 1));
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(handled.wait_for(lock, kPatience, [&] { return done; }));
  }
  ASSERT_TRUE(node.wait_for_method(pb::Request::kAck, 1, kPatience)) << "the decision is sent";
  EXPECT_FALSE(subscription.running());
}

TEST(Subscription, MovingAndDestroyingStopTheWorker) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  SubscriptionOptions options = quick_options();
  {
    auto first = client->subscribe(
        "ada", [](const pb::Event&) { return EventDecision::ack(); }, options);
    auto second = client->subscribe(
        "bob", [](const pb::Event&) { return EventDecision::ack(); }, options);
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(second.ok());
    ASSERT_TRUE(node.wait_for_method(pb::Request::kNextEvent, 2, kPatience));
    Subscription kept = std::move(first).value();
    EXPECT_TRUE(kept.running());
    kept = std::move(second).value();  // stops the "ada" worker
    EXPECT_TRUE(kept.running());
    Subscription empty;
    EXPECT_FALSE(empty.running());
    empty.stop();
  }  // ~Subscription stops the "bob" worker
  size_t polls = node.requests().size();
  EXPECT_FALSE(node.wait_for_requests(polls + 1, milliseconds(300))) << "a worker still polls";
  // With both workers gone the client can be destroyed at once.
  auto start = Clock::now();
  client.reset();
  EXPECT_LT(elapsed_ms(start), 3000);
}

TEST(Subscription, RejectsBadArguments) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  auto handler = [](const pb::Event&) { return EventDecision::ack(); };
  EXPECT_EQ(client->subscribe("", handler).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(client->subscribe("ada", nullptr).code(), ErrorCode::invalid_argument);
  SubscriptionOptions negative;
  negative.wait = milliseconds(-1);
  EXPECT_EQ(client->subscribe("ada", handler, negative).code(), ErrorCode::invalid_argument);
  SubscriptionOptions inverted;
  inverted.min_backoff = milliseconds(100);
  inverted.max_backoff = milliseconds(10);
  EXPECT_EQ(client->subscribe("ada", handler, inverted).code(), ErrorCode::invalid_argument);
  SubscriptionOptions no_sends;
  no_sends.settle_attempts = 0;
  auto refused = client->subscribe("ada", handler, no_sends);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("settle_attempts"), std::string::npos);
  EXPECT_TRUE(node.requests().empty());
}

}  // namespace
}  // namespace nca
