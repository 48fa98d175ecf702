// bench/raw_hnswlib.hpp: hnswlib 0.6.2 used directly, as the baseline the node's vector index is
// measured against: inner-product space, one thread, no locks, no persistence, capacity for every
// point reserved up front.
//
// Not thread-safe (hnswlib 0.6.2 is not safe for a search concurrent with an insert). Owns its
// graph. hnswlib's header lives only in raw_hnswlib.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace nca::bench {

class RawHnswlib {
 public:
  RawHnswlib(size_t dim, size_t capacity, size_t m, size_t ef_construction, uint64_t seed);
  ~RawHnswlib();
  RawHnswlib(const RawHnswlib&) = delete;
  RawHnswlib& operator=(const RawHnswlib&) = delete;

  void add(const float* vec, uint64_t label);
  void set_ef(size_t ef);
  // Labels of the k best matches, best first.
  std::vector<int64_t> search(const float* query, size_t k) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nca::bench
