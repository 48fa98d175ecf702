// Tests of nca::Client against FakeNode (tests/sdk/fake_node.hpp): what goes on the wire, how
// replies and failures map to errors, retries, timeouts, async forms and concurrency.
#include "nca/client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

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

TEST(ClientConnect, RejectsMalformedAddressesBeforeAnyNetworkActivity) {
  for (const char* bad : {"", "localhost", "127.0.0.1:", ":7420", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:72x", "::1:7420", "[::1", "[::1]7420", "host name:7420"}) {
    SCOPED_TRACE(bad);
    auto start = Clock::now();
    auto client = Client::connect({std::string(bad)});
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(client.code(), ErrorCode::invalid_argument);
    EXPECT_NE(client.error().message.find("HOST:PORT"), std::string::npos)
        << client.error().message;
    EXPECT_LT(elapsed_ms(start), 1000);
  }
  auto none = Client::connect({});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.code(), ErrorCode::invalid_argument);
}

TEST(ClientConnect, ClosedPortFailsFastWithUnavailable) {
  uint16_t port = test_support::closed_port();
  std::string address = "127.0.0.1:" + std::to_string(port);
  auto start = Clock::now();
  auto client = Client::connect({address}, fast_options());
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.code(), ErrorCode::unavailable);
  EXPECT_LT(elapsed_ms(start), 2000) << "a refused connection must not wait for the timeout";
  const std::string& message = client.error().message;
  EXPECT_NE(message.find("cannot connect to " + address), std::string::npos) << message;
  EXPECT_NE(message.find("connection refused"), std::string::npos) << message;
  EXPECT_NE(message.find("is nca-node running?"), std::string::npos) << message;
}

TEST(ClientConnect, SilentListenerFailsWithinConnectTimeout) {
  test_support::SilentListener listener;
  ClientOptions options = fast_options();
  options.connect_timeout = milliseconds(300);
  auto start = Clock::now();
  auto client = Client::connect({listener.address()}, options);
  ASSERT_FALSE(client.ok());
  EXPECT_TRUE(client.code() == ErrorCode::unavailable ||
              client.code() == ErrorCode::deadline_exceeded)
      << client.error().to_string();
  int64_t took = elapsed_ms(start);
  EXPECT_GE(took, 250);
  EXPECT_LT(took, 3000);
}

TEST(ClientConnect, SkipsDeadAddressesInOrder) {
  FakeNode node;
  std::string refused = "127.0.0.1:" + std::to_string(test_support::closed_port());
  auto client = connect_or_die({refused, node.address()});
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->address(), node.address());
  EXPECT_TRUE(client->ping().ok());
}

