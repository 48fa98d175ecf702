#include "runtime/authenticator.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "runtime/jwt.hpp"

namespace nca {
namespace {

namespace fs = std::filesystem;

const std::string kAuthSecret = "an-hs256-secret-of-at-least-32-bytes!";

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "nca-auth-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    keys_file_ = dir_ + "/keys";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_keys(const std::string& text) {
    std::ofstream(keys_file_, std::ios::trunc) << text;
    // Modification times can be coarse: the size differs too whenever a test rewrites the file.
  }

  Result<std::shared_ptr<Authenticator>> make(bool enabled = true) {
    return Authenticator::create({enabled, keys_file_, kAuthSecret}, &clock_);
  }

  std::string dir_;
  std::string keys_file_;
  ManualClock clock_;
};

TEST_F(AuthenticatorTest, OffMeansAnAdminOfEveryTenant) {
  auto auth = Authenticator::create({false, "", ""}, &clock_);
  ASSERT_TRUE(auth.ok());
  auto who = (*auth)->authenticate("");
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->tenant, kAnyTenant);
  EXPECT_EQ(who->role, Role::admin);
}

TEST_F(AuthenticatorTest, AcceptsKeysAndJwtsAndSaysWhatIsWrongOtherwise) {
  auto key = ApiKeyStore::generate("acme", Role::reader, "");
  ASSERT_TRUE(key.ok());
  write_keys(key->line + "\n");
  auto auth = make();
  ASSERT_TRUE(auth.ok()) << auth.error().message;
  EXPECT_EQ((*auth)->key_count(), 1u);

  auto by_key = (*auth)->authenticate(key->key);
  ASSERT_TRUE(by_key.ok());
  EXPECT_EQ(by_key->tenant, "acme");

  JwtClaims claims;
  claims.tenant = "globex";
  claims.role = Role::writer;
  claims.subject = "svc";
  claims.expires_at_s = clock_.now_us() / kUsPerSecond + 60;
  auto by_jwt = (*auth)->authenticate(sign_jwt(claims, kAuthSecret));
  ASSERT_TRUE(by_jwt.ok()) << by_jwt.error().message;
  EXPECT_EQ(by_jwt->tenant, "globex");
  EXPECT_EQ(by_jwt->name, "jwt svc");

  auto none = (*auth)->authenticate("");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::unauthenticated);
  EXPECT_NE(none.error().message.find("Authorization: Bearer"), std::string::npos);
  EXPECT_EQ((*auth)->authenticate("nca_0123456789ab_xyz").error().message,
            "unknown or revoked API key");
  EXPECT_EQ((*auth)->authenticate("hunter2").error().message,
            "the credential is neither an API key (nca_...) nor a JWT");
  clock_.advance_us(3600 * kUsPerSecond);
  EXPECT_EQ((*auth)->authenticate(sign_jwt(claims, kAuthSecret)).error().code,
            ErrorCode::unauthenticated);
}

TEST_F(AuthenticatorTest, PicksUpANewKeysFileAndKeepsTheOldOneWhenTheNewIsBad) {
  auto first = ApiKeyStore::generate("acme", Role::writer, "");
  auto second = ApiKeyStore::generate("acme", Role::writer, "second");
  ASSERT_TRUE(first.ok() && second.ok());
  write_keys(first->line + "\n");
  auto auth = make();
  ASSERT_TRUE(auth.ok());
  EXPECT_FALSE((*auth)->authenticate(second->key).ok());

  // Revoke the first key, add the second.
  write_keys(second->line + "\n");
  EXPECT_TRUE((*auth)->refresh_if_due().ok());
  EXPECT_FALSE((*auth)->authenticate(second->key).ok()) << "looked again within a second";
  clock_.advance_us(kUsPerSecond);
  EXPECT_TRUE((*auth)->refresh_if_due().ok());
  EXPECT_TRUE((*auth)->authenticate(second->key).ok());
  EXPECT_FALSE((*auth)->authenticate(first->key).ok());

  // A broken edit changes nothing, and is reported once.
  write_keys(second->line + "\nthis line is not a key line\n");
  clock_.advance_us(kUsPerSecond);
  Status reload = (*auth)->refresh_if_due();
  ASSERT_FALSE(reload.ok());
  EXPECT_NE(reload.error().message.find("the keys loaded before stay in force"), std::string::npos);
  EXPECT_TRUE((*auth)->authenticate(second->key).ok());
  clock_.advance_us(kUsPerSecond);
  EXPECT_TRUE((*auth)->refresh_if_due().ok());
}

TEST_F(AuthenticatorTest, RefusesConfigurationsThatCannotWork) {
  auto nothing = Authenticator::create({true, "", ""}, &clock_);
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.error().message.find("auth.api-keys-file or auth.jwt-secret"),
            std::string::npos);
  auto short_secret = Authenticator::create({true, "", "short"}, &clock_);
  ASSERT_FALSE(short_secret.ok());
  EXPECT_NE(short_secret.error().message.find("at least 32 bytes"), std::string::npos);
  auto missing = Authenticator::create({true, dir_ + "/absent", ""}, &clock_);
  ASSERT_FALSE(missing.ok());
  write_keys("garbage\n");
  EXPECT_FALSE(make().ok());
}

}  // namespace
}  // namespace nca
