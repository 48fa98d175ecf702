// HTTP -> pb::Request: one test per shape decision (bodies, ids in path and body, query
// parameters).
#include "http/request_mapping.hpp"

#include <gtest/gtest.h>

#include <string>

namespace nca::http {
namespace {

const Route& route(const char* method, const char* path) {
  for (const auto& r : routes()) {
    if (std::string(r.method) == method && std::string(r.path) == path) return r;
  }
  ADD_FAILURE() << "no route " << method << " " << path;
  static const Route kNone{"GET", "/", Op::health, {}};
  return kNone;
}

Result<pb::Request> build(const char* method, const char* path, std::string id,
                          std::string_view body, QueryParams query = {}) {
  HttpInput in;
  in.route = &route(method, path);
  if (!id.empty()) in.params["id"] = id;
  in.query = std::move(query);
  in.body = body;
  if (auto s = check_query(*in.route, in.query); !s) return s.error();
  return build_request(in);
}

TEST(RequestMapping, RememberOneOrABatch) {
  auto one =
      build("POST", "/v1/personas/{id}/memories", "ada",
            R"({"content": "Ada is allergic to peanuts", "importance": 0.8, "tags": ["health"]})");
  ASSERT_TRUE(one.ok()) << one.error().message;
  ASSERT_TRUE(one->has_remember());
  EXPECT_EQ(one->remember().persona_id(), "ada");
  EXPECT_EQ(one->remember().memory().content(), "Ada is allergic to peanuts");
  EXPECT_DOUBLE_EQ(one->remember().memory().importance(), 0.8);
  EXPECT_EQ(one->remember().memory().tags(0), "health");

  auto batch = build("POST", "/v1/personas/{id}/memories", "ada",
                     R"({"memories": [{"content": "a"}, {"content": "b", "tier": "LTM"}]})");
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  ASSERT_TRUE(batch->has_remember_batch());
  EXPECT_EQ(batch->remember_batch().persona_id(), "ada");
  ASSERT_EQ(batch->remember_batch().memories_size(), 2);
  EXPECT_EQ(batch->remember_batch().memories(1).tier(), pb::LTM);
}

TEST(RequestMapping, BadBodiesAreInvalidArgumentWithTheParsersMessage) {
  auto malformed = build("POST", "/v1/personas/{id}/memories", "ada", R"({"content": )");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.code(), ErrorCode::invalid_argument);
  EXPECT_NE(malformed.error().message.find("malformed JSON"), std::string::npos);
  EXPECT_NE(malformed.error().message.find("parse error"), std::string::npos)
      << malformed.error().message;

  auto unknown = build("POST", "/v1/personas/{id}/memories", "ada", R"({"contnet": "x"})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("contnet"), std::string::npos) << unknown.error().message;

  auto wrong_type = build("POST", "/v1/personas/{id}/memories/search", "ada", R"({"k": "many"})");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.code(), ErrorCode::invalid_argument);

  auto array = build("POST", "/v1/events", "", "[1, 2]");
  ASSERT_FALSE(array.ok());
  EXPECT_NE(array.error().message.find("JSON object"), std::string::npos);

  auto empty = build("POST", "/v1/personas", "", "");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.code(), ErrorCode::invalid_argument);
}

TEST(RequestMapping, PathIdWinsAndAConflictingBodyIdIsRefused) {
  auto search = build("POST", "/v1/personas/{id}/memories/search", "ada",
                      R"({"query": "peanuts", "k": 5, "persona_id": "ada"})");
  ASSERT_TRUE(search.ok()) << search.error().message;
  EXPECT_EQ(search->recall().persona_id(), "ada");
  EXPECT_EQ(search->recall().k(), 5u);
  auto other = build("POST", "/v1/personas/{id}/memories/search", "ada",
                     R"({"query": "x", "persona_id": "bob"})");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("bob"), std::string::npos);

  auto update = build("PATCH", "/v1/memories/{id}", "m1", R"({"id": "m2", "content": "x"})");
  EXPECT_FALSE(update.ok());
  auto ack = build("POST", "/v1/events/{id}/ack", "e1", R"({"event_id": "e2"})");
  EXPECT_FALSE(ack.ok());
}

