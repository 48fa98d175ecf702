// storage/rocksdb_status.hpp: turns a rocksdb::Status into neuroca's Error.
//
// Corruption becomes data_loss, a held lock or busy/timeout becomes unavailable, no space becomes
// resource_exhausted; everything keeps RocksDB's own message after `context`. Pure; thread-safe.
#pragma once

#include <string>

#include <rocksdb/status.h>

#include "nca/result.hpp"

namespace nca::storage {

ErrorCode error_code_of(const rocksdb::Status& status);

// Precondition: !status.ok(). `context` says what was attempted and where ("get from 'items' in
// /d").
Error error_from_rocksdb(const rocksdb::Status& status, const std::string& context);

}  // namespace nca::storage
