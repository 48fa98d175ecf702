// Limits (DESIGN §8): each one refuses with a message that names the setting, changes nothing,
// and is counted in nca_requests_refused_total{reason}.
#include <gtest/gtest.h>

#include <regex>

#include "tests/http/gateway_fixture.hpp"

namespace nca::testing {
namespace {

class LimitsTest : public GatewayFixture {
 protected:
  void customize(config::Settings& s) override {
    s.limits.memories_per_persona = 3;
    s.limits.request_bytes = 4096;
    s.memory.max_content_bytes = 1024;
    s.limits.events_per_tenant = 2;
  }
  double refused(const std::string& reason) {
    auto metrics = call("GET", "/metrics");
    std::smatch m;
    std::regex line("nca_requests_refused_total\\{reason=\"" + reason + "\"\\} ([0-9.e+]+)");
    if (!std::regex_search(metrics.body, m, line)) return -1;
    return std::stod(m[1]);
  }
  HttpReply remember(const std::string& content) {
    return call("POST", "/v1/personas/ada/memories", R"({"content": ")" + content + R"("})");
  }
};

TEST_F(LimitsTest, APersonaHoldsAtMostItsLimitAndTakesMoreOnceItForgets) {
  std::string first_id;
  for (int i = 0; i < 3; ++i) {
    auto r = remember("memory " + std::to_string(i));
    ASSERT_EQ(r.status, 201) << describe(r);
    if (i == 0) first_id = r.json["item"]["id"];
  }
  auto full = remember("one too many");
  EXPECT_EQ(full.status, 429) << describe(full);
  EXPECT_EQ(full.json["code"], "RESOURCE_EXHAUSTED");
  EXPECT_EQ(full.json["message"],
            "persona 'ada' holds 3 memories; limits.memories-per-persona allows 3: forget or "
            "delete some, or raise the limit");
  auto batch = call("POST", "/v1/personas/ada/memories",
                    R"({"memories": [{"content": "x"}, {"content": "y"}]})");
  EXPECT_NE(batch.status / 100, 2) << describe(batch);
  EXPECT_EQ(call("GET", "/v1/personas/ada/memories").json["items"].size(), 3u) << "nothing stored";
  EXPECT_EQ(refused("over_count"), 2) << "the single and the batch";

  ASSERT_EQ(call("DELETE", "/v1/memories/" + first_id).status, 200);
  EXPECT_EQ(remember("room again").status, 201);
  EXPECT_EQ(remember("full again").status, 429);
}

TEST_F(LimitsTest, OversizedRequestsAndContentAreRefusedAndCounted) {
  auto big_content = remember(std::string(2000, 'a'));
  EXPECT_EQ(big_content.status, 400) << describe(big_content);
  EXPECT_NE(big_content.json["message"].get<std::string>().find("memory.max-content-bytes allows"),
            std::string::npos);
  auto big_request =
      call("POST", "/v1/personas/ada/memories/search",
           R"({"query": "q", "filter": {"tags": [")" + std::string(5000, 't') + R"("]}})");
  EXPECT_EQ(big_request.status, 400) << describe(big_request);
  EXPECT_TRUE(std::regex_search(big_request.json["message"].get<std::string>(),
                                std::regex("the request is [0-9]+ bytes; limits.request-bytes "
                                           "allows 4096")));
  EXPECT_EQ(refused("too_large"), 2);
  EXPECT_EQ(remember("small").status, 201) << "the node goes on";
}

TEST_F(LimitsTest, ATenantHoldsAtMostItsLimitOfUnacknowledgedEvents) {
  auto two = call("POST", "/v1/events", R"({"events": [{"topic": "a"}, {"topic": "b"}]})");
  ASSERT_EQ(two.status, 201) << describe(two);
  auto third = call("POST", "/v1/events", R"({"topic": "c"})");
  EXPECT_EQ(third.status, 429) << describe(third);
  EXPECT_EQ(third.json["message"],
            "tenant 'default' has 2 events not yet acknowledged; limits.events-per-tenant allows "
            "2: ack or requeue some, or raise the limit");
  // Another tenant has its own count.
  EXPECT_EQ(call("POST", "/v1/events", R"({"topic": "c"})", {{"X-Neuroca-Tenant", "other"}}).status,
            201);
  EXPECT_EQ(refused("over_count"), 1);
}

class PersonaLimitTest : public LimitsTest {
 protected:
  void customize(config::Settings& s) override { s.limits.personas_per_tenant = 2; }
};

// Personas come into being by being created or by their first memory; both count, per tenant.
TEST_F(PersonaLimitTest, ATenantHoldsAtMostItsLimitOfPersonasAndGetsRoomBackOnDelete) {
  ASSERT_EQ(call("POST", "/v1/personas", R"({"id": "ada"})").status, 201);
  ASSERT_EQ(call("POST", "/v1/personas/bob/memories", R"({"content": "bob's first"})").status, 201);
  auto third = call("POST", "/v1/personas/cyd/memories", R"({"content": "cyd's first"})");
  EXPECT_EQ(third.status, 429) << describe(third);
  EXPECT_EQ(third.json["message"],
            "tenant 'default' has 2 personas; limits.personas-per-tenant allows 2: delete one, or "
            "raise the limit");
  auto created = call("POST", "/v1/personas", R"({"id": "dee"})");
  EXPECT_EQ(created.status, 429) << describe(created);
  EXPECT_EQ(call("GET", "/v1/personas/cyd").status, 404) << "the refused write created nothing";
  // The personas there go on taking memories; another tenant has its own count.
  EXPECT_EQ(call("POST", "/v1/personas/ada/memories", R"({"content": "more"})").status, 201);
  EXPECT_EQ(call("POST", "/v1/personas/cyd/memories", R"({"content": "x"})",
                 {{"X-Neuroca-Tenant", "other"}})
                .status,
            201);
  // Deleting one gives its place back.
  ASSERT_EQ(call("DELETE", "/v1/personas/bob?confirm=true").status, 200);
  EXPECT_TRUE(wait_until([&] {
    return call("POST", "/v1/personas/cyd/memories", R"({"content": "cyd at last"})").status == 201;
  })) << "bob's place never came back";
  EXPECT_EQ(call("POST", "/v1/personas/eve/memories", R"({"content": "e"})").status, 429);
  EXPECT_GE(refused("over_count"), 3);
}

class MemoryPressureTest : public GatewayFixture {
 protected:
  void customize(config::Settings& s) override { s.limits.memory_high = 1; }
};

TEST_F(MemoryPressureTest, ANodeOverItsMemoryMarkRefusesWritesAndKeepsServingReads) {
  auto write = call("POST", "/v1/personas/ada/memories", R"({"content": "hello"})");
  EXPECT_EQ(write.status, 429) << describe(write);
  EXPECT_NE(write.json["message"].get<std::string>().find("is under memory pressure"),
            std::string::npos);
  EXPECT_EQ(call("POST", "/v1/personas", R"({"id": "bob"})").status, 429);
  EXPECT_EQ(call("POST", "/v1/events", R"({"topic": "t"})").status, 429);
  auto read = call("GET", "/v1/personas/ada/memories");
  EXPECT_EQ(read.status, 200) << describe(read);
  EXPECT_EQ(call("GET", "/health").status, 200);
  auto metrics = call("GET", "/metrics");
  EXPECT_TRUE(std::regex_search(
      metrics.body, std::regex(R"(nca_requests_refused_total\{reason="memory_pressure"\} 3)")))
      << metrics.body.substr(0, 300);
}

}  // namespace
}  // namespace nca::testing
