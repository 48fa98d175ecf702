#include "runtime/input_validation.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace nca {
namespace {

MemoryPolicy small_policy() {
  MemoryPolicy p;
  p.dim = 4;
  p.max_content_bytes = 32;
  p.max_tags = 2;
  p.max_metadata = 2;
  return p;
}

pb::MemoryInput input(const std::string& content) {
  pb::MemoryInput in;
  in.set_content(content);
  return in;
}

void expect_invalid(const Status& s, const std::string& needle) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_NE(s.error().message.find(needle), std::string::npos) << s.error().message;
}

TEST(InputValidation, AcceptsAndFillsDefaults) {
  auto p = small_policy();
  auto in = input("hello");
  ASSERT_TRUE(validate_memory_input(in, p).ok());
  EXPECT_DOUBLE_EQ(in.importance(), 0.5);
}

TEST(InputValidation, EmptyAndOversizedContent) {
  auto p = small_policy();
  auto empty = input("");
  expect_invalid(validate_memory_input(empty, p), "must not be empty");
  auto big = input(std::string(33, 'x'));
  expect_invalid(validate_memory_input(big, p), "memory.max-content-bytes");
}

TEST(InputValidation, InvalidUtf8) {
  auto p = small_policy();
  auto bad = input(std::string("ab\xC3", 3));
  expect_invalid(validate_memory_input(bad, p), "UTF-8");
  EXPECT_TRUE(is_valid_utf8("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
}

TEST(InputValidation, EmbeddingDimensionNanInfAndNormalisation) {
  auto p = small_policy();
  auto wrong = input("x");
  for (float f : {1.f, 2.f, 3.f}) wrong.add_embedding(f);
  expect_invalid(validate_memory_input(wrong, p), "memory.dim");
  auto nan = input("x");
  for (float f : {1.f, std::numeric_limits<float>::quiet_NaN(), 0.f, 0.f}) nan.add_embedding(f);
  expect_invalid(validate_memory_input(nan, p), "NaN");
  auto inf = input("x");
  for (float f : {1.f, std::numeric_limits<float>::infinity(), 0.f, 0.f}) inf.add_embedding(f);
  expect_invalid(validate_memory_input(inf, p), "infinite");
  auto ok = input("x");
  for (float f : {3.f, 4.f, 0.f, 0.f}) ok.add_embedding(f);
  ASSERT_TRUE(validate_memory_input(ok, p).ok());
  EXPECT_NEAR(ok.embedding(0), 0.6f, 1e-6);
  EXPECT_NEAR(ok.embedding(1), 0.8f, 1e-6);
}

TEST(InputValidation, ImportanceTagsMetadataIdsTier) {
  auto p = small_policy();
  auto imp = input("x");
  imp.set_importance(1.5);
  expect_invalid(validate_memory_input(imp, p), "importance");
  auto tags = input("x");
  for (auto t : {"a", "b", "c"}) tags.add_tags(t);
  expect_invalid(validate_memory_input(tags, p), "memory.max-tags");
  auto meta = input("x");
  (*meta.mutable_metadata())[""] = "v";
  expect_invalid(validate_memory_input(meta, p), "metadata key");
  auto id = input("x");
  id.set_id("bad id with spaces");
  expect_invalid(validate_memory_input(id, p), "memory id");
  auto tier = input("x");
  tier.set_tier(static_cast<pb::Tier>(9));
  expect_invalid(validate_memory_input(tier, p), "tier");
}

TEST(InputValidation, Recall) {
  auto p = small_policy();
  pb::RecallRequest none;
  expect_invalid(validate_recall(none, p), "query");
  pb::RecallRequest big_k;
  big_k.set_query("q");
  big_k.set_k(100000);
  expect_invalid(validate_recall(big_k, p), "recall.max-k");
  pb::RecallRequest ok;
  ok.set_query("q");
  ASSERT_TRUE(validate_recall(ok, p).ok());
  EXPECT_EQ(ok.k(), 10u);
  pb::RecallRequest range;
  range.set_query("q");
  range.mutable_filter()->set_created_after_us(10);
  range.mutable_filter()->set_created_before_us(5);
  expect_invalid(validate_recall(range, p), "created_after");
}

TEST(InputValidation, Update) {
  auto p = small_policy();
  pb::UpdateRequest nothing;
  nothing.set_id("a");
  expect_invalid(validate_update(nothing, p), "changes nothing");
  pb::UpdateRequest emb_only;
  emb_only.set_id("a");
  for (float f : {1.f, 0.f, 0.f, 0.f}) emb_only.add_embedding(f);
  expect_invalid(validate_update(emb_only, p), "together with new content");
  pb::UpdateRequest ok;
  ok.set_id("a");
  ok.set_importance(0.9);
  EXPECT_TRUE(validate_update(ok, p).ok());
}

}  // namespace
}  // namespace nca
