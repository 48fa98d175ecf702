// runtime/persona_profile.hpp: the rules of a persona's profile (DESIGN section 3): which ids are
// allowed, what a valid profile holds, and how an update applies (expected version, named fields).
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"
#include "runtime/clock.hpp"

namespace nca {

// The tenant's shared-knowledge persona: recall(include_shared) merges its memories in.
constexpr const char* kSharedPersona = "_shared";
constexpr size_t kMaxProfileText = 64 * 1024;
constexpr size_t kMaxProfileEntries = 1000;
constexpr size_t kMaxCapacity = 100000;

// validate_id plus: ids starting with '_' are reserved, except kSharedPersona.
Status validate_persona_id(std::string_view id);

// Checks every profile field (the id included); changes nothing.
Status validate_profile(const pb::Persona& p);

// The profile fields a create or update carries, copied onto `base` (its id, tenant, created time
// and version are kept). `fields` empty: all of them.
Status copy_profile_fields(const pb::Persona& from,
                           const google::protobuf::RepeatedPtrField<std::string>& fields,
                           pb::Persona* base);

// The stored profile after `req` applies to `current`, or CONFLICT for a stale expected_version.
Result<pb::Persona> apply_profile_update(const pb::Persona& current,
                                         const pb::PersonaWriteRequest& req, TimeUs now);

}  // namespace nca
