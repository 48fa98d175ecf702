// cluster/sim/sim_network.hpp: the simulated network between Raft nodes.
//
// Contract: send() puts a message in flight with a random delay in [min_delay, max_delay] steps;
// it may instead be dropped (probability `drop`, or always while the link from->to is blocked)
// or also duplicated (probability `duplicate`, with its own delay). Different delays reorder
// messages. due() hands out, in a seeded random order, the messages whose time has come. Links are
// directed, so block(a, b) without block(b, a) is an asymmetric partition. All randomness comes
// from the simulator's generator, so a seed replays exactly. Thread-safety: none.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "cluster/raft/types.hpp"

namespace nca::raft::sim {

struct NetworkFaults {
  double drop = 0.0;
  double duplicate = 0.0;
  uint64_t min_delay = 1;
  uint64_t max_delay = 10;
};

class SimNetwork {
 public:
  explicit SimNetwork(std::mt19937_64* rng) : rng_(rng) {}

  void set_faults(const NetworkFaults& faults) { faults_ = faults; }
  const NetworkFaults& faults() const { return faults_; }

  void send(uint64_t now, Message message);
  std::vector<Message> due(uint64_t now);

  void block(NodeId from, NodeId to) { blocked_.insert({from, to}); }
  void unblock_all() { blocked_.clear(); }
  bool is_blocked(NodeId from, NodeId to) const { return blocked_.count({from, to}) > 0; }
  bool any_blocked() const { return !blocked_.empty(); }

  size_t in_flight() const { return in_flight_.size(); }
  uint64_t sent() const { return sent_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t duplicated() const { return duplicated_; }

 private:
  bool chance(double p);
  uint64_t delay();

  std::mt19937_64* rng_;
  NetworkFaults faults_;
  std::set<std::pair<NodeId, NodeId>> blocked_;
  std::multimap<uint64_t, Message> in_flight_;  // by delivery step
  uint64_t sent_ = 0;
  uint64_t dropped_ = 0;
  uint64_t duplicated_ = 0;
};

}  // namespace nca::raft::sim
