#include "nca/uuid_v7.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

namespace nca {
namespace {

// The layout as RFC 9562 writes it, formatted independently of the generator.
std::string reference(const unsigned char* b) {
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return std::string(out, 36);
}

// Parses 32 hex digits back into bytes; false if the text is not 8-4-4-4-12 lowercase hex.
bool parse(const std::string& id, unsigned char* b) {
  if (id.size() != 36) return false;
  size_t n = 0;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash) {
      if (id[i] != '-') return false;
      continue;
    }
    const char c = id[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return false;
    if (n % 2 == 0)
      b[n / 2] = static_cast<unsigned char>(v << 4);
    else
      b[n / 2] |= static_cast<unsigned char>(v);
    ++n;
  }
  return n == 32;
}

TEST(UuidV7, TextIsTheRfcLayoutOfItsBytes) {
  const uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  UuidV7 gen(seed);
  for (int i = 0; i < 1000; ++i) {
    const int64_t ms = 1700000000000 + i * 7;
    const std::string id = gen.next(ms);
    unsigned char b[16];
    ASSERT_TRUE(parse(id, b)) << id;
    EXPECT_EQ(reference(b), id);
    EXPECT_EQ(b[6] >> 4, 7) << "version nibble of " << id;
    EXPECT_EQ(b[8] >> 6, 2) << "variant bits of " << id;
    int64_t stamped = 0;
    for (int k = 0; k < 6; ++k) stamped = (stamped << 8) | b[k];
    EXPECT_EQ(stamped, ms) << id;
  }
}

TEST(UuidV7, LaterIdsSortLaterWithinOneMillisecondAndWhenTheClockStepsBack) {
  UuidV7 gen(42);
  std::string last = gen.next(1700000000000);
  for (int i = 0; i < 5000; ++i) {
    const int64_t ms = 1700000000000 + (i % 3 == 0 ? -5 : i / 100);  // steps back now and then
    const std::string id = gen.next(ms);
    ASSERT_LT(last, id) << "after " << i << " ids";
    last = id;
  }
}

}  // namespace
}  // namespace nca
