#include "runtime/jwt.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "runtime/crypto.hpp"

namespace nca {
namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";
constexpr int64_t kNow = 1'800'000'000;

JwtClaims claims(std::string tenant = "acme", Role role = Role::writer) {
  JwtClaims c;
  c.tenant = std::move(tenant);
  c.role = role;
  c.subject = "ci";
  c.issued_at_s = kNow;
  c.expires_at_s = kNow + 3600;
  return c;
}

// A token with the given header and payload JSON, signed with `secret`.
std::string forge(const std::string& header, const std::string& payload,
                  const std::string& secret = kSecret) {
  std::string input = base64url_encode(header) + "." + base64url_encode(payload);
  return input + "." + base64url_encode(hmac_sha256(secret, input));
}

std::string message_of(const Result<JwtClaims>& r) { return r.ok() ? "ok" : r.error().message; }

TEST(Jwt, SignedClaimsVerify) {
  auto verified = verify_jwt(sign_jwt(claims(), kSecret), kSecret, kNow + 10);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->tenant, "acme");
  EXPECT_EQ(verified->role, Role::writer);
  EXPECT_EQ(verified->subject, "ci");
  EXPECT_EQ(verified->expires_at_s, kNow + 3600);
}

TEST(Jwt, SignatureAgreesWithAnotherImplementation) {
  // jwt.io's HS256 example: the signature checks out, and only then is the missing claim noticed.
  std::string token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaW"
      "F0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  EXPECT_EQ(message_of(verify_jwt(token, "your-256-bit-secret", kNow)),
            "JWT has no 'tenant' claim");
  EXPECT_EQ(message_of(verify_jwt(token, "another-secret", kNow)),
            "JWT signature does not match this cluster's auth.jwt-secret");
}

TEST(Jwt, RefusesOtherAlgorithmsIncludingNone) {
  std::string payload = R"({"tenant":"acme","role":"admin","exp":1900000000})";
  std::string none = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(payload) + ".";
  auto r = verify_jwt(none, kSecret, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::unauthenticated);
  EXPECT_EQ(r.error().message, "JWT algorithm 'none' is not accepted; only HS256");
  EXPECT_FALSE(verify_jwt(forge(R"({"alg":"HS512"})", payload), kSecret, kNow).ok());
  EXPECT_FALSE(verify_jwt(forge(R"({"typ":"JWT"})", payload), kSecret, kNow).ok());
}

TEST(Jwt, RefusesATamperedPayload) {
  std::string token = sign_jwt(claims("acme", Role::reader), kSecret);
  size_t a = token.find('.'), b = token.rfind('.');
  std::string admin = base64url_encode(R"({"tenant":"acme","role":"admin","exp":)" +
                                       std::to_string(kNow + 3600) + "}");
  std::string tampered = token.substr(0, a + 1) + admin + token.substr(b);
  EXPECT_EQ(message_of(verify_jwt(tampered, kSecret, kNow)),
            "JWT signature does not match this cluster's auth.jwt-secret");
  EXPECT_FALSE(verify_jwt(token, "", kNow).ok());  // no secret: nothing verifies
}

TEST(Jwt, HonoursExpiryAndNotBeforeWithLeeway) {
  JwtClaims c = claims();
  std::string token = sign_jwt(c, kSecret);
  EXPECT_TRUE(verify_jwt(token, kSecret, c.expires_at_s + kJwtLeewayS - 1).ok());
  EXPECT_EQ(message_of(verify_jwt(token, kSecret, c.expires_at_s + 100)),
            "JWT expired 100 s ago; ask for a new token");
  c.not_before_s = kNow + 600;
  token = sign_jwt(c, kSecret);
  EXPECT_EQ(message_of(verify_jwt(token, kSecret, kNow)),
            "JWT is not valid for another 600 s (nbf)");
  EXPECT_TRUE(verify_jwt(token, kSecret, kNow + 600).ok());
}

TEST(Jwt, RequiresItsClaims) {
  EXPECT_EQ(message_of(verify_jwt(forge(R"({"alg":"HS256"})", R"({"tenant":"a","role":"writer"})"),
                                  kSecret, kNow)),
            "JWT has no 'exp' claim");
  EXPECT_EQ(message_of(verify_jwt(forge(R"({"alg":"HS256"})", R"({"tenant":"a","exp":1900000000})"),
                                  kSecret, kNow)),
            "JWT has no 'role' claim");
  EXPECT_EQ(message_of(verify_jwt(
                forge(R"({"alg":"HS256"})", R"({"tenant":"a","role":"root","exp":1900000000})"),
                kSecret, kNow)),
            "JWT role: unknown role 'root': expected reader, writer or admin");
  EXPECT_EQ(message_of(verify_jwt(
                forge(R"({"alg":"HS256"})", R"({"tenant":"a","role":"writer","exp":"soon"})"),
                kSecret, kNow)),
            "JWT claim 'exp' is not a number of seconds");
  EXPECT_EQ(message_of(verify_jwt(sign_jwt(claims("*", Role::writer), kSecret), kSecret, kNow)),
            "JWT tenant '*' is for admin tokens only");
  EXPECT_TRUE(verify_jwt(sign_jwt(claims("*", Role::admin), kSecret), kSecret, kNow).ok());
}

TEST(Jwt, RefusesMalformedTokensWithoutCrashing) {
  std::vector<std::string> tokens = {"",         ".",        "..",
                                     "a.b",      "a.b.c.d",  "!!!.???.***",
                                     "e30.e30.", "e30.W10.", std::string(9000, 'a') + ".b.c"};
  for (const std::string& token : tokens) {
    auto r = verify_jwt(token, kSecret, kNow);
    ASSERT_FALSE(r.ok()) << token;
    EXPECT_EQ(r.error().code, ErrorCode::unauthenticated) << token;
  }
  EXPECT_TRUE(looks_like_jwt("a.b.c"));
  EXPECT_FALSE(looks_like_jwt("nca_0123456789ab_secret"));
}

}  // namespace
}  // namespace nca