TEST(ClientCall, EveryVerbSendsItsMethodBodyAndHeader) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  int64_t before_us = wall_now_us();

  ASSERT_TRUE(client->ping().ok());
  ASSERT_TRUE(client->remember("ada", "Ada is allergic to peanuts", 0.8, {"health"}).ok());
  pb::MemoryInput input;
  input.set_content("second");
  input.set_id("m-2");
  ASSERT_TRUE(client->remember_batch("ada", {input, input}).ok());
  ASSERT_TRUE(client->recall("ada", "what is Ada allergic to", 5).ok());
  ASSERT_TRUE(client->get("m-1", "ada").ok());
  pb::UpdateRequest update;
  update.set_id("m-1");
  update.set_content("changed");
  ASSERT_TRUE(client->update(update).ok());
  ASSERT_TRUE(client->forget("m-1", "obsolete").ok());
  ASSERT_TRUE(client->restore("m-1").ok());
  ASSERT_TRUE(client->touch("m-1").ok());
  ASSERT_TRUE(client->remove("m-1").ok());
  ASSERT_TRUE(client->history("m-1").ok());
  pb::ListRequest list;
  list.set_persona_id("ada");
  list.set_page_size(7);
  ASSERT_TRUE(client->list(list).ok());
  ASSERT_TRUE(client->stats("ada").ok());
  int64_t after_us = wall_now_us();

  std::vector<FakeNode::Seen> seen = node.requests();
  ASSERT_EQ(seen.size(), 13u);
  const pb::Request::BodyCase expected[] = {
      pb::Request::kPing,   pb::Request::kRemember, pb::Request::kRememberBatch,
      pb::Request::kRecall, pb::Request::kGet,      pb::Request::kUpdate,
      pb::Request::kForget, pb::Request::kRestore,  pb::Request::kTouch,
      pb::Request::kDelete, pb::Request::kHistory,  pb::Request::kList,
      pb::Request::kStats};
  std::set<std::string> ids;
  for (size_t i = 0; i < seen.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(seen[i].parsed);
    const pb::Request& request = seen[i].request;
    EXPECT_EQ(request.body_case(), expected[i]);
    EXPECT_EQ(seen[i].method, static_cast<uint32_t>(expected[i]));
    const pb::RequestHeader& header = request.header();
    EXPECT_EQ(header.schema_version(), 1u);
    EXPECT_EQ(header.request_id().size(), 36u) << header.request_id();
    EXPECT_EQ(header.request_id()[14], '7') << "UUIDv7 layout: " << header.request_id();
    ids.insert(header.request_id());
    EXPECT_EQ(header.tenant(), "acme");
    EXPECT_EQ(header.auth_token(), "secret-token");
    EXPECT_GE(header.deadline_us(), before_us + 4'000'000);
    EXPECT_LE(header.deadline_us(), after_us + 5'000'000);
  }
  EXPECT_EQ(ids.size(), seen.size()) << "request ids must be unique";

  EXPECT_EQ(seen[1].request.remember().persona_id(), "ada");
  EXPECT_EQ(seen[1].request.remember().memory().content(), "Ada is allergic to peanuts");
  EXPECT_DOUBLE_EQ(seen[1].request.remember().memory().importance(), 0.8);
  ASSERT_EQ(seen[1].request.remember().memory().tags_size(), 1);
  EXPECT_EQ(seen[1].request.remember().memory().tags(0), "health");
  EXPECT_EQ(seen[2].request.remember_batch().memories_size(), 2);
  EXPECT_EQ(seen[2].request.remember_batch().memories(1).id(), "m-2");
  EXPECT_EQ(seen[3].request.recall().query(), "what is Ada allergic to");
  EXPECT_EQ(seen[3].request.recall().k(), 5u);
  EXPECT_EQ(seen[3].request.recall().persona_id(), "ada");
  EXPECT_EQ(seen[4].request.get().id(), "m-1");
  EXPECT_EQ(seen[4].request.get().persona_id(), "ada");
  EXPECT_EQ(seen[5].request.update().content(), "changed");
  EXPECT_EQ(seen[6].request.forget().reason(), "obsolete");
  EXPECT_EQ(seen[7].request.restore().id(), "m-1");
  EXPECT_EQ(seen[8].request.touch().id(), "m-1");
  EXPECT_EQ(seen[9].request.delete_().id(), "m-1");
  EXPECT_EQ(seen[10].request.history().id(), "m-1");
  EXPECT_EQ(seen[11].request.list().page_size(), 7u);
  EXPECT_EQ(seen[12].request.stats().persona_id(), "ada");
}

