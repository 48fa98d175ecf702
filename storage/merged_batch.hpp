// storage/merged_batch.hpp: the records of several write batches under one batch header.
//
// RocksDB's WriteBatch representation (write_batch.cc) is a 12-byte header, an 8-byte sequence
// number RocksDB assigns and a 4-byte little-endian record count, then the records. Appending the
// records of several batches under one header makes them one RocksDB write (one WAL record, one
// write(2)), which is what RocksDB's own write groups do; the group committer and the Raft apply
// round both merge this way.
//
// Thread-safety: none; one owner. Holds its own copy of every record appended.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <rocksdb/write_batch.h>

namespace nca::storage {

class MergedBatch {
 public:
  static constexpr size_t kHeader = 12;

  MergedBatch() : rep_(kHeader, '\0') {}

  void reserve(size_t bytes) { rep_.reserve(bytes); }
  // Appends the records of the batch representation `rep`, which must hold at least a header.
  void append(std::string_view rep);
  // Header and records so far.
  size_t bytes() const { return rep_.size(); }
  uint32_t count() const { return count_; }
  // The merged batch; this one is empty again afterwards.
  rocksdb::WriteBatch take();

  // The record count a representation's header states; 0 for fewer than kHeader bytes.
  static uint32_t count_of(std::string_view rep);

 private:
  std::string rep_;
  uint32_t count_ = 0;
};

}  // namespace nca::storage
