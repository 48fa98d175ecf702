#include "runtime/vector_math.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace nca {
namespace {

TEST(VectorMathTest, NormalizeMakesUnitLengthAndKeepsZero) {
  std::vector<float> v = {3.f, 4.f};
  l2_normalize(v);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
  std::vector<float> zero(5, 0.f);
  l2_normalize(zero);
  for (float x : zero) EXPECT_EQ(x, 0.f);
  std::vector<float> empty;
  l2_normalize(empty);
  EXPECT_TRUE(empty.empty());
  // Tiny values still normalise (the norm is accumulated in double).
  std::vector<float> tiny = {1e-30f, 1e-30f};
  l2_normalize(tiny);
  EXPECT_NEAR(tiny[0], std::sqrt(0.5f), 1e-6);
}

TEST(VectorMathTest, DotMatchesNaiveSumForAllTailLengths) {
  for (size_t n = 0; n < 13; ++n) {
    std::vector<float> a(n), b(n);
    double expected = 0;
    for (size_t i = 0; i < n; ++i) {
      a[i] = 0.5f * static_cast<float>(i) - 1.f;
      b[i] = 2.f - 0.25f * static_cast<float>(i);
      expected += static_cast<double>(a[i]) * b[i];
    }
    EXPECT_NEAR(dot(a.data(), b.data(), n), expected, 1e-4) << n;
  }
}

TEST(VectorMathTest, ValidateAcceptsAGoodEmbedding) {
  std::vector<float> v(384, 0.f);
  v[3] = 1.f;
  EXPECT_TRUE(validate_embedding(v, 384, "embedding").ok());
}

TEST(VectorMathTest, ValidateNamesWhatIsWrong) {
  std::vector<float> short_v(12, 0.5f);
  auto s = validate_embedding(short_v, 384, "embedding");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(s.error().message, "embedding has 12 values; this node's memory.dim is 384");

  std::vector<float> v(4, 0.5f);
  v[2] = std::numeric_limits<float>::quiet_NaN();
  s = validate_embedding(v, 4, "query embedding");
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_NE(s.error().message.find("query embedding has NaN at position 2"), std::string::npos);

  v[2] = -std::numeric_limits<float>::infinity();
  s = validate_embedding(v, 4, "embedding");
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_NE(s.error().message.find("infinite"), std::string::npos);

  std::vector<float> zero(4, 0.f);
  s = validate_embedding(zero, 4, "embedding");
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_NE(s.error().message.find("all zeros"), std::string::npos);
}

}  // namespace
}  // namespace nca
