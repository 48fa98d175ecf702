// storage/latency_histogram.hpp: a histogram of durations that many threads record into without a
// lock, for the metrics an operator alerts on (how long fsyncs take, as etcd's
// etcd_disk_wal_fsync_duration_seconds).
//
// Contract. The bucket bounds are fixed at construction (ascending upper bounds in seconds; a
// duration equal to a bound counts in that bound's bucket, as Prometheus' `le` means). record()
// adds one duration; snapshot() reads the counts, their sum and their number. A snapshot taken
// while other threads record may see a record in `count` before its bucket or sum: each figure is
// exact on its own, and consistent once recording stops (a scrape tolerates that, as Prometheus'
// client libraries do).
//
// Thread-safety: record() and snapshot() from any thread. Owns its counters; not copyable.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace nca::storage {

class LatencyHistogram {
 public:
  struct Snapshot {
    std::vector<double> bounds;     // upper bounds in seconds, ascending
    std::vector<uint64_t> buckets;  // bounds.size() + 1 counts, not cumulative; the last is +Inf
    double sum_seconds = 0;
    uint64_t count = 0;
  };

  // 100 µs to 8.192 s: this machine's fsyncs take a fraction of a millisecond, a stalled disk
  // seconds.
  static const std::vector<double>& io_bounds();

  explicit LatencyHistogram(std::vector<double> bounds = io_bounds());
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  void record(std::chrono::nanoseconds took);
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> bound_ns_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> sum_ns_{0};
  std::atomic<uint64_t> count_{0};
};

}  // namespace nca::storage
