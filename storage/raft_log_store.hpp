// storage/raft_log_store.hpp: a Raft group's durable log, hard state and snapshot in RocksDB.
//
// Many Raft groups share one node's Db; each RaftLogStore serves one group id. Layout:
//
//   raft_log    group(8B BE) index(8B BE)   -> entry     (a group is one contiguous, ordered range)
//   raft_state  group(8B BE) 'h'            -> hard state
//   raft_state  group(8B BE) 'm'            -> snapshot meta (index, term, conf, data size and crc;
//                                              a state snapshot adds a flag and has no data)
//   raft_state  group(8B BE) 'd'            -> snapshot data (raw bytes, checked against the meta)
//   raft_state  group(8B BE) 'a'            -> the application's applied index (written by the
//                                              application with what it applies; see
//                                              storage/replicated_apply.hpp)
//
// Every record but the snapshot data carries a CRC-32C over its key and body, so a torn or
// overwritten record, or one copied under another key, reads as ErrorCode::data_loss naming the
// group and index instead of a wrong value.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/raft/log_storage.hpp"
#include "nca/result.hpp"
#include "storage/db.hpp"

namespace nca::storage {

// Keys of the layout above, for tools and tests that inspect or damage the records directly.
std::string raft_log_key(uint64_t group, raft::Index index);
std::string raft_hard_state_key(uint64_t group);
std::string raft_snapshot_meta_key(uint64_t group);
std::string raft_snapshot_data_key(uint64_t group);
std::string raft_applied_key(uint64_t group);

// RaftLogStore implements raft::LogStorage (see cluster/raft/log_storage.hpp for the contract) on
// the raft_log and raft_state column families.
//
// Contract: open() reads and validates the group's whole state once (every record's checksum and
// the snapshot data's, a log contiguous from the snapshot's index + 1, non-decreasing terms, a
// commit index within the log); anything else is ErrorCode::data_loss naming the group and the
// index, never a crash. save() and compact() validate their input against the current state first
// (bad input is invalid_argument, an outdated snapshot conflict; either way nothing is written),
// then write everything in one Batch through Db::commit, so each call is atomic and, when the Db
// syncs, durable before it returns (except a save that only moves the commit index, which is
// written without an fsync, as LogStorage allows). A failed commit leaves the in-memory view
// unchanged, but whether RocksDB kept the batch is then unknown (a failed fsync), so the caller
// should treat the group as failed and reopen the store before trusting it again. Hard state,
// snapshot meta and the first/last index live in memory; the newest entries (up to
// Options::cache_entries and cache_bytes) are cached, so a leader's term() and entries() calls on
// its recent log never read RocksDB. Older entries and the snapshot data are read from RocksDB on
// demand.
//
// Thread-safety: every method may be called from any thread. save() and compact() are serialized.
// Reads answered from memory (first/last index, hard state, cached entries and terms) never wait
// for a write's fsync; reads that go to RocksDB (older entries, snapshot data) wait for a write in
// progress, so they never see half of one. Raft itself calls from one thread.
//
// Ownership: the store borrows `db`, which must outlive it. At most one store may be open per (Db,
// group) at a time; two would each cache a stale view of the other's writes.
class RaftLogStore final : public raft::LogStorage {
 public:
  struct Options {
    // The tail cache keeps at most this many of the newest entries (0 turns it off)...
    size_t cache_entries = 4096;
    // ...and at most about this many bytes of them (data plus a fixed per-entry overhead). Unless
    // the cache is off, the newest entry stays cached whatever its size.
    size_t cache_bytes = 16 << 20;
  };

  static Result<std::unique_ptr<RaftLogStore>> open(Db* db, uint64_t group);
  static Result<std::unique_ptr<RaftLogStore>> open(Db* db, uint64_t group, const Options& options);
  // Deletes every record of `group` in one synced commit (a replica removed from this node). No
  // store may be open for the group.
  static Status destroy(Db* db, uint64_t group);
  // The commit index `group`'s hard state holds (0 when it has none), read without opening a
  // store: what a restarting node already knew to be committed.
  static Result<raft::Index> persisted_commit(Db* db, uint64_t group);

  ~RaftLogStore() override;
  RaftLogStore(const RaftLogStore&) = delete;
  RaftLogStore& operator=(const RaftLogStore&) = delete;

