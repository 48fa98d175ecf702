// storage/db.hpp: a node's RocksDB, opened with every neuroca column family.
//
// Contract: reads (get, multi_get, scan) see every batch whose commit has completed. Writes go
// through one group committer: a batch is applied in submission order, and a committed batch is
// durable (WAL fsynced when Options.sync) before its callback runs; concurrent commits share one
// fsync. write_unsynced applies a batch in the same order without asking for an fsync. Errors are
// values naming the path and RocksDB's message; a corrupt block is ErrorCode::data_loss, never a
// crash.
//
// Thread-safety: every method may be called from any thread, except that a commit callback must not
// call commit()/write_unsynced()/delete_range() (they would wait for the thread running the
// callback; they return an error instead) and must not destroy the Db. Ownership: Db owns the
// RocksDB instance, its column-family handles and the committer thread; the destructor drains
// queued commits, then closes. Batches are created by batch() and must be committed to the Db that
// created them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nca/result.hpp"
#include "storage/batch.hpp"

namespace rocksdb {
class Snapshot;
}
#include "storage/column_family.hpp"
#include "storage/group_committer.hpp"
#include "storage/slow_io.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace nca::storage {

class Db {
 public:
  struct Options {
    std::string path;
    // Fsync the WAL before acknowledging a commit. Off only where losing recent writes on power
    // loss is acceptable (benchmarks, throwaway dev data).
    bool sync = true;
    size_t block_cache_bytes = 256 << 20;
    // Memtable size of each column family; all memtables together are capped at twice this.
    size_t write_buffer_bytes = 64 << 20;
    bool create_if_missing = true;
  };

  static Result<std::unique_ptr<Db>> open(const Options& options);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // A point-in-time view for reads that must agree with each other (a backup's checkpoint):
  // reads given it see the database as it was when it was taken, whatever commits meanwhile.
  // The view is released when the last copy goes.
  using View = std::shared_ptr<const rocksdb::Snapshot>;
  View read_view() const;

  // `at`: read at that view (null: the latest committed state).
  Result<std::optional<std::string>> get(Cf cf, std::string_view key,
                                         const rocksdb::Snapshot* at = nullptr) const;
  std::vector<Result<std::optional<std::string>>> multi_get(
      Cf cf, const std::vector<std::string>& keys) const;
  // Visits keys with `prefix` in key order until `visit` returns false. A non-empty `start_after`
  // resumes a scan after that key. An error (e.g. a corrupt block) stops the scan and is returned.
  Status scan(Cf cf, std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& visit,
              std::string_view start_after = {}, const rocksdb::Snapshot* at = nullptr) const;

  Batch batch();

  // `done` runs on the committer thread once the batch is durable (or failed); see GroupCommitter.
  void commit_async(Batch batch, std::function<void(Status)> done);
  Status commit(Batch batch);
  Status write_unsynced(Batch batch);
  // Writes `batch` on the caller's thread, unsynced, without passing through the committer: no
  // hand-off to its thread and back, but also no order against batches queued there. Only for a
  // writer whose keys no queued or concurrent commit touches (a Raft log store writes its group's
  // log and state keys alone, and waits for its own synced saves).
  Status write_direct(Batch batch);
  // Makes every write that has returned durable (an fsync of the write-ahead log), for writers
  // that wrote several batches unsynced and pay for one fsync at the end. Counted in sync_count()
  // when it syncs; a call that finds nothing written since the last completed sync returns at
  // once (a node's Raft groups share the Db, and each asks after the same round).
  Status sync_wal();
  // Deletes keys in [begin, end) of `cf` with a synced commit.
  Status delete_range(Cf cf, std::string_view begin, std::string_view end);

  // A consistent copy of the whole database in `dir` (hard links where possible); `dir` must not
  // exist.
  Status checkpoint(const std::string& dir) const;
  // Flushes every column family's memtable to SST files (benchmarks, tests, before a checkpoint
  // copy).
  Status flush();

  uint64_t sync_count() const;
  uint64_t commit_count() const;
  // Durations of synced writes and WAL fsyncs, slow operations, write stalls (storage/slow_io.hpp).
  const IoCounters& io() const { return *io_; }
  std::string path() const;
  rocksdb::DB* raw();
  rocksdb::ColumnFamilyHandle* handle(Cf cf) const;
  uint64_t approximate_size() const;

 private:
  Db() = default;
  Status write_group(std::vector<Batch*>& batches, bool sync);
  Status wait_for(Batch batch, bool sync);

  Options options_;
  std::unique_ptr<rocksdb::DB> db_;
  CfHandles handles_{};
  // Handles of the default family and of families this build does not know (kept open, never used).
  std::vector<rocksdb::ColumnFamilyHandle*> other_handles_;
  std::unique_ptr<GroupCommitter> committer_;
  std::atomic<uint64_t> wal_syncs_{0};  // sync_wal() calls that synced
  // Shared with the StallLogger RocksDB holds.
  std::shared_ptr<IoCounters> io_ = std::make_shared<IoCounters>();
  // The last sequence number a completed sync_wal() covered: every write published at or below
  // it had reached the WAL file before that sync began.
  std::atomic<uint64_t> synced_sequence_{0};
};

}  // namespace nca::storage
