// storage/keys.hpp: the byte layout of every key neuroca stores.
//
// Keys start with the shard (2 bytes, big-endian) and then the persona, so a shard and a persona
// are each one contiguous key range: a shard snapshot or a persona scan is a single range read, and
// a range delete drops either. Layout (all in the column family that holds the record):
//
//   persona prefix  = shard(2B BE) tenant '\0' persona '\0'
//   item            = persona prefix + item id                        (items, vectors, archive,
//   ...) history         = persona prefix + item id '\0' + seq(8B BE)      (history; seq order =
//   change order) counters        = persona prefix + "\x01counters"                 (meta) locator
//   = "\xff\xff" "loc" '\0' tenant '\0' item id       (meta; above every shard's range) node meta
//   = "\xff\xff" "node" '\0' name                     (meta; above every shard's range)
//
// Ids and names never contain '\0' (validated before they reach storage); with that, no persona's
// range overlaps another's, and "ada" never captures "ada2". Shards must be < 0xffff so node-wide
// keys stay outside every shard. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "nca/result.hpp"
#include "nca/shard_of.hpp"

namespace nca::storage {

// Shard placement (nca/shard_of.hpp, shared with the SDK).
using nca::fnv1a64;
using nca::shard_of;

std::string shard_prefix(uint32_t shard);
std::string persona_prefix(uint32_t shard, std::string_view tenant, std::string_view persona);
std::string item_key(std::string_view persona_prefix, std::string_view item_id);
std::string history_prefix(std::string_view persona_prefix, std::string_view item_id);
std::string history_key(std::string_view persona_prefix, std::string_view item_id, uint64_t seq);
std::string counters_key(std::string_view persona_prefix);
// In meta: prefix + "\x01lymphatic" (the persona's consolidation counters).
std::string lymphatic_key(std::string_view persona_prefix);
// In meta: prefix + "\x01req" '\0' + request id (a write's reply, runtime/request_ledger.hpp).
std::string request_prefix(std::string_view persona_prefix);
std::string request_key(std::string_view persona_prefix, std::string_view request_id);
// In links: prefix + a + '\0' + b, with a < b (callers order the pair).
std::string link_key(std::string_view persona_prefix, std::string_view a, std::string_view b);
std::string locator_key(std::string_view tenant, std::string_view item_id);
// In events: a tenant's events live under persona_prefix(shard, tenant, "\x02") (no persona id can
// hold '\x02'), keyed by event id.
std::string events_prefix(uint32_t shard, std::string_view tenant);
// The shard that holds a tenant's events: the one its empty persona name hashes to.
uint32_t events_shard(std::string_view tenant, uint32_t shards);
std::string event_key(std::string_view events_prefix, std::string_view event_id);
std::string node_meta_key(std::string_view name);

// The smallest key greater than every key that starts with `prefix`, for exclusive range ends.
// Returns "" when no such key exists (the prefix is empty or all 0xff bytes): "" then means "no
// upper bound".
std::string prefix_successor(std::string_view prefix);

struct PersonaKey {
  uint32_t shard = 0;
  std::string tenant;
  std::string persona;
};

// Inverse of persona_prefix. Accepts a key that starts with a persona prefix (bytes after it, such
// as an item id, are ignored). A key too short or without the two '\0' terminators is
// ErrorCode::data_loss.
Result<PersonaKey> parse_persona_prefix(std::string_view key);

// Printable form of a binary key for error messages ("\x00\x05ada\x00...").
std::string printable_key(std::string_view key);

}  // namespace nca::storage
