#include "cluster/metadata/cluster_map.hpp"

#include <algorithm>
#include <set>

#include "storage/keys.hpp"

namespace nca::metadata {
namespace {

constexpr uint32_t kSchema = 1;

std::string node_name(uint64_t node) { return "node " + std::to_string(node); }

}  // namespace

std::vector<pb::ShardAssignment> initial_placement(const std::vector<uint64_t>& nodes,
                                                   uint32_t shards, uint32_t replication_factor) {
  std::vector<pb::ShardAssignment> out;
  const size_t n = nodes.size();
  const size_t rf = std::min<size_t>(replication_factor, n);
  for (uint32_t s = 0; s < shards; ++s) {
    pb::ShardAssignment a;
    a.set_shard(s);
    a.set_epoch(1);
    // Consecutive nodes starting at s mod n: each node leads every n-th shard and holds rf
    // consecutive windows' worth of replicas, so both counts differ by at most one.
    for (size_t r = 0; r < rf; ++r) a.add_replicas(nodes[(s + r) % n]);
    if (rf > 0) a.set_leader_hint(a.replicas(0));
    out.push_back(std::move(a));
  }
  return out;
}

ClusterMap::ClusterMap(uint32_t shards, uint32_t replication_factor)
    : shard_count_(std::max<uint32_t>(1, shards)),
      replication_factor_(std::max<uint32_t>(1, replication_factor)) {}

Status ClusterMap::apply(uint64_t index, const std::string& command) {
  pb::MetaCommand parsed;
  if (!parsed.ParseFromString(command)) {
    applied_index_ = std::max(applied_index_, index);
    return make_error(ErrorCode::invalid_argument,
                      "metadata command at index " + std::to_string(index) + " does not parse");
  }
  return apply(index, parsed);
}

Status ClusterMap::apply(uint64_t index, const pb::MetaCommand& command) {
  applied_index_ = std::max(applied_index_, index);
  if (command.schema_version() != kSchema) {
    return make_error(ErrorCode::invalid_argument, "metadata command of schema version " +
                                                       std::to_string(command.schema_version()) +
                                                       ", this build applies " +
                                                       std::to_string(kSchema));
  }
  return apply_body(command);
}

Status ClusterMap::apply_body(const pb::MetaCommand& c) {
  switch (c.body_case()) {
    case pb::MetaCommand::kJoin: {
      const auto& j = c.join();
      if (j.node() == 0 || j.incarnation() == 0 || j.address().empty()) {
        return make_error(ErrorCode::invalid_argument,
                          "join needs a node id, an incarnation and an address");
      }
      auto it = members_.find(j.node());
      if (it != members_.end() && j.incarnation() < it->second.incarnation()) {
        return make_error(ErrorCode::conflict, node_name(j.node()) + " joined with incarnation " +
                                                   std::to_string(j.incarnation()) +
                                                   ", older than its current " +
                                                   std::to_string(it->second.incarnation()));
      }
      pb::ClusterMember m;
      m.set_node(j.node());
      m.set_address(j.address());
      m.set_incarnation(j.incarnation());
      if (it != members_.end()) m.set_draining(it->second.draining());
      members_[j.node()] = m;
      return {};
    }
    case pb::MetaCommand::kLeave: {
      auto it = members_.find(c.leave());
      if (it == members_.end()) {
        return make_error(ErrorCode::not_found, node_name(c.leave()) + " is not a member");
      }
      for (const auto& [id, a] : shards_) {
        for (uint64_t r : a.replicas()) {
          if (r == c.leave()) {
            return make_error(ErrorCode::conflict,
                              node_name(c.leave()) + " still holds a replica of shard " +
                                  std::to_string(id) + "; move its replicas first");
          }
        }
      }
      members_.erase(it);
      return {};
    }
    case pb::MetaCommand::kMarkDead:
    case pb::MetaCommand::kMarkAlive:
    case pb::MetaCommand::kDrain:
    case pb::MetaCommand::kUndrain: {
      const uint64_t node = c.body_case() == pb::MetaCommand::kMarkDead    ? c.mark_dead()
                            : c.body_case() == pb::MetaCommand::kMarkAlive ? c.mark_alive()
                            : c.body_case() == pb::MetaCommand::kDrain     ? c.drain()
                                                                           : c.undrain();
      auto it = members_.find(node);
      if (it == members_.end()) {
        return make_error(ErrorCode::not_found, node_name(node) + " is not a member");
      }
      if (c.body_case() == pb::MetaCommand::kMarkDead) it->second.set_dead(true);
      if (c.body_case() == pb::MetaCommand::kMarkAlive) it->second.set_dead(false);
      if (c.body_case() == pb::MetaCommand::kDrain) it->second.set_draining(true);
      if (c.body_case() == pb::MetaCommand::kUndrain) it->second.set_draining(false);
      return {};
    }
    case pb::MetaCommand::kCreateShards: {
      if (!shards_.empty()) {
        return make_error(ErrorCode::already_exists, "the shards already exist");
      }
      if (c.create_shards() != shard_count_) {
        return make_error(ErrorCode::invalid_argument,
                          "create_shards for " + std::to_string(c.create_shards()) +
                              " shards; the cluster has " + std::to_string(shard_count_));
      }
      const auto nodes = live_nodes();
      if (nodes.empty()) {
        return make_error(ErrorCode::unavailable, "no live member to place shards on");
      }
      for (auto& a : initial_placement(nodes, shard_count_, replication_factor_)) {
        a.set_settled_epoch(1);  // every replica bootstraps the group with the same voters
        shards_[a.shard()] = std::move(a);
      }
      return {};
    }
    case pb::MetaCommand::kShardSettled: {
      const auto& s = c.shard_settled();
      auto it = shards_.find(s.shard());
      if (it == shards_.end()) {
        return make_error(ErrorCode::not_found,
                          "shard " + std::to_string(s.shard()) + " does not exist");
      }
      if (s.epoch() != it->second.epoch()) {
        return make_error(ErrorCode::conflict,
                          "shard " + std::to_string(s.shard()) + " is at epoch " +
                              std::to_string(it->second.epoch()) + ", not " +
                              std::to_string(s.epoch()) + "; the report is stale");
      }
      it->second.set_settled_epoch(s.epoch());
      return {};
    }
    case pb::MetaCommand::kSetShard: {
      const auto& s = c.set_shard();
      auto it = shards_.find(s.shard());
      if (it == shards_.end()) {
        return make_error(ErrorCode::not_found,
                          "shard " + std::to_string(s.shard()) + " does not exist");
      }
      if (s.epoch() != it->second.epoch() + 1) {
        return make_error(ErrorCode::conflict,
                          "shard " + std::to_string(s.shard()) + " is at epoch " +
                              std::to_string(it->second.epoch()) + "; a change must carry " +
                              std::to_string(it->second.epoch() + 1) + ", not " +
                              std::to_string(s.epoch()));
      }
      std::set<uint64_t> seen;
      for (uint64_t r : s.replicas()) {
        if (members_.count(r) == 0 || !seen.insert(r).second) {
          return make_error(ErrorCode::invalid_argument,
                            "shard " + std::to_string(s.shard()) +
                                " replicas must be distinct members; " + node_name(r) + " is not");
        }
      }
      if (s.replicas_size() == 0) {
        return make_error(ErrorCode::invalid_argument, "a shard needs at least one replica");
      }
      const uint64_t settled = it->second.settled_epoch();
      it->second = s;
      it->second.set_settled_epoch(settled);  // only the shard's leader says when it has settled
      return {};
    }
    case pb::MetaCommand::BODY_NOT_SET:
      break;
  }
  return make_error(ErrorCode::invalid_argument, "metadata command without a body");
}

uint32_t ClusterMap::shard_of(std::string_view tenant, std::string_view persona) const {
  return storage::shard_of(tenant, persona, shard_count_);
}

const pb::ClusterMember* ClusterMap::member(uint64_t node) const {
  auto it = members_.find(node);
  return it == members_.end() ? nullptr : &it->second;
}

std::vector<pb::ClusterMember> ClusterMap::members() const {
  std::vector<pb::ClusterMember> out;
  for (const auto& [id, m] : members_) out.push_back(m);
  return out;
}

std::vector<uint64_t> ClusterMap::live_nodes() const {
  std::vector<uint64_t> out;
  for (const auto& [id, m] : members_) {
    if (!m.dead() && !m.draining()) out.push_back(id);
  }
  return out;
}

const pb::ShardAssignment* ClusterMap::shard(uint32_t shard) const {
  auto it = shards_.find(shard);
  return it == shards_.end() ? nullptr : &it->second;
}

std::string ClusterMap::snapshot() const {
  pb::ClusterMapRecord r;
  r.set_schema_version(kSchema);
  r.set_shards(shard_count_);
  r.set_replication_factor(replication_factor_);
  for (const auto& [id, m] : members_) *r.add_members() = m;
  for (const auto& [id, a] : shards_) *r.add_assignments() = a;
  r.set_applied_index(applied_index_);
  std::string out;
  r.SerializeToString(&out);  // maps iterate in key order: the bytes are deterministic
  return out;
}

Result<ClusterMap> ClusterMap::restore(const std::string& bytes) {
  pb::ClusterMapRecord r;
  if (!r.ParseFromString(bytes)) {
    return make_error(ErrorCode::data_loss, "cluster map snapshot does not parse");
  }
  if (r.schema_version() != kSchema || r.shards() == 0 || r.replication_factor() == 0) {
    return make_error(ErrorCode::data_loss, "cluster map snapshot has schema version " +
                                                std::to_string(r.schema_version()) +
                                                " or no shards");
  }
  ClusterMap map(r.shards(), r.replication_factor());
  for (const auto& m : r.members()) {
    if (m.node() == 0 || !map.members_.emplace(m.node(), m).second) {
      return make_error(ErrorCode::data_loss, "cluster map snapshot repeats or zeroes a member");
    }
  }
  for (const auto& a : r.assignments()) {
    if (a.shard() >= r.shards() || !map.shards_.emplace(a.shard(), a).second) {
      return make_error(ErrorCode::data_loss, "cluster map snapshot has a bad shard assignment");
    }
  }
  map.applied_index_ = r.applied_index();
  return map;
}

}  // namespace nca::metadata
