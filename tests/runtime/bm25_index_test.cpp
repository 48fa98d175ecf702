#include "runtime/bm25_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "runtime/tokenizer.hpp"

namespace nca {
namespace {

using Hits = std::vector<Bm25Index::Hit>;

// d1: apple x2, banana (length 3); d2: banana, cherry (length 2); d3: cherry x3, date (length 4).
// N = 3, avgdl = 3.
Bm25Index three_document_index() {
  Bm25Index index;
  index.add(1, "Apple banana apple");
  index.add(2, "banana, cherry");
  index.add(3, "cherry cherry cherry date");
  return index;
}

TEST(Bm25IndexTest, HandComputedScoresOnThreeDocuments) {
  Bm25Index index = three_document_index();
  ASSERT_EQ(index.size(), 3u);
  EXPECT_DOUBLE_EQ(index.average_document_length(), 3.0);

  // apple: df 1, idf = ln(1 + 2.5/1.5) = ln(8/3). d1: tf 2, |D| = avgdl so the length factor is
  // k1 = 1.2: 2 * 2.2 / (2 + 1.2).
  Hits apple = index.search("apples", 10);
  ASSERT_EQ(apple.size(), 1u);
  EXPECT_EQ(apple[0].doc, 1u);
  EXPECT_NEAR(apple[0].score, std::log(8.0 / 3.0) * 4.4 / 3.2, 1e-9);

  // banana, cherry: df 2 each, idf = ln(1 + 1.5/2.5) = ln(1.6).
  // d1: banana tf 1, |D| 3 -> 2.2 / (1 + 1.2).
  // d2: banana and cherry tf 1, |D| 2 -> length factor 1.2 * (0.25 + 0.75 * 2/3) = 0.9, each
  //     2.2 / 1.9.
  // d3: cherry tf 3, |D| 4 -> length factor 1.2 * (0.25 + 0.75 * 4/3) = 1.5, 3 * 2.2 / 4.5.
  const double idf = std::log(1.6);
  Hits hits = index.search("What about bananas and cherries?", 10);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].doc, 2u);
  EXPECT_NEAR(hits[0].score, 2 * idf * 2.2 / 1.9, 1e-9);
  EXPECT_EQ(hits[1].doc, 3u);
  EXPECT_NEAR(hits[1].score, idf * 6.6 / 4.5, 1e-9);
  EXPECT_EQ(hits[2].doc, 1u);
  EXPECT_NEAR(hits[2].score, idf * 2.2 / 2.2, 1e-9);

  // A term repeated in the query counts once.
  Hits repeated = index.search("banana banana cherry", 10);
  ASSERT_EQ(repeated.size(), 3u);
  EXPECT_EQ(repeated[0].doc, hits[0].doc);
  EXPECT_DOUBLE_EQ(repeated[0].score, hits[0].score);
}

TEST(Bm25IndexTest, TermFrequencySaturates) {
  // Documents of equal length (8 terms) holding "kiwi" 1..8 times; the rest are distinct fillers.
  Bm25Index index;
  const char* fillers[] = {"red", "green", "blue", "black", "white", "pink", "gold", "grey"};
  for (int tf = 1; tf <= 8; ++tf) {
    std::string text;
    for (int i = 0; i < tf; ++i) text += "kiwi ";
    for (int i = tf; i < 8; ++i) text += std::string(fillers[i]) + " ";
    index.add(static_cast<uint64_t>(tf), text);
  }
  index.add(100, "unrelated words only here");  // so that idf is not the all-documents minimum
  Hits hits = index.search("kiwi", 20);
  ASSERT_EQ(hits.size(), 8u);
  std::map<uint64_t, double> by_tf;
  for (const auto& h : hits) by_tf[h.doc] = h.score;
  const double n = 9, df = 8;
  const double ceiling = std::log(1 + (n - df + 0.5) / (df + 0.5)) * (1.2 + 1);
  double previous_gain = std::numeric_limits<double>::infinity();
  for (uint64_t tf = 2; tf <= 8; ++tf) {
    const double gain = by_tf[tf] - by_tf[tf - 1];
    EXPECT_GT(gain, 0) << tf;
    EXPECT_LT(gain, previous_gain) << tf;
    EXPECT_LT(by_tf[tf], ceiling) << tf;
    previous_gain = gain;
  }
  EXPECT_EQ(hits[0].doc, 8u);
}

TEST(Bm25IndexTest, ShorterDocumentsScoreHigherUnlessBIsZero) {
  const std::string short_text = "kiwi tart";
  const std::string long_text = "kiwi tart with cream sugar butter flour eggs vanilla";
  Bm25Index normalised;
  normalised.add(1, long_text);
  normalised.add(2, short_text);
  Hits hits = normalised.search("kiwi", 5);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].doc, 2u);
  EXPECT_GT(hits[0].score, hits[1].score);

  Bm25Index flat(Bm25Index::Options{1.2, 0.0});
  flat.add(1, long_text);
  flat.add(2, short_text);
  hits = flat.search("kiwi", 5);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].score, hits[1].score);
  EXPECT_EQ(hits[0].doc, 1u);  // ties go to the lower doc id
}

