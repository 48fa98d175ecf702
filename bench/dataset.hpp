// bench/dataset.hpp: a clustered synthetic embedding set with a fixed seed.
//
// Real sentence embeddings are not isotropic noise in all `dim` directions: they sit in clusters
// (topics) and vary along fewer directions within a cluster. The generator mimics that: `clusters`
// random unit centres; each cluster has its own random `intrinsic_dim`-dimensional subspace; a
// point is
//   normalise(centre + spread * (basis_c * z) + jitter * e),  z ~ N(0, I), e ~ N(0, I/dim)
// The defaults are chosen so that the search is not trivial: with 100,000 points, M=16,
// efConstruction=200 and efSearch=100, raw hnswlib finds about 98% of the true top 10 (a set of
// well-separated tight clusters gives 100% for every engine and measures nothing).
// Base points and queries come from the same distribution with independent random streams, so
// queries are held-out points near the clusters, never copies of stored ones.
//
// The same Options (seed included) always give bit-identical data. Plain value type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nca::bench {

struct DatasetOptions {
  size_t n = 100000;
  size_t queries = 1000;
  size_t dim = 384;
  size_t clusters = 100;
  size_t intrinsic_dim = 64;
  float spread = 1.0f;  // per direction, relative to the unit centre
  float jitter = 0.3f;  // isotropic noise norm
  uint64_t seed = 42;
};

struct Dataset {
  size_t dim = 0;
  std::vector<float> base;     // n * dim, row-major, each row L2-normalised
  std::vector<float> queries;  // queries * dim, same

  size_t size() const { return dim == 0 ? 0 : base.size() / dim; }
  size_t query_count() const { return dim == 0 ? 0 : queries.size() / dim; }
  const float* row(size_t i) const { return base.data() + i * dim; }
  const float* query(size_t i) const { return queries.data() + i * dim; }
};

Dataset make_clustered_dataset(const DatasetOptions& options);

// Exact top-k by inner product for every query (labels are row numbers, best first), by brute
// force on `threads` threads. Used as ground truth when FAISS is absent.
std::vector<std::vector<int64_t>> exact_top_k(const Dataset& data, size_t k, unsigned threads);

// Fraction of `truth[q][0..k)` found in `found[q]` (first k entries), averaged over queries.
double recall_at_k(const std::vector<std::vector<int64_t>>& truth,
                   const std::vector<std::vector<int64_t>>& found, size_t k);

}  // namespace nca::bench
