// Credentials, roles, tenant binding and rate limits on a node with auth on (DESIGN §8), through
// HTTP, the SDK and raw CAF messages; and tenant isolation: everything tenant B tries on tenant
// A's personas, memories and events fails exactly as it does for ids that exist nowhere.
#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <fstream>
#include <regex>

#include "actors/api_actor.hpp"
#include "actors/peer_transport.hpp"
#include "proto/wire.hpp"
#include "runtime/api_keys.hpp"
#include "runtime/jwt.hpp"
#include "tests/http/auth_fixture.hpp"

namespace nca::testing {
namespace {

class AuthTest : public AuthFixture {};

TEST_F(AuthTest, NoOrBadCredentialsAre401WithAReason) {
  auto none = call("GET", "/v1/personas");
  EXPECT_EQ(none.status, 401) << describe(none);
  EXPECT_EQ(none.json["code"], "UNAUTHENTICATED");
  EXPECT_NE(none.json["message"].get<std::string>().find("Authorization: Bearer"),
            std::string::npos);
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer realm=\"neuroca\"");

  std::string forged = keys_.at("a_writer");
  forged.back() = forged.back() == 'x' ? 'y' : 'x';
  auto bad = call("GET", "/v1/personas", "", {{"Authorization", "Bearer " + forged}});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.json["message"], "unknown or revoked API key");

  JwtClaims expired;
  expired.tenant = "tenant-a";
  expired.role = Role::writer;
  expired.expires_at_s = node_->context().clock->now_us() / kUsPerSecond - 3600;
  auto old = call("GET", "/v1/personas", "",
                  {{"Authorization", "Bearer " + sign_jwt(expired, kJwtSecret)}});
  EXPECT_EQ(old.status, 401);
  EXPECT_NE(old.json["message"].get<std::string>().find("JWT expired"), std::string::npos);

  JwtClaims other_secret = expired;
  other_secret.expires_at_s += 7200;
  auto wrong = call("GET", "/v1/personas", "",
                    {{"Authorization", "Bearer " + sign_jwt(other_secret, std::string(40, 'z'))}});
  EXPECT_EQ(wrong.status, 401);
  // Liveness and readiness stay open for load balancers; they say nothing about any tenant.
  EXPECT_EQ(call("GET", "/health").status, 200);
  EXPECT_TRUE(wait_until([&] { return call("GET", "/ready").status == 200; }))
      << describe(call("GET", "/ready"));
}

TEST_F(AuthTest, AValidJwtActsForItsTenantAndRole) {
  JwtClaims claims;
  claims.tenant = "tenant-a";
  claims.role = Role::writer;
  claims.subject = "agent-7";
  claims.expires_at_s = node_->context().clock->now_us() / kUsPerSecond + 600;
  httplib::Headers h = {{"Authorization", "Bearer " + sign_jwt(claims, kJwtSecret)}};
  ASSERT_EQ(call("POST", "/v1/personas", R"({"id": "ada"})", h).status, 201);
  // The key of the same tenant sees what the token wrote: one tenant, two credentials.
  auto seen = call_as("a_reader", "GET", "/v1/personas/ada");
  EXPECT_EQ(seen.status, 200) << describe(seen);
  EXPECT_EQ(call_as("b_writer", "GET", "/v1/personas/ada").status, 404);
}

TEST_F(AuthTest, RolesDecideWhatACredentialMaySend) {
  ASSERT_EQ(call_as("a_writer", "POST", "/v1/personas", R"({"id": "ada"})").status, 201);
  auto wrote = call_as("a_writer", "POST", "/v1/personas/ada/memories",
                       R"({"content": "Ada is allergic to peanuts"})");
  ASSERT_EQ(wrote.status, 201) << describe(wrote);

  auto read = call_as("a_reader", "POST", "/v1/personas/ada/memories/search",
                      R"({"query": "peanuts", "k": 3})");
  EXPECT_EQ(read.status, 200) << describe(read);
  auto refused = call_as("a_reader", "POST", "/v1/personas/ada/memories", R"({"content": "x"})");
  EXPECT_EQ(refused.status, 403) << describe(refused);
  EXPECT_EQ(refused.json["message"], "role reader may not send remember requests; it needs writer");
  EXPECT_EQ(call_as("a_reader", "DELETE", "/v1/personas/ada?confirm=true").status, 403);
  EXPECT_EQ(call_as("a_writer", "GET", "/v1/stats").status, 403) << "node-wide counts";
}

TEST_F(AuthTest, NodeWideViewsNeedAnAdminOfEveryTenant) {
  for (std::string path : {"/metrics", "/v1/cluster", "/v1/events/stats"}) {
    EXPECT_EQ(call("GET", path).status, 401) << path;
    EXPECT_EQ(call_as("a_writer", "GET", path).status, 403) << path;
    auto tenant_admin = call_as("b_admin", "GET", path);
    EXPECT_EQ(tenant_admin.status, 403) << path;
    EXPECT_EQ(tenant_admin.json["message"],
              "this view covers every tenant: it needs an admin credential for tenant '*', not a "
              "admin of tenant 'tenant-b'");
    EXPECT_EQ(call_as("root", "GET", path).status, 200) << path;
  }
  auto metrics = call_as("root", "GET", "/metrics");
  EXPECT_TRUE(std::regex_search(
      metrics.body, std::regex(R"(nca_requests_refused_total\{reason="unauthenticated"\} [1-9])")))
      << metrics.body.substr(0, 400);
}

