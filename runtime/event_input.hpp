// runtime/event_input.hpp: what a publisher may send (validation) and the event record made of it.
//
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"
#include "runtime/clock.hpp"
#include "runtime/event_policy.hpp"

namespace nca {

constexpr size_t kMaxTopicBytes = 256;
constexpr size_t kMaxEventMetadata = 64;
constexpr size_t kMaxRequiredSkills = 64;

// Topic in dot notation ([A-Za-z0-9_-] segments joined by '.'), payload empty or JSON within the
// size limit, ids valid, priority a known value. Changes nothing.
Status validate_event_input(const pb::EventInput& in, const EventPolicy& policy);

// The PENDING record of `in`, with `id` (the client's or a fresh one) and the publish time.
pb::Event event_from_input(const pb::EventInput& in, const std::string& tenant,
                           const std::string& id, TimeUs now);

}  // namespace nca
