#include "bench/raw_hnswlib.hpp"

// hnswlib.h defines non-inline functions (cpuid, xgetbv, AVXCapable, AVX512Capable) and, in
// namespace hnswlib, the SIMD dispatch pointers; nca_runtime's vector_index.cpp, linked into this
// binary, already defines them all. Renaming the four functions and the namespace in this
// translation unit avoids duplicate definitions without changing any hnswlib code path: the SIMD
// kernels are chosen by the same compile-time macros and the same runtime checks as in the node.
// The system headers that hnswlib.h includes come first so the renames cannot touch them.
#include "runtime/hnswlib_sanitizer.hpp"  // the same kernels as the node's under sanitizers

#include <assert.h>
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <deque>
#include <fstream>
#include <iostream>
#include <list>
#include <mutex>
#include <queue>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#define cpuid nca_bench_hnswlib_cpuid
#define xgetbv nca_bench_hnswlib_xgetbv
#define AVXCapable nca_bench_hnswlib_AVXCapable
#define AVX512Capable nca_bench_hnswlib_AVX512Capable
#define hnswlib nca_bench_hnswlib
#include <hnswlib/hnswlib.h>
#undef cpuid
#undef xgetbv
#undef AVXCapable
#undef AVX512Capable
#undef hnswlib

namespace nca::bench {

struct RawHnswlib::Impl {
  Impl(size_t dim, size_t capacity, size_t m, size_t ef_construction, uint64_t seed)
      : space(dim), graph(&space, capacity, m, ef_construction, seed) {}
  nca_bench_hnswlib::InnerProductSpace space;
  nca_bench_hnswlib::HierarchicalNSW<float> graph;
};

RawHnswlib::RawHnswlib(size_t dim, size_t capacity, size_t m, size_t ef_construction, uint64_t seed)
    : impl_(std::make_unique<Impl>(dim, std::max<size_t>(capacity, 1), m, ef_construction, seed)) {}

RawHnswlib::~RawHnswlib() = default;

void RawHnswlib::add(const float* vec, uint64_t label) { impl_->graph.addPoint(vec, label); }

void RawHnswlib::set_ef(size_t ef) { impl_->graph.setEf(ef); }

std::vector<int64_t> RawHnswlib::search(const float* query, size_t k) const {
  auto heap = impl_->graph.searchKnn(query, k);  // worst first
  std::vector<int64_t> out(heap.size());
  for (size_t i = out.size(); i > 0; --i) {
    out[i - 1] = static_cast<int64_t>(heap.top().second);
    heap.pop();
  }
  return out;
}

}  // namespace nca::bench