TEST(RequestMapping, PersonaUpdateTakesAWriteRequestOrABarePersona) {
  auto full = build("PATCH", "/v1/personas/{id}", "ada",
                    R"({"persona": {"role": "agent"}, "expected_version": 3, "fields": ["role"]})");
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_EQ(full->update_persona().persona().id(), "ada");
  EXPECT_EQ(full->update_persona().persona().role(), "agent");
  EXPECT_EQ(full->update_persona().expected_version(), 3u);
  ASSERT_EQ(full->update_persona().fields_size(), 1);

  auto bare = build("PATCH", "/v1/personas/{id}", "ada", R"({"name": "Ada", "capacity": 2})");
  ASSERT_TRUE(bare.ok()) << bare.error().message;
  EXPECT_EQ(bare->update_persona().persona().name(), "Ada");
  EXPECT_EQ(bare->update_persona().fields_size(), 0) << "no fields named: all fields";

  auto mismatch = build("PATCH", "/v1/personas/{id}", "ada", R"({"id": "bob"})");
  EXPECT_FALSE(mismatch.ok());
}

TEST(RequestMapping, DeleteMemoryForgetsOrDeletesForGood) {
  auto forget = build("DELETE", "/v1/memories/{id}", "m1", "", {{"reason", "stale"}});
  ASSERT_TRUE(forget.ok()) << forget.error().message;
  ASSERT_TRUE(forget->has_forget());
  EXPECT_EQ(forget->forget().id(), "m1");
  EXPECT_EQ(forget->forget().reason(), "stale");
  auto hard = build("DELETE", "/v1/memories/{id}", "m1", "", {{"hard", "true"}});
  ASSERT_TRUE(hard.ok());
  ASSERT_TRUE(hard->has_delete_());
  EXPECT_EQ(hard->delete_().id(), "m1");
  auto bad = build("DELETE", "/v1/memories/{id}", "m1", "", {{"hard", "yes"}});
  EXPECT_FALSE(bad.ok());
}

TEST(RequestMapping, QueryParametersAreCheckedAndParsed) {
  auto list = build("GET", "/v1/personas/{id}/memories", "ada", "",
                    {{"page_size", "20"},
                     {"page_token", "t"},
                     {"tiers", "stm,LTM"},
                     {"tiers", "mtm"},
                     {"archived", "false"}});
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->list().page_size(), 20u);
  EXPECT_EQ(list->list().page_token(), "t");
  ASSERT_EQ(list->list().tiers_size(), 3);
  EXPECT_EQ(list->list().tiers(0), pb::STM);
  EXPECT_EQ(list->list().tiers(1), pb::LTM);
  EXPECT_EQ(list->list().tiers(2), pb::MTM);

  auto typo = build("GET", "/v1/personas/{id}/memories", "ada", "", {{"pagesize", "20"}});
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.error().message.find("pagesize"), std::string::npos);
  EXPECT_NE(typo.error().message.find("page_size"), std::string::npos) << "lists what is accepted";
  EXPECT_FALSE(build("GET", "/v1/personas", "", "", {{"page_size", "-1"}}).ok());
  EXPECT_FALSE(build("GET", "/v1/personas", "", "", {{"page_size", "99999999999"}}).ok());
  EXPECT_FALSE(build("GET", "/v1/personas", "", "", {{"page_size", "1"}, {"page_size", "2"}}).ok());
  EXPECT_FALSE(build("GET", "/v1/personas/{id}/memories", "ada", "", {{"tiers", "xtm"}}).ok());
  EXPECT_FALSE(build("GET", "/health", "", "", {{"verbose", "1"}}).ok());
  // The dashboard's files take any query (browsers add cache busters).
  EXPECT_TRUE(check_query(route("GET", "/{asset}"), {{"v", "3"}}).ok());
}

TEST(RequestMapping, DeletePersonaNeedsConfirmInTheQuery) {
  auto yes = build("DELETE", "/v1/personas/{id}", "ada", "", {{"confirm", "true"}});
  ASSERT_TRUE(yes.ok());
  EXPECT_TRUE(yes->delete_persona().confirm());
  auto no = build("DELETE", "/v1/personas/{id}", "ada", "");
  ASSERT_TRUE(no.ok()) << "the node refuses it with its own message";
  EXPECT_FALSE(no->delete_persona().confirm());
}

