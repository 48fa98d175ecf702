#include "cluster/routing/shard_routes.hpp"

#include <algorithm>

namespace nca::cluster {

ShardRoutes::ShardRoutes(uint64_t self, uint32_t configured_shards)
    : self_(self), configured_(configured_shards) {}

ShardRoutes::Route ShardRoutes::route(uint32_t shard) const {
  std::lock_guard<std::mutex> lock(mu_);
  Route r;
  if (shards_ == 0) {
    r.reason =
        "the cluster has not placed its shards yet (it waits for cluster.replication-factor live "
        "nodes); retry shortly";
    return r;
  }
  if (shards_ != configured_) {
    r.reason = "this node has cluster.shards=" + std::to_string(configured_) +
               " but the cluster was created with " + std::to_string(shards_) +
               "; set cluster.shards=" + std::to_string(shards_) + " on this node";
    return r;
  }
  auto it = routes_.find(shard);
  if (it != routes_.end() && it->second.leader == 0 && !it->second.replicas.empty()) {
    const auto& e = it->second;
    const bool replica = std::find(e.replicas.begin(), e.replicas.end(), self_) != e.replicas.end();
    const uint64_t guess = e.hint != 0 ? e.hint : e.replicas.front();
    if (!replica && guess != self_) {
      r.kind = Kind::forward;
      r.leader = guess;
      return r;
    }
  }
  if (it == routes_.end() || it->second.leader == 0) {
    r.reason = "shard " + std::to_string(shard) +
               " has no leader this node knows of (an election may be running, or this node is "
               "cut off from the majority of the shard's replicas); retry shortly";
    return r;
  }
  r.leader = it->second.leader;
  if (it->second.leader != self_) {
    r.kind = Kind::forward;
    return r;
  }
  if (!it->second.serving) {
    r.reason = "this node just became the leader of shard " + std::to_string(shard) +
               " and is still applying its log; retry shortly";
    return r;
  }
  r.kind = Kind::serve;
  return r;
}

void ShardRoutes::set_shard_count(uint32_t shards) {
  std::lock_guard<std::mutex> lock(mu_);
  shards_ = shards;
}

uint32_t ShardRoutes::shard_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shards_;
}

void ShardRoutes::set_leader(uint32_t shard, uint64_t leader) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = routes_[shard];
  if (e.leader != leader || leader != self_) e.serving = false;
  e.leader = leader;
}

void ShardRoutes::set_serving(uint32_t shard) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = routes_[shard];
  e.leader = self_;
  if (!e.serving) e.serving_term = ++servings_;
  e.serving = true;
}

uint64_t ShardRoutes::serving_term(uint32_t shard) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = routes_.find(shard);
  return it != routes_.end() && it->second.serving ? it->second.serving_term : 0;
}

void ShardRoutes::set_replicas(uint32_t shard, std::vector<uint64_t> replicas) {
  std::lock_guard<std::mutex> lock(mu_);
  routes_[shard].replicas = std::move(replicas);
}

void ShardRoutes::set_hint(uint32_t shard, uint64_t leader) {
  std::lock_guard<std::mutex> lock(mu_);
  routes_[shard].hint = leader;
}

void ShardRoutes::unreachable(uint32_t shard, uint64_t node) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = routes_[shard];
  const uint64_t current = e.hint != 0 ? e.hint : (e.replicas.empty() ? 0 : e.replicas.front());
  if (current != node || e.replicas.empty()) return;
  auto it = std::find(e.replicas.begin(), e.replicas.end(), node);
  if (it == e.replicas.end() || ++it == e.replicas.end()) it = e.replicas.begin();
  e.hint = *it;
}

uint64_t ShardRoutes::known_leader(uint32_t shard) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = routes_.find(shard);
  return it == routes_.end() ? 0 : it->second.leader;
}

bool ShardRoutes::serving(uint32_t shard) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = routes_.find(shard);
  return it != routes_.end() && it->second.serving;
}

std::vector<uint32_t> ShardRoutes::served() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint32_t> out;
  for (const auto& [s, e] : routes_) {
    if (e.serving) out.push_back(s);
  }
  return out;
}

}  // namespace nca::cluster
