#include "storage/replicated_apply.hpp"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <vector>

#include "storage/keys.hpp"
#include "storage/raft_log_store.hpp"
#include "storage/rocksdb_status.hpp"

namespace nca::storage {
namespace {

// Accepts only what a persona plan of `shard` writes: puts, deletes and range deletes of keys in
// the shard's range (every persona record starts with the shard), and item locators in the meta
// family. A log entry must never touch the Raft state, the node's own records, or another shard.
// With `personas`, it also notes the persona prefixes of the item records the batch writes or
// deletes (for the follower index warmer), in the same pass.
class Checker : public rocksdb::WriteBatch::Handler {
 public:
  Checker(const Db& db, uint32_t shard, std::vector<std::string>* personas)
      : shard_begin_(shard_prefix(shard)),
        shard_end_(shard_prefix(shard + 1)),
        personas_(personas) {
    for (Cf cf : kAllCfs) {
      ids_[cf_index(cf)] = db.handle(cf)->GetID();
    }
    locator_prefix_ = locator_key("", "");
    locator_prefix_.pop_back();  // the tenant's '\0' (the tenant varies)
  }

  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key, const rocksdb::Slice&) override {
    return check(cf, key, false);
  }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    return check(cf, key, false);
  }
  rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    auto s = check(cf, begin, false);
    if (!s.ok()) return s;
    if (end.compare(begin) < 0) return rocksdb::Status::InvalidArgument("an inverted range");
    return check(cf, end, true);
  }
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return rocksdb::Status::InvalidArgument("merge operands are not replicated");
  }
  rocksdb::Status SingleDeleteCF(uint32_t, const rocksdb::Slice&) override {
    return rocksdb::Status::InvalidArgument("single deletes are not replicated");
  }

 private:
  // `range_end`: the exclusive end of a range delete, which may be the next shard's first key.
  rocksdb::Status check(uint32_t id, const rocksdb::Slice& key, bool range_end) {
    for (Cf cf : kAllCfs) {
      if (ids_[cf_index(cf)] != id) continue;
      if (cf == Cf::raft_log || cf == Cf::raft_state) {
        return rocksdb::Status::InvalidArgument(std::string("writes to ") + cf_name(cf));
      }
      if (cf == Cf::meta && key.starts_with(locator_prefix_) && !range_end) {
        return rocksdb::Status::OK();
      }
      const bool in_shard =
          key.compare(shard_begin_) >= 0 &&
          (range_end ? key.compare(shard_end_) <= 0 : key.compare(shard_end_) < 0);
      if (!in_shard) {
        return rocksdb::Status::InvalidArgument(std::string("a key of ") + cf_name(cf) +
                                                " outside the shard's range");
      }
      if (cf == Cf::items && !range_end) note(key);
      return rocksdb::Status::OK();
    }
    return rocksdb::Status::InvalidArgument("unknown column family " + std::to_string(id));
  }

  void note(const rocksdb::Slice& key) {
    if (personas_ == nullptr) return;
    auto p = parse_persona_prefix(std::string_view(key.data(), key.size()));
    if (!p) return;
    std::string prefix = persona_prefix(p->shard, p->tenant, p->persona);
    if (personas_->empty() || personas_->back() != prefix) personas_->push_back(std::move(prefix));
  }

  std::array<uint32_t, kCfCount> ids_{};
  std::string shard_begin_, shard_end_;
  std::string locator_prefix_;
  std::vector<std::string>* personas_;
};

}  // namespace

ApplyRound::ApplyRound(Db& db) : db_(db) {}

Status ApplyRound::add(uint64_t group, uint32_t shard, uint64_t index, std::string_view rep,
                       std::vector<std::string>* item_personas) {
  const std::string what =
      "entry " + std::to_string(index) + " of raft group " + std::to_string(group);
  if (!rep.empty()) {
    if (rep.size() < MergedBatch::kHeader) {
      return make_error(ErrorCode::invalid_argument,
                        what + " is not a write batch (" + std::to_string(rep.size()) + " bytes)");
    }
    rocksdb::WriteBatch batch{std::string(rep)};
    std::vector<std::string> personas;
    Checker checker(db_, shard, item_personas != nullptr ? &personas : nullptr);
    auto s = batch.Iterate(&checker);
    if (!s.ok()) {
      return make_error(ErrorCode::invalid_argument,
                        what + " is not a valid persona write: " + s.ToString());
    }
    records_.append(rep);
    if (item_personas != nullptr) {
      for (auto& p : personas) item_personas->push_back(std::move(p));
    }
  }
  auto it = std::find_if(applied_.begin(), applied_.end(),
                         [group](const auto& a) { return a.first == group; });
  if (it == applied_.end()) {
    applied_.emplace_back(group, index);
  } else {
    it->second = index;
  }
  if (records_.bytes() >= kFlushBytes) return write();
  return {};
}

Status ApplyRound::write() {
  if (empty()) return {};
  rocksdb::WriteBatch indices;
  for (const auto& [group, index] : applied_) {
    indices.Put(db_.handle(Cf::raft_state), raft_applied_key(group), applied_index_value(index));
  }
  records_.append(indices.Data());
  rocksdb::WriteBatch batch = records_.take();
  applied_.clear();
  rocksdb::WriteOptions options;
  options.sync = false;
  auto s = db_.raw()->Write(options, &batch);
  if (!s.ok()) return error_from_rocksdb(s, "applying a round of raft entries failed");
  return {};
}

Status apply_replicated_batch(Db& db, uint64_t group, uint32_t shard, uint64_t index,
                              std::string_view rep) {
  ApplyRound round(db);
  if (auto s = round.add(group, shard, index, rep); !s) return s;
  return round.write();
}

std::string applied_index_value(uint64_t index) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(index & 0xff);
    index >>= 8;
  }
  return out;
}

Result<uint64_t> applied_index(const Db& db, uint64_t group, const rocksdb::Snapshot* at) {
  auto raw = db.get(Cf::raft_state, raft_applied_key(group), at);
  if (!raw) return raw.error();
  if (!raw->has_value()) return uint64_t{0};
  const std::string& v = **raw;
  if (v.size() != 8) {
    return make_error(ErrorCode::data_loss, "the applied index of raft group " +
                                                std::to_string(group) + " is corrupt (" +
                                                std::to_string(v.size()) + " bytes)");
  }
  uint64_t out = 0;
  for (char c : v) out = (out << 8) | static_cast<unsigned char>(c);
  return out;
}

}  // namespace nca::storage
