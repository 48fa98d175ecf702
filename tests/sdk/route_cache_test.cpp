// Route keys follow the node's own routing (by persona, by the tenant's events, or none), and the
// cache learns, forgets only what it was told failed, and stays bounded.
#include "sdk/src/route_cache.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace nca::sdk