TEST(ClientCall, TubuleConsolidationAndContextVerbsSendTheirBodies) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(client->link("m-1", "m-2", 0.6).ok());
  ASSERT_TRUE(client->link("m-1", "m-3").ok());
  ASSERT_TRUE(client->unlink("m-1", "m-2").ok());
  ASSERT_TRUE(client->neighbours("m-1").ok());
  ASSERT_TRUE(client->consolidate("ada").ok());
  ASSERT_TRUE(client->context("ada", 7).ok());
  ASSERT_TRUE(client->context("bob").ok());

  std::vector<FakeNode::Seen> seen = node.requests();
  ASSERT_EQ(seen.size(), 7u);
  const pb::Request::BodyCase expected[] = {pb::Request::kLink,        pb::Request::kLink,
                                            pb::Request::kUnlink,      pb::Request::kNeighbours,
                                            pb::Request::kConsolidate, pb::Request::kContext,
                                            pb::Request::kContext};
  for (size_t i = 0; i < seen.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(seen[i].parsed);
    EXPECT_EQ(seen[i].request.body_case(), expected[i]);
    EXPECT_EQ(seen[i].method, static_cast<uint32_t>(expected[i]));
    EXPECT_EQ(seen[i].request.header().tenant(), "acme");
    EXPECT_FALSE(seen[i].request.header().request_id().empty());
  }
  EXPECT_EQ(seen[0].request.link().a(), "m-1");
  EXPECT_EQ(seen[0].request.link().b(), "m-2");
  EXPECT_DOUBLE_EQ(seen[0].request.link().strength(), 0.6);
  EXPECT_DOUBLE_EQ(seen[1].request.link().strength(), 0) << "0 asks for the node's default";
  EXPECT_EQ(seen[1].request.link().b(), "m-3");
  EXPECT_EQ(seen[2].request.unlink().a(), "m-1");
  EXPECT_EQ(seen[2].request.unlink().b(), "m-2");
  EXPECT_EQ(seen[3].request.neighbours().id(), "m-1");
  EXPECT_EQ(seen[4].request.consolidate().persona_id(), "ada");
  EXPECT_EQ(seen[5].request.context().persona_id(), "ada");
  EXPECT_EQ(seen[5].request.context().n(), 7u);
  EXPECT_EQ(seen[6].request.context().n(), 10u);
}

