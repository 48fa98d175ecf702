// Every events.* key of the config reaches EventPolicy (set from text, as a config file would).
#include "runtime/event_policy.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "config/schema.hpp"
#include "tests/support/policy_key_cases.hpp"

namespace nca {
namespace {

TEST(EventPolicy, EveryEventsKeyReachesThePolicy) {
  const std::vector<nca::testing::PolicyKeyCase<EventPolicy>> cases = {
      {"events.lease", "45s", [](const EventPolicy& p) { return double(p.lease_us); }, 45e6},
      {"events.max-attempts", "3", [](const EventPolicy& p) { return double(p.max_attempts); }, 3},
      {"events.default-capacity", "9",
       [](const EventPolicy& p) { return double(p.default_capacity); }, 9},
      {"events.aging", "12s", [](const EventPolicy& p) { return double(p.aging_us); }, 12e6},
      {"events.max-wait", "5s", [](const EventPolicy& p) { return double(p.max_wait_us); }, 5e6},
      {"events.retention", "2d", [](const EventPolicy& p) { return double(p.retention_us); },
       2 * 86400e6},
      {"events.max-batch", "250", [](const EventPolicy& p) { return double(p.max_batch); }, 250},
      {"events.max-payload-bytes", "4096",
       [](const EventPolicy& p) { return double(p.max_payload_bytes); }, 4096},
      {"events.memory-delay", "7ms", [](const EventPolicy& p) { return double(p.memory_delay_us); },
       7e3},
  };
  nca::testing::expect_keys_reach_policy(cases, &event_policy_from);
}

TEST(EventPolicy, TheConfigDefaultsAreThePolicyDefaults) {
  const EventPolicy from_config = event_policy_from(config::defaults());
  const EventPolicy plain;
  EXPECT_EQ(from_config.lease_us, plain.lease_us);
  EXPECT_EQ(from_config.max_attempts, plain.max_attempts);
  EXPECT_EQ(from_config.default_capacity, plain.default_capacity);
  EXPECT_EQ(from_config.aging_us, plain.aging_us);
  EXPECT_EQ(from_config.max_wait_us, plain.max_wait_us);
  EXPECT_EQ(from_config.retention_us, plain.retention_us);
  EXPECT_EQ(from_config.max_batch, plain.max_batch);
  EXPECT_EQ(from_config.memory_delay_us, plain.memory_delay_us);
  EXPECT_EQ(from_config.max_payload_bytes, plain.max_payload_bytes);
}

}  // namespace
}  // namespace nca
