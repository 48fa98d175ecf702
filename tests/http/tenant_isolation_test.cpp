// Tenant isolation (DESIGN §8): tenant B, holding a valid writer key, tries every way to reach
// tenant A's personas, memories and events by their ids: get, list, recall, update, delete, link,
// history, route events to them, consume and acknowledge them, and count them. Each attempt must
// answer exactly what the same attempt answers for ids that exist nowhere (same status, same body
// once the ids are swapped), so B cannot even learn that A's ids exist; and A's data is unchanged.
#include <gtest/gtest.h>

#include <regex>

#include "tests/http/auth_fixture.hpp"

namespace nca::testing {
namespace {

class TenantIsolationTest : public AuthFixture {
 protected:
  void SetUp() override {
    AuthFixture::SetUp();
    ASSERT_EQ(call_as("a_writer", "POST", "/v1/personas", R"({"id": "ada", "skills": {"ops": 1}})")
                  .status,
              201);
    for (std::string id : {"m-ada", "m-ada-2"}) {
      auto r = call_as("a_writer", "POST", "/v1/personas/ada/memories",
                       R"({"id": ")" + id + R"(", "content": "Ada keeps the launch codes in )" +
                           id + R"(", "tags": ["secret"]})");
      ASSERT_EQ(r.status, 201) << describe(r);
    }
    ASSERT_EQ(call_as("a_writer", "POST", "/v1/links",
                      R"({"a": "m-ada", "b": "m-ada-2", "persona_id": "ada"})")
                  .status,
              200);
    auto published = call_as("a_writer", "POST", "/v1/events",
                             R"({"topic": "ops.page", "target_persona": "ada"})");
    ASSERT_EQ(published.status, 201) << describe(published);
    event_ = published.json["events"][0]["id"];
    // An id of the same shape that no tenant has.
    ghost_event_ = event_.substr(0, event_.size() - 4) +
                   (event_.substr(event_.size() - 4) == "0000" ? "0001" : "0000");
    // The event becomes an STM memory of ada once its assignment is written, which may be after
    // the publish answers: A's state is settled, and comparable, only from then on.
    ASSERT_TRUE(wait_until([&] {
      auto r = call_as("a_reader", "GET", "/v1/personas/ada/memories");
      return r.status == 200 && r.json.contains("items") && r.json["items"].size() == 3;
    })) << "the event's memory never appeared among ada's memories";
    before_ = a_snapshot();
  }

  // What tenant A can see of its own data: compared before and after B's attempts.
  std::string a_snapshot() {
    std::string out;
    std::vector<std::string> paths = {"/v1/personas/ada",          "/v1/memories/m-ada",
                                      "/v1/memories/m-ada-2",      "/v1/memories/m-ada/neighbours",
                                      "/v1/personas/ada/memories", "/v1/events/" + event_};
    for (const std::string& path : paths) {
      auto r = call_as("a_reader", "GET", path);
      EXPECT_EQ(r.status, 200) << path << ": " << describe(r);
      auto j = r.json;
      // Reading strengthens memories and moves health: compare what B could change.
      if (j.contains("item")) j = {j["item"]["content"], j["item"]["tags"], j["item"]["tier"]};
      if (j.contains("items")) j = j["items"].size();
      if (j.contains("event")) {
        // Assignment moves on by itself; what B must not do is finish, fail or requeue it.
        std::string state = j["event"]["state"];
        bool open =
            state == "EVENT_PENDING" || state == "EVENT_ASSIGNED" || state == "EVENT_DELIVERED";
        j = open ? "open" : state;
      }
      if (j.contains("neighbours")) {
        // Link strengths decay with time: their count and ends are what B could change.
        std::string ends;
        for (const auto& n : j["neighbours"]) ends += n["item_id"].get<std::string>() + " ";
        j = ends;
      }
      if (j.contains("persona")) j = {j["persona"]["version"], j["persona"]["skills"]};
      out += path + " " + j.dump() + "\n";
    }
    return out;
  }

  // B's reply to `method path body` on A's ids, against the same with A's ids swapped for ghosts.
  void expect_as_if_missing(const std::string& method, const std::string& path,
                            const std::string& body = "") {
    auto swap = [&](std::string s) {
      s = std::regex_replace(s, std::regex(event_), ghost_event_);
      s = std::regex_replace(s, std::regex("m-ada"), "m-zed");
      return std::regex_replace(s, std::regex("\\bada\\b"), "zed");
    };
    auto theirs = call_as("b_writer", method, path, body);
    auto ghost = call_as("b_writer", method, swap(path), swap(body));
    ++attempts_;
    EXPECT_EQ(theirs.status, ghost.status)
        << method << " " << path << "\n A's: " << describe(theirs)
        << "\n ghost: " << describe(ghost);
    EXPECT_EQ(swap(theirs.body), ghost.body) << method << " " << path;
    EXPECT_NE(theirs.status / 100, 2)
        << method << " " << path << " succeeded on A's data: " << describe(theirs);
  }

  std::string event_;
  std::string ghost_event_;
  std::string before_;
  int attempts_ = 0;
};

