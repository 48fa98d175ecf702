// cluster/metadata/cluster_map.hpp: the metadata group's state: the members of the cluster and the
// shard map (shard -> replicas, leader hint, epoch), changed only by committed MetaCommands
// (proto/cluster.proto).
//
// Contract: apply() is deterministic. Every member of the metadata group applies the same
// committed commands in the same order and ends in the same state, byte for byte (snapshot()).
// A command that does not fit the current state is refused with the same error on every member and
// changes nothing, except that it counts as applied (applied_index moves): refusal is part of the
// replicated history, not a local accident.
//   * join: adds a member or records its new address and incarnation (an older incarnation is
//     refused with conflict). A rejoining member is alive again.
//   * leave: removes a member that holds no replica (conflict otherwise: move its
//     replicas first).
//   * mark_dead / mark_alive / drain / undrain: flags on a member (not_found for unknown members).
//   * create_shards: the first placement of every shard over the live, non-draining members
//     (initial_placement); refused once shards exist.
//   * set_shard: replaces one shard's replicas; the command's epoch must be the current epoch + 1
//     (conflict otherwise: a planner working from a stale map cannot clobber a newer change) and
//     every replica must be a member. The shard's settled epoch is kept: a set_shard cannot
//     claim its own change is carried out.
//   * shard_settled: the shard's leader saw its group match the map at the command's epoch, which
//     must be the current one (conflict: a stale report). create_shards' placement is settled at
//     birth (every replica bootstraps the group with the same voters).
// Personas map to shards by shard_of(), which is storage::shard_of (storage/keys.hpp): the key
// layout and the shard map must agree on which shard owns a persona.
//
// Pure; not thread-safe; owns its state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "nca/result.hpp"
#include "proto/cluster.pb.h"

namespace nca::metadata {

// Replicas of each shard over `nodes` (ascending ids): replication_factor copies (capped by the
// node count), spread so that replicas per node, and first replicas (preferred leaders) per node,
// differ by at most one.
std::vector<pb::ShardAssignment> initial_placement(const std::vector<uint64_t>& nodes,
                                                   uint32_t shards, uint32_t replication_factor);

class ClusterMap {
 public:
  ClusterMap(uint32_t shards, uint32_t replication_factor);

  Status apply(uint64_t index, const std::string& command);
  Status apply(uint64_t index, const pb::MetaCommand& command);

  uint32_t shard_of(std::string_view tenant, std::string_view persona) const;
  const pb::ClusterMember* member(uint64_t node) const;
  std::vector<pb::ClusterMember> members() const;  // ascending ids
  std::vector<uint64_t> live_nodes() const;        // neither dead nor draining, ascending
  const pb::ShardAssignment* shard(uint32_t shard) const;
  bool has_shards() const { return !shards_.empty(); }
  uint32_t shard_count() const { return shard_count_; }
  uint32_t replication_factor() const { return replication_factor_; }
  uint64_t applied_index() const { return applied_index_; }

  // The whole state, for the metadata group's snapshots; restore() refuses what it cannot trust.
  std::string snapshot() const;
  static Result<ClusterMap> restore(const std::string& bytes);

 private:
  Status apply_body(const pb::MetaCommand& command);

  uint32_t shard_count_;
  uint32_t replication_factor_;
  std::map<uint64_t, pb::ClusterMember> members_;
  std::map<uint32_t, pb::ShardAssignment> shards_;
  uint64_t applied_index_ = 0;
};

}  // namespace nca::metadata
