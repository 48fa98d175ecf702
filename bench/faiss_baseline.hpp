// bench/faiss_baseline.hpp: FAISS indices as baselines, when the binary was built with FAISS
// (NCA_HAVE_FAISS): IndexHNSWFlat over inner product with the node's M / efConstruction /
// efSearch, and IndexFlatIP for exact ground truth. Without FAISS, available() is false and the
// other functions return empty results.
//
// FAISS parallelises with OpenMP; use_threads() pins it (1 for a fair single-thread comparison).
// Not thread-safe; each object owns its index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace nca::bench {

namespace faiss_baseline {

bool available();
void use_threads(int threads);

// Exact top-k (IndexFlatIP) of every query over `base` (n * dim floats), best first.
std::vector<std::vector<int64_t>> exact_top_k(const std::vector<float>& base,
                                              const std::vector<float>& queries, size_t dim,
                                              size_t k);

}  // namespace faiss_baseline

class FaissHnsw {
 public:
  FaissHnsw(size_t dim, size_t m, size_t ef_construction);
  ~FaissHnsw();
  FaissHnsw(const FaissHnsw&) = delete;
  FaissHnsw& operator=(const FaissHnsw&) = delete;

  // Adds n rows; their labels are the running row numbers. FAISS inserts a batch level by level,
  // so a batch is how it is meant to be built.
  void add(const float* rows, size_t n);
  void set_ef_search(size_t ef);
  std::vector<int64_t> search(const float* query, size_t k) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nca::bench
