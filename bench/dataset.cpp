#include "bench/dataset.hpp"

#include <emmintrin.h>  // SSE2: part of the x86-64 baseline

#include <algorithm>
#include <cmath>
#include <queue>
#include <random>
#include <thread>
#include <unordered_set>

namespace nca::bench {
namespace {

void normalise(float* v, size_t dim) {
  double norm = 0;
  for (size_t i = 0; i < dim; ++i) norm += static_cast<double>(v[i]) * v[i];
  norm = std::sqrt(norm);
  if (norm == 0) return;
  for (size_t i = 0; i < dim; ++i) v[i] = static_cast<float>(v[i] / norm);
}

struct Cluster {
  std::vector<float> centre;  // dim
  std::vector<float> basis;   // intrinsic_dim * dim
};

void fill_points(const DatasetOptions& o, const std::vector<Cluster>& clusters,
                 std::mt19937_64& rng, size_t count, std::vector<float>* out) {
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::uniform_int_distribution<size_t> pick(0, clusters.size() - 1);
  const float jitter_per_dim = o.jitter / std::sqrt(static_cast<float>(o.dim));
  out->assign(count * o.dim, 0.0f);
  std::vector<float> z(o.intrinsic_dim);
  for (size_t p = 0; p < count; ++p) {
    const Cluster& c = clusters[pick(rng)];
    float* v = out->data() + p * o.dim;
    std::copy(c.centre.begin(), c.centre.end(), v);
    for (auto& x : z) x = gauss(rng) * o.spread;
    for (size_t j = 0; j < o.intrinsic_dim; ++j) {
      const float* b = c.basis.data() + j * o.dim;
      for (size_t i = 0; i < o.dim; ++i) v[i] += z[j] * b[i];
    }
    for (size_t i = 0; i < o.dim; ++i) v[i] += gauss(rng) * jitter_per_dim;
    normalise(v, o.dim);
  }
}

// Inner product with four SSE accumulators: without -ffast-math the compiler may not reorder a
// float reduction, so the plain loop runs scalar (several times slower on 100k x 1k queries).
float dot(const float* a, const float* b, size_t dim) {
  __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps(), acc2 = _mm_setzero_ps(),
         acc3 = _mm_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    acc0 = _mm_add_ps(acc0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
    acc1 = _mm_add_ps(acc1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
    acc2 = _mm_add_ps(acc2, _mm_mul_ps(_mm_loadu_ps(a + i + 8), _mm_loadu_ps(b + i + 8)));
    acc3 = _mm_add_ps(acc3, _mm_mul_ps(_mm_loadu_ps(a + i + 12), _mm_loadu_ps(b + i + 12)));
  }
  __m128 acc = _mm_add_ps(_mm_add_ps(acc0, acc1), _mm_add_ps(acc2, acc3));
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, acc);
  float s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < dim; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

Dataset make_clustered_dataset(const DatasetOptions& o) {
  Dataset d;
  d.dim = o.dim;
  if (o.dim == 0 || o.clusters == 0) return d;
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<Cluster> clusters(o.clusters);
  for (auto& c : clusters) {
    c.centre.resize(o.dim);
    for (auto& x : c.centre) x = gauss(rng);
    normalise(c.centre.data(), o.dim);
    // Random unit directions: in high dimension they are nearly orthogonal, which is all the
    // generator needs from a basis.
    c.basis.resize(o.intrinsic_dim * o.dim);
    for (size_t j = 0; j < o.intrinsic_dim; ++j) {
      float* b = c.basis.data() + j * o.dim;
      for (size_t i = 0; i < o.dim; ++i) b[i] = gauss(rng);
      normalise(b, o.dim);
    }
  }
  // Independent streams for base and queries: changing --queries leaves the base set unchanged.
  std::mt19937_64 base_rng(o.seed * 0x9E3779B97F4A7C15ull + 1);
  std::mt19937_64 query_rng(o.seed * 0x9E3779B97F4A7C15ull + 2);
  fill_points(o, clusters, base_rng, o.n, &d.base);
  fill_points(o, clusters, query_rng, o.queries, &d.queries);
  return d;
}

std::vector<std::vector<int64_t>> exact_top_k(const Dataset& data, size_t k, unsigned threads) {
  const size_t nq = data.query_count();
  const size_t n = data.size();
  std::vector<std::vector<int64_t>> out(nq);
  threads = std::max(1u, threads);
  auto work = [&](size_t first, size_t last) {
    using Entry = std::pair<float, int64_t>;  // (similarity, label); min-heap keeps the best k
    for (size_t q = first; q < last; ++q) {
      std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
      const float* qv = data.query(q);
      for (size_t i = 0; i < n; ++i) {
        const float s = dot(qv, data.row(i), data.dim);
        if (heap.size() < k) {
          heap.emplace(s, static_cast<int64_t>(i));
        } else if (s > heap.top().first) {
          heap.pop();
          heap.emplace(s, static_cast<int64_t>(i));
        }
      }
      std::vector<int64_t> best(heap.size());
      for (size_t r = best.size(); r > 0; --r) {
        best[r - 1] = heap.top().second;
        heap.pop();
      }
      out[q] = std::move(best);
    }
  };
  std::vector<std::thread> pool;
  size_t per = (nq + threads - 1) / threads;
  for (unsigned t = 0; t < threads; ++t) {
    size_t first = t * per;
    size_t last = std::min(nq, first + per);
    if (first < last) pool.emplace_back(work, first, last);
  }
  for (auto& th : pool) th.join();
  return out;
}

double recall_at_k(const std::vector<std::vector<int64_t>>& truth,
                   const std::vector<std::vector<int64_t>>& found, size_t k) {
  if (truth.empty() || k == 0) return 0;
  double sum = 0;
  size_t counted = 0;
  for (size_t q = 0; q < truth.size(); ++q) {
    size_t want = std::min(k, truth[q].size());
    if (want == 0) continue;
    std::unordered_set<int64_t> expected(truth[q].begin(), truth[q].begin() + want);
    size_t hit = 0;
    if (q < found.size()) {
      for (size_t i = 0; i < std::min(k, found[q].size()); ++i) hit += expected.count(found[q][i]);
    }
    sum += static_cast<double>(hit) / static_cast<double>(want);
    ++counted;
  }
  return counted == 0 ? 0 : sum / static_cast<double>(counted);
}

}  // namespace nca::bench
