// nca/uuid_v7.hpp: UUIDv7 strings (RFC 9562), shared by the SDK (request ids) and the node (item ids).
//
// Time-ordered: ids made later sort later, also within one millisecond (a 12-bit counter, method 1) and
// when the caller's clock steps back (the last millisecond is kept). Not thread-safe: callers that share
// one generator hold their own lock. The caller supplies the time, so tests can fix it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

namespace nca {

class UuidV7 {
 public:
  explicit UuidV7(uint64_t seed) : rng_(seed) {}

  std::string next(int64_t now_ms) {
    int64_t ms = now_ms;
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
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
    return std::string(out, 36);
  }

 private:
  std::mt19937_64 rng_;
  int64_t last_ms_ = 0;
  uint16_t counter_ = 0;
};

}  // namespace nca
