// runtime/event_routing.hpp: the routing score of DESIGN section 3, as pure functions.
//
//   score = skill_match(required, skills) + 0.3 * affinity(from) - 0.5 * (in_flight / capacity)
//
// skill_match is the mean proficiency of the persona over the event's required skills (a skill the
// persona lacks counts 0; no required skills: 0 for everyone, so load and affinity decide).
// affinity is the persona's relationship affinity with the event's `from` (0 when it has none).
// Thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "proto/neuroca.pb.h"

namespace nca {

constexpr double kAffinityWeight = 0.3;
constexpr double kLoadWeight = 0.5;

double skill_match(const google::protobuf::RepeatedPtrField<std::string>& required,
                   const google::protobuf::Map<std::string, double>& skills);
double affinity(const pb::Persona& persona, const std::string& from);
double routing_score(const pb::Event& event, const pb::Persona& persona, size_t in_flight,
                     size_t capacity);
// The same score from its parts: `skill_sum` is the sum of the persona's proficiencies over the
// `required` skills (in their order), `aff` its affinity with the sender. routing_score is this
// function, so a caller that gathers the parts another way gets bit-identical scores.
double routing_score_of(double skill_sum, size_t required, double aff, size_t in_flight,
                        size_t capacity);

// 0 (LOW) .. 3 (CRITICAL); PRIORITY_UNSPECIFIED counts as NORMAL.
int priority_level(pb::EventPriority p);

}  // namespace nca
