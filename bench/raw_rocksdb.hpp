// bench/raw_rocksdb.hpp: the raw RocksDB baseline of `nca-bench events`: the rate of synced
// single-key writes a fresh database sustains with a given number of concurrent writer threads.
//
// Each thread does one rocksdb::DB::Put with WriteOptions.sync = true per write, into the default
// column family of a database with default options (create_if_missing only), so concurrent writers
// get RocksDB's own group commit (one WAL fsync for the writers that queued behind the leader) and
// nothing else. This is the ceiling of "one durable state change per call" on this disk: an event
// needs three of them (published, delivered, acked).
//
// measure_raw_rocksdb_sync_writes is a free function without shared state; it owns the database
// for the duration of the call and closes it before returning (the directory is the caller's).
#pragma once

#include <cstddef>
#include <string>

#include "nca/result.hpp"

namespace nca::bench {

struct RawRocksdbSyncOptions {
  size_t threads = 1;        // concurrent writers, each writing its own keys
  size_t writes = 10000;     // in total over all threads
  size_t value_bytes = 256;  // about the size of a stored event record
  double max_seconds = 60;   // stop early (and report the rate so far) when the disk is this slow
};

struct RawRocksdbSyncResult {
  size_t writes = 0;  // completed writes (fewer than asked only when max_seconds ran out)
  double seconds = 0;
  double writes_per_s = 0;
  double p50_us = 0;  // latency of one synced Put, as its writer saw it
  double p99_us = 0;
};

// Opens a new database in `dir` (which must not hold one), writes, closes. unavailable if the
// database cannot be opened or a write fails; invalid_argument for zero threads or writes.
Result<RawRocksdbSyncResult> measure_raw_rocksdb_sync_writes(const std::string& dir,
                                                             const RawRocksdbSyncOptions& options);

}  // namespace nca::bench
