// runtime/hashing_embedder.hpp: the offline, deterministic default embedder.
//
// HashingEmbedder embeds a text by signed feature hashing (the "hashing trick") into `dim` buckets:
//   - tokens: maximal runs of ASCII letters and digits and of UTF-8 multibyte bytes (so non-Latin
//     words stay whole); everything else separates; ASCII is lower-cased;
//   - features: each word (weight kUnigramWeight), each pair of adjacent words (kBigramWeight, so
//   word
//     order matters), and each character trigram of a word padded with '#' at both ends, e.g. "cat"
//     ->
//     "#ca", "cat", "at#" (kTrigramWeight; shares signal between inflections and typos);
//   - a feature's bucket and sign come from fnv1a64 over a type tag and its bytes, passed through
//   the
//     MurmurHash3 64-bit finaliser (FNV's low bits alone are poorly mixed and `dim` is often a
//     multiple of a power of two); the top bit gives the sign, so collisions cancel on average;
//   - a feature seen tf times in the text adds sign * weight * (1 + ln tf) (sub-linear: repetition
//     counts, but not linearly);
//   - the vector is L2-normalised. A text without words embeds to the zero vector.
// The result depends only on the text bytes and dim: the same on every run and machine. It costs
// microseconds per text and never blocks. name() is "hashing-v1"; changing any rule above must
// change the name, because stored indices depend on it.
//
// Stateless after construction: safe to use from any number of threads.
#pragma once

#include <string_view>

#include "runtime/embedder.hpp"

namespace nca {

class HashingEmbedder final : public Embedder {
 public:
  static constexpr float kUnigramWeight = 1.0f;
  static constexpr float kBigramWeight = 0.5f;
  static constexpr float kTrigramWeight = 0.25f;

  explicit HashingEmbedder(size_t dim);

  size_t dim() const override { return dim_; }
  std::string name() const override { return "hashing-v1"; }
  bool is_blocking() const override { return false; }
  Result<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts) override;

  // Writes the embedding of `text` into out[0, dim) (overwriting it), without other allocation than
  // the feature list.
  void embed_into(std::string_view text, float* out) const;
  std::vector<float> embed_one(std::string_view text) const;

 private:
  size_t dim_;
};

}  // namespace nca
