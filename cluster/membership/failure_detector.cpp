#include "cluster/membership/failure_detector.hpp"

#include <algorithm>

namespace nca::membership {

const char* to_string(PeerState s) {
  switch (s) {
    case PeerState::alive:
      return "alive";
    case PeerState::suspected:
      return "suspected";
    case PeerState::dead:
      return "dead";
  }
  return "unknown";
}

std::string to_string(const PeerChange& c) {
  const char* kind = "?";
  switch (c.kind) {
    case PeerChange::joined:
      kind = "joined";
      break;
    case PeerChange::restarted:
      kind = "restarted";
      break;
    case PeerChange::suspected:
      kind = "suspected";
      break;
    case PeerChange::recovered:
      kind = "recovered";
      break;
    case PeerChange::died:
      kind = "died";
      break;
  }
  return "node " + std::to_string(c.peer) + " (incarnation " + std::to_string(c.incarnation) +
         ") " + kind;
}

FailureDetector::FailureDetector(Options options) : options_(options) {
  // A peer must be suspected before it is declared dead.
  options_.suspect_after_us = std::max<TimeUs>(1, options_.suspect_after_us);
  options_.dead_after_us = std::max(options_.dead_after_us, options_.suspect_after_us);
}

Observation FailureDetector::observe(PeerId peer, uint64_t incarnation, TimeUs now) {
  Observation out;
  if (incarnation == 0) {
    out.stale = true;
    return out;
  }
  auto it = peers_.find(peer);
  if (it == peers_.end()) {
    peers_.emplace(peer, Peer{incarnation, now, PeerState::alive});
    out.changes.push_back({PeerChange::joined, peer, incarnation});
    return out;
  }
  Peer& p = it->second;
  if (incarnation < p.incarnation) {
    out.stale = true;
    return out;
  }
  if (incarnation > p.incarnation) {
    p = Peer{incarnation, now, PeerState::alive};
    out.changes.push_back({PeerChange::restarted, peer, incarnation});
    return out;
  }
  // Time may step backwards (a clock jump); last heard never moves back, so a peer is not kept
  // alive by a jump, nor killed by one.
  p.last_heard_us = std::max(p.last_heard_us, now);
  if (p.state != PeerState::alive) {
    p.state = PeerState::alive;
    out.changes.push_back({PeerChange::recovered, peer, incarnation});
  }
  return out;
}

std::vector<PeerChange> FailureDetector::tick(TimeUs now) {
  std::vector<PeerChange> out;
  for (auto& [id, p] : peers_) {
    const TimeUs silent = now - p.last_heard_us;
    if (p.state != PeerState::dead && silent >= options_.dead_after_us) {
      if (p.state == PeerState::alive) out.push_back({PeerChange::suspected, id, p.incarnation});
      p.state = PeerState::dead;
      out.push_back({PeerChange::died, id, p.incarnation});
    } else if (p.state == PeerState::alive && silent >= options_.suspect_after_us) {
      p.state = PeerState::suspected;
      out.push_back({PeerChange::suspected, id, p.incarnation});
    }
  }
  return out;
}

void FailureDetector::forget(PeerId peer) { peers_.erase(peer); }

std::optional<PeerState> FailureDetector::state_of(PeerId peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  return it->second.state;
}

std::optional<uint64_t> FailureDetector::incarnation_of(PeerId peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  return it->second.incarnation;
}

std::optional<TimeUs> FailureDetector::last_heard_us(PeerId peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  return it->second.last_heard_us;
}

std::vector<PeerId> FailureDetector::peers() const {
  std::vector<PeerId> out;
  for (const auto& [id, p] : peers_) out.push_back(id);
  return out;
}

}  // namespace nca::membership