void expect_same_index(const Bm25Index& a, const Bm25Index& b,
                       const std::vector<std::string>& queries) {
  EXPECT_EQ(a.size(), b.size());
  EXPECT_EQ(a.term_count(), b.term_count());
  EXPECT_EQ(a.average_document_length(), b.average_document_length());
  for (const auto& q : queries) {
    for (const auto& term : tokenize(q)) {
      EXPECT_EQ(a.document_frequency(term), b.document_frequency(term)) << term;
    }
    Hits ha = a.search(q, 100);
    Hits hb = b.search(q, 100);
    ASSERT_EQ(ha.size(), hb.size()) << q;
    for (size_t i = 0; i < ha.size(); ++i) {
      EXPECT_EQ(ha[i].doc, hb[i].doc) << q << " #" << i;
      EXPECT_EQ(ha[i].score, hb[i].score) << q << " #" << i;
    }
  }
}

TEST(Bm25IndexTest, AddReplaceRemoveKeepStatisticsExact) {
  const std::vector<std::string> queries = {"apple", "banana cherry", "date fig", "grape",
                                            "apple banana cherry date fig grape kiwi"};
  Bm25Index churned;
  churned.add(1, "apple banana");
  churned.add(2, "cherry date date");
  churned.add(3, "fig grape apple apple");
  churned.add(4, "kiwi kiwi kiwi kiwi kiwi");
  churned.add(5, "");
  churned.add(2, "banana fig");  // replace
  EXPECT_TRUE(churned.remove(4));
  EXPECT_FALSE(churned.remove(4));
  EXPECT_FALSE(churned.remove(99));
  churned.add(6, "date grape cherry");
  churned.add(1, "apple banana");  // replace with the same text
  EXPECT_TRUE(churned.remove(3));
  churned.add(3, "grape");

  Bm25Index fresh;
  fresh.add(1, "apple banana");
  fresh.add(2, "banana fig");
  fresh.add(3, "grape");
  fresh.add(5, "");
  fresh.add(6, "date grape cherry");
  expect_same_index(churned, fresh, queries);
  EXPECT_EQ(churned.size(), 5u);  // the empty document counts
  EXPECT_EQ(churned.document_frequency("kiwi"), 0u);
  EXPECT_EQ(churned.document_frequency("grape"), 2u);
  EXPECT_DOUBLE_EQ(churned.average_document_length(), 8.0 / 5.0);
  EXPECT_TRUE(churned.contains(5));
  EXPECT_FALSE(churned.contains(4));

  // Removing everything leaves nothing behind, and memory shrinks back.
  const size_t full = churned.memory_bytes();
  for (uint64_t doc : {1, 2, 3, 5, 6}) EXPECT_TRUE(churned.remove(doc));
  EXPECT_EQ(churned.size(), 0u);
  EXPECT_EQ(churned.term_count(), 0u);
  EXPECT_EQ(churned.average_document_length(), 0.0);
  EXPECT_TRUE(churned.search("apple grape", 10).empty());
  EXPECT_LT(churned.memory_bytes(), full);
}

TEST(Bm25IndexTest, AcceptFilterAndKLargerThanMatches) {
  Bm25Index index;
  for (uint64_t doc = 1; doc <= 10; ++doc) {
    index.add(doc, "tomato soup " + std::string(doc + 1, 'z'));  // distinct, equal lengths
  }
  index.add(11, "no match here");
  Hits all = index.search("tomato", 1000);
  EXPECT_EQ(all.size(), 10u);
  Hits even = index.search("tomato", 1000, [](uint64_t doc) { return doc % 2 == 0; });
  ASSERT_EQ(even.size(), 5u);
  for (const auto& h : even) EXPECT_EQ(h.doc % 2, 0u);
  Hits top2 = index.search("tomato", 2, [](uint64_t doc) { return doc % 2 == 0; });
  ASSERT_EQ(top2.size(), 2u);
  EXPECT_EQ(top2[0].doc, even[0].doc);
  EXPECT_EQ(top2[1].doc, even[1].doc);
  // All ten documents have equal length and tf, so all tie and come back by doc id.
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].doc, i + 1);
  EXPECT_TRUE(index.search("tomato", 10, [](uint64_t) { return false; }).empty());
}

TEST(Bm25IndexTest, EmptyQueriesAndZeroKReturnNothing) {
  Bm25Index index = three_document_index();
  EXPECT_TRUE(index.search("", 10).empty());
  EXPECT_TRUE(index.search("  ?!  ", 10).empty());
  EXPECT_TRUE(index.search("what is the", 10).empty());  // stop words only
  EXPECT_TRUE(index.search("unknownword", 10).empty());
  EXPECT_TRUE(index.search("apple", 0).empty());
  Bm25Index empty;
  EXPECT_TRUE(empty.search("apple", 10).empty());
  EXPECT_EQ(empty.size(), 0u);
}

