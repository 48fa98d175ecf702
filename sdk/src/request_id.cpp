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

RequestIdGenerator::RequestIdGenerator() : rng_(seeded_engine()) {}

std::string RequestIdGenerator::next() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  // Within one millisecond (or if the wall clock steps back) the counter keeps ids increasing.
  if (ms <= last_ms_) {
    ms = last_ms_;
    if (++counter_ > 0x0FFF) {
      ++ms;
      counter_ = 0;
    }
  } else {
    counter_ = static_cast<uint16_t>(rng_() & 0x01FF);
  }
  last_ms_ = ms;
  uint64_t random_bits = rng_();
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>((ms >> (40 - 8 * i)) & 0xFF);
  b[6] = static_cast<unsigned char>(0x70 | ((counter_ >> 8) & 0x0F));
  b[7] = static_cast<unsigned char>(counter_ & 0xFF);
  for (int i = 0; i < 8; ++i) {
    b[8 + i] = static_cast<unsigned char>((random_bits >> (56 - 8 * i)) & 0xFF);
  }
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3F));
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return std::string(out, 36);
}

}  // namespace nca::sdk
