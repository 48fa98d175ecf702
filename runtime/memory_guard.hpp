// runtime/memory_guard.hpp: tells when a node should refuse new work to stay alive.
//
// A node whose resident memory passes `high` refuses writes that would grow it (new memories,
// personas, events) with resource_exhausted, and keeps serving reads, deletes and acknowledgements,
// which let clients and consolidation free memory. That is better than the kernel's OOM killer
// taking the node, and every in-flight request with it. The resident size is sampled at most every
// 250 ms. `high` 0 means "85% of the memory this process may use" (the cgroup limit when there is
// one, else physical RAM). Not thread-safe: one owner (the api actor).
#pragma once

#include <cstdint>
#include <functional>

#include "runtime/clock.hpp"

namespace nca {

class MemoryGuard {
 public:
  using Reader = std::function<uint64_t()>;

  // `rss`: the current resident bytes (default: /proc/self/statm).
  MemoryGuard(uint64_t high, const Clock* clock, Reader rss = {});

  bool under_pressure();
  uint64_t high() const { return high_; }
  uint64_t last_rss() const { return last_; }

  static uint64_t resident_bytes();
  // The cgroup v2/v1 memory limit, else physical RAM; 0 when neither can be read.
  static uint64_t memory_available();

 private:
  uint64_t high_;
  const Clock* clock_;
  Reader rss_;
  uint64_t last_ = 0;
  TimeUs next_sample_us_ = 0;
};

}  // namespace nca
