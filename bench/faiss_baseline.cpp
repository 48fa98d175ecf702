#include "bench/faiss_baseline.hpp"

#ifdef NCA_HAVE_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <omp.h>
#endif

namespace nca::bench {

#ifdef NCA_HAVE_FAISS

namespace faiss_baseline {

bool available() { return true; }

void use_threads(int threads) { omp_set_num_threads(threads < 1 ? 1 : threads); }

std::vector<std::vector<int64_t>> exact_top_k(const std::vector<float>& base,
                                              const std::vector<float>& queries, size_t dim,
                                              size_t k) {
  faiss::IndexFlatIP flat(static_cast<faiss::Index::idx_t>(dim));
  flat.add(static_cast<faiss::Index::idx_t>(base.size() / dim), base.data());
  const size_t nq = queries.size() / dim;
  std::vector<float> dist(nq * k);
  std::vector<faiss::Index::idx_t> labels(nq * k);
  flat.search(static_cast<faiss::Index::idx_t>(nq), queries.data(),
              static_cast<faiss::Index::idx_t>(k), dist.data(), labels.data());
  std::vector<std::vector<int64_t>> out(nq);
  for (size_t q = 0; q < nq; ++q) {
    for (size_t i = 0; i < k; ++i) {
      if (labels[q * k + i] >= 0) out[q].push_back(labels[q * k + i]);
    }
  }
  return out;
}

}  // namespace faiss_baseline

struct FaissHnsw::Impl {
  Impl(size_t dim, size_t m)
      : index(static_cast<int>(dim), static_cast<int>(m), faiss::METRIC_INNER_PRODUCT) {}
  faiss::IndexHNSWFlat index;
};

FaissHnsw::FaissHnsw(size_t dim, size_t m, size_t ef_construction)
    : impl_(std::make_unique<Impl>(dim, m)) {
  impl_->index.hnsw.efConstruction = static_cast<int>(ef_construction);
}

FaissHnsw::~FaissHnsw() = default;

void FaissHnsw::add(const float* rows, size_t n) {
  impl_->index.add(static_cast<faiss::Index::idx_t>(n), rows);
}

void FaissHnsw::set_ef_search(size_t ef) { impl_->index.hnsw.efSearch = static_cast<int>(ef); }

std::vector<int64_t> FaissHnsw::search(const float* query, size_t k) const {
  std::vector<float> dist(k);
  std::vector<faiss::Index::idx_t> labels(k);
  impl_->index.search(1, query, static_cast<faiss::Index::idx_t>(k), dist.data(), labels.data());
  std::vector<int64_t> out;
  out.reserve(k);
  for (auto l : labels) {
    if (l >= 0) out.push_back(l);
  }
  return out;
}

#else  // no FAISS in this build

namespace faiss_baseline {
bool available() { return false; }
void use_threads(int) {}
std::vector<std::vector<int64_t>> exact_top_k(const std::vector<float>&, const std::vector<float>&,
                                              size_t, size_t) {
  return {};
}
}  // namespace faiss_baseline

struct FaissHnsw::Impl {};
FaissHnsw::FaissHnsw(size_t, size_t, size_t) : impl_(std::make_unique<Impl>()) {}
FaissHnsw::~FaissHnsw() = default;
void FaissHnsw::add(const float*, size_t) {}
void FaissHnsw::set_ef_search(size_t) {}
std::vector<int64_t> FaissHnsw::search(const float*, size_t) const { return {}; }

#endif

}  // namespace nca::bench