TEST(ClientCall, TubuleConsolidationAndContextRepliesAndErrors) {
  FakeNode node;
  pb::Response link;
  pb::Tubule* tubule = link.mutable_link()->mutable_tubule();
  tubule->set_a("m-1");
  tubule->set_b("m-2");
  tubule->set_strength(0.6);
  node.set_reply(pb::Request::kLink, link);
  pb::Response unlink;
  unlink.mutable_unlink()->mutable_tubule()->set_strength(0.25);
  node.set_reply(pb::Request::kUnlink, unlink);
  pb::Response neighbours;
  neighbours.mutable_neighbours()->set_item_id("m-1");
  pb::Neighbour* neighbour = neighbours.mutable_neighbours()->add_neighbours();
  neighbour->set_item_id("m-2");
  neighbour->set_strength(0.9);
  neighbour->set_consolidated(true);
  neighbour->set_activations(4);
  node.set_reply(pb::Request::kNeighbours, neighbours);
  pb::Response consolidate;
  consolidate.mutable_consolidate()->mutable_tick()->set_promoted(2);
  consolidate.mutable_consolidate()->mutable_total()->set_ticks(9);
  node.set_reply(pb::Request::kConsolidate, consolidate);
  pb::Response context;
  pb::ContextItem* entry = context.mutable_context()->add_items();
  entry->mutable_item()->set_id("m-7");
  entry->set_activation(0.42);
  node.set_reply(pb::Request::kContext, context);
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);

  auto linked = client->link("m-1", "m-2", 0.6);
  ASSERT_TRUE(linked.ok()) << linked.error().to_string();
  EXPECT_EQ(linked->tubule().b(), "m-2");
  EXPECT_DOUBLE_EQ(linked->tubule().strength(), 0.6);
  auto unlinked = client->unlink_async("m-1", "m-2").get();
  ASSERT_TRUE(unlinked.ok());
  EXPECT_DOUBLE_EQ(unlinked->tubule().strength(), 0.25);
  auto found = client->neighbours_async("m-1").get();
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->item_id(), "m-1");
  ASSERT_EQ(found->neighbours_size(), 1);
  EXPECT_EQ(found->neighbours(0).item_id(), "m-2");
  EXPECT_TRUE(found->neighbours(0).consolidated());
  EXPECT_EQ(found->neighbours(0).activations(), 4u);
  auto tick = client->consolidate_async("ada").get();
  ASSERT_TRUE(tick.ok());
  EXPECT_EQ(tick->tick().promoted(), 2u);
  EXPECT_EQ(tick->total().ticks(), 9u);
  auto active = client->context_async("ada", 3).get();
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->items_size(), 1);
  EXPECT_EQ(active->items(0).item().id(), "m-7");
  EXPECT_DOUBLE_EQ(active->items(0).activation(), 0.42);
  EXPECT_TRUE(client->link_async("m-1", "m-2").get().ok());

  node.set_status(pb::Request::kLink, pb::INVALID_ARGUMENT, "m-1 and m-9 belong to two personas");
  auto cross = client->link("m-1", "m-9");
  ASSERT_FALSE(cross.ok());
  EXPECT_EQ(cross.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(cross.error().message, "m-1 and m-9 belong to two personas");
  node.set_status(pb::Request::kUnlink, pb::NOT_FOUND, "no tubule m-1 m-2");
  EXPECT_EQ(client->unlink("m-1", "m-2").code(), ErrorCode::not_found);
  node.set_status(pb::Request::kNeighbours, pb::NOT_FOUND, "no item m-404");
  EXPECT_EQ(client->neighbours("m-404").code(), ErrorCode::not_found);
  node.set_status(pb::Request::kConsolidate, pb::NOT_FOUND, "no persona zed");
  EXPECT_EQ(client->consolidate("zed").code(), ErrorCode::not_found);
  node.set_status(pb::Request::kContext, pb::INVALID_ARGUMENT, "n must be positive");
  EXPECT_EQ(client->context("ada", 0).code(), ErrorCode::invalid_argument);

  // A reply whose body answers another verb is a malformed reply, not a silently empty one.
  pb::Response wrong_body;
  wrong_body.mutable_link();
  std::string bytes;
  wrong_body.SerializeToString(&bytes);
  node.set_raw(pb::Request::kUnlink, pb::Request::kUnlink, bytes);
  EXPECT_EQ(client->unlink("m-1", "m-2").code(), ErrorCode::internal);
}

TEST(ClientCall, RecallModeAndSpreadGoOnTheWire) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  pb::RecallRequest request;
  request.set_persona_id("ada");
  request.set_query("peanuts");
  request.set_mode(pb::LEXICAL);
  request.set_spread(false);
  ASSERT_TRUE(client->recall(request).ok());
  ASSERT_TRUE(client->recall("ada", "peanuts").ok());
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].request.recall().mode(), pb::LEXICAL);
  ASSERT_TRUE(seen[0].request.recall().has_spread());
  EXPECT_FALSE(seen[0].request.recall().spread());
  EXPECT_EQ(seen[1].request.recall().mode(), pb::MODE_UNSPECIFIED);
  EXPECT_FALSE(seen[1].request.recall().has_spread()) << "unset spread means the node's default";
}

TEST(ClientCall, ReturnsTheReplyBody) {
  FakeNode node;
  pb::Response response;
  pb::RecallHit* hit = response.mutable_recall()->add_hits();
  hit->mutable_item()->set_id("m-9");
  hit->mutable_item()->set_content("peanuts");
  hit->set_score(0.75);
  node.set_reply(pb::Request::kRecall, response);
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  auto reply = client->recall("ada", "allergy");
  ASSERT_TRUE(reply.ok()) << reply.error().to_string();
  ASSERT_EQ(reply->hits_size(), 1);
  EXPECT_EQ(reply->hits(0).item().id(), "m-9");
  EXPECT_DOUBLE_EQ(reply->hits(0).score(), 0.75);

  auto whole = client->call([] {
    pb::Request request;
    request.mutable_recall()->set_query("x");
    return request;
  }());
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->status().code(), pb::OK);
  EXPECT_EQ(whole->recall().hits(0).item().content(), "peanuts");
}

