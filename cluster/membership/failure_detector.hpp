// cluster/membership/failure_detector.hpp: which peers are alive, suspected or dead, and whether a
// message comes from a peer's current life.
//
// Contract: the node reports every message it hears from a peer with observe(peer, incarnation,
// now) and calls tick(now) periodically; both return the state changes they caused, for the caller
// to act on (log, tell the metadata group, drop connections). Time is a parameter, never read
// here, so tests and the simulator drive it. A peer is
//   * alive      while heard from within `suspect_after`;
//   * suspected  after `suspect_after` of silence (routing should avoid it; it may come back);
//   * dead       after `dead_after` of silence (its replicas are to be replaced).
// Incarnations fence restarts: a node draws a fresh incarnation each time it starts (node ids may
// repeat after a restart in a container). A message with a higher incarnation than the one known
// means the peer restarted (reported as `restarted`: whatever the old life had in flight is gone);
// a lower one is a message from a previous life, still in some buffer, and must be dropped
// (observe returns `stale`). Incarnation 0 is invalid and refused the same way.
//
// Not thread-safe: one owner (the node's transport actor). Owns only its table.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nca::membership {

using PeerId = uint64_t;
using TimeUs = int64_t;

enum class PeerState { alive, suspected, dead };

const char* to_string(PeerState s);

struct PeerChange {
  enum Kind {
    joined,     // first message from this peer
    restarted,  // a higher incarnation than before
    suspected,  // alive -> suspected
    recovered,  // suspected or dead -> alive again (same incarnation)
    died,       // -> dead
  };
  Kind kind;
  PeerId peer;
  uint64_t incarnation;

  bool operator==(const PeerChange& o) const {
    return kind == o.kind && peer == o.peer && incarnation == o.incarnation;
  }
};

std::string to_string(const PeerChange& c);

struct Observation {
  bool stale = false;  // drop the message: it is from an older incarnation (or incarnation 0)
  std::vector<PeerChange> changes;
};

class FailureDetector {
 public:
  struct Options {
    TimeUs suspect_after_us = 1'500'000;  // three heartbeats of 500 ms
    TimeUs dead_after_us = 30'000'000;    // cluster.dead-after
  };

  explicit FailureDetector(Options options);

  Observation observe(PeerId peer, uint64_t incarnation, TimeUs now);
  std::vector<PeerChange> tick(TimeUs now);

  // Stops tracking a peer (it left the cluster); a later message makes it join again.
  void forget(PeerId peer);

  std::optional<PeerState> state_of(PeerId peer) const;
  std::optional<uint64_t> incarnation_of(PeerId peer) const;
  std::optional<TimeUs> last_heard_us(PeerId peer) const;
  std::vector<PeerId> peers() const;  // in id order

 private:
  struct Peer {
    uint64_t incarnation = 0;
    TimeUs last_heard_us = 0;
    PeerState state = PeerState::alive;
  };

  Options options_;
  std::map<PeerId, Peer> peers_;
};

}  // namespace nca::membership
