#include "runtime/api_keys.hpp"

#include <gtest/gtest.h>

namespace nca {
namespace {

TEST(ApiKeys, AGeneratedKeyIsFoundThroughItsLineOnly) {
  auto made = ApiKeyStore::generate("acme", Role::writer, "ci runner");
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_EQ(made->key.rfind("nca_", 0), 0u);
  // The line holds the hash, never the secret.
  std::string secret = made->key.substr(made->key.find('_', 4) + 1);
  EXPECT_EQ(made->line.find(secret), std::string::npos);
  auto store = ApiKeyStore::parse("# keys\n\n" + made->line + "\n", "keys");
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(store->size(), 1u);
  auto who = store->find(made->key);
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->tenant, "acme");
  EXPECT_EQ(who->role, Role::writer);
  EXPECT_EQ(who->name, "key " + made->key.substr(4, 12));

  std::string wrong = made->key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(store->find(wrong).has_value());
  EXPECT_FALSE(store->find(made->key.substr(0, 17)).has_value());
  EXPECT_FALSE(store->find("").has_value());
  EXPECT_FALSE(store->find("Bearer " + made->key).has_value());
}

TEST(ApiKeys, TwoKeysForOneTenantDiffer) {
  auto a = ApiKeyStore::generate("acme", Role::reader, "");
  auto b = ApiKeyStore::generate("acme", Role::reader, "");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->key, b->key);
  auto store = ApiKeyStore::parse(a->line + "\n" + b->line, "keys");
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE(store->find(a->key).has_value());
  EXPECT_TRUE(store->find(b->key).has_value());
}

TEST(ApiKeys, OnlyAdminsMayHaveEveryTenant) {
  EXPECT_TRUE(ApiKeyStore::generate("*", Role::admin, "").ok());
  auto refused = ApiKeyStore::generate("*", Role::writer, "");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "tenant '*' is for admin keys only");
  EXPECT_FALSE(ApiKeyStore::generate("bad tenant", Role::writer, "").ok());
}

TEST(ApiKeys, ABadLineRejectsTheWholeFileAndSaysWhere) {
  std::string hash(64, 'a');
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"0123456789ab " + hash + " acme\n", "keys:1: expected 'ID SHA256 TENANT ROLE [NOTE]'"},
      {"# c\n0123456789AB " + hash + " acme writer\n",
       "keys:2: the id must be 12 lowercase hex digits"},
      {"0123456789ab abc acme writer\n",
       "keys:1: the hash must be 64 lowercase hex digits (SHA-256 of the key)"},
      {"0123456789ab " + hash + " acme root\n",
       "keys:1: unknown role 'root': expected reader, writer or admin"},
      {"0123456789ab " + hash + " * reader\n", "keys:1: tenant '*' is for admin keys only"},
      {"0123456789ab " + hash + " acme writer\n0123456789ab " + hash + " b reader\n",
       "keys:2: id 0123456789ab is listed twice"},
  };
  for (const Case& c : cases) {
    auto store = ApiKeyStore::parse(c.text, "keys");
    ASSERT_FALSE(store.ok()) << c.text;
    EXPECT_EQ(store.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(store.error().message, c.message);
  }
  auto missing = ApiKeyStore::load("/nonexistent/keys");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "cannot read auth.api-keys-file '/nonexistent/keys'");
}

}  // namespace
}  // namespace nca
