#include "runtime/hashing_embedder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "runtime/vector_math.hpp"

namespace nca {
namespace {

float cosine(const std::vector<float>& a, const std::vector<float>& b) {
  return dot(a.data(), b.data(), a.size());
}

size_t argmax_abs(const std::vector<float>& v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i) {
    if (std::fabs(v[i]) > std::fabs(v[best])) best = i;
  }
  return best;
}

// Fixed expectations: if these change, every stored index built with "hashing-v1" is invalid, so
// the embedder's name() must change with them.
TEST(HashingEmbedderTest, GoldenVectorIsStableAcrossRunsAndMachines) {
  HashingEmbedder embedder(384);
  // "hello": one unigram (weight 1) and five padded trigrams (#he hel ell llo lo#, weight 0.25),
  // no collisions, so 1/sqrt(1 + 5/16) and 0.25 of that.
  const std::vector<std::pair<size_t, float>> expected = {{58, 0.8728716f},   {68, 0.2182179f},
                                                          {159, -0.2182179f}, {290, 0.2182179f},
                                                          {308, 0.2182179f},  {367, 0.2182179f}};
  const auto v = embedder.embed_one("hello");
  ASSERT_EQ(v.size(), 384u);
  size_t nonzero = 0;
  for (float x : v) nonzero += x != 0.f;
  EXPECT_EQ(nonzero, expected.size());
  for (const auto& [bucket, value] : expected) EXPECT_NEAR(v[bucket], value, 1e-6) << bucket;

  const auto fox = embedder.embed_one("The quick brown fox");
  EXPECT_NEAR(fox[176], -0.4170288f, 1e-6);
  EXPECT_NEAR(fox[241], 0.4170288f, 1e-6);
  EXPECT_NEAR(fox[256], -0.4170288f, 1e-6);
  EXPECT_NEAR(fox[379], -0.4170288f, 1e-6);
  EXPECT_NEAR(fox[9], 0.1042572f, 1e-6);
}

TEST(HashingEmbedderTest, DeterministicAndBatchEqualsSingle) {
  HashingEmbedder a(256), b(256);
  const std::vector<std::string> texts = {"Alpha beta gamma", "", "deploy the service on friday",
                                          "Grüße aus Köln", "x"};
  auto batch = a.embed(texts);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ((*batch)[i], b.embed_one(texts[i])) << texts[i];
    EXPECT_EQ((*batch)[i], a.embed_one(texts[i])) << texts[i];
  }
  EXPECT_TRUE(a.embed({})->empty());
  EXPECT_FALSE(a.is_blocking());
  EXPECT_EQ(a.name(), "hashing-v1");
}

TEST(HashingEmbedderTest, VectorsAreNormalisedAndEmptyTextIsZero) {
  HashingEmbedder embedder(384);
  for (const char* text : {"a", "hello world", "The quick brown fox jumps over the lazy dog",
                           "repeat repeat repeat repeat", "日本語のテキスト", "MiXeD CaSe 123"}) {
    const auto v = embedder.embed_one(text);
    EXPECT_NEAR(l2_norm(v.data(), v.size()), 1.0, 1e-5) << text;
    EXPECT_TRUE(validate_embedding(v, 384, "embedding").ok()) << text;
  }
  for (const char* text : {"", "   ", "!!! ... ???", "\t\n"}) {
    const auto v = embedder.embed_one(text);
    EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.f; })) << text;
    EXPECT_EQ(validate_embedding(v, 384, "embedding").code(), ErrorCode::invalid_argument);
  }
}

TEST(HashingEmbedderTest, CaseAndPunctuationDoNotMatter) {
  HashingEmbedder embedder(384);
  EXPECT_EQ(embedder.embed_one("Hello, World!"), embedder.embed_one("hello world"));
  EXPECT_EQ(embedder.embed_one("rock-n-roll"), embedder.embed_one("rock n roll"));
  // Non-ASCII bytes are part of words, not separators (and are not case-folded).
  EXPECT_NE(embedder.embed_one("naïve"), embedder.embed_one("na ve"));
  EXPECT_GT(cosine(embedder.embed_one("Köln"), embedder.embed_one("köln")), 0.2f);
}

