// storage/shard_snapshot.hpp: a shard's replicated state as one blob, for Raft snapshots.
//
// A shard group's snapshot, made when a replica behind the compacted log needs one (shard logs are
// compacted to the shard's state without a copy: cluster/raft_host.hpp, compact_to_state), is a
// checkpoint of the shard's key range: every record of the shard in
// the replicated column families (items, vectors, links, personas, history, archive, meta, and the
// events of the tenants whose events the shard holds), plus the item locators of its personas
// (they live outside the range, keyed by tenant and item id).
//
// Format: "NCSS", a version byte, then records (cf byte, key length varint, key, value length
// varint, value), then a CRC-32C of everything before it (4 bytes, little-endian). restore_shard()
// checks the whole blob before it writes anything, then replaces the shard's records and locators
// and records the snapshot's index as the group's applied index (storage/replicated_apply.hpp), in
// one synced write. The blob is built in memory: a shard is expected to be tens of megabytes, not
// gigabytes (a streamed format is the step after). A Raft host reads it off its own thread
// (pin_shard), so the node's other groups go on meanwhile.
//
// Thread-safety: as Db. The caller makes sure nothing writes the shard meanwhile (the Raft host's
// thread is the only writer of replicated records).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "nca/result.hpp"
#include "storage/db.hpp"

namespace nca::storage {

// The shard's records as one blob; `shards` is the cluster's shard count (locators are matched to
// shards by their persona). `at`: read at that view of the database.
Result<std::string> dump_shard(const Db& db, uint32_t shard, uint32_t shards,
                               const rocksdb::Snapshot* at = nullptr);

// A shard pinned at one view of the database: its group's applied index there, read at once,
// and `dump`, which reads the shard's blob at that view later, on any thread, however the shard
// is written meanwhile (a Raft host pins on its own thread and dumps off it). `dump` holds the
// view, and uses `db`, which must outlive it.
struct PinnedShard {
  uint64_t applied_index = 0;
  std::function<Result<std::string>()> dump;
};
Result<PinnedShard> pin_shard(const Db& db, uint32_t shard, uint32_t shards, uint64_t group);

// An online backup of a shard (nca backup): pin_shard's index and blob at once.
struct ShardCheckpoint {
  std::string blob;
  uint64_t applied_index = 0;
};
Result<ShardCheckpoint> checkpoint_shard(const Db& db, uint32_t shard, uint32_t shards,
                                         uint64_t group);

// One record of a blob; views into the blob.
struct ShardRecord {
  Cf cf;
  std::string_view key, value;
};
// The blob's records, after checking its header, checksum and that every key belongs to `shard`;
// invalid_argument naming `what` and the damage otherwise.
Result<std::vector<ShardRecord>> parse_shard(std::string_view blob, uint32_t shard,
                                             const std::string& what);

// Whether the shard holds no persona and no item (restores go into empty shards only).
Result<bool> shard_is_empty(const Db& db, uint32_t shard);

// Replaces the shard's records with the blob's and sets `group`'s applied index to `index`.
// invalid_argument (nothing written) for a blob that is damaged or holds a key outside the shard.
Status restore_shard(Db& db, uint32_t shard, uint32_t shards, uint64_t group, uint64_t index,
                     std::string_view blob);
// restore_shard()'s write, not yet committed: for a caller that commits it with more (a Raft
// replica's log, storage::RaftLogStore::save_as_state). The shard's current records are read now;
// nothing else may write the shard before the batch commits.
Result<Batch> restore_shard_batch(Db& db, uint32_t shard, uint32_t shards, uint64_t group,
                                  uint64_t index, std::string_view blob);

// Deletes the shard's records and its personas' locators, in one write: this node no longer
// replicates the shard (it left the shard's group).
Status drop_shard(Db& db, uint32_t shard, uint32_t shards);

}  // namespace nca::storage