TEST_F(TenantIsolationTest, TenantBCannotTellTenantAsIdsFromIdsThatDoNotExist) {
  // Personas.
  expect_as_if_missing("GET", "/v1/personas/ada");
  expect_as_if_missing("PATCH", "/v1/personas/ada", R"({"skills": {"ops": 0.1}})");
  expect_as_if_missing("POST", "/v1/personas/ada/pause");
  expect_as_if_missing("POST", "/v1/personas/ada/resume");
  expect_as_if_missing("DELETE", "/v1/personas/ada?confirm=true");
  // Memories, by item id (with and without the persona hint).
  for (std::string hint : {"", "?persona_id=ada"}) {
    expect_as_if_missing("GET", "/v1/memories/m-ada" + hint);
    expect_as_if_missing("GET", "/v1/memories/m-ada/history" + hint);
    expect_as_if_missing("GET", "/v1/memories/m-ada/neighbours" + hint);
    expect_as_if_missing("POST", "/v1/memories/m-ada/touch" + hint);
    expect_as_if_missing("POST", "/v1/memories/m-ada/restore" + hint);
  }
  expect_as_if_missing("PATCH", "/v1/memories/m-ada", R"({"content": "overwritten by B"})");
  expect_as_if_missing("DELETE", "/v1/memories/m-ada");
  expect_as_if_missing("DELETE", "/v1/memories/m-ada?hard=true&persona_id=ada");
  expect_as_if_missing("POST", "/v1/links", R"({"a": "m-ada", "b": "m-ada-2"})");
  expect_as_if_missing("DELETE", "/v1/links?a=m-ada&b=m-ada-2");
  // Events.
  expect_as_if_missing("GET", "/v1/events/" + event_);
  expect_as_if_missing("POST", "/v1/events/" + event_ + "/ack", R"({"attempt": 1})");
  expect_as_if_missing("POST", "/v1/events/" + event_ + "/nack", R"({"attempt": 1})");
  expect_as_if_missing("POST", "/v1/events/requeue", R"({"event_ids": [")" + event_ + R"("]})");
  EXPECT_GE(attempts_, 23);

  // Reads of a persona name B does not have: the same empty answers as for any unused name.
  for (auto [method, path, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"GET", "/v1/personas/ada/memories", ""},
           {"POST", "/v1/personas/ada/memories/search", R"({"query": "launch codes", "k": 5})"},
           {"GET", "/v1/personas/ada/context", ""},
           {"GET", "/v1/personas/ada/stats", ""},
           {"POST", "/v1/events/ack",
            R"({"acks": [{"event_id": ")" + event_ + R"(", "attempt": 1}]})"},
           {"POST", "/v1/personas/ada/events/next", R"({"wait_ms": 0})"}}) {
    auto theirs = call_as("b_writer", method, path, body);
    auto swap = [&](const std::string& s) {
      return std::regex_replace(std::regex_replace(s, std::regex("ada"), "zed"), std::regex(event_),
                                ghost_event_);
    };
    auto ghost = call_as("b_writer", method, swap(path), swap(body));
    EXPECT_EQ(theirs.status, ghost.status) << path << ": " << describe(theirs);
    EXPECT_EQ(swap(theirs.body), ghost.body) << path;
    EXPECT_EQ(theirs.body.find("launch codes"), std::string::npos) << path;
    if (body.find(event_) == std::string::npos) {
      EXPECT_EQ(theirs.body.find(event_), std::string::npos) << path;
    }
  }
  // Enumeration: B's lists hold nothing of A's.
  for (std::string path : {"/v1/personas", "/v1/events/dead"}) {
    auto r = call_as("b_writer", "GET", path);
    EXPECT_EQ(r.status, 200) << describe(r);
    EXPECT_EQ(r.body.find("ada"), std::string::npos) << path << ": " << r.body;
    EXPECT_EQ(r.body.find(event_), std::string::npos) << path;
  }
  // Counts that span tenants are for admins of every tenant only.
  EXPECT_EQ(call_as("b_writer", "GET", "/v1/stats").status, 403);
  EXPECT_EQ(call_as("b_admin", "GET", "/v1/events/stats").status, 403);

  // Routing an event to "ada" as B reaches B's own namespace, never A's persona.
  auto routed = call_as("b_writer", "POST", "/v1/events",
                        R"({"topic": "ops.page", "target_persona": "ada"})");
  auto ghost_routed = call_as("b_writer", "POST", "/v1/events",
                              R"({"topic": "ops.page", "target_persona": "zed"})");
  EXPECT_EQ(routed.status, ghost_routed.status) << describe(routed);
  auto next = call_as("a_writer", "POST", "/v1/personas/ada/events/next",
                      R"({"wait_ms": 0, "max_events": 10})");
  ASSERT_EQ(next.status, 200) << describe(next);
  std::string delivered = next.json.dump();
  EXPECT_NE(delivered.find(event_), std::string::npos) << "A still gets its own event";
  if (routed.status / 100 == 2) {
    std::string b_event = routed.json["events"][0]["id"];
    EXPECT_EQ(delivered.find(b_event), std::string::npos) << "B's event reached A's persona";
  }
  // Writing to "ada" as B makes B's own persona; A's memories are untouched.
  ASSERT_EQ(call_as("b_writer", "POST", "/v1/personas/ada/memories",
                    R"({"id": "m-ada", "content": "B's note"})")
                .status,
            201);
  EXPECT_EQ(call_as("b_writer", "GET", "/v1/memories/m-ada").json["item"]["content"], "B's note");
  auto a_view = call_as("a_reader", "GET", "/v1/memories/m-ada");
  EXPECT_EQ(a_view.json["item"]["content"], "Ada keeps the launch codes in m-ada");

  // After all that, A's data is exactly as it was (its event now delivered, by A's own poll).
  std::string after = a_snapshot();
  EXPECT_EQ(after, before_);
}

}  // namespace
}  // namespace nca::testing
