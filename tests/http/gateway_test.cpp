// The HTTP API end to end: a real node behind the gateway, driven by an HTTP client as a Python or
// TypeScript agent would drive it.
#include <gtest/gtest.h>

#include "cluster/membership/node_number.hpp"
#include "tests/http/gateway_fixture.hpp"

namespace nca {
namespace {

using testing::describe;
using testing::GatewayFixture;
using testing::HttpReply;
using Json = nlohmann::json;

class HttpApiTest : public GatewayFixture {
 protected:
  // Remembers `content` into `persona`; returns the new memory's id.
  std::string remember(const std::string& persona, const std::string& content,
                       const std::string& extra = "") {
    auto r = call("POST", "/v1/personas/" + persona + "/memories",
                  R"({"content": ")" + content + "\"" + extra + "}");
    EXPECT_EQ(r.status, 201) << describe(r);
    return r.json.is_discarded() ? "" : r.json["item"]["id"].get<std::string>();
  }
};

TEST_F(HttpApiTest, PersonasCreateGetListUpdatePauseDelete) {
  auto created = call("POST", "/v1/personas",
                      R"({"id": "ada", "name": "Ada", "skills": {"support": 0.9}, "capacity": 2})");
  ASSERT_EQ(created.status, 201) << describe(created);
  EXPECT_EQ(created.json["persona"]["name"], "Ada");
  EXPECT_EQ(created.json["persona"]["version"], "1");
  EXPECT_EQ(created.header("Content-Type"), "application/json");

  auto again = call("POST", "/v1/personas", R"({"id": "ada"})");
  EXPECT_EQ(again.status, 409) << describe(again);
  EXPECT_EQ(again.json["code"], "ALREADY_EXISTS");

  auto got = call("GET", "/v1/personas/ada");
  ASSERT_EQ(got.status, 200) << describe(got);
  EXPECT_EQ(got.json["persona"]["skills"]["support"], 0.9);

  // The router learns a profile once it is durable; the list shows it within a bounded wait.
  bool listed = testing::wait_until([&] {
    auto list = call("GET", "/v1/personas?page_size=10");
    if (list.status != 200) return false;
    for (const auto& p : list.json["personas"]) {
      if (p["id"] == "ada") return true;
    }
    return false;
  });
  EXPECT_TRUE(listed);

  auto role = call("PATCH", "/v1/personas/ada",
                   R"({"persona": {"role": "agent"}, "expected_version": 1, "fields": ["role"]})");
  ASSERT_EQ(role.status, 200) << describe(role);
  EXPECT_EQ(role.json["persona"]["role"], "agent");
  EXPECT_EQ(role.json["persona"]["name"], "Ada") << "only the named field changed";
  EXPECT_EQ(role.json["persona"]["version"], "2");
  auto stale = call("PATCH", "/v1/personas/ada",
                    R"({"persona": {"role": "x"}, "expected_version": 1, "fields": ["role"]})");
  EXPECT_EQ(stale.status, 409) << describe(stale);
  EXPECT_EQ(stale.json["code"], "CONFLICT");
  auto bare = call("PATCH", "/v1/personas/ada", R"({"name": "Ada L.", "description": "d"})");
  ASSERT_EQ(bare.status, 200) << describe(bare);
  EXPECT_EQ(bare.json["persona"]["description"], "d");
  EXPECT_EQ(bare.json["persona"]["role"], "") << "a bare persona replaces every profile field";
  auto other = call("PATCH", "/v1/personas/ada", R"({"id": "bob", "name": "x"})");
  EXPECT_EQ(other.status, 400) << describe(other);

  auto paused = call("POST", "/v1/personas/ada/pause");
  ASSERT_EQ(paused.status, 200) << describe(paused);
  EXPECT_EQ(paused.json["persona"]["status"], "PERSONA_PAUSED");
  auto resumed = call("POST", "/v1/personas/ada/resume", "{}");
  ASSERT_EQ(resumed.status, 200) << describe(resumed);
  EXPECT_EQ(resumed.json["persona"]["status"], "PERSONA_ACTIVE");

  auto stats = call("GET", "/v1/personas/ada/stats");
  ASSERT_EQ(stats.status, 200) << describe(stats);
  EXPECT_EQ(stats.json["persona"][0]["persona_id"], "ada");
  EXPECT_EQ(stats.json["persona"][0]["tiers"].size(), 3u);

  auto unconfirmed = call("DELETE", "/v1/personas/ada");
  EXPECT_EQ(unconfirmed.status, 400) << describe(unconfirmed);
  auto deleted = call("DELETE", "/v1/personas/ada?confirm=true");
  ASSERT_EQ(deleted.status, 200) << describe(deleted);
  EXPECT_EQ(deleted.json["persona_id"], "ada");
  auto gone = call("GET", "/v1/personas/ada");
  EXPECT_EQ(gone.status, 404) << describe(gone);
  EXPECT_EQ(gone.json["code"], "NOT_FOUND");
}

TEST_F(HttpApiTest, MemoriesRememberSearchGetUpdateHistoryAndList) {
  auto first = call("POST", "/v1/personas/ada/memories",
                    R"({"id": "peanuts", "content": "Ada is allergic to peanuts", "importance": 0.8,
                        "tags": ["health"], "session_id": "s1"})");
  ASSERT_EQ(first.status, 201) << describe(first);
  EXPECT_TRUE(first.json["created"].get<bool>());
  EXPECT_EQ(first.json["item"]["tier"], "STM");
  auto repeat = call("POST", "/v1/personas/ada/memories",
                     R"({"id": "peanuts", "content": "Ada is allergic to peanuts"})");
  ASSERT_EQ(repeat.status, 200) << describe(repeat);
  EXPECT_FALSE(repeat.json["created"].get<bool>()) << "a client id makes remember idempotent";
  auto batch = call("POST", "/v1/personas/ada/memories",
                    R"({"memories": [{"content": "Ada's favourite colour is green"},
                                     {"content": "Ada works on the night shift"}]})");
  ASSERT_EQ(batch.status, 201) << describe(batch);
  ASSERT_EQ(batch.json["results"].size(), 2u);

  auto hits = call("POST", "/v1/personas/ada/memories/search",
                   R"({"query": "what is Ada allergic to", "k": 2})");
  ASSERT_EQ(hits.status, 200) << describe(hits);
  ASSERT_FALSE(hits.json["hits"].empty());
  EXPECT_EQ(hits.json["hits"][0]["item"]["content"], "Ada is allergic to peanuts");
  EXPECT_LE(hits.json["hits"].size(), 2u);

  auto got = call("GET", "/v1/memories/peanuts?include_embedding=true");
  ASSERT_EQ(got.status, 200) << describe(got);
  EXPECT_EQ(got.json["item"]["persona_id"], "ada");
  EXPECT_EQ(got.json["embedding"].size(), 64u);

  auto updated = call("PATCH", "/v1/memories/peanuts",
                      R"({"content": "Ada is allergic to peanuts and walnuts",
                          "expected_version": "1"})");
  ASSERT_EQ(updated.status, 200) << describe(updated);
  EXPECT_EQ(updated.json["item"]["version"], "2");
  auto stale =
      call("PATCH", "/v1/memories/peanuts", R"({"importance": 0.1, "expected_version": 1})");
  EXPECT_EQ(stale.status, 409) << describe(stale);

  auto history = call("GET", "/v1/memories/peanuts/history");
  ASSERT_EQ(history.status, 200) << describe(history);
  ASSERT_GE(history.json["records"].size(), 2u);
  EXPECT_EQ(history.json["records"][0]["action"], "ADD");
  EXPECT_EQ(history.json["records"][1]["action"], "UPDATE");

  auto page = call("GET", "/v1/personas/ada/memories?page_size=2&tiers=stm");
  ASSERT_EQ(page.status, 200) << describe(page);
  EXPECT_EQ(page.json["items"].size(), 2u);
  ASSERT_FALSE(page.json["next_page_token"].get<std::string>().empty());
  auto rest = call("GET", "/v1/personas/ada/memories?page_size=2&page_token=" +
                              page.json["next_page_token"].get<std::string>());
  ASSERT_EQ(rest.status, 200) << describe(rest);
  EXPECT_EQ(rest.json["items"].size(), 1u);

  auto context = call("GET", "/v1/personas/ada/context?n=2");
  ASSERT_EQ(context.status, 200) << describe(context);
  EXPECT_LE(context.json["items"].size(), 2u);
  EXPECT_FALSE(context.json["items"].empty());

  auto tick = call("POST", "/v1/personas/ada/consolidate");
  ASSERT_EQ(tick.status, 200) << describe(tick);
  EXPECT_EQ(tick.json["total"]["ticks"], "1");

  auto touched = call("POST", "/v1/memories/peanuts/touch");
  ASSERT_EQ(touched.status, 200) << describe(touched);
  EXPECT_NE(touched.json["item"]["access_count"], "0");
}

