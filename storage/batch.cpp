#include "storage/batch.hpp"

#include <string>

#include <rocksdb/slice.h>

#include "storage/rocksdb_slice.hpp"

namespace nca::storage {

rocksdb::ColumnFamilyHandle* Batch::handle(Cf cf) const {
  // A null handle means RocksDB's default family: only unbound batches (never written to a Db) get
  // it.
  if (handles_ == nullptr || cf_index(cf) >= kCfCount) return nullptr;
  return (*handles_)[cf_index(cf)];
}

// WriteBatch's own statuses only report timestamp misuse and size limits, neither of which we
// configure, so they are not surfaced.
void Batch::put(Cf cf, std::string_view key, std::string_view value) {
  (void)rep_.Put(handle(cf), slice(key), slice(value));
}

void Batch::del(Cf cf, std::string_view key) { (void)rep_.Delete(handle(cf), slice(key)); }

void Batch::delete_range(Cf cf, std::string_view begin, std::string_view end) {
  (void)rep_.DeleteRange(handle(cf), slice(begin), slice(end));
}

void Batch::put_proto(Cf cf, std::string_view key, const google::protobuf::MessageLite& record) {
  std::string bytes;
  record.SerializeToString(&bytes);
  put(cf, key, bytes);
}

}  // namespace nca::storage