TEST(ClientCall, ServerStatusesMapOneToOne) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  for (int code = pb::INVALID_ARGUMENT; code <= pb::PERMISSION_DENIED; ++code) {
    SCOPED_TRACE(code);
    std::string message = "message for code " + std::to_string(code);
    node.set_status(pb::Request::kGet, static_cast<pb::StatusCode>(code), message);
    auto reply = client->get("m-1");
    ASSERT_FALSE(reply.ok());
    EXPECT_EQ(static_cast<int>(reply.code()), code);
    EXPECT_EQ(reply.error().message, message);
  }
  node.set_status(pb::Request::kDelete, pb::NOT_FOUND, "no item m-404");
  Status removed = client->remove("m-404");
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.code(), ErrorCode::not_found);
  EXPECT_EQ(removed.error().message, "no item m-404");
}

TEST(ClientCall, ErrorStatusesAreNotRetried) {
  FakeNode node;
  node.set_status(pb::Request::kPing, pb::UNAVAILABLE, "node is draining");
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  auto reply = client->ping();
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.code(), ErrorCode::unavailable);
  EXPECT_EQ(node.requests().size(), 1u);
}

TEST(ClientCall, MalformedRepliesAreInternal) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);

  node.set_raw(pb::Request::kPing, pb::Request::kPing, std::string("\x0f\xff\xff garbage", 11));
  auto garbage = client->ping();
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.code(), ErrorCode::internal);
  EXPECT_NE(garbage.error().message.find("malformed reply from " + node.address()),
            std::string::npos)
      << garbage.error().message;

  pb::Response ping_body;
  ping_body.mutable_ping();
  std::string ping_bytes;
  ping_body.SerializeToString(&ping_bytes);
  node.set_raw(pb::Request::kPing, pb::Request::kStats, ping_bytes);
  auto wrong_method = client->ping();
  ASSERT_FALSE(wrong_method.ok());
  EXPECT_EQ(wrong_method.code(), ErrorCode::internal);

  pb::Response stats_body;
  stats_body.mutable_stats();
  node.set_reply(pb::Request::kPing, stats_body);
  auto wrong_body = client->ping();
  ASSERT_FALSE(wrong_body.ok());
  EXPECT_EQ(wrong_body.code(), ErrorCode::internal);

  EXPECT_EQ(node.requests().size(), 3u) << "malformed replies are not retried";
}

// An unanswered call fails with deadline_exceeded, alone: the calls around it go on, and its
// reply, arriving late, completes nothing.
TEST(ClientCall, UnansweredRequestFailsAloneWithDeadlineExceeded) {
  FakeNode node;
  node.set_silent(pb::Request::kPing);
  ClientOptions options = fast_options();
  options.request_timeout = milliseconds(300);
  auto client = connect_or_die({node.address()}, options);
  ASSERT_NE(client, nullptr);
  auto start = Clock::now();
  auto overdue = client->ping_async();
  pb::Request other;
  other.mutable_recall()->set_persona_id("ada");
  other.mutable_recall()->set_query("launch");
  EXPECT_TRUE(client->call(other).ok()) << "a call next to an overdue one is answered";
  ASSERT_EQ(overdue.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "an overdue call must end by itself";
  auto reply = overdue.get();
  int64_t took = elapsed_ms(start);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.code(), ErrorCode::deadline_exceeded) << reply.error().to_string();
  EXPECT_GE(took, 250);
  EXPECT_LT(took, 3000);
  EXPECT_EQ(node.requests_of(pb::Request::kPing).size(), 1u) << "a deadline is not retried";

  node.release_silent();  // the overdue ping's reply arrives now, late
  pb::Response pong;
  pong.mutable_ping();
  node.set_reply(pb::Request::kPing, pong);
  EXPECT_TRUE(client->ping().ok()) << "the client goes on after a late reply";
  EXPECT_EQ(node.requests_of(pb::Request::kPing).size(), 2u);
}

