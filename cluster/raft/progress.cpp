#include "cluster/raft/progress.hpp"

#include <algorithm>

namespace nca::raft {

void Progress::become_probe() {
  // After a snapshot the follower has at least the snapshot, so probing starts past it.
  next = state == State::snapshot ? std::max(match + 1, pending_snapshot + 1) : match + 1;
  state = State::probe;
  probe_sent = false;
  pending_snapshot = 0;
  snapshot_ticks = 0;
  inflights_.clear();
}

void Progress::become_replicate() {
  next = match + 1;
  state = State::replicate;
  probe_sent = false;
  pending_snapshot = 0;
  snapshot_ticks = 0;
  inflights_.clear();
}

void Progress::become_snapshot(Index snapshot_index) {
  state = State::snapshot;
  probe_sent = false;
  pending_snapshot = snapshot_index;
  snapshot_ticks = 0;
  inflights_.clear();
}

bool Progress::maybe_update(Index index) {
  bool updated = false;
  if (match < index) {
    match = index;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, index + 1);
  return updated;
}

bool Progress::maybe_decrease_to(Index rejected, Index hint) {
  if (state == State::replicate) {
    if (rejected <= match) return false;  // stale: a later append already matched
    next = match + 1;
    return true;
  }
  // Probe (or snapshot): only the reply to the latest probe counts.
  if (next == 0 || next - 1 != rejected) return false;
  next = std::max<Index>(std::min(rejected, hint + 1), 1);
  probe_sent = false;
  return true;
}

void Progress::sent_entries(size_t count, Index last) {
  if (state == State::replicate) {
    if (count > 0) {
      next = last + 1;
      inflights_.push_back(last);
    }
  } else if (state == State::probe) {
    probe_sent = true;
  }
}

void Progress::free_inflight_up_to(Index index) {
  while (!inflights_.empty() && inflights_.front() <= index) inflights_.pop_front();
}

void Progress::free_first_inflight() {
  if (!inflights_.empty()) inflights_.pop_front();
}

bool Progress::is_paused() const {
  switch (state) {
    case State::probe:
      return probe_sent;
    case State::replicate:
      return inflight_full();
    case State::snapshot:
      return true;
  }
  return true;
}

const char* to_string(Progress::State state) {
  switch (state) {
    case Progress::State::probe:
      return "probe";
    case Progress::State::replicate:
      return "replicate";
    case Progress::State::snapshot:
      return "snapshot";
  }
  return "unknown";
}

}  // namespace nca::raft
