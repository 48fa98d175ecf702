// tests/support/test_seed.hpp: the seed of a randomized test. NCA_TEST_SEED replays a failure;
// otherwise a fresh one. It is printed either way, so a red run names the seed that reproduces it.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

namespace nca::testing {

inline uint64_t test_seed(const std::string& what) {
  uint64_t seed = 0;
  if (const char* fixed = std::getenv("NCA_TEST_SEED"); fixed != nullptr && *fixed != '\0') {
    seed = std::strtoull(fixed, nullptr, 10);
  } else {
    seed = (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
  }
  std::cout << "[ seed     ] " << what << ": " << seed << " (replay with NCA_TEST_SEED=" << seed
            << ")" << std::endl;
  return seed;
}

}  // namespace nca::testing