TEST(HashingEmbedderTest, SimilarTextsScoreHigherThanUnrelatedOnes) {
  HashingEmbedder embedder(384);
  const auto cat = embedder.embed_one("the cat sat on the mat");
  const auto cat2 = embedder.embed_one("a cat was sitting on the mat");
  const auto finance = embedder.embed_one("quarterly revenue grew by ten percent");
  EXPECT_GT(cosine(cat, cat2), cosine(cat, finance) + 0.2f);

  const auto pref = embedder.embed_one("user prefers dark mode in the editor");
  const auto query = embedder.embed_one("which editor mode does the user prefer");
  const auto other = embedder.embed_one("flight to berlin departs at noon");
  EXPECT_GT(cosine(pref, query), cosine(pref, other));

  // Character trigrams carry inflections and typos.
  const auto running = embedder.embed_one("running");
  EXPECT_GT(cosine(running, embedder.embed_one("runing")), 0.15f);  // 5 of 7 trigrams shared
  EXPECT_GT(cosine(running, embedder.embed_one("runing")),
            cosine(running, embedder.embed_one("banana")) + 0.1f);
}

TEST(HashingEmbedderTest, WordOrderMattersThroughBigrams) {
  HashingEmbedder embedder(4096);
  const auto a = embedder.embed_one("dog bites man");
  const auto b = embedder.embed_one("man bites dog");
  const float same_words = cosine(a, b);
  EXPECT_LT(same_words, 0.99f);  // the bigrams differ
  EXPECT_GT(same_words, 0.7f);   // the words and trigrams do not
  EXPECT_NEAR(cosine(a, embedder.embed_one("dog bites man")), 1.0f, 1e-6);
}

TEST(HashingEmbedderTest, TermFrequencyIsSubLinear) {
  // A wide space so the words do not collide with each other's features.
  HashingEmbedder embedder(1 << 16);
  const size_t cat = argmax_abs(embedder.embed_one("cat"));
  const size_t dog = argmax_abs(embedder.embed_one("dog"));
  ASSERT_NE(cat, dog);
  const auto v = embedder.embed_one("cat cat cat cat dog");
  // Unigram "cat" seen 4 times weighs 1 + ln 4 against "dog"'s 1, not 4.
  EXPECT_NEAR(std::fabs(v[cat]) / std::fabs(v[dog]), 1.0 + std::log(4.0), 1e-4);
}

TEST(HashingEmbedderTest, DimensionIsRespected) {
  for (size_t dim : {1u, 7u, 64u, 384u, 1536u}) {
    HashingEmbedder embedder(dim);
    EXPECT_EQ(embedder.dim(), dim);
    auto out = embedder.embed({"some text to embed", "more"});
    ASSERT_TRUE(out.ok());
    for (const auto& v : *out) {
      EXPECT_EQ(v.size(), dim);
      EXPECT_NEAR(l2_norm(v.data(), v.size()), 1.0, 1e-5);
    }
  }
}

TEST(HashingEmbedderTest, LongTextEmbedsWithoutTrouble) {
  HashingEmbedder embedder(384);
  std::string text;
  for (int i = 0; i < 8000; ++i) text += "word" + std::to_string(i % 500) + " ";
  const auto v = embedder.embed_one(text);
  EXPECT_NEAR(l2_norm(v.data(), v.size()), 1.0, 1e-5);
}

TEST(EmbedderFactoryTest, MakesHashingAndRejectsBadOptions) {
  EmbedderOptions options;
  options.dim = 128;
  auto made = make_embedder(options);
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->dim(), 128u);
  EXPECT_EQ((*made)->name(), "hashing-v1");

  options.kind = "word2vec";
  auto bad = make_embedder(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), ErrorCode::invalid_argument);
  EXPECT_NE(bad.error().message.find("word2vec"), std::string::npos);

  options.kind = "hashing";
  options.dim = 0;
  EXPECT_EQ(make_embedder(options).code(), ErrorCode::invalid_argument);

  options.kind = "http";
  options.dim = 384;
  options.url = "";
  auto no_url = make_embedder(options);
  ASSERT_FALSE(no_url.ok());
  EXPECT_EQ(no_url.code(), ErrorCode::invalid_argument);
  EXPECT_NE(no_url.error().message.find("http://"), std::string::npos);
}

}  // namespace
}  // namespace nca