TEST(ClientCall, CallerHeaderFieldsAreKept) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  pb::Request request;
  request.mutable_ping();
  request.mutable_header()->set_request_id("my-request-1");
  request.mutable_header()->set_tenant("other");
  int64_t deadline = wall_now_us() + 3'000'000;
  request.mutable_header()->set_deadline_us(deadline);
  ASSERT_TRUE(client->call(request).ok());
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].request.header().request_id(), "my-request-1");
  EXPECT_EQ(seen[0].request.header().tenant(), "other");
  EXPECT_EQ(seen[0].request.header().deadline_us(), deadline);
  EXPECT_EQ(seen[0].request.header().auth_token(), "secret-token");

  request.mutable_header()->set_deadline_us(wall_now_us() - 1000);
  auto late = client->call(request);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.code(), ErrorCode::deadline_exceeded);
  EXPECT_EQ(node.requests().size(), 1u) << "an expired request is not sent";
}

TEST(ClientCall, RequestWithoutBodyIsInvalidArgument) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  auto reply = client->call(pb::Request());
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.code(), ErrorCode::invalid_argument);
  EXPECT_TRUE(node.requests().empty());
}

TEST(ClientRetry, ResendsTheSameRequestIdToTheNextAddress) {
  FakeNode first;
  FakeNode second;
  auto client = connect_or_die({first.address(), second.address()});
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->address(), first.address());
  first.fail_next(1);  // drops the first attempt with a transport error
  auto reply = client->remember("ada", "idempotent write");
  ASSERT_TRUE(reply.ok()) << reply.error().to_string();
  auto on_first = first.requests();
  auto on_second = second.requests();
  ASSERT_EQ(on_first.size(), 1u);
  ASSERT_EQ(on_second.size(), 1u);
  EXPECT_EQ(on_first[0].request.header().request_id(), on_second[0].request.header().request_id());
  EXPECT_EQ(on_second[0].request.remember().memory().content(), "idempotent write");
  EXPECT_EQ(client->address(), second.address());
}

TEST(ClientRetry, FailsOverWhenTheConnectedActorDies) {
  FakeNode first;
  FakeNode second;
  auto client = connect_or_die({first.address(), second.address()});
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->ping().ok());
  first.kill();
  auto reply = client->ping();
  ASSERT_TRUE(reply.ok()) << reply.error().to_string();
  EXPECT_EQ(second.requests().size(), 1u);
  EXPECT_EQ(client->address(), second.address());
}

TEST(ClientRetry, GivesUpAfterMaxAttemptsWithUnavailable) {
  FakeNode node;
  ClientOptions options = fast_options();
  options.max_attempts = 3;
  auto client = connect_or_die({node.address()}, options);
  ASSERT_NE(client, nullptr);
  node.fail_next(100);
  auto reply = client->ping();
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.code(), ErrorCode::unavailable) << reply.error().to_string();
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].request.header().request_id(), seen[2].request.header().request_id());
}

// A node makes a proxy for every remote actor that sends it a request: a client's calls, one at a
// time or many at once, come from one actor, not from a new one per call.
TEST(ClientCall, EveryCallComesFromTheSameActor) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->ping().ok());
  std::vector<std::future<Result<pb::PingReply>>> many;
  for (int i = 0; i < 5; ++i) many.push_back(client->ping_async());
  for (auto& f : many) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    ASSERT_TRUE(f.get().ok());
  }
  std::set<std::string> senders;
  for (const auto& seen : node.requests()) senders.insert(seen.sender);
  EXPECT_EQ(senders.size(), 1u) << "one sender per client";
}

