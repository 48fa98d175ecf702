// storage/batch.hpp: a set of writes applied atomically by Db.
//
// A Batch wraps a rocksdb::WriteBatch and is bound to the column-family handles of the Db that made
// it (Db::batch()); Db refuses a non-empty batch bound to another Db. Movable, not copyable; not
// thread-safe (one writer builds it, then hands it to Db::commit*). The handle table it points to
// is owned by the Db and must outlive the batch's use in that Db.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include <google/protobuf/message_lite.h>
#include <rocksdb/write_batch.h>

#include "storage/column_family.hpp"

namespace rocksdb {
class ColumnFamilyHandle;
}

namespace nca::storage {

using CfHandles = std::array<rocksdb::ColumnFamilyHandle*, kCfCount>;

class Batch {
 public:
  // `handles` may be null for a batch that is never written to a Db (tests of the group committer).
  explicit Batch(const CfHandles* handles) : handles_(handles) {}
  Batch(Batch&&) noexcept = default;
  Batch& operator=(Batch&&) = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  void put(Cf cf, std::string_view key, std::string_view value);
  void del(Cf cf, std::string_view key);
  // Deletes keys in [begin, end).
  void delete_range(Cf cf, std::string_view begin, std::string_view end);
  void put_proto(Cf cf, std::string_view key, const google::protobuf::MessageLite& record);

  size_t count() const { return static_cast<size_t>(rep_.Count()); }
  size_t byte_size() const { return rep_.GetDataSize(); }
  bool empty() const { return rep_.Count() == 0; }

  const CfHandles* handles() const { return handles_; }
  rocksdb::WriteBatch& rep() { return rep_; }

 private:
  rocksdb::ColumnFamilyHandle* handle(Cf cf) const;

  const CfHandles* handles_;
  rocksdb::WriteBatch rep_;
};

}  // namespace nca::storage