TEST_F(HttpApiTest, LinksNeighboursForgetRestoreAndDelete) {
  std::string a = remember("ada", "Ada likes tea");
  std::string b = remember("ada", "Ada drinks tea every morning");
  ASSERT_FALSE(a.empty());
  auto link = call("POST", "/v1/links", Json{{"a", a}, {"b", b}, {"strength", 0.8}}.dump());
  ASSERT_EQ(link.status, 200) << describe(link);
  EXPECT_EQ(link.json["tubule"]["strength"], 0.8);
  auto neighbours = call("GET", "/v1/memories/" + a + "/neighbours");
  ASSERT_EQ(neighbours.status, 200) << describe(neighbours);
  ASSERT_EQ(neighbours.json["neighbours"].size(), 1u);
  EXPECT_EQ(neighbours.json["neighbours"][0]["item_id"], b);
  auto unlink = call("DELETE", "/v1/links?a=" + a + "&b=" + b);
  ASSERT_EQ(unlink.status, 200) << describe(unlink);
  EXPECT_TRUE(call("GET", "/v1/memories/" + a + "/neighbours").json["neighbours"].empty());

  auto forgot = call("DELETE", "/v1/memories/" + a + "?reason=stale");
  ASSERT_EQ(forgot.status, 200) << describe(forgot);
  EXPECT_EQ(call("GET", "/v1/memories/" + a).status, 404);
  auto archived = call("GET", "/v1/personas/ada/memories?archived=true");
  ASSERT_EQ(archived.status, 200) << describe(archived);
  ASSERT_EQ(archived.json["archived"].size(), 1u);
  EXPECT_EQ(archived.json["archived"][0]["item"]["id"], a);
  auto restored = call("POST", "/v1/memories/" + a + "/restore");
  ASSERT_EQ(restored.status, 200) << describe(restored);
  EXPECT_EQ(call("GET", "/v1/memories/" + a).status, 200);

  auto deleted = call("DELETE", "/v1/memories/" + b + "?hard=true");
  ASSERT_EQ(deleted.status, 200) << describe(deleted);
  EXPECT_EQ(deleted.json["id"], b);
  EXPECT_EQ(call("GET", "/v1/memories/" + b).status, 404);
  auto history = call("GET", "/v1/memories/" + b + "/history");
  ASSERT_EQ(history.status, 200) << "history outlives a delete: " << describe(history);
  EXPECT_EQ(history.json["records"].back()["action"], "DELETE");
}

