// MergedBatch: the records of several write batches under one header, in order.
#include "storage/merged_batch.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nca::storage {
namespace {

// Lists a batch's records as "put k=v" / "delete k", in order.
class Lister : public rocksdb::WriteBatch::Handler {
 public:
  rocksdb::Status PutCF(uint32_t, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
    records.push_back("put " + k.ToString() + "=" + v.ToString());
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t, const rocksdb::Slice& k) override {
    records.push_back("delete " + k.ToString());
    return rocksdb::Status::OK();
  }
  std::vector<std::string> records;
};

std::vector<std::string> list(rocksdb::WriteBatch& b) {
  Lister l;
  EXPECT_TRUE(b.Iterate(&l).ok());
  return l.records;
}

TEST(MergedBatch, HoldsEveryBatchsRecordsInOrderUnderOneCount) {
  rocksdb::WriteBatch a;
  ASSERT_TRUE(a.Put("a1", "x").ok());
  ASSERT_TRUE(a.Delete("a2").ok());
  rocksdb::WriteBatch b;
  ASSERT_TRUE(b.Put("b1", "y").ok());
  MergedBatch m;
  m.append(a.Data());
  m.append(b.Data());
  EXPECT_EQ(m.count(), 3u);
  EXPECT_EQ(m.bytes(), a.GetDataSize() + b.GetDataSize() - MergedBatch::kHeader);
  rocksdb::WriteBatch merged = m.take();
  EXPECT_EQ(merged.Count(), 3u);
  EXPECT_EQ(list(merged), (std::vector<std::string>{"put a1=x", "delete a2", "put b1=y"}));
  EXPECT_EQ(MergedBatch::count_of(merged.Data()), 3u);

  // Taken, it starts over.
  EXPECT_EQ(m.count(), 0u);
  EXPECT_EQ(m.bytes(), MergedBatch::kHeader);
  m.append(b.Data());
  rocksdb::WriteBatch again = m.take();
  EXPECT_EQ(list(again), (std::vector<std::string>{"put b1=y"}));
}

TEST(MergedBatch, IgnoresWhatIsShorterThanAHeader) {
  MergedBatch m;
  m.append(std::string(5, '\x01'));
  EXPECT_EQ(m.count(), 0u);
  EXPECT_EQ(m.bytes(), MergedBatch::kHeader);
  EXPECT_EQ(MergedBatch::count_of("short"), 0u);
  rocksdb::WriteBatch empty = m.take();
  EXPECT_EQ(empty.Count(), 0u);
  EXPECT_EQ(list(empty), std::vector<std::string>{});
}

}  // namespace
}  // namespace nca::storage
