// storage/memtable_order.hpp: a write batch's records reordered so that the memtable inserts them
// cheaply.
//
// Why: RocksDB inserts a batch's records into each family's skiplist in batch order, and it reuses
// the position of the previous insert (its "splice") only when the next key lands near it. A batch
// merged from many writers (the group committer's, a Raft apply round's) jumps between personas
// and families, so every insert searches the skiplist from the top: on a cluster node that search
// was a sixth of the CPU (docs/benchmarks.md, session 31). Sorted by family and key, consecutive
// inserts are neighbours.
//
// Contract: the result, written in place of `batch`, leaves the database in the same state.
// Records are stably sorted by (column family id, key) within runs of plain Put, Delete and
// SingleDelete records; any other record (DeleteRange, Merge, LogData, ...) stays where it is and
// no record crosses it, so a range deletion still covers exactly the records before it. Two
// records of one key keep their order. Returns nullopt (write `batch` as it is) when the batch has
// fewer than two records or a record of a family `handles` does not name.
//
// Thread-safety: a pure function. `handles` maps family ids to handles (any order).
#pragma once

#include <optional>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

namespace nca::storage {

std::optional<rocksdb::WriteBatch> sorted_for_memtable(
    const rocksdb::WriteBatch& batch, const std::vector<rocksdb::ColumnFamilyHandle*>& handles);

}  // namespace nca::storage
