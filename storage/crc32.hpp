// storage/crc32.hpp: the checksums of neuroca's own files and records.
//
// crc32c_extend (Castagnoli) guards Raft log records, transport frames and shard checkpoints;
// crc32_ieee_extend (IEEE 802.3, the zlib one) guards vector index files. Both are table-driven,
// slicing by 8, because index files reach hundreds of megabytes and snapshots are checked whole;
// crc32c_extend uses the CPU's CRC32 instruction (SSE4.2) where there is one, about three times
// faster, since every replicated write is checksummed several times on every replica.
// extend(extend(0, a), b) == extend(0, a+b), so a stream is checksummed piece by piece. Pure
// functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nca::storage {

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t n);
uint32_t crc32_ieee_extend(uint32_t crc, const void* data, size_t n);
// crc32c_extend by the tables alone, whatever the CPU (what the instruction must agree with).
uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t n);

inline uint32_t crc32c_extend(uint32_t crc, std::string_view data) {
  return crc32c_extend(crc, data.data(), data.size());
}

}  // namespace nca::storage
