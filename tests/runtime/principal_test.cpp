#include "runtime/principal.hpp"

#include <gtest/gtest.h>

namespace nca {
namespace {

pb::Request remember(const std::string& tenant) {
  pb::Request r;
  r.mutable_header()->set_tenant(tenant);
  r.mutable_remember()->set_persona_id("ada");
  return r;
}

TEST(Principal, AnEmptyTenantBecomesTheCredentialsTenant) {
  pb::Request r = remember("");
  ASSERT_TRUE(authorize({"acme", Role::writer, "k"}, r, "default").ok());
  EXPECT_EQ(r.header().tenant(), "acme");
  pb::Request any = remember("");
  ASSERT_TRUE(authorize({kAnyTenant, Role::admin, "k"}, any, "default").ok());
  EXPECT_EQ(any.header().tenant(), "default");
}

TEST(Principal, AnotherTenantIsDeniedWithoutSayingWhetherItExists) {
  pb::Request r = remember("other");
  Status s = authorize({"acme", Role::admin, "k"}, r, "default");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::permission_denied);
  EXPECT_EQ(s.error().message,
            "the credentials are for tenant 'acme'; this request names tenant 'other'");
  pb::Request any = remember("other");
  EXPECT_TRUE(authorize({kAnyTenant, Role::admin, "k"}, any, "default").ok());
}

TEST(Principal, RolesAreOrdered) {
  pb::Request write = remember("acme");
  Status s = authorize({"acme", Role::reader, "k"}, write, "default");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "role reader may not send remember requests; it needs writer");

  pb::Request read;
  read.mutable_recall()->set_persona_id("ada");
  EXPECT_TRUE(authorize({"acme", Role::reader, "k"}, read, "default").ok());

  pb::Request admin;
  admin.mutable_cluster_admin();
  EXPECT_FALSE(authorize({"acme", Role::writer, "k"}, admin, "default").ok());
  EXPECT_TRUE(authorize({kAnyTenant, Role::admin, "k"}, admin, "default").ok());
  // An admin of one tenant may not run what spans all of them (a backup holds every tenant).
  pb::Request backup;
  backup.mutable_backup_shard();
  for (pb::Request* node_wide : {&admin, &backup}) {
    Status refused = authorize({"acme", Role::admin, "k"}, *node_wide, "default");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().message,
              "this view covers every tenant: it needs an admin credential for tenant '*', not a "
              "admin of tenant 'acme'");
  }
}

TEST(Principal, NodeWideViewsNeedAdmin) {
  pb::Request node_stats;
  node_stats.mutable_stats();
  EXPECT_EQ(required_role(node_stats), Role::admin);
  pb::Request persona_stats;
  persona_stats.mutable_stats()->set_persona_id("ada");
  EXPECT_EQ(required_role(persona_stats), Role::reader);
  pb::Request status;
  status.mutable_cluster_status();
  EXPECT_EQ(required_role(status), Role::admin);
  pb::Request next;
  next.mutable_next_event();
  EXPECT_EQ(required_role(next), Role::writer);
  pb::Request touch;
  touch.mutable_touch();
  EXPECT_EQ(required_role(touch), Role::writer);
}

TEST(Principal, RoleNamesRoundTrip) {
  for (Role r : {Role::reader, Role::writer, Role::admin}) {
    auto parsed = parse_role(to_string(r));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, r);
  }
  EXPECT_FALSE(parse_role("Admin").ok());
}

}  // namespace
}  // namespace nca
