// latency_histogram: durations land in the bucket of the first bound at or above them, sums and
// counts add up, and threads recording at once lose nothing.
#include "storage/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace nca::storage {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(LatencyHistogram, ABoundIsInclusiveAsPrometheusLeMeans) {
  LatencyHistogram h({0.001, 0.01});
  h.record(microseconds(999));
  h.record(milliseconds(1));  // exactly the first bound
  h.record(microseconds(1001));
  h.record(milliseconds(10));
  h.record(milliseconds(11));  // above every bound
  auto s = h.snapshot();
  ASSERT_EQ(s.bounds, (std::vector<double>{0.001, 0.01}));
  EXPECT_EQ(s.buckets, (std::vector<uint64_t>{2, 2, 1}));
  EXPECT_EQ(s.count, 5u);
  EXPECT_NEAR(s.sum_seconds, 0.000999 + 0.001 + 0.001001 + 0.010 + 0.011, 1e-12);
}

TEST(LatencyHistogram, NegativeDurationsCountAsZero) {
  LatencyHistogram h({0.001});
  h.record(std::chrono::nanoseconds(-5));
  auto s = h.snapshot();
  EXPECT_EQ(s.buckets, (std::vector<uint64_t>{1, 0}));
  EXPECT_EQ(s.sum_seconds, 0);
}

TEST(LatencyHistogram, BoundsAreSortedAndTheIoBoundsCoverSubMillisecondToSeconds) {
  LatencyHistogram h({0.5, 0.1});
  EXPECT_EQ(h.snapshot().bounds, (std::vector<double>{0.1, 0.5}));
  const auto& io = LatencyHistogram::io_bounds();
  ASSERT_FALSE(io.empty());
  EXPECT_LE(io.front(), 0.0001);
  EXPECT_GE(io.back(), 8.0);
  EXPECT_TRUE(std::is_sorted(io.begin(), io.end()));
}

TEST(LatencyHistogram, ThreadsRecordingAtOnceLoseNothing) {
  LatencyHistogram h;
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kEach; ++i) h.record(microseconds(50 + 400 * t));
    });
  }
  for (auto& t : threads) t.join();
  auto s = h.snapshot();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kThreads * kEach));
  uint64_t in_buckets = 0;
  for (uint64_t b : s.buckets) in_buckets += b;
  EXPECT_EQ(in_buckets, s.count);
  EXPECT_EQ(s.buckets[0], static_cast<uint64_t>(kEach));  // 50 µs, at or below 100 µs
  EXPECT_NEAR(s.sum_seconds, kEach * (50 + 450 + 850 + 1250) * 1e-6, 1e-6);
}

}  // namespace
}  // namespace nca::storage
