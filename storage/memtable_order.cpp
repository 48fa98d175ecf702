#include "storage/memtable_order.hpp"

#include <algorithm>
#include <string_view>

namespace nca::storage {
namespace {

enum class Op : uint8_t { put, del, single_del, delete_range };

struct Record {
  uint32_t cf;
  Op op;
  rocksdb::Slice key;
  rocksdb::Slice value;  // put: the value; delete_range: the end key
};

// Collects the records (slices into the batch's representation); refuses anything it cannot
// copy faithfully, which leaves the batch as it is.
class Collector : public rocksdb::WriteBatch::Handler {
 public:
  std::vector<Record> records;
  bool supported = true;

  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    records.push_back({cf, Op::put, key, value});
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    records.push_back({cf, Op::del, key, {}});
    return rocksdb::Status::OK();
  }
  rocksdb::Status SingleDeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    records.push_back({cf, Op::single_del, key, {}});
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    records.push_back({cf, Op::delete_range, begin, end});
    return rocksdb::Status::OK();
  }
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return refuse();
  }
  rocksdb::Status PutBlobIndexCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return refuse();
  }
  void LogData(const rocksdb::Slice&) override { supported = false; }
  rocksdb::Status MarkBeginPrepare(bool) override { return refuse(); }
  rocksdb::Status MarkEndPrepare(const rocksdb::Slice&) override { return refuse(); }
  rocksdb::Status MarkCommit(const rocksdb::Slice&) override { return refuse(); }
  rocksdb::Status MarkRollback(const rocksdb::Slice&) override { return refuse(); }
  rocksdb::Status MarkNoop(bool) override { return refuse(); }

 private:
  rocksdb::Status refuse() {
    supported = false;
    return rocksdb::Status::NotSupported("record kept in place");
  }
};

bool before(const Record& a, const Record& b) {
  if (a.cf != b.cf) return a.cf < b.cf;
  return a.key.compare(b.key) < 0;
}

}  // namespace

std::optional<rocksdb::WriteBatch> sorted_for_memtable(
    const rocksdb::WriteBatch& batch, const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
  if (batch.Count() < 2) return std::nullopt;
  Collector c;
  c.records.reserve(batch.Count());
  if (!batch.Iterate(&c).ok() || !c.supported) return std::nullopt;
  uint32_t max_id = 0;
  for (const auto* h : handles) max_id = std::max(max_id, h->GetID());
  std::vector<rocksdb::ColumnFamilyHandle*> by_id(max_id + 1, nullptr);
  for (auto* h : handles) by_id[h->GetID()] = h;
  for (const auto& r : c.records) {
    if (r.cf >= by_id.size() || by_id[r.cf] == nullptr) return std::nullopt;
  }
  // Runs of point records between range deletions, each stably sorted.
  auto first = c.records.begin();
  while (first != c.records.end()) {  // bounded by the record count
    auto last = std::find_if(first, c.records.end(),
                             [](const Record& r) { return r.op == Op::delete_range; });
    std::stable_sort(first, last, before);
    first = last == c.records.end() ? last : last + 1;
  }
  rocksdb::WriteBatch out(batch.GetDataSize());
  for (const auto& r : c.records) {
    rocksdb::ColumnFamilyHandle* h = by_id[r.cf];
    rocksdb::Status s;
    switch (r.op) {
      case Op::put:
        s = out.Put(h, r.key, r.value);
        break;
      case Op::del:
        s = out.Delete(h, r.key);
        break;
      case Op::single_del:
        s = out.SingleDelete(h, r.key);
        break;
      case Op::delete_range:
        s = out.DeleteRange(h, r.key, r.value);
        break;
    }
    if (!s.ok()) return std::nullopt;
  }
  return out;
}

}  // namespace nca::storage
