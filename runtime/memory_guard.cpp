#include "runtime/memory_guard.hpp"

#include <unistd.h>

#include <fstream>
#include <string>

namespace nca {
namespace {

uint64_t read_number(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return 0;
  try {
    return std::stoull(text);
  } catch (...) {
    return 0;
  }
}

}  // namespace

uint64_t MemoryGuard::resident_bytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

uint64_t MemoryGuard::memory_available() {
  uint64_t physical = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                      static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t cgroup = read_number("/sys/fs/cgroup/memory.max");
  if (cgroup == 0) cgroup = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  // cgroup v1 reports "no limit" as a huge number.
  if (cgroup != 0 && cgroup < physical) return cgroup;
  return physical;
}

MemoryGuard::MemoryGuard(uint64_t high, const Clock* clock, Reader rss)
    : high_(high != 0 ? high : memory_available() / 100 * 85),
      clock_(clock),
      rss_(rss ? std::move(rss) : Reader(&MemoryGuard::resident_bytes)) {}

bool MemoryGuard::under_pressure() {
  if (high_ == 0) return false;
  TimeUs now = clock_->now_us();
  if (now >= next_sample_us_) {
    last_ = rss_();
    next_sample_us_ = now + 250'000;
  }
  return last_ > high_;
}

}  // namespace nca
