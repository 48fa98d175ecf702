#include "storage/encoding.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace nca::storage {
namespace {

TEST(EncodingTest, VarintsRoundTripAtEveryLengthBoundary) {
  const uint64_t values[] = {
      0, 1, 127, 128, 16383, 16384, (1ULL << 32), (1ULL << 63) - 1, 1ULL << 63, UINT64_MAX};
  std::string out;
  for (uint64_t v : values) put_varint(out, v);
  std::string_view in = out;
  for (uint64_t v : values) {
    uint64_t got = 0;
    ASSERT_TRUE(get_varint(in, &got)) << v;
    EXPECT_EQ(got, v);
  }
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(std::string(1, '\x7f'), [] {
    std::string s;
    put_varint(s, 127);
    return s;
  }());
}

TEST(EncodingTest, ATruncatedVarintIsRefused) {
  std::string out;
  put_varint(out, 1ULL << 40);
  out.pop_back();
  std::string_view in = out;
  uint64_t got = 7;
  EXPECT_FALSE(get_varint(in, &got));
  EXPECT_EQ(got, 7u);  // untouched on failure
}

TEST(EncodingTest, AVarintOverflowing64BitsIsRefused) {
  // Ten bytes whose last one carries more than the 64th bit.
  std::string out(9, '\xff');
  out.push_back('\x02');
  std::string_view in = out;
  uint64_t got = 0;
  EXPECT_FALSE(get_varint(in, &got));
  // Eleven continuation bytes never end.
  std::string endless(11, '\x80');
  std::string_view in2 = endless;
  EXPECT_FALSE(get_varint(in2, &got));
}

TEST(EncodingTest, LoadLe32ReadsLittleEndian) {
  const unsigned char bytes[] = {0x78, 0x56, 0x34, 0x12};
  EXPECT_EQ(load_le32(bytes), 0x12345678u);
}

}  // namespace
}  // namespace nca::storage
