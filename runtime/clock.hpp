// runtime/clock.hpp: the one source of time for domain logic.
//
// Every rule that depends on time (health decay, TTLs, leases, ids) reads a Clock passed to it, never the
// system clock directly, so tests can walk hours and days in microseconds. SystemClock and ManualClock are
// thread-safe; a Clock is shared by pointer and must outlive its users.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace nca {

// Microseconds since the Unix epoch.
using TimeUs = int64_t;

constexpr TimeUs kUsPerSecond = 1'000'000;
constexpr TimeUs kUsPerHour = 3600 * kUsPerSecond;
constexpr TimeUs kUsPerDay = 24 * kUsPerHour;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeUs now_us() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimeUs now_us() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to; starts at a fixed, realistic date.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeUs start_us = 1'750'000'000LL * kUsPerSecond) : now_(start_us) {}
  TimeUs now_us() const override { return now_.load(std::memory_order_acquire); }
  void advance_us(TimeUs delta) { now_.fetch_add(delta, std::memory_order_acq_rel); }
  void advance_hours(double hours) { advance_us(static_cast<TimeUs>(hours * kUsPerHour)); }
  void set_us(TimeUs t) { now_.store(t, std::memory_order_release); }

 private:
  std::atomic<TimeUs> now_;
};

}  // namespace nca
