// nca/uuid_v7.hpp: UUIDv7 strings (RFC 9562), shared by the SDK (request ids) and the node (item
// ids).
//
// Time-ordered: ids made later sort later, also within one millisecond (a 12-bit counter, method 1)
// and when the caller's clock steps back (the last millisecond is kept). Not thread-safe: callers
// that share one generator hold their own lock. The caller supplies the time, so tests can fix it.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace nca {

// 16 bytes as a UUID's text, 8-4-4-4-12 lowercase hex. By hand, not snprintf: ids are made on
// every publish and every SDK call, and glibc's snprintf with 16 arguments takes its positional
// path, which allocates.
inline std::string uuid_text(const unsigned char (&b)[16]) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t at = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++at;  // the dashes
    out[at++] = kHex[b[i] >> 4];
    out[at++] = kHex[b[i] & 0x0F];
  }
  return out;
}

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
    return uuid_text(b);
  }

 private:
  std::mt19937_64 rng_;
  int64_t last_ms_ = 0;
  uint16_t counter_ = 0;
};

}  // namespace nca
