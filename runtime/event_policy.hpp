// runtime/event_policy.hpp: the knobs of event routing and delivery, decoupled from the config
// layer.
//
// A plain value (copy freely). Tests build one directly; the node derives it from config::Settings
// with event_policy_from.
#pragma once

#include <cstddef>
#include <cstdint>

#include "config/settings.hpp"
#include "runtime/clock.hpp"

namespace nca {

struct EventPolicy {
  TimeUs lease_us = 60 * kUsPerSecond;     // an assignment or a delivery holds the event this long
  uint32_t max_attempts = 5;               // deliveries before the event is dead-lettered
  uint32_t default_capacity = 4;           // events in flight for a persona whose profile says 0
  TimeUs aging_us = 30 * kUsPerSecond;     // waiting this long counts as one priority step
  TimeUs max_wait_us = 30 * kUsPerSecond;  // longest next_event long-poll
  TimeUs retention_us = 7 * kUsPerDay;     // acked events stay readable by id this long
  size_t max_batch = 1000;                 // events in one publish
  size_t max_payload_bytes = 256 * 1024;
  TimeUs memory_delay_us = 50'000;  // assignment memories wait this long to share a persona write
};

EventPolicy event_policy_from(const config::Settings& s);

}  // namespace nca