TEST(RequestMapping, LinksAndEvents) {
  auto link = build("POST", "/v1/links", "", R"({"a": "m1", "b": "m2", "strength": 0.6})");
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->link().a(), "m1");
  EXPECT_DOUBLE_EQ(link->link().strength(), 0.6);
  auto unlink = build("DELETE", "/v1/links", "", "", {{"a", "m1"}, {"b", "m2"}});
  ASSERT_TRUE(unlink.ok());
  EXPECT_EQ(unlink->unlink().b(), "m2");
  EXPECT_FALSE(build("DELETE", "/v1/links", "", "", {{"a", "m1"}}).ok());

  auto one = build("POST", "/v1/events", "", R"({"topic": "t.x", "priority": "HIGH"})");
  ASSERT_TRUE(one.ok()) << one.error().message;
  ASSERT_EQ(one->publish().events_size(), 1);
  EXPECT_EQ(one->publish().events(0).priority(), pb::HIGH);
  auto many = build("POST", "/v1/events", "", R"({"events": [{"topic": "a"}, {"topic": "b"}]})");
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(many->publish().events_size(), 2);

  auto next = build("POST", "/v1/personas/{id}/events/next", "ada", "");
  ASSERT_TRUE(next.ok()) << "the body is optional";
  EXPECT_EQ(next->next_event().persona_id(), "ada");
  EXPECT_EQ(next->next_event().wait_ms(), 0u);
  auto wait = build("POST", "/v1/personas/{id}/events/next", "ada", R"({"wait_ms": 250})");
  ASSERT_TRUE(wait.ok());
  EXPECT_EQ(wait->next_event().wait_ms(), 250u);
  auto nack = build("POST", "/v1/events/{id}/nack", "e1",
                    R"({"attempt": 2, "reason": "busy", "dead_letter": true})");
  ASSERT_TRUE(nack.ok());
  EXPECT_EQ(nack->nack().event_id(), "e1");
  EXPECT_TRUE(nack->nack().dead_letter());
  auto requeue = build("POST", "/v1/events/requeue", "", R"({"event_ids": ["e1", "e2"]})");
  ASSERT_TRUE(requeue.ok());
  EXPECT_EQ(requeue->requeue().event_ids_size(), 2);
}

TEST(RequestMapping, RoutesWithoutBodyAcceptOnlyNothingOrAnEmptyObject) {
  EXPECT_TRUE(build("POST", "/v1/personas/{id}/consolidate", "ada", "").ok());
  EXPECT_TRUE(build("POST", "/v1/personas/{id}/consolidate", "ada", " {} ").ok());
  EXPECT_FALSE(build("POST", "/v1/personas/{id}/consolidate", "ada", R"({"x": 1})").ok());
  EXPECT_FALSE(build("POST", "/v1/memories/{id}/touch", "m1", "nonsense").ok());
}

TEST(RequestMapping, EveryApiRouteBuildsARequestOfItsOwnKind) {
  for (const auto& r : routes()) {
    if (!is_api_op(r.op)) continue;
    SCOPED_TRACE(std::string(r.method) + " " + r.path);
    HttpInput in;
    in.route = &r;
    in.params["id"] = "x1";
    std::string body = "{}";
    if (r.op == Op::create_persona) body = R"({"id": "p1"})";
    if (r.op == Op::remember) body = R"({"content": "c"})";
    if (r.op == Op::search_memories) body = R"({"query": "q"})";
    if (r.op == Op::create_link) body = R"({"a": "x1", "b": "x2"})";
    if (r.op == Op::delete_link) in.query = {{"a", "x1"}, {"b", "x2"}};
    if (r.op == Op::publish_events) body = R"({"topic": "t"})";
    if (r.op == Op::requeue_events) body = R"({"event_ids": ["e"]})";
    if (r.op == Op::update_memory) body = R"({"content": "c"})";
    if (r.op == Op::update_persona) body = R"({"name": "n"})";
    in.body = body;
    auto req = build_request(in);
    ASSERT_TRUE(req.ok()) << req.error().message;
    EXPECT_NE(req->body_case(), pb::Request::BODY_NOT_SET);
  }
}

TEST(RequestMapping, SuccessStatusSaysWhenSomethingWasCreated) {
  pb::Response created;
  created.mutable_remember()->set_created(true);
  EXPECT_EQ(success_status(Op::remember, created), 201);
  pb::Response existed;
  existed.mutable_remember()->set_created(false);
  EXPECT_EQ(success_status(Op::remember, existed), 200);
  EXPECT_EQ(success_status(Op::create_persona, pb::Response()), 201);
  EXPECT_EQ(success_status(Op::get_memory, pb::Response()), 200);
}

}  // namespace
}  // namespace nca::http
