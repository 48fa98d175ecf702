#include "cluster/sim/sim_network.hpp"

#include <algorithm>

namespace nca::raft::sim {

bool SimNetwork::chance(double p) {
  if (p <= 0.0) return false;
  return std::uniform_real_distribution<double>(0.0, 1.0)(*rng_) < p;
}

uint64_t SimNetwork::delay() {
  uint64_t lo = faults_.min_delay;
  uint64_t hi = std::max(faults_.max_delay, lo);
  return lo + (*rng_)() % (hi - lo + 1);
}

void SimNetwork::send(uint64_t now, Message message) {
  ++sent_;
  if (is_blocked(message.from, message.to) || chance(faults_.drop)) {
    ++dropped_;
    return;
  }
  if (chance(faults_.duplicate)) {
    ++duplicated_;
    in_flight_.emplace(now + delay(), message);
  }
  in_flight_.emplace(now + delay(), std::move(message));
}

std::vector<Message> SimNetwork::due(uint64_t now) {
  std::vector<Message> out;
  auto end = in_flight_.upper_bound(now);
  for (auto it = in_flight_.begin(); it != end; ++it) {
    // A link cut while the message was in flight loses it too.
    if (is_blocked(it->second.from, it->second.to)) {
      ++dropped_;
      continue;
    }
    out.push_back(std::move(it->second));
  }
  in_flight_.erase(in_flight_.begin(), end);
  std::shuffle(out.begin(), out.end(), *rng_);
  return out;
}

}  // namespace nca::raft::sim