// The batch forms: next with max_events answers in `events`; POST /v1/events/ack settles several
// and reports each outcome; a body that is not an ack batch is a 400.
TEST_F(HttpApiTest, EventsBatchedNextAndAck) {
  ASSERT_EQ(call("POST", "/v1/personas", R"({"id": "batcher", "capacity": 8})").status, 201);
  auto three = call("POST", "/v1/events",
                    R"({"events": [{"topic": "b.one", "target_persona": "batcher"},
                                   {"topic": "b.two", "target_persona": "batcher"},
                                   {"topic": "b.three", "target_persona": "batcher"}]})");
  ASSERT_EQ(three.status, 201) << describe(three);
  auto next = call("POST", "/v1/personas/batcher/events/next", R"({"max_events": 2})");
  ASSERT_EQ(next.status, 200) << describe(next);
  ASSERT_EQ(next.json["events"].size(), 2u) << describe(next);
  EXPECT_FALSE(next.json.contains("event")) << describe(next);
  Json acks = Json::array();
  for (const auto& e : next.json["events"]) {
    acks.push_back({{"event_id", e["id"]}, {"attempt", e["attempts"]}});
  }
  acks.push_back({{"event_id", next.json["events"][0]["id"]}, {"attempt", 9}});
  auto settled = call("POST", "/v1/events/ack", Json{{"acks", acks}}.dump());
  ASSERT_EQ(settled.status, 200) << describe(settled);
  ASSERT_EQ(settled.json["results"].size(), 3u) << describe(settled);
  EXPECT_EQ(settled.json["results"][0]["status"]["code"], "OK");
  EXPECT_EQ(settled.json["results"][0]["event"]["state"], "EVENT_ACKED");
  EXPECT_EQ(settled.json["results"][1]["status"]["code"], "OK");
  EXPECT_NE(settled.json["results"][2]["status"]["code"], "OK") << describe(settled);
  EXPECT_EQ(call("POST", "/v1/events/ack", "").status, 400);
  EXPECT_EQ(call("POST", "/v1/events/ack", R"({"acks": "no"})").status, 400);
  EXPECT_EQ(call("POST", "/v1/events/ack", R"({"acks": []})").status, 400);
}