  Result<raft::InitialState> initial_state() const override;
  Result<std::vector<raft::Entry>> entries(raft::Index lo, raft::Index hi,
                                           uint64_t max_bytes) const override;
  Result<raft::Term> term(raft::Index index) const override;
  raft::Index first_index() const override;
  raft::Index last_index() const override;
  Result<raft::Snapshot> snapshot() const override;

  Status save(const raft::HardState* hard_state, const std::vector<raft::Entry>& entries,
              const raft::Snapshot* snapshot) override;
  // Writes without an fsync (a snapshot is still synced); sync() syncs the Db's write-ahead log.
  Status save_unsynced(const raft::HardState* hard_state, const std::vector<raft::Entry>& entries,
                       const raft::Snapshot* snapshot) override;
  Status sync() override;
  // save() of a snapshot received from the leader whose data the application has turned into
  // `state`, the records that replace its own: they are written with the snapshot's meta (as a
  // state snapshot, compact_to_state's kind: no data is stored, and snapshot() asks the source),
  // `hard_state` and `entries`, in one synced commit. So the state and the log never disagree
  // after a crash, and the data is written once instead of twice. The checks and errors of save();
  // on an error nothing is written, `state` included.
  Status save_as_state(const raft::HardState* hard_state, const std::vector<raft::Entry>& entries,
                       const raft::SnapshotMeta& meta, Batch state);
  Status compact(const raft::Snapshot& snapshot) override;
  // A state snapshot (log_storage.hpp): the meta record alone, synced, with the entries it covers
  // deleted and any stored data with them. snapshot() then calls the source (no lock held).
  Status compact_to_state(const raft::SnapshotMeta& meta) override;
  void set_snapshot_source(SnapshotSource source) override;
  Result<raft::SnapshotMeta> snapshot_meta() const override;

  uint64_t group() const { return group_; }
  // Reads that went to RocksDB since open (cache misses and snapshot data), for tests and
  // benchmarks that check the tail cache does its job.
  uint64_t storage_reads() const { return storage_reads_.load(std::memory_order_relaxed); }
  // Number of entries in the tail cache.
  size_t cached_entries() const;

 private:
  struct SnapshotRecord {
    raft::SnapshotMeta meta;
    uint64_t data_size = 0;
    uint32_t data_crc = 0;
    bool state = false;  // the application's state is the snapshot; no data is stored
  };

  RaftLogStore(Db* db, uint64_t group, const Options& options);

  Status load();
  // compact() and compact_to_state(): `data` null for a state snapshot.
  Status compact_impl(const raft::SnapshotMeta& meta, const std::string* data);
  // `state`, when given, is the application's records for a snapshot saved as a state snapshot
  // (save_as_state): the commit starts from it.
  Status save_impl(const raft::HardState* hard_state, const std::vector<raft::Entry>& entries,
                   const raft::Snapshot* snapshot, bool defer_sync, Batch* state);
  // The helpers below read state that only writers change; callers hold write_mutex_ or mutex_.
  Result<raft::Term> term_locked(raft::Index index) const;
  Result<raft::Entry> read_entry(raft::Index index) const;
  Status read_from_storage(raft::Index lo, raft::Index hi, uint64_t max_bytes, uint64_t* bytes,
                           std::vector<raft::Entry>* out) const;
  bool cached(raft::Index index) const;
  void cache_append(const std::vector<raft::Entry>& entries);
  void cache_evict();
  std::string describe(raft::Index index) const;

  Db* const db_;
  const uint64_t group_;
  const Options options_;

  // Writers (save, compact) and reads that go to RocksDB hold write_mutex_; a writer also holds
  // mutex_ while it changes the fields below, so holding either mutex gives a stable view of them.
  mutable std::mutex write_mutex_;
  mutable std::mutex mutex_;
  bool needs_sync_ = false;  // guarded by write_mutex_: a save_unsynced wrote without an fsync
  raft::HardState hard_state_;
  SnapshotRecord snapshot_;
  SnapshotSource source_;  // guarded by write_mutex_
  raft::Index first_index_ = 1;
  raft::Index last_index_ = 0;
  // The newest entries, contiguous, ending at last_index_ (or empty).
  std::deque<raft::Entry> cache_;
  size_t cache_bytes_ = 0;

  mutable std::atomic<uint64_t> storage_reads_{0};
};

}  // namespace nca::storage
