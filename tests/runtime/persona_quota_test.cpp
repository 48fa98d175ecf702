// PersonaQuota: a tenant gets at most its limit of personas, counting places held for personas
// being created; known personas always pass; places expire; tenants are apart.
#include "runtime/persona_quota.hpp"

#include <gtest/gtest.h>

namespace nca {
namespace {

constexpr TimeUs kHold = 1'000'000;

TEST(PersonaQuota, HeldPlacesCountTowardsTheLimit) {
  PersonaQuota q(3, kHold);
  EXPECT_TRUE(q.admit("acme", "a", 1, false, 0).ok());
  EXPECT_TRUE(q.admit("acme", "b", 1, false, 0).ok());
  auto refused = q.admit("acme", "c", 1, false, 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::resource_exhausted);
  EXPECT_EQ(refused.error().message,
            "tenant 'acme' has 3 personas; limits.personas-per-tenant allows 3: delete one, or "
            "raise the limit");
  EXPECT_EQ(q.held("acme", 0), 2u);
}

TEST(PersonaQuota, KnownPersonasAndRetriesAlwaysPass) {
  PersonaQuota q(2, kHold);
  EXPECT_TRUE(q.admit("acme", "a", 2, true, 0).ok()) << "a write to an existing persona";
  EXPECT_FALSE(q.admit("acme", "b", 2, false, 0).ok());
  PersonaQuota r(2, kHold);
  EXPECT_TRUE(r.admit("acme", "b", 1, false, 0).ok());
  EXPECT_TRUE(r.admit("acme", "b", 1, false, 10).ok()) << "the same persona asking again";
  EXPECT_EQ(r.held("acme", 10), 1u);
}

TEST(PersonaQuota, SettledAndExpiredPlacesAreGivenBack) {
  PersonaQuota q(2, kHold);
  ASSERT_TRUE(q.admit("acme", "a", 0, false, 0).ok());
  ASSERT_TRUE(q.admit("acme", "b", 0, false, 0).ok());
  EXPECT_FALSE(q.admit("acme", "c", 0, false, 0).ok());
  q.settled("acme", "a");  // a's profile arrived: it is now among the known
  EXPECT_FALSE(q.admit("acme", "c", 1, false, 0).ok());
  EXPECT_TRUE(q.admit("acme", "c", 0, false, 0).ok()) << "a was deleted again";
  EXPECT_FALSE(q.admit("acme", "d", 0, false, kHold - 1).ok());
  EXPECT_TRUE(q.admit("acme", "d", 0, false, kHold).ok()) << "b's and c's places expired";
}

TEST(PersonaQuota, TenantsAreCountedApartAndZeroMeansNoLimit) {
  PersonaQuota q(1, kHold);
  EXPECT_TRUE(q.admit("acme", "a", 0, false, 0).ok());
  EXPECT_TRUE(q.admit("globex", "a", 0, false, 0).ok());
  EXPECT_FALSE(q.admit("acme", "b", 0, false, 0).ok());
  PersonaQuota none(0, kHold);
  EXPECT_TRUE(none.admit("acme", "z", 1'000'000, false, 0).ok());
  EXPECT_EQ(none.held("acme", 0), 0u);
}

}  // namespace
}  // namespace nca
