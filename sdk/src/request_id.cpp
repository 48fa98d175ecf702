#include "sdk/src/request_id.hpp"

#include <chrono>
#include <cstdio>

namespace nca::sdk {

namespace {

std::mt19937_64 seeded_engine() {
  std::random_device device;
  std::seed_seq seed{device(), device(), device(), device()};
  return std::mt19937_64(seed);
}

}  // namespace

RequestIdGenerator::RequestIdGenerator() : uuid_(seeded_engine()()) {}

std::string RequestIdGenerator::next() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  return uuid_.next(ms);
}

}  // namespace nca::sdk
