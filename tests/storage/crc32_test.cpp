#include "storage/crc32.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace nca::storage
