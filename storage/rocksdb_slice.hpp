// storage/rocksdb_slice.hpp: a string_view as a rocksdb::Slice (no copy; the view's bytes must
// outlive the slice).
#pragma once

#include <string_view>

#include <rocksdb/slice.h>

namespace nca::storage {

inline rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

}  // namespace nca::storage