TEST(Bm25IndexTest, OptionsAreCheckedAndClamped) {
  EXPECT_TRUE(Bm25Index::check_options({}).ok());
  EXPECT_TRUE(Bm25Index::check_options({0.0, 0.0}).ok());
  EXPECT_TRUE(Bm25Index::check_options({2.0, 1.0}).ok());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (auto bad : {Bm25Index::Options{-1, 0.75}, Bm25Index::Options{nan, 0.75},
                   Bm25Index::Options{inf, 0.75}, Bm25Index::Options{1.2, -0.1},
                   Bm25Index::Options{1.2, 1.5}, Bm25Index::Options{1.2, nan}}) {
    Status s = Bm25Index::check_options(bad);
    EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
    Bm25Index clamped(bad);
    EXPECT_TRUE(Bm25Index::check_options(clamped.options()).ok());
    clamped.add(1, "pear tart");
    clamped.add(2, "pear");
    for (const auto& h : clamped.search("pear", 5)) EXPECT_TRUE(std::isfinite(h.score));
  }
}

// The reference: tokenizes every live document and computes BM25 from scratch.
Hits brute_force(const std::map<uint64_t, std::string>& docs, const std::string& query, size_t k,
                 const std::function<bool(uint64_t)>& accept) {
  std::map<uint64_t, std::vector<std::string>> tokens;
  double total = 0;
  for (const auto& [doc, text] : docs) {
    tokens[doc] = tokenize(text);
    total += static_cast<double>(tokens[doc].size());
  }
  const double n = static_cast<double>(docs.size());
  const double avgdl = n > 0 ? total / n : 0;
  std::set<std::string> terms;
  for (const auto& t : tokenize(query)) terms.insert(t);
  Hits hits;
  for (const auto& [doc, words] : tokens) {
    if (accept && !accept(doc)) continue;
    double score = 0;
    bool any = false;
    for (const auto& term : terms) {
      double tf = static_cast<double>(std::count(words.begin(), words.end(), term));
      if (tf == 0) continue;
      any = true;
      double df = 0;
      for (const auto& [other, other_words] : tokens) {
        if (std::find(other_words.begin(), other_words.end(), term) != other_words.end()) ++df;
      }
      double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
      double len = static_cast<double>(words.size());
      score += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len / avgdl));
    }
    if (any) hits.push_back({doc, score});
  }
  std::sort(hits.begin(), hits.end(), [](const auto& x, const auto& y) {
    return x.score > y.score || (x.score == y.score && x.doc < y.doc);
  });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

TEST(Bm25IndexTest, RandomizedAgainstBruteForce) {
  uint64_t seed = 20261122;
  if (const char* s = std::getenv("NCA_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::cout << "Bm25IndexTest.RandomizedAgainstBruteForce seed=" << seed << std::endl;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);

  // A vocabulary of random letter strings; skewed sampling gives a spread of df.
  std::vector<std::string> vocab;
  for (int i = 0; i < 150; ++i) {
    std::string w;
    const int len = 3 + static_cast<int>(rng() % 6);
    for (int j = 0; j < len; ++j) w.push_back(static_cast<char>('a' + rng() % 26));
    vocab.push_back(w);
  }
  auto random_text = [&](int max_words) {
    std::string text;
    const int words = static_cast<int>(rng() % static_cast<uint64_t>(max_words + 1));
    for (int i = 0; i < words; ++i) {
      double u = unit(rng);
      text += vocab[static_cast<size_t>(u * u * static_cast<double>(vocab.size()))];
      text += (rng() % 5 == 0) ? ", " : " ";
    }
    return text;
  };

  Bm25Index index;
  std::map<uint64_t, std::string> docs;
  for (int op = 0; op < 700; ++op) {
    const uint64_t doc = rng() % 520;
    if (op >= 500 && rng() % 3 == 0) {
      EXPECT_EQ(index.remove(doc), docs.erase(doc) == 1);
    } else {
      std::string text = random_text(40);
      index.add(doc, text);
      docs[doc] = text;
    }
  }
  ASSERT_EQ(index.size(), docs.size());

  size_t compared = 0;
  for (int q = 0; q < 60; ++q) {
    const std::string query = random_text(4);
    const size_t k = 1 + rng() % 25;
    std::function<bool(uint64_t)> accept;
    if (q % 3 == 0) accept = [](uint64_t doc) { return doc % 3 != 0; };
    Hits got = index.search(query, k, accept);
    Hits want = brute_force(docs, query, k, accept);
    ASSERT_EQ(got.size(), want.size()) << "query '" << query << "' k=" << k;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].doc, want[i].doc) << "query '" << query << "' #" << i;
      EXPECT_NEAR(got[i].score, want[i].score, 1e-9) << "query '" << query << "' #" << i;
    }
    compared += got.size();
  }
  EXPECT_GT(compared, 200u);  // the queries did match documents
}

}  // namespace
}  // namespace nca