TEST(ClientAsync, FutureAndCallbackForms) {
  FakeNode node;
  pb::Response ping;
  ping.mutable_ping()->set_node_id("fake-1");
  node.set_reply(pb::Request::kPing, ping);
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);

  auto future = client->ping_async();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto reply = future.get();
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->node_id(), "fake-1");

  auto removed = client->remove_async("m-1");
  ASSERT_EQ(removed.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_TRUE(removed.get().ok());

  std::mutex mu;
  std::condition_variable done;
  std::optional<Result<pb::Response>> seen;
  std::thread::id callback_thread;
  pb::Request request;
  request.mutable_ping();
  client->call_async(request, [&](Result<pb::Response> result) {
    std::lock_guard<std::mutex> lock(mu);
    seen = std::move(result);
    callback_thread = std::this_thread::get_id();
    done.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(done.wait_for(lock, std::chrono::seconds(10), [&] { return seen.has_value(); }));
  ASSERT_TRUE(seen->ok());
  EXPECT_EQ((*seen)->ping().node_id(), "fake-1");
  EXPECT_NE(callback_thread, std::this_thread::get_id());
}

TEST(ClientAsync, CallbackMayMakeSyncCalls) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  std::promise<bool> nested;
  pb::Request request;
  request.mutable_ping();
  client->call_async(request, [&](Result<pb::Response> result) {
    nested.set_value(result.ok() && client->stats().ok());
  });
  auto future = nested.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(future.get());
}

ClientOptions inline_options() {
  ClientOptions options = fast_options();
  options.inline_callbacks = true;
  return options;
}

// An inline callback runs where the client's replies are handled: a call in it that waits for a
// reply would wait for itself, so it fails at once, and says what to do instead; an async call
// with a callback works there.
TEST(ClientInlineCallbacks, WaitingCallsFailInsideAndCallbackCallsWork) {
  FakeNode node;
  auto client = connect_or_die({node.address()}, inline_options());
  ASSERT_NE(client, nullptr);
  struct Seen {
    ErrorCode sync_code = ErrorCode::ok;
    std::string sync_message;
    ErrorCode future_code = ErrorCode::ok;
    ErrorCode remove_code = ErrorCode::ok;
    bool first_ok = false;
    std::thread::id first_thread;
  };
  std::promise<Seen> seen_promise;
  std::promise<std::pair<bool, std::thread::id>> nested;
  pb::Request ping;
  ping.mutable_ping();
  client->call_async(ping, [&](Result<pb::Response> result) {
    Seen seen;
    seen.first_ok = result.ok();
    seen.first_thread = std::this_thread::get_id();
    auto stats = client->stats();  // synchronous: must not wait here
    seen.sync_code = stats.code();
    seen.sync_message = stats.ok() ? "" : stats.error().message;
    auto future = client->ping_async();  // a future can only be waited for elsewhere
    seen.future_code = future.wait_for(std::chrono::seconds(0)) == std::future_status::ready
                           ? future.get().code()
                           : ErrorCode::ok;
    auto removed = client->remove_async("m-1");
    seen.remove_code = removed.wait_for(std::chrono::seconds(0)) == std::future_status::ready
                           ? removed.get().code()
                           : ErrorCode::ok;
    client->call_async(ping, [&](Result<pb::Response> again) {
      nested.set_value({again.ok(), std::this_thread::get_id()});
    });
    seen_promise.set_value(seen);
  });
  auto seen_future = seen_promise.get_future();
  ASSERT_EQ(seen_future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  Seen seen = seen_future.get();
  EXPECT_TRUE(seen.first_ok);
  EXPECT_EQ(seen.sync_code, ErrorCode::invalid_argument);
  EXPECT_NE(seen.sync_message.find("inline callback"), std::string::npos) << seen.sync_message;
  EXPECT_EQ(seen.future_code, ErrorCode::invalid_argument);
  EXPECT_EQ(seen.remove_code, ErrorCode::invalid_argument);
  auto nested_future = nested.get_future();
  ASSERT_EQ(nested_future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto [nested_ok, nested_thread] = nested_future.get();
  EXPECT_TRUE(nested_ok);
  // Both callbacks ran on the client's one actor thread, not on the test's.
  EXPECT_EQ(nested_thread, seen.first_thread);
  EXPECT_NE(seen.first_thread, std::this_thread::get_id());
  // Outside a callback the same calls work as always.
  EXPECT_TRUE(client->stats().ok());
  EXPECT_TRUE(client->remove_async("m-1").get().ok());
}

// Destroying the client inside its own inline callback would wait for the actor the callback runs
// on; it is finished on a thread of its own instead, and the calls still in flight fail.
TEST(ClientInlineCallbacks, DestroyingTheClientInsideOneDoesNotHang) {
  FakeNode node;
  node.set_silent(pb::Request::kStats);
  auto client = connect_or_die({node.address()}, inline_options());
  ASSERT_NE(client, nullptr);
  auto held = client->stats_async();
  ASSERT_TRUE(node.wait_for_requests(1, milliseconds(5000)));
  std::promise<void> destroyed;
  pb::Request ping;
  ping.mutable_ping();
  client->call_async(ping, [&](Result<pb::Response>) {
    client.reset();
    destroyed.set_value();
  });
  auto f = destroyed.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(held.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(held.get().code(), ErrorCode::unavailable);
}

TEST(ClientAsync, DestroyingTheClientFailsCallsInFlight) {
  FakeNode node;
  node.set_silent(pb::Request::kPing);
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  auto pending = client->ping_async();
  std::promise<ErrorCode> callback_code;
  pb::Request request;
  request.mutable_ping();
  client->call_async(request,
                     [&](Result<pb::Response> result) { callback_code.set_value(result.code()); });
  ASSERT_TRUE(node.wait_for_requests(2, milliseconds(5000)));
  auto start = Clock::now();
  client.reset();
  EXPECT_LT(elapsed_ms(start), 3000) << "closing must not wait for the request timeout";
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(1)), std::future_status::ready);
  auto result = pending.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.code(), ErrorCode::unavailable);
  auto code = callback_code.get_future();
  ASSERT_EQ(code.wait_for(std::chrono::seconds(1)), std::future_status::ready);
  EXPECT_EQ(code.get(), ErrorCode::unavailable);
}

// CAF 0.17 pins its logger in a thread_local of any thread that spawns; the client must release it,
// or destroying the client hangs while such a thread is still alive.
TEST(ClientLifetime, DestructionDoesNotWaitForThreadsThatUsedTheClient) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<bool> called;
  std::thread user_thread([&, released] {
    called.set_value(client->stats().ok());
    released.wait();
  });
  EXPECT_TRUE(called.get_future().get());
  std::promise<void> destroyed;
  std::thread destroyer([&] {
    client.reset();
    destroyed.set_value();
  });
  auto status = destroyed.get_future().wait_for(std::chrono::seconds(10));
  release.set_value();
  user_thread.join();
  destroyer.join();
  EXPECT_EQ(status, std::future_status::ready) << "~Client waited for an unrelated thread";
}

TEST(ClientConcurrency, EightThreadsShareOneClient) {
  FakeNode node;
  auto client = connect_or_die({node.address()});
  ASSERT_NE(client, nullptr);
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        auto reply = client->remember("p" + std::to_string(t), "item " + std::to_string(i));
        if (!reply.ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  auto seen = node.requests();
  ASSERT_EQ(seen.size(), static_cast<size_t>(kThreads * kCallsPerThread));
  std::set<std::string> ids;
  for (const auto& entry : seen) ids.insert(entry.request.header().request_id());
  EXPECT_EQ(ids.size(), seen.size());
}

}  // namespace
}  // namespace nca
