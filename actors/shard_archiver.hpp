// actors/shard_archiver.hpp: takes and loads shard checkpoints for nca backup and nca restore.
//
// The api actor routes a backup_shard or restore_shard request like a persona's, to the node that
// serves the shard (its caught-up leader on a cluster), and hands it to this actor there:
//   * backup_shard: the shard's records and its group's applied index, read at one RocksDB view
//     (storage::checkpoint_shard), so the checkpoint is consistent while writes go on and holds
//     every write acknowledged before the request arrived (a serving leader has applied them);
//   * restore_shard: checks the checkpoint, refuses a shard that already holds personas or items,
//     and writes the records through the shard's Raft log (on a cluster: every replica gets them)
//     or straight to RocksDB (standalone), in batches of about 1 MiB.
// A detached actor: a checkpoint is tens of megabytes of reads, which must not hold up the
// scheduler threads. One request at a time. (handle_atom, RequestPtr) -> (method, reply bytes).
#pragma once

#include <caf/all.hpp>

#include "actors/node_context.hpp"

namespace nca::actors {

caf::actor spawn_shard_archiver(caf::actor_system& sys, NodeContextPtr ctx);

}  // namespace nca::actors