TEST_F(HttpApiTest, EventsPublishNextAckNackDeadRequeueAndStats) {
  ASSERT_EQ(call("POST", "/v1/personas", R"({"id": "worker", "skills": {"support": 1}})").status,
            201);
  auto published = call("POST", "/v1/events",
                        R"({"topic": "support.ticket_created", "payload": "{\"n\": 1}",
                            "priority": "HIGH", "required_skills": ["support"]})");
  ASSERT_EQ(published.status, 201) << describe(published);
  ASSERT_EQ(published.json["events"].size(), 1u);
  std::string id = published.json["events"][0]["id"];
  auto status = call("GET", "/v1/events/" + id);
  ASSERT_EQ(status.status, 200) << describe(status);
  EXPECT_EQ(status.json["event"]["topic"], "support.ticket_created");

  auto next = call("POST", "/v1/personas/worker/events/next", R"({"wait_ms": 2000})");
  ASSERT_EQ(next.status, 200) << describe(next);
  ASSERT_EQ(next.json["event"]["id"], id);
  EXPECT_EQ(next.json["event"]["state"], "EVENT_DELIVERED");
  int attempt = next.json["event"]["attempts"];
  auto acked = call("POST", "/v1/events/" + id + "/ack",
                    Json{{"attempt", attempt}, {"result", "refund issued"}}.dump());
  ASSERT_EQ(acked.status, 200) << describe(acked);
  EXPECT_EQ(acked.json["event"]["state"], "EVENT_ACKED");

  auto two = call("POST", "/v1/events",
                  R"({"events": [{"topic": "a.one", "target_persona": "worker"},
                                 {"topic": "a.two", "target_persona": "worker"}]})");
  ASSERT_EQ(two.status, 201) << describe(two);
  ASSERT_EQ(two.json["events"].size(), 2u);
  auto taken = call("POST", "/v1/personas/worker/events/next", R"({"wait_ms": 2000})");
  ASSERT_EQ(taken.status, 200) << describe(taken);
  std::string dead_id = taken.json["event"]["id"];
  auto stale = call("POST", "/v1/events/" + dead_id + "/ack", R"({"attempt": 7})");
  EXPECT_EQ(stale.status, 409) << "a stale delivery number: " << describe(stale);
  EXPECT_EQ(stale.json["code"], "CONFLICT");
  auto nacked = call("POST", "/v1/events/" + dead_id + "/nack",
                     R"({"attempt": 1, "reason": "cannot", "dead_letter": true})");
  ASSERT_EQ(nacked.status, 200) << describe(nacked);
  EXPECT_EQ(nacked.json["event"]["state"], "EVENT_DEAD");

  auto dead = call("GET", "/v1/events/dead?page_size=10");
  ASSERT_EQ(dead.status, 200) << describe(dead);
  ASSERT_EQ(dead.json["events"].size(), 1u);
  EXPECT_EQ(dead.json["events"][0]["id"], dead_id);

  auto stats = call("GET", "/v1/events/stats");
  ASSERT_EQ(stats.status, 200) << describe(stats);
  uint64_t dead_count = 0;
  for (const auto& c : stats.json["counts"]) {
    if (c["tenant"] == "default" && c["state"] == "EVENT_DEAD") dead_count += c["count"].get<int>();
  }
  EXPECT_EQ(dead_count, 1u) << stats.body;
  EXPECT_EQ(stats.json["acked_retained"], 1);

  auto requeued = call("POST", "/v1/events/requeue", Json{{"event_ids", {dead_id}}}.dump());
  ASSERT_EQ(requeued.status, 200) << describe(requeued);
  EXPECT_NE(requeued.json["events"][0]["state"], "EVENT_DEAD");
  EXPECT_TRUE(call("GET", "/v1/events/dead").json["events"].empty());

  // Nothing for another tenant's persona: the poll answers an empty object.
  create_persona("idle", "elsewhere");
  auto empty = call("POST", "/v1/personas/idle/events/next", R"({"wait_ms": 0})",
                    {{"X-Neuroca-Tenant", "elsewhere"}});
  ASSERT_EQ(empty.status, 200) << describe(empty);
  EXPECT_FALSE(empty.json.contains("event")) << empty.body;
}

