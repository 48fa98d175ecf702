#include "runtime/crypto.hpp"

#include <gtest/gtest.h>

namespace nca {
namespace {

TEST(Crypto, Sha256MatchesTheFipsVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Crypto, HmacMatchesRfc4231CaseTwo) {
  std::string mac = hmac_sha256("Jefe", "what do ya want for nothing?");
  ASSERT_EQ(mac.size(), 32u);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : mac) hex += std::string{kHex[c >> 4], kHex[c & 15]};
  EXPECT_EQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, Base64UrlRoundTripsEveryLengthAndRejectsJunk) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    auto back = base64url_decode(base64url_encode(bytes));
    ASSERT_TRUE(back.has_value()) << i;
    EXPECT_EQ(*back, bytes) << i;
    bytes += static_cast<char>(i * 37 + 255);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("ab=c").has_value());
  EXPECT_FALSE(base64url_decode("a+b/").has_value());
  EXPECT_FALSE(base64url_decode("abcde").has_value());  // 5 chars: no byte count fits
  EXPECT_FALSE(base64url_decode("-_9").has_value());    // non-zero leftover bits
}

TEST(Crypto, ConstantTimeEqualComparesLengthAndBytes) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret!"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Crypto, RandomBytesDiffer) {
  auto a = random_bytes(32);
  auto b = random_bytes(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
}

}  // namespace
}  // namespace nca
