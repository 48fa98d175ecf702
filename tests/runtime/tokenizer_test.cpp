#include "runtime/tokenizer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nca {
namespace {

using Tokens = std::vector<std::string>;

TEST(TokenizerTest, LowerCasesAndSplitsOnPunctuation) {
  EXPECT_EQ(tokenize("Coffee,TEA;milk--Juice!"), (Tokens{"coffee", "tea", "milk", "juice"}));
  EXPECT_EQ(tokenize("e-mail: bob@example.org"), (Tokens{"mail", "bob", "example", "org"}));
  EXPECT_EQ(tokenize("  \t\n"), Tokens{});
  EXPECT_EQ(tokenize(""), Tokens{});
}

TEST(TokenizerTest, KeepsRepeatedTermsInOrder) {
  EXPECT_EQ(tokenize("pizza pasta pizza"), (Tokens{"pizza", "pasta", "pizza"}));
}

TEST(TokenizerTest, Utf8BytesAreWordCharacters) {
  EXPECT_EQ(tokenize("Café in Zürich"), (Tokens{"café", "zürich"}));
  EXPECT_EQ(tokenize("東京,大阪"), (Tokens{"東京", "大阪"}));
  // Non-ASCII words are neither case-folded nor stemmed.
  EXPECT_EQ(tokenize("ÉCOLES"), Tokens{"\xC3\x89"
                                       "coles"});
}

TEST(TokenizerTest, DropsStopWords) {
  EXPECT_EQ(tokenize("What is the name of the dog and where does it live?"),
            (Tokens{"name", "dog", "live"}));
  EXPECT_TRUE(is_stop_word("the"));
  EXPECT_TRUE(is_stop_word("where"));
  EXPECT_FALSE(is_stop_word("dog"));
  EXPECT_FALSE(is_stop_word("not"));  // negation is kept on purpose
  EXPECT_FALSE(is_stop_word("The"));  // the list is lower case; tokenize() lower-cases first
}

TEST(TokenizerTest, DropsSingleLettersButKeepsSingleDigits) {
  EXPECT_EQ(tokenize("x y 5 room 7b q"), (Tokens{"5", "room", "7b"}));
  EXPECT_EQ(tokenize("1 2 3 2024"), (Tokens{"1", "2", "3", "2024"}));
}

TEST(TokenizerTest, StemsPluralsAndInflections) {
  EXPECT_EQ(stem("cats"), "cat");
  EXPECT_EQ(stem("allergies"), "allergi");
  EXPECT_EQ(stem("allergy"), "allergi");
  EXPECT_EQ(stem("allergic"), "allergic");  // derivations stay apart
  EXPECT_EQ(stem("classes"), "class");
  EXPECT_EQ(stem("meetings"), "meet");
  EXPECT_EQ(stem("meeting"), "meet");
  EXPECT_EQ(stem("running"), "run");
  EXPECT_EQ(stem("hiking"), "hike");
  EXPECT_EQ(stem("hiked"), "hike");
  EXPECT_EQ(stem("hike"), "hike");
  EXPECT_EQ(stem("agreed"), "agree");
  EXPECT_EQ(stem("feed"), "feed");
  EXPECT_EQ(stem("falling"), "fall");
  EXPECT_EQ(stem("conflated"), "conflate");
  EXPECT_EQ(stem("happy"), "happi");
  // Words whose stem would have no vowel are not stemmed.
  EXPECT_EQ(stem("sing"), "sing");
  EXPECT_EQ(stem("thing"), "thing");
  EXPECT_EQ(stem("bed"), "bed");
  // The conservative -s rule.
  EXPECT_EQ(stem("glass"), "glass");
  EXPECT_EQ(stem("status"), "status");
  EXPECT_EQ(stem("analysis"), "analysis");
  EXPECT_EQ(stem("gas"), "gas");
  // Tokens with digits or non-ASCII bytes are left alone.
  EXPECT_EQ(stem("2000s"), "2000s");
  EXPECT_EQ(stem("cafés"), "cafés");
}

TEST(TokenizerTest, InflectedQueryMeetsDocumentTerms) {
  EXPECT_EQ(tokenize("Her ALLERGIES to cats"), tokenize("allergy cat"));
  EXPECT_EQ(tokenize("went hiking"), tokenize("went hike"));
  EXPECT_NE(tokenize("allergic"), tokenize("allergy"));
}

TEST(TokenizerTest, DeterministicAndTotalOnArbitraryBytes) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  bytes += bytes;
  Tokens first = tokenize(bytes);
  EXPECT_EQ(first, tokenize(bytes));
  EXPECT_FALSE(first.empty());
  for (const auto& t : first) EXPECT_FALSE(t.empty());
}

}  // namespace
}  // namespace nca
