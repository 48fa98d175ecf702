#include "storage/merged_batch.hpp"

#include <utility>

namespace nca::storage {

void MergedBatch::append(std::string_view rep) {
  if (rep.size() < kHeader) return;
  rep_.append(rep.data() + kHeader, rep.size() - kHeader);
  count_ += count_of(rep);
}

rocksdb::WriteBatch MergedBatch::take() {
  for (int i = 0; i < 4; ++i) rep_[8 + i] = static_cast<char>((count_ >> (8 * i)) & 0xff);
  rocksdb::WriteBatch batch(std::move(rep_));
  rep_.assign(kHeader, '\0');
  count_ = 0;
  return batch;
}

uint32_t MergedBatch::count_of(std::string_view rep) {
  if (rep.size() < kHeader) return 0;
  uint32_t n = 0;
  for (int i = 3; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(rep[8 + i]);
  return n;
}

}  // namespace nca::storage