TEST_F(HttpApiTest, TenantsAreSeparateAndRequestIdsAreEchoed) {
  auto mine = call("POST", "/v1/personas/ada/memories", R"({"id": "secret", "content": "x"})",
                   {{"X-Neuroca-Tenant", "acme"}, {"X-Request-Id", "client-req-1"}});
  ASSERT_EQ(mine.status, 201) << describe(mine);
  EXPECT_EQ(mine.header("X-Request-Id"), "client-req-1");
  EXPECT_EQ(mine.json["item"]["tenant"], "acme");
  EXPECT_EQ(call("GET", "/v1/memories/secret").status, 404) << "invisible to the default tenant";
  EXPECT_EQ(call("GET", "/v1/memories/secret", "", {{"X-Neuroca-Tenant", "acme"}}).status, 200);
  auto generated = call("GET", "/health");
  EXPECT_FALSE(generated.header("X-Request-Id").empty()) << "an id is generated when absent";
  auto bad_tenant = call("GET", "/v1/memories/secret", "", {{"X-Neuroca-Tenant", "a/b"}});
  EXPECT_EQ(bad_tenant.status, 400) << describe(bad_tenant);
  auto bad_id = call("GET", "/health", "", {{"X-Request-Id", "has spaces"}});
  EXPECT_EQ(bad_id.status, 400) << describe(bad_id);
}

