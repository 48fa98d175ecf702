// cluster/raft/raft_log.hpp: a Raft node's view of its log: what storage holds plus what is new.
//
// Contract (etcd's raftLog): entries and a snapshot that the state machine has accepted but the
// application has not yet persisted are "unstable" and live here; everything else is read through
// the LogStorage. `committed` is the highest index known committed; `applied` the highest the
// application has applied. Invariant: applied <= committed <= last_index(). Appending at or below
// the last index replaces the suffix (never at or below committed: that would be a safety bug and
// is refused). Thread-safety: none; owned by the Raft state machine. The storage must outlive it.
#pragma once

#include <optional>
#include <vector>

#include "cluster/raft/log_storage.hpp"

namespace nca::raft {

class RaftLog {
 public:
  explicit RaftLog(const LogStorage* storage);

  // Reads the storage's bounds; committed = hard state commit, applied = snapshot index.
  Status init(Index commit);

  Index first_index() const;
  Index last_index() const;
  Term last_term() const;
  Result<Term> term(Index index) const;
  Term term_or_zero(Index index) const;  // 0 when compacted or beyond the log
  bool match_term(Index index, Term term) const;
  // Is a log ending at (last_index, last_term) at least as up to date as ours (Raft §5.4.1)?
  bool is_up_to_date(Index last_index, Term last_term) const;

  // A follower's append: when our entry at `index` has `log_term`, merges `entries` after it and
  // returns the new last index (index + entries.size()); nullopt on mismatch. An entry that
  // conflicts with a committed one is refused with ErrorCode::internal.
  Result<std::optional<Index>> maybe_append(Index index, Term log_term, Index leader_commit,
                                            const std::vector<Entry>& entries);
  // A leader's append of new entries (their indices follow last_index()).
  void append(const std::vector<Entry>& entries);

  // Entries [lo, hi), at most max_bytes of data (at least one). not_found when lo is compacted.
  Result<std::vector<Entry>> slice(Index lo, Index hi, uint64_t max_bytes) const;

  Index committed() const { return committed_; }
  Index applied() const { return applied_; }
  void commit_to(Index index);
  // Commits `index` when its entry is from `term` (Raft commits only current-term entries by
  // count).
  bool maybe_commit(Index index, Term term);
  void applied_to(Index index);

  // Unstable state, handed to the application in a Ready.
  const std::vector<Entry>& unstable_entries() const { return unstable_; }
  const std::optional<Snapshot>& unstable_snapshot() const { return unstable_snapshot_; }
  // The application persisted entries up to (index, term) / the snapshot at `index`.
  void stable_to(Index index, Term term);
  void stable_snapshot_to(Index index);
  // The last index that is both ours and persisted (what a leader may count as its own match).
  Index stable_last_index() const;

  // Installs a snapshot: the log becomes (snapshot], all of it committed.
  void restore(const Snapshot& snapshot);

 private:
  const LogStorage* storage_;
  std::optional<Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_;  // contiguous, starting at unstable_offset_
  Index unstable_offset_ = 1;
  Index committed_ = 0;
  Index applied_ = 0;
};

}  // namespace nca::raft