TEST_F(AuthTest, ARequestForAnotherTenantIsRefusedAlikeWhetherOrNotItExists) {
  ASSERT_EQ(call_as("a_writer", "POST", "/v1/personas", R"({"id": "ada"})").status, 201);
  auto h = as("b_writer");
  h.emplace("X-Neuroca-Tenant", "tenant-a");
  auto existing = call("GET", "/v1/personas/ada", "", h);
  h = as("b_writer");
  h.emplace("X-Neuroca-Tenant", "tenant-zzz");
  auto missing = call("GET", "/v1/personas/ada", "", h);
  EXPECT_EQ(existing.status, 403);
  EXPECT_EQ(missing.status, 403);
  EXPECT_EQ(
      std::regex_replace(existing.json["message"].get<std::string>(), std::regex("tenant-a"), "T"),
      std::regex_replace(missing.json["message"].get<std::string>(), std::regex("tenant-zzz"),
                         "T"));
  // An admin of every tenant may name one.
  h = as("root");
  h.emplace("X-Neuroca-Tenant", "tenant-a");
  EXPECT_EQ(call("GET", "/v1/personas/ada", "", h).status, 200);
}

TEST_F(AuthTest, ARevokedKeyStopsWorkingWithoutARestart) {
  ASSERT_EQ(call_as("a_writer", "GET", "/v1/personas").status, 200);
  {
    std::ofstream out(keys_file_, std::ios::trunc);
    out << lines_.at("a_reader") << "\n" << lines_.at("root") << "\n";
  }
  EXPECT_TRUE(wait_until([&] { return call_as("a_writer", "GET", "/v1/personas").status == 401; }))
      << "the keys file is looked at once a second";
  EXPECT_EQ(call_as("a_reader", "GET", "/v1/personas").status, 200);
  // A broken edit keeps the keys in force.
  {
    std::ofstream out(keys_file_, std::ios::app);
    out << "not a key line\n";
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(call_as("a_reader", "GET", "/v1/personas").status, 200);
  }
}

TEST_F(AuthTest, TheSdkSendsItsCredential) {
  const std::string address = "127.0.0.1:" + std::to_string(node_->port());
  ClientOptions with;
  with.auth_token = keys_.at("a_writer");
  auto client = Client::connect({address}, with);
  ASSERT_TRUE(client.ok()) << client.error().message;
  auto remembered = (*client)->remember("ada", "Ada likes tea");
  ASSERT_TRUE(remembered.ok()) << remembered.error().message;
  EXPECT_EQ(remembered->item().tenant(), "tenant-a");

  auto anonymous = Client::connect({address});
  ASSERT_TRUE(anonymous.ok());
  auto refused = (*anonymous)->remember("ada", "x");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::unauthenticated);

  ClientOptions elsewhere = with;
  elsewhere.tenant = "tenant-b";
  auto crossing = Client::connect({address}, elsewhere);
  ASSERT_TRUE(crossing.ok());
  auto denied = (*crossing)->recall("ada", "tea");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, ErrorCode::permission_denied);
}

// A client that speaks the node-internal messages (what peers and the node's own actors send) is
// refused: they would skip the credential check.
TEST_F(AuthTest, NodeInternalMessagesFromAClientAreRefused) {
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  auto api = sys.middleman().remote_actor("127.0.0.1", node_->port());
  ASSERT_TRUE(api) << sys.render(api.error());
  pb::Request req;
  req.mutable_header()->set_tenant("tenant-a");
  req.mutable_list_personas();
  const uint32_t method = pb::Request::kListPersonas;
  caf::scoped_actor self{sys};
  auto expect_denied = [&](auto atom) {
    pb::Response resp;
    self->request(*api, std::chrono::seconds(5), atom, method, req.SerializeAsString())
        .receive(
            [&](uint32_t, const std::string& bytes) { ASSERT_TRUE(resp.ParseFromString(bytes)); },
            [&](caf::error& e) { FAIL() << sys.render(e); });
    EXPECT_EQ(resp.status().code(), pb::PERMISSION_DENIED) << resp.status().message();
  };
  expect_denied(actors::local_request_atom::value);
  expect_denied(actors::forwarded_atom::value);
  // And the envelope still wants a credential.
  pb::Response resp;
  self->request(*api, std::chrono::seconds(5), wire::envelope_atom::value, method,
                req.SerializeAsString())
      .receive(
          [&](uint32_t, const std::string& bytes) { ASSERT_TRUE(resp.ParseFromString(bytes)); },
          [&](caf::error& e) { FAIL() << sys.render(e); });
  EXPECT_EQ(resp.status().code(), pb::UNAUTHENTICATED);
}

class RateLimitTest : public AuthFixture {
 protected:
  void limit(config::Settings& s) override {
    s.limits.rate_per_tenant = 0.5;  // slow enough that no token comes back during the test
    s.limits.burst_per_tenant = 3;
  }
};

TEST_F(RateLimitTest, ATenantOverItsRateGets429AndOthersAreUnaffected) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(call_as("a_writer", "GET", "/v1/personas").status, 200) << i;
  }
  auto over = call_as("a_reader", "GET", "/v1/personas");  // same tenant, other key
  EXPECT_EQ(over.status, 429) << describe(over);
  EXPECT_EQ(over.json["code"], "RESOURCE_EXHAUSTED");
  EXPECT_TRUE(std::regex_search(over.json["message"].get<std::string>(),
                                std::regex("tenant 'tenant-a' is over its request rate .*retry in "
                                           "[0-9]+ ms")))
      << over.json["message"];
  EXPECT_EQ(call_as("b_writer", "GET", "/v1/personas").status, 200);
  auto metrics = call_as("root", "GET", "/metrics");
  EXPECT_TRUE(std::regex_search(
      metrics.body, std::regex(R"(nca_requests_refused_total\{reason="rate_limited"\} 1)")));
}

}  // namespace
}  // namespace nca::testing