TEST_F(HttpApiTest, NodeStatsAndCluster) {
  remember("ada", "one thing");
  auto stats = call("GET", "/v1/stats");
  ASSERT_EQ(stats.status, 200) << describe(stats);
  EXPECT_EQ(stats.json["node_id"], node_->context().node_id);
  auto cluster = call("GET", "/v1/cluster");
  ASSERT_EQ(cluster.status, 200) << describe(cluster);
  EXPECT_EQ(cluster.json["node"]["id"], node_->context().node_id);
  EXPECT_EQ(cluster.json["node"]["address"], "127.0.0.1:" + std::to_string(node_->port()));
  EXPECT_EQ(cluster.json["node"]["http_address"], gateway_->address());
  EXPECT_EQ(cluster.json["members"].size(), 1u);
  // The node founds the metadata group alone and records itself: it becomes the map's only member,
  // by number, with its name, voting, and the group's leader.
  const std::string number = std::to_string(membership::node_number(node_->context().node_id));
  ASSERT_TRUE(testing::wait_until([&] {
    auto c = call("GET", "/v1/cluster");
    return c.json["members"].size() == 1u && c.json["members"][0]["id"] == number &&
           c.json.value("metadata_leader", "") == number;
  }));
  cluster = call("GET", "/v1/cluster");
  EXPECT_EQ(cluster.json["members"][0]["name"], node_->context().node_id);
  EXPECT_EQ(cluster.json["members"][0]["metadata_role"], "voter");
  EXPECT_EQ(cluster.json["members"][0]["state"], "ALIVE");
  // A node alone knows no peers; its number is a string (64 bits do not fit a JSON number safely).
  ASSERT_TRUE(cluster.json["peers"].is_array()) << describe(cluster);
  EXPECT_TRUE(cluster.json["peers"].empty());
  EXPECT_EQ(cluster.json["node"]["number"],
            std::to_string(membership::node_number(node_->context().node_id)));
}

TEST_F(HttpApiTest, ClientErrorsHaveTheirStatusAndOneShape) {
  struct Case {
    const char* method;
    std::string path;
    std::string body;
    int status;
    const char* code;
  };
  const Case cases[] = {
      {"POST", "/v1/personas/ada/memories", R"({"content": )", 400, "INVALID_ARGUMENT"},
      {"POST", "/v1/personas/ada/memories", R"({"contnet": "x"})", 400, "INVALID_ARGUMENT"},
      {"POST", "/v1/personas/ada/memories", R"({"content": ""})", 400, "INVALID_ARGUMENT"},
      {"GET", "/v1/personas?page_size=lots", "", 400, "INVALID_ARGUMENT"},
      {"GET", "/v1/personas/bad%20id", "", 400, "INVALID_ARGUMENT"},
      {"GET", "/v1/memories/none", "", 404, "NOT_FOUND"},
      {"GET", "/v1/events/none", "", 404, "NOT_FOUND"},
      {"GET", "/v1/nothing/here", "", 404, "NOT_FOUND"},
      {"GET", "/nothing.html", "", 404, "NOT_FOUND"},
      {"PUT", "/v1/personas", "{}", 405, "METHOD_NOT_ALLOWED"},
      {"DELETE", "/health", "", 405, "METHOD_NOT_ALLOWED"},
      {"OPTIONS", "/v1/events", "", 405, "METHOD_NOT_ALLOWED"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.path + " " + c.body);
    auto r = call(c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << describe(r);
    ASSERT_TRUE(r.json.is_object()) << r.body;
    EXPECT_EQ(r.json["code"], c.code);
    EXPECT_TRUE(r.json["message"].is_string());
    EXPECT_FALSE(r.json["message"].get<std::string>().empty());
    EXPECT_TRUE(r.json["details"].is_object());
  }
  auto wrong = call("PUT", "/v1/personas", "{}");
  EXPECT_EQ(wrong.header("Allow"), "POST, GET");
  auto malformed = call("POST", "/v1/personas/ada/memories", R"({"content": )");
  EXPECT_NE(malformed.json["message"].get<std::string>().find("parse error"), std::string::npos)
      << "the parser's message: " << malformed.body;
}

}  // namespace
}  // namespace nca
