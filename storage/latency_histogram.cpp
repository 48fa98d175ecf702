#include "storage/latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace nca::storage {

const std::vector<double>& LatencyHistogram::io_bounds() {
  static const std::vector<double> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004,
                                              0.008,  0.016,   0.032,  0.064, 0.128, 0.256,
                                              0.512,  1.024,   2.048,  4.096, 8.192};
  return kBounds;
}

LatencyHistogram::LatencyHistogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
  bound_ns_.reserve(bounds_.size());
  for (double b : bounds_) bound_ns_.push_back(static_cast<int64_t>(std::llround(b * 1e9)));
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void LatencyHistogram::record(std::chrono::nanoseconds took) {
  const int64_t ns = std::max<int64_t>(0, took.count());
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bound_ns_.begin(), bound_ns_.end(), ns) - bound_ns_.begin());
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.buckets.reserve(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    s.buckets.push_back(buckets_[i].load(std::memory_order_relaxed));
  }
  s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  s.count = count_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace nca::storage
