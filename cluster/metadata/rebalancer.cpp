#include "cluster/metadata/rebalancer.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace nca::metadata {
namespace {

struct Load {
  std::map<uint64_t, int> replicas;  // live nodes only, zero included
  std::map<uint64_t, int> leaders;
};

Load load_of(const ClusterMap& map, const std::set<uint64_t>& live) {
  Load l;
  for (uint64_t n : live) {
    l.replicas[n] = 0;
    l.leaders[n] = 0;
  }
  for (uint32_t s = 0; s < map.shard_count(); ++s) {
    const auto* a = map.shard(s);
    if (a == nullptr) continue;
    for (uint64_t r : a->replicas()) {
      if (live.count(r)) ++l.replicas[r];
    }
    if (live.count(a->leader_hint())) ++l.leaders[a->leader_hint()];
  }
  return l;
}

// A shard whose last change is not carried out yet waits: its group may still be catching a new
// replica up, and moving it again could drop a replica that holds data the new one lacks.
bool movable(const pb::ShardAssignment* a) {
  return a != nullptr && a->settled_epoch() >= a->epoch();
}

bool holds(const pb::ShardAssignment& a, uint64_t node) {
  return std::find(a.replicas().begin(), a.replicas().end(), node) != a.replicas().end();
}

Move make(Move::Kind kind, const pb::ShardAssignment& current, uint64_t node) {
  Move m{kind, current.shard(), node, current};
  m.next.set_epoch(current.epoch() + 1);
  if (kind == Move::add_replica) {
    m.next.add_replicas(node);
  } else if (kind == Move::remove_replica) {
    m.next.clear_replicas();
    for (uint64_t r : current.replicas()) {
      if (r != node) m.next.add_replicas(r);
    }
    if (current.leader_hint() == node) {
      m.next.set_leader_hint(m.next.replicas_size() > 0 ? m.next.replicas(0) : 0);
    }
  } else {
    m.next.set_leader_hint(node);
  }
  return m;
}

// The node with the fewest (or most) of `count`, among `candidates`; lowest id on ties.
uint64_t pick(const std::map<uint64_t, int>& count, const std::vector<uint64_t>& candidates,
              bool fewest) {
  uint64_t best = 0;
  int best_n = 0;
  for (uint64_t c : candidates) {
    const int n = count.at(c);
    if (best == 0 || (fewest ? n < best_n : n > best_n)) {
      best = c;
      best_n = n;
    }
  }
  return best;
}

}  // namespace

std::string to_string(const Move& m) {
  const char* kind = m.kind == Move::add_replica      ? "add replica on"
                     : m.kind == Move::remove_replica ? "remove replica from"
                                                      : "move preferred leader to";
  return "shard " + std::to_string(m.shard) + ": " + kind + " node " + std::to_string(m.node) +
         " (epoch " + std::to_string(m.next.epoch()) + ")";
}

