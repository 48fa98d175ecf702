// cluster/routing/shard_entry.hpp: what a shard group's log entries carry.
//
// One byte names the kind, the rest is its payload. Today there is one kind: a persona write, the
// representation of the WriteBatch its leader planned (storage/replicated_apply.hpp applies it on
// every replica). A kind this build does not know is an error for the caller, so an entry written
// by a newer node is never applied as something else. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "nca/result.hpp"

namespace nca::cluster {

enum class ShardEntryKind : uint8_t { persona_write = 1 };

std::string encode_persona_write(std::string_view batch_rep);

struct ShardEntry {
  ShardEntryKind kind = ShardEntryKind::persona_write;
  std::string_view payload;  // points into the decoded data
};
// Empty data (a leader's no-op) is not an entry: callers skip it before decoding.
Result<ShardEntry> decode_shard_entry(std::string_view data);

}  // namespace nca::cluster
