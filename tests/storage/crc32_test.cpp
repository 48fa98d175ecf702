#include "storage/crc32.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

namespace nca::storage {
namespace {

TEST(Crc32Test, StandardCheckValues) {
  EXPECT_EQ(crc32c_extend(0, std::string_view("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32_ieee_extend(0, "123456789", 9), 0xCBF43926u);
  EXPECT_EQ(crc32c_extend(0, std::string_view()), 0u);
}

TEST(Crc32Test, ExtendingPieceByPieceEqualsTheWhole) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 31 + 7));
  for (size_t cut : {0u, 1u, 7u, 8u, 9u, 500u, 999u, 1000u}) {
    std::string_view a(data.data(), cut);
    std::string_view b(data.data() + cut, data.size() - cut);
    EXPECT_EQ(crc32c_extend(crc32c_extend(0, a), b), crc32c_extend(0, data)) << cut;
    EXPECT_EQ(crc32_ieee_extend(crc32_ieee_extend(0, a.data(), a.size()), b.data(), b.size()),
              crc32_ieee_extend(0, data.data(), data.size()))
        << cut;
  }
  EXPECT_NE(crc32c_extend(0, data), crc32_ieee_extend(0, data.data(), data.size()));
}

// The CPU's instruction (where crc32c_extend uses it) and the tables agree on every length and
// alignment, and when extending a running checksum.
TEST(Crc32Test, TheInstructionAgreesWithTheTables) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  std::string data(4096 + 16, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (int i = 0; i < 2000; ++i) {
    const size_t offset = rng() % 16, n = rng() % 4096;
    const uint32_t start = (i % 2 == 0) ? 0 : static_cast<uint32_t>(rng());
    const char* p = data.data() + offset;
    ASSERT_EQ(crc32c_extend(start, p, n), crc32c_extend_portable(start, p, n))
        << "offset " << offset << " length " << n << " start " << start;
  }
  EXPECT_EQ(crc32c_extend_portable(0, "123456789", 9), 0xE3069283u);
}

}  // namespace
}  // namespace nca::storage