std::optional<Move> next_move(const ClusterMap& map, uint32_t replication_factor) {
  const auto live_list = map.live_nodes();
  const std::set<uint64_t> live(live_list.begin(), live_list.end());
  if (live.empty() || !map.has_shards()) return std::nullopt;
  const int want = static_cast<int>(std::min<size_t>(replication_factor, live.size()));
  const Load load = load_of(map, live);
  auto live_replicas = [&](const pb::ShardAssignment& a) {
    int n = 0;
    for (uint64_t r : a.replicas()) n += live.count(r) ? 1 : 0;
    return n;
  };
  // A removal is a configuration change the shard's current voters (its replicas, once settled)
  // must commit by majority. Planned without one, it never commits, the shard never settles, and
  // the removed node, no longer listed, never hosts the group again to vote it through: the shard
  // is stuck for good. Waiting instead lets the dead replica come back and count. A draining
  // node still votes: only dead ones are missing.
  auto can_commit = [&](const pb::ShardAssignment& a) {
    int voting = 0;
    for (uint64_t r : a.replicas()) {
      const auto* m = map.member(r);
      voting += (m != nullptr && !m->dead()) ? 1 : 0;
    }
    return voting >= a.replicas_size() / 2 + 1;
  };

  // 1. Under-replicated shards.
  for (uint32_t s = 0; s < map.shard_count(); ++s) {
    const auto* a = map.shard(s);
    if (!movable(a) || live_replicas(*a) >= want) continue;
    std::vector<uint64_t> candidates;
    for (uint64_t n : live_list) {
      if (!holds(*a, n)) candidates.push_back(n);
    }
    if (!candidates.empty())
      return make(Move::add_replica, *a, pick(load.replicas, candidates, true));
  }
  // 2. Replicas on nodes that are not live, once the shard can spare them. A dead node's replica
  // goes only once the shard has its full size on live nodes without it: with no live node to
  // take its place (three nodes, three replicas), removing it would shrink the group to two
  // voters, which lose their quorum on the next death where three would not, and the node's
  // return would copy the shard again instead of catching up from the log. A draining or departed
  // node's replica goes as soon as the shard has as many live ones as the cluster allows.
  // A shard that loses a draining or departed replica shrinks anyway (the operator asked for it):
  // its dead replicas go first, as soon as it has as many live ones as the cluster allows, so the
  // group never ends with a majority of dead voters.
  const int full = static_cast<int>(replication_factor);
  auto is_dead = [&](uint64_t r) {
    const auto* m = map.member(r);
    return m != nullptr && m->dead() && !m->draining();
  };
  for (uint32_t s = 0; s < map.shard_count(); ++s) {
    const auto* a = map.shard(s);
    if (!movable(a) || !can_commit(*a)) continue;
    bool shrinking = false;
    for (uint64_t r : a->replicas()) shrinking = shrinking || (!live.count(r) && !is_dead(r));
    for (bool dead_ones : {true, false}) {
      for (uint64_t r : a->replicas()) {
        if (live.count(r) || is_dead(r) != dead_ones) continue;
        const int needed = dead_ones && !shrinking ? full : want;
        if (live_replicas(*a) >= needed) return make(Move::remove_replica, *a, r);
      }
    }
  }
  // 3. Over-replicated shards.
  for (uint32_t s = 0; s < map.shard_count(); ++s) {
    const auto* a = map.shard(s);
    if (!movable(a) || live_replicas(*a) <= want || !can_commit(*a)) continue;
    // The busiest replica goes, even the preferred leader (the hint moves with the removal); among
    // equally busy ones a non-leader first, which spares a leadership transfer. Keeping the leader
    // no matter what would undo rule 4's add on a shard of one replica, forever.
    uint64_t victim = 0;
    int victim_n = -1;
    for (uint64_t r : a->replicas()) {
      const int n = load.replicas.at(r);
      const bool better = n > victim_n || (n == victim_n && victim == a->leader_hint());
      if (better) {
        victim = r;
        victim_n = n;
      }
    }
    return make(Move::remove_replica, *a, victim);
  }
  // 4. Replica balance.
  const uint64_t busiest = pick(load.replicas, live_list, false);
  const uint64_t idlest = pick(load.replicas, live_list, true);
  if (load.replicas.at(busiest) - load.replicas.at(idlest) > 1) {
    // A shard the busiest node does not lead first: rule 3 then takes the surplus from it.
    for (bool led_ok : {false, true}) {
      for (uint32_t s = 0; s < map.shard_count(); ++s) {
        const auto* a = map.shard(s);
        if (movable(a) && holds(*a, busiest) && !holds(*a, idlest) &&
            (led_ok || a->leader_hint() != busiest)) {
          return make(Move::add_replica, *a, idlest);
        }
      }
    }
  }
  // 5. Leader balance: the first shard whose preferred leader leads at least two more shards than
  // one of its other live replicas hands the hint to the least-leading of them. Every such move
  // lowers the sum of squared leader counts, so the rule stops.
  // A hint on a draining node moves to a live replica (a group without a live majority cannot
  // elect it: its hint waits). A hint on a dead replica that rule 2 keeps stays: the shard's
  // leaders do not hand over to it meanwhile (actors/metadata_actor.cpp), and it leads again when
  // it returns, one hand-over instead of a move away and another back.
  for (uint32_t s = 0; s < map.shard_count(); ++s) {
    const auto* a = map.shard(s);
    if (!movable(a) || !can_commit(*a) || is_dead(a->leader_hint())) continue;
    std::vector<uint64_t> candidates;
    for (uint64_t r : a->replicas()) {
      if (r != a->leader_hint() && live.count(r)) candidates.push_back(r);
    }
    if (candidates.empty()) continue;
    const uint64_t to = pick(load.leaders, candidates, true);
    if (!live.count(a->leader_hint()) ||
        load.leaders.at(a->leader_hint()) - load.leaders.at(to) > 1) {
      return make(Move::move_leader, *a, to);
    }
  }
  return std::nullopt;
}

}  // namespace nca::metadata
