// storage/replicated_apply.hpp: how a replica applies a write its shard's Raft log committed.
//
// A persona write is planned on the shard's leader as one WriteBatch; the batch's representation
// travels in the log, and every replica applies the same bytes. apply_replicated_batch() checks
// the representation (a batch that does not parse is refused before anything is written: a
// corrupt entry never reaches the memtable half-applied) and writes it together with the group's
// applied index, in one RocksDB write without an fsync: the log itself is durable, or written
// before it into the same write-ahead log (a round may apply before it syncs, see
// cluster/raft_host.hpp), and after a crash the entries after the stored applied index are
// applied again. Re-applying is harmless
// because entries carry whole-key puts and deletes, replayed in log order.
//
// Thread-safety: as Db (any thread); one writer per group, in log order. Pure functions of the Db.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nca/result.hpp"
#include "storage/db.hpp"
#include "storage/merged_batch.hpp"

namespace nca::storage {

// Applies the WriteBatch representation `rep` as entry `index` of Raft group `group`, the log of
// `shard`. An empty `rep` only records the index. invalid_argument (nothing written) when `rep` is
// not a valid batch, or writes anything but keys of the shard's range (storage/keys.hpp) and item
// locators; unavailable/data_loss from RocksDB.
Status apply_replicated_batch(Db& db, uint64_t group, uint32_t shard, uint64_t index,
                              std::string_view rep);

// The committed entries of one Raft round, of any of the node's groups, applied as one RocksDB
// write instead of one per entry (one WAL record and one write(2) per round). Each add() is
// checked as apply_replicated_batch() checks it; write() writes every record added since the last
// write, in the order added, with each group's last added index. Nothing added is visible before
// write() returns, so whoever answers for an entry must wait for it. Once the added records pass
// kFlushBytes, add() writes them itself.
//
// Thread-safety: none; one owner (the Raft host's thread). Holds a reference to `db`.
class ApplyRound {
 public:
  static constexpr size_t kFlushBytes = 8 << 20;

  explicit ApplyRound(Db& db);
  // invalid_argument (nothing added) as apply_replicated_batch; errors of an early write().
  // `item_personas`, when given, gets the persona prefixes (storage/keys.hpp) whose item records
  // `rep` writes or deletes, noted while it is checked (for the follower index warmer,
  // actors/index_warmer.hpp); possibly repeated across entries.
  Status add(uint64_t group, uint32_t shard, uint64_t index, std::string_view rep,
             std::vector<std::string>* item_personas = nullptr);
  Status write();
  bool empty() const { return records_.count() == 0 && applied_.empty(); }

 private:
  Db& db_;
  MergedBatch records_;
  std::vector<std::pair<uint64_t, uint64_t>> applied_;  // (group, last index), groups distinct
};

// The stored form of an applied index (8 bytes, big-endian), for writers that record one with
// other state (storage/shard_snapshot.hpp).
std::string applied_index_value(uint64_t index);

// The last index apply_replicated_batch recorded for `group` (0: none).
Result<uint64_t> applied_index(const Db& db, uint64_t group, const rocksdb::Snapshot* at = nullptr);

}  // namespace nca::storage
