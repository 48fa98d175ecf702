// nca/shard_of.hpp: which shard of a cluster holds a persona, shared by the node (where it keeps
// the persona's records) and the SDK (which node it sends the persona's requests to).
//
// The placement is a fixed function of the tenant, the persona and the cluster's shard count, so a
// client that knows the count and where one shard is served can send every persona of that shard
// there. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace nca {

// 64-bit FNV-1a: the fixed hash behind shard placement (never std::hash, which may differ per
// build). `hash` continues a hash of earlier bytes, so pieces hash as their concatenation.
inline uint64_t fnv1a64(std::string_view data, uint64_t hash = 0xcbf29ce484222325ULL) {
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// fnv1a64(tenant + "/" + persona) % shards, hashed in pieces (every request computes it, so it
// allocates nothing). Returns 0 when shards is 0 (config validation rejects that).
inline uint32_t shard_of(std::string_view tenant, std::string_view persona, uint32_t shards) {
  if (shards == 0) return 0;
  return static_cast<uint32_t>(fnv1a64(persona, fnv1a64("/", fnv1a64(tenant))) % shards);
}

}  // namespace nca
