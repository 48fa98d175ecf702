#include "runtime/hashing_embedder.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "runtime/vector_math.hpp"

namespace nca {
namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

// Type tags keep a word, a bigram and a trigram with the same bytes apart.
constexpr unsigned char kUnigramTag = 'u';
constexpr unsigned char kBigramTag = 'b';
constexpr unsigned char kTrigramTag = 't';
// Between the two words of a bigram: not a word byte, so "ab"+"c" and "a"+"bc" differ.
constexpr unsigned char kBigramSeparator = ' ';
constexpr char kBoundary = '#';

inline uint64_t fnv1a(uint64_t h, unsigned char c) { return (h ^ c) * kFnvPrime; }

inline uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) h = fnv1a(h, c);
  return h;
}

// MurmurHash3's fmix64: every input bit affects every output bit.
inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

inline bool is_word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

inline char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

struct Feature {
  uint64_t hash;
  float weight;
};

}  // namespace

HashingEmbedder::HashingEmbedder(size_t dim) : dim_(dim) {}

void HashingEmbedder::embed_into(std::string_view text, float* out) const {
  std::fill(out, out + dim_, 0.f);
  if (dim_ == 0) return;

  // Lower-cased copy and the word spans within it.
  std::string lowered(text.size(), '\0');
  std::transform(text.begin(), text.end(), lowered.begin(), lower_ascii);
  std::vector<std::string_view> words;
  for (size_t i = 0; i < lowered.size();) {
    if (!is_word_byte(static_cast<unsigned char>(lowered[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < lowered.size() && is_word_byte(static_cast<unsigned char>(lowered[j]))) ++j;
    words.emplace_back(lowered.data() + i, j - i);
    i = j;
  }
  if (words.empty()) return;

  std::vector<Feature> features;
  features.reserve(words.size() * 2 + lowered.size());
  std::string padded;
  for (size_t w = 0; w < words.size(); ++w) {
    const std::string_view word = words[w];
    features.push_back({fnv1a(fnv1a(kFnvOffset, kUnigramTag), word), kUnigramWeight});
    if (w + 1 < words.size()) {
      uint64_t h = fnv1a(fnv1a(kFnvOffset, kBigramTag), word);
      h = fnv1a(fnv1a(h, kBigramSeparator), words[w + 1]);
      features.push_back({h, kBigramWeight});
    }
    padded.assign(1, kBoundary);
    padded.append(word);
    padded.push_back(kBoundary);
    for (size_t i = 0; i + 3 <= padded.size(); ++i) {
      features.push_back(
          {fnv1a(fnv1a(kFnvOffset, kTrigramTag), std::string_view(padded).substr(i, 3)),
           kTrigramWeight});
    }
  }

  // Equal hashes are the same feature: count each once with its term frequency.
  std::sort(features.begin(), features.end(),
            [](const Feature& a, const Feature& b) { return a.hash < b.hash; });
  for (size_t i = 0; i < features.size();) {
    size_t j = i;
    while (j < features.size() && features[j].hash == features[i].hash) ++j;
    const float tf = static_cast<float>(j - i);
    const uint64_t mixed = fmix64(features[i].hash);
    const float sign = (mixed >> 63) ? -1.f : 1.f;
    out[mixed % dim_] += sign * features[i].weight * (1.f + std::log(tf));
    i = j;
  }
  l2_normalize(out, dim_);
}

std::vector<float> HashingEmbedder::embed_one(std::string_view text) const {
  std::vector<float> v(dim_);
  embed_into(text, v.data());
  return v;
}

Result<std::vector<std::vector<float>>> HashingEmbedder::embed(
    const std::vector<std::string>& texts) {
  std::vector<std::vector<float>> out(texts.size(), std::vector<float>(dim_));
  for (size_t i = 0; i < texts.size(); ++i) embed_into(texts[i], out[i].data());
  return out;
}

}  // namespace nca
