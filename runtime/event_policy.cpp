#include "runtime/event_policy.hpp"

namespace nca {

EventPolicy event_policy_from(const config::Settings& s) {
  EventPolicy p;
  p.lease_us = s.events.lease;
  p.max_attempts = static_cast<uint32_t>(s.events.max_attempts);
  p.default_capacity = static_cast<uint32_t>(s.events.default_capacity);
  p.aging_us = s.events.aging;
  p.max_wait_us = s.events.max_wait;
  p.retention_us = s.events.retention;
  p.max_batch = static_cast<size_t>(s.events.max_batch);
  p.max_payload_bytes = static_cast<size_t>(s.events.max_payload_bytes);
  p.memory_delay_us = s.events.memory_delay;
  return p;
}

}  // namespace nca
