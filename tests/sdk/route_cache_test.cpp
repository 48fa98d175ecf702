// Route keys follow the node's own routing (by persona, by the tenant's events, or none), and the
// cache learns, forgets only what it was told failed, and stays bounded.
#include "sdk/src/route_cache.hpp"

#include <gtest/gtest.h>

#include "nca/shard_of.hpp"

namespace nca::sdk {
namespace {

pb::Request with_tenant(const std::string& tenant) {
  pb::Request r;
  r.mutable_header()->set_tenant(tenant);
  return r;
}

TEST(RouteKey, PersonaRequestsShareTheirPersonasKeyPerTenant) {
  pb::Request remember = with_tenant("acme");
  remember.mutable_remember()->set_persona_id("ada");
  pb::Request recall = with_tenant("acme");
  recall.mutable_recall()->set_persona_id("ada");
  pb::Request get = with_tenant("acme");
  get.mutable_get()->set_id("m1");
  get.mutable_get()->set_persona_id("ada");
  pb::Request create = with_tenant("acme");
  create.mutable_create_persona()->mutable_persona()->set_id("ada");
  EXPECT_FALSE(route_key(remember).empty());
  EXPECT_EQ(route_key(remember), route_key(recall));
  EXPECT_EQ(route_key(remember), route_key(get));
  EXPECT_EQ(route_key(remember), route_key(create));
  pb::Request other_tenant = with_tenant("globex");
  other_tenant.mutable_remember()->set_persona_id("ada");
  EXPECT_NE(route_key(remember), route_key(other_tenant));
}

TEST(RouteKey, EventRequestsRouteByTenantAndOthersNotAtAll) {
  pb::Request next = with_tenant("acme");
  next.mutable_next_event()->set_persona_id("ada");
  pb::Request publish = with_tenant("acme");
  publish.mutable_publish();
  pb::Request remember = with_tenant("acme");
  remember.mutable_remember()->set_persona_id("ada");
  EXPECT_EQ(route_key(next), route_key(publish)) << "events are served by the tenant's node";
  EXPECT_NE(route_key(next), route_key(remember));
  pb::Request by_id = with_tenant("acme");
  by_id.mutable_get()->set_id("m1");  // no persona hint: the node looks the item up
  EXPECT_EQ(route_key(by_id), "");
  pb::Request shared = with_tenant("acme");
  shared.mutable_recall()->set_persona_id("ada");
  shared.mutable_recall()->set_include_shared(true);
  EXPECT_EQ(route_key(shared), "");
  pb::Request ping;
  ping.mutable_ping();
  EXPECT_EQ(route_key(ping), "");
}

TEST(RouteCache, LearnsForgetsWhatFailedAndStaysBounded) {
  RouteCache cache(2);
  EXPECT_FALSE(cache.find("a"));
  cache.learn("a", "127.0.0.1:7001");
  ASSERT_TRUE(cache.find("a"));
  EXPECT_EQ(cache.find("a")->to_string(), "127.0.0.1:7001");
  cache.learn("a", "not an address");
  EXPECT_EQ(cache.find("a")->to_string(), "127.0.0.1:7001") << "a bad report changes nothing";
  cache.learn("a", "127.0.0.1:7002");
  cache.forget("a", "127.0.0.1:7001");  // an older failure: the newer route stays
  EXPECT_EQ(cache.find("a")->to_string(), "127.0.0.1:7002");
  cache.forget("a", "127.0.0.1:7002");
  EXPECT_FALSE(cache.find("a"));
  cache.learn("a", "127.0.0.1:1");
  cache.learn("b", "127.0.0.1:2");
  cache.learn("c", "127.0.0.1:3");  // full: starts over
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.find("c"));
  cache.forget("c");
  EXPECT_FALSE(cache.find("c")) << "forgotten whatever it named";
  cache.learn("c", "127.0.0.1:3");
  cache.learn("", "127.0.0.1:4");
  EXPECT_EQ(cache.size(), 1u) << "no key, no route";
}

std::string persona_route(const std::string& tenant, const std::string& persona) {
  pb::Request r = with_tenant(tenant);
  r.mutable_remember()->set_persona_id(persona);
  return route_key(r);
}

// Another persona of `tenant` that lives on `shard` of `shards` (nca/shard_of.hpp), or on another
// shard when `same` is false.
std::string persona_on(const std::string& tenant, uint32_t shard, uint32_t shards, bool same) {
  for (int i = 0; i < 10'000; ++i) {
    std::string p = "p" + std::to_string(i);
    if ((nca::shard_of(tenant, p, shards) == shard) == same) return p;
  }
  ADD_FAILURE() << "no persona found";
  return "";
}

// Routes of acme's personas in a cluster of 8 shards: ada, a sibling on ada's shard and a stranger
// on another.
class ShardRoutes : public ::testing::Test {
 protected:
  RouteCache cache;
  const uint32_t shards = 8;
  const uint32_t ada_shard = nca::shard_of("acme", "ada", shards);
  const std::string ada = persona_route("acme", "ada");
  const std::string sibling = persona_route("acme", persona_on("acme", ada_shard, shards, true));
  const std::string stranger = persona_route("acme", persona_on("acme", ada_shard, shards, false));
};

TEST_F(ShardRoutes, OneForwardedReplyTeachesTheRouteOfItsWholeShard) {
  cache.learn(ada, "127.0.0.1:7001", {ada_shard, shards, "acme"});
  EXPECT_EQ(cache.shard_count(), shards);
  ASSERT_TRUE(cache.find(ada));
  EXPECT_EQ(cache.find(ada)->to_string(), "127.0.0.1:7001");
  ASSERT_TRUE(cache.find(sibling)) << "a persona of the same shard, never asked for";
  EXPECT_EQ(cache.find(sibling)->to_string(), "127.0.0.1:7001");
  EXPECT_FALSE(cache.find(stranger)) << "another shard is still unknown";
  EXPECT_EQ(cache.size(), 1u) << "one entry for the shard, none per persona";

  // The shard moves: a reply for the sibling corrects the route of ada too.
  cache.learn(sibling, "127.0.0.1:7002", {ada_shard, shards, "acme"});
  EXPECT_EQ(cache.find(ada)->to_string(), "127.0.0.1:7002");
  // Its node fails: the shard's route is given up, for every persona on it.
  cache.forget(ada, "127.0.0.1:7002");
  EXPECT_FALSE(cache.find(sibling));
  cache.learn(ada, "127.0.0.1:7003", {ada_shard, shards, "acme"});
  cache.forget(sibling);
  EXPECT_FALSE(cache.find(ada));
}

TEST_F(ShardRoutes, AShardThatIsNotTheComputedOneIsLearnedForItsPersonaAlone) {
  cache.learn(ada, "127.0.0.1:7001", {(ada_shard + 1) % shards, shards, "acme"});
  EXPECT_EQ(cache.shard_count(), 0u);
  ASSERT_TRUE(cache.find(ada));
  EXPECT_FALSE(cache.find(sibling));
  // Event routes (per tenant) never become shard routes.
  pb::Request publish = with_tenant("acme");
  publish.mutable_publish();
  cache.learn(route_key(publish), "127.0.0.1:7004", {0, shards, "acme"});
  EXPECT_EQ(cache.find(route_key(publish))->to_string(), "127.0.0.1:7004");
  EXPECT_EQ(cache.shard_count(), 0u);
  // A reply without a shard keeps the per-persona behaviour, also once the count is known.
  cache.learn(ada, "127.0.0.1:7005", {ada_shard, shards, "acme"});
  EXPECT_EQ(cache.shard_count(), shards);
  cache.learn(stranger, "127.0.0.1:7006");
  EXPECT_EQ(cache.find(stranger)->to_string(), "127.0.0.1:7006");
  // ...and a persona's own entry wins over its shard's route.
  cache.learn(sibling, "127.0.0.1:7009");
  EXPECT_EQ(cache.find(sibling)->to_string(), "127.0.0.1:7009");
  EXPECT_EQ(cache.find(ada)->to_string(), "127.0.0.1:7005");
  // A new shard count voids the shard routes learned under the old one: a persona that shared
  // ada's shard of 8 but not of 16 is unknown again.
  const uint32_t ada_in_16 = nca::shard_of("acme", "ada", 16);
  std::string moved;
  for (int i = 0; i < 10'000 && moved.empty(); ++i) {
    std::string p = "m" + std::to_string(i);
    if (nca::shard_of("acme", p, shards) == ada_shard && nca::shard_of("acme", p, 16) != ada_in_16)
      moved = p;
  }
  ASSERT_FALSE(moved.empty());
  EXPECT_EQ(cache.find(persona_route("acme", moved))->to_string(), "127.0.0.1:7005");
  cache.learn(ada, "127.0.0.1:7007", {ada_in_16, 16, "acme"});
  EXPECT_EQ(cache.shard_count(), 16u);
  EXPECT_EQ(cache.find(ada)->to_string(), "127.0.0.1:7007");
  EXPECT_FALSE(cache.find(persona_route("acme", moved)));
}

// A client that names no tenant gets the node's default (or its credentials'): the reply says
// which, and the client's other personas are placed under it too.
TEST_F(ShardRoutes, RequestsWithoutATenantUseTheOneTheNodePlacedThemUnder) {
  const uint32_t shard = nca::shard_of("default", "ada", shards);
  const std::string untenanted = persona_route("", "ada");
  const std::string other = persona_route("", persona_on("default", shard, shards, true));
  cache.learn(untenanted, "127.0.0.1:7001", {shard, shards, ""});
  EXPECT_FALSE(cache.find(other)) << "no tenant said: nothing to compute a shard from";
  cache.learn(untenanted, "127.0.0.1:7001", {shard, shards, "default"});
  ASSERT_TRUE(cache.find(other));
  EXPECT_EQ(cache.find(other)->to_string(), "127.0.0.1:7001");
  // A persona named under a tenant is placed under that tenant, whatever the default.
  const std::string named = persona_route("default", persona_on("default", shard, shards, true));
  EXPECT_EQ(cache.find(named)->to_string(), "127.0.0.1:7001");
  const std::string elsewhere = persona_route("globex", persona_on("globex", shard, shards, false));
  EXPECT_FALSE(cache.find(elsewhere)) << "a persona of another tenant, on another shard";
}

}  // namespace
}  // namespace nca::sdk
