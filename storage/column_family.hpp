// storage/column_family.hpp: the column families of a node's RocksDB.
//
// Every record kind lives in its own column family so each can be tuned (bloom filters on
// point-lookup families) and scanned without wading through others. The enum order is the open
// order; cf_name gives the on-disk name. RocksDB's own "default" family also exists but holds
// nothing of ours.
#pragma once

#include <array>
#include <cstddef>

namespace nca::storage {

enum class Cf {
  items,
  vectors,
  links,
  personas,
  events,
  history,
  archive,
  meta,
  raft_log,
  raft_state
};

constexpr size_t kCfCount = 10;

// The on-disk name of `cf` ("items", "vectors", ...); never null. Returns "unknown" for a value
// outside the enum so a corrupted enum never turns into a crash.
const char* cf_name(Cf cf);

// All column families in enum order, for loops.
constexpr std::array<Cf, kCfCount> kAllCfs = {
    Cf::items,   Cf::vectors, Cf::links, Cf::personas, Cf::events,
    Cf::history, Cf::archive, Cf::meta,  Cf::raft_log, Cf::raft_state};

constexpr size_t cf_index(Cf cf) { return static_cast<size_t>(cf); }

}  // namespace nca::storage
