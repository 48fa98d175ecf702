// cluster/raft/progress.hpp: what a leader knows of one follower's log, and its flow control.
//
// Contract (etcd's tracker): `match` is the highest index known to be durable on the follower;
// `next` the next index to send. In probe state the leader sends one append per heartbeat until a
// reply tells it where the logs match; in replicate state it pipelines appends optimistically, at
// most `max_inflight` unacknowledged messages; in snapshot state it waits for the follower to
// install a snapshot (or for snapshot_timeout ticks, after which it probes again, because a lost
// snapshot message would otherwise stall the follower forever). Thread-safety: none; owned by the
// Raft state machine.
#pragma once

#include <cstddef>
#include <deque>

#include "cluster/raft/types.hpp"

namespace nca::raft {

class Progress {
 public:
  enum class State { probe, replicate, snapshot };

  Progress(Index match, Index next, size_t max_inflight, bool learner)
      : match(match), next(next), learner(learner), max_inflight_(max_inflight) {}

  void become_probe();
  void become_replicate();
  void become_snapshot(Index snapshot_index);

  // A successful append reply for `index`; true when it raised match.
  bool maybe_update(Index index);
  // A rejection of the append after `rejected`; `hint` is the follower's last index. False when
  // the rejection is stale (already superseded).
  bool maybe_decrease_to(Index rejected, Index hint);
  // Records an append carrying entries up to `last` (`count` entries).
  void sent_entries(size_t count, Index last);
  // Frees the in-flight slots for messages up to `index`.
  void free_inflight_up_to(Index index);
  void free_first_inflight();
  bool is_paused() const;
  bool inflight_full() const { return inflights_.size() >= max_inflight_; }

  Index match = 0;
  Index next = 1;
  State state = State::probe;
  bool probe_sent = false;     // probe: an append is out; wait for a reply or the next heartbeat
  Index pending_snapshot = 0;  // snapshot: the index of the snapshot sent
  int snapshot_ticks = 0;      // snapshot: ticks since it was sent
  bool recent_active = false;  // heard from within the last election timeout (check-quorum)
  bool learner = false;

 private:
  size_t max_inflight_;
  std::deque<Index> inflights_;  // last index of each unacknowledged append, ascending
};

const char* to_string(Progress::State state);

}  // namespace nca::raft
