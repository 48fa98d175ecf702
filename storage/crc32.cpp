#include "storage/crc32.hpp"

#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "storage/encoding.hpp"

namespace nca::storage {
namespace {

struct Tables {
  uint32_t t[8][256];
};

constexpr Tables make_tables(uint32_t reflected_polynomial) {
  Tables tables{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ reflected_polynomial : c >> 1;
    tables.t[0][i] = c;
  }
  for (int k = 1; k < 8; ++k) {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t prev = tables.t[k - 1][i];
      tables.t[k][i] = (prev >> 8) ^ tables.t[0][prev & 0xff];
    }
  }
  return tables;
}

constexpr Tables kCastagnoli = make_tables(0x82F63B78u);
constexpr Tables kIeee = make_tables(0xEDB88320u);

uint32_t extend(const Tables& t, uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  while (n >= 8) {
    uint32_t lo = crc ^ load_le32(p);
    uint32_t hi = load_le32(p + 4);
    crc = t.t[7][lo & 0xff] ^ t.t[6][(lo >> 8) & 0xff] ^ t.t[5][(lo >> 16) & 0xff] ^
          t.t[4][lo >> 24] ^ t.t[3][hi & 0xff] ^ t.t[2][(hi >> 8) & 0xff] ^
          t.t[1][(hi >> 16) & 0xff] ^ t.t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = t.t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_instruction(uint32_t crc, const void* data,
                                                              size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t c = ~crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

bool cpu_has_crc32c() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t n) {
#if defined(__x86_64__)
  if (cpu_has_crc32c()) return crc32c_instruction(crc, data, n);
#endif
  return extend(kCastagnoli, crc, data, n);
}

uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t n) {
  return extend(kCastagnoli, crc, data, n);
}

uint32_t crc32_ieee_extend(uint32_t crc, const void* data, size_t n) {
  return extend(kIeee, crc, data, n);
}

}  // namespace nca::storage
