// cluster/membership/node_number.hpp: a node's number in the cluster protocols (Raft ids, peer
// ids), derived from its configured name (node.id), so every node computes every other's number
// from the name alone and a restarted node keeps its number. 0 is reserved for "nobody".
#pragma once

#include <cstdint>
#include <string_view>

#include "storage/keys.hpp"

namespace nca::membership {

inline uint64_t node_number(std::string_view node_id) {
  const uint64_t h = storage::fnv1a64(node_id);
  return h == 0 ? 1 : h;
}

}  // namespace nca::membership
