#include "runtime/ids.hpp"

#include <cstdio>

namespace nca {

IdGenerator::IdGenerator(const Clock& clock, uint64_t seed) : clock_(clock), rng_(seed) {}

std::string IdGenerator::uuid_v7() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t ms = clock_.now_us() / 1000;
  // A 12-bit counter in rand_a keeps ids monotonic within one millisecond (RFC 9562, method 1).
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
  uint64_t rand_b = rng_();
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>((ms >> (40 - 8 * i)) & 0xFF);
  b[6] = static_cast<unsigned char>(0x70 | ((counter_ >> 8) & 0x0F));
  b[7] = static_cast<unsigned char>(counter_ & 0xFF);
  for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<unsigned char>((rand_b >> (56 - 8 * i)) & 0xFF);
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3F));
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return std::string(out, 36);
}

Status validate_id(std::string_view id, std::string_view what) {
  if (id.empty()) return make_error(ErrorCode::invalid_argument, std::string(what) + " must not be empty");
  if (id.size() > 128) {
    return make_error(ErrorCode::invalid_argument,
                      std::string(what) + " is " + std::to_string(id.size()) +
                          " bytes; at most 128 are allowed");
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
    if (!ok) {
      return make_error(ErrorCode::invalid_argument,
                        std::string(what) + " '" + std::string(id) +
                            "' has a character outside [A-Za-z0-9._:@-]");
    }
  }
  return {};
}

}  // namespace nca
