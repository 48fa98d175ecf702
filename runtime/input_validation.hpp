// runtime/input_validation.hpp: the one place where client input is checked before it changes
// anything.
//
// Each function either accepts the message (normalising it in place: embeddings L2-normalised,
// defaults filled) or returns invalid_argument with a message that names the field and the limit.
// Pure functions.
#pragma once

#include <string_view>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"
#include "runtime/memory_policy.hpp"

namespace nca {

bool is_valid_utf8(std::string_view s);

Status validate_tier(pb::Tier tier, bool allow_unspecified, std::string_view what);
Status validate_memory_input(pb::MemoryInput& in, const MemoryPolicy& policy);
Status validate_recall(pb::RecallRequest& req, const MemoryPolicy& policy);
Status validate_update(pb::UpdateRequest& req, const MemoryPolicy& policy);
Status validate_tags(const google::protobuf::RepeatedPtrField<std::string>& tags,
                     const MemoryPolicy& policy);
Status validate_metadata(const google::protobuf::Map<std::string, std::string>& metadata,
                         const MemoryPolicy& policy);

// Whether `error` is a size or count limit (content, tags, metadata, batch, k): those messages
// name the setting that allows less ("...; memory.max-tags allows 64"), which is what operators
// grep for and what the refusal metric counts.
bool is_limit_error(const Error& error);

}  // namespace nca
