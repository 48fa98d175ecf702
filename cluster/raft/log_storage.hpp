// cluster/raft/log_storage.hpp: where a Raft node's log, hard state and snapshot live.
//
// Contract: the state machine (Raft) only reads through this interface; the application writes, by
// passing each Ready's contents to save() and by compacting after it has taken a snapshot. The log
// holds the entries (first_index() - 1, last_index()]; the entry at first_index() - 1 is the
// snapshot's (or the log's dummy start at index 0), whose term term() still answers. save() is
// atomic and, for durable implementations, synced before it returns: a crash afterwards keeps all
// of it, a crash during it keeps none of it. The one exception: a save that changes nothing but
// the hard state's commit index may skip the sync (a restarted node learns the commit index again
// from the leader; Raft never relies on it being durable). Entries passed to save() whose index is
// at or below last_index() replace the stored suffix from that index on (a follower's conflict
// resolution).
//
// Errors are values: reads below first_index() - 1 answer ErrorCode::not_found ("compacted"),
// reads above last_index() ErrorCode::invalid_argument; storage failures ErrorCode::internal or
// data_loss with RocksDB's message. Thread-safety: implementations say; Raft calls from one thread.
// Ownership: the application owns the storage and keeps it alive as long as the Raft node.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "cluster/raft/types.hpp"
#include "nca/result.hpp"

namespace nca::raft {

struct InitialState {
  HardState hard_state;
  ConfState conf;  // membership as of the snapshot (Raft replays later conf entries itself)
};

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  virtual Result<InitialState> initial_state() const = 0;
  // Entries [lo, hi), stopping early once their data exceeds max_bytes (at least one entry is
  // returned when lo < hi).
  virtual Result<std::vector<Entry>> entries(Index lo, Index hi, uint64_t max_bytes) const = 0;
  // Term of the entry at `index`, for index in [first_index() - 1, last_index()].
  virtual Result<Term> term(Index index) const = 0;
  virtual Index first_index() const = 0;
  virtual Index last_index() const = 0;
  // The latest snapshot (empty() when none has been taken or installed).
  virtual Result<Snapshot> snapshot() const = 0;

  // Writes, in this order, atomically: `snapshot` (when non-null: replaces the whole log, whose new
  // first index becomes snapshot->meta.index + 1), `entries` (contiguous, ascending), `hard_state`
  // (when non-null).
  virtual Status save(const HardState* hard_state, const std::vector<Entry>& entries,
                      const Snapshot* snapshot) = 0;
  // save(), except that what it writes need not be durable before the next sync() returns: a host
  // of many groups saves them all, then pays for one fsync rather than one per group. Until sync()
  // returns, nothing saved so may be acknowledged or acted on. The default saves durably.
  virtual Status save_unsynced(const HardState* hard_state, const std::vector<Entry>& entries,
                               const Snapshot* snapshot) {
    return save(hard_state, entries, snapshot);
  }
  // Makes every earlier save_unsynced() durable.
  virtual Status sync() { return {}; }
  // Records `snapshot` (taken by the application at an applied index <= last_index()) and drops
  // the entries it covers. A snapshot older than the current one is refused with
  // ErrorCode::conflict and changes nothing.
  virtual Status compact(const Snapshot& snapshot) = 0;

  // ---- snapshots that are the application's own state ----
  // An application whose state lives durably beside the log (a shard in the same RocksDB) need not
  // copy it at every compaction: compact_to_state() records only `meta` (the application has
  // applied, durably, everything up to meta.index) and drops the entries it covers, checked as
  // compact() checks. snapshot() then asks the source for a current snapshot, made only when a
  // follower needs one. Storages that cannot do this refuse with ErrorCode::invalid_argument.
  using SnapshotSource = std::function<Result<Snapshot>()>;
  virtual Status compact_to_state(const SnapshotMeta& meta) {
    (void)meta;
    return make_error(ErrorCode::invalid_argument, "this log storage keeps no state snapshots");
  }
  // Installs the source snapshot() uses while the stored snapshot is a state snapshot (called
  // without any of the storage's locks held). Without one, snapshot() answers unavailable.
  virtual void set_snapshot_source(SnapshotSource source) { (void)source; }
  // The stored snapshot's meta (index 0: none), without reading or making its data.
  virtual Result<SnapshotMeta> snapshot_meta() const {
    auto s = snapshot();
    if (!s) return s.error();
    return s->meta;
  }
};

}  // namespace nca::raft
