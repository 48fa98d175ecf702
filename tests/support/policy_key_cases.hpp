// tests/support/policy_key_cases.hpp: checks that config keys reach the plain policy struct a
// domain reads (MemoryPolicy, EventPolicy): each key is set from text, as a config file or NCA_
// variable would set it, to a value no default has, and the policy derived from the settings must
// carry it. A key that parses and validates and is then ignored fails here.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "config/schema.hpp"

namespace nca::testing {

template <typename Policy>
struct PolicyKeyCase {
  const char* key;
  const char* value;
  std::function<double(const Policy&)> read;
  double want;
};

template <typename Policy>
void expect_keys_reach_policy(const std::vector<PolicyKeyCase<Policy>>& cases,
                              Policy (*from)(const config::Settings&)) {
  const Policy defaults = from(config::defaults());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key);
    // The value must differ from the default, or the case proves nothing.
    ASSERT_NE(c.read(defaults), c.want) << "pick a value other than the default";
    config::Settings s = config::defaults();
    Status set = config::set(s, c.key, c.value);
    ASSERT_TRUE(set.ok()) << set.error().message;
    EXPECT_DOUBLE_EQ(c.read(from(s)), c.want);
  }
}

}  // namespace nca::testing
