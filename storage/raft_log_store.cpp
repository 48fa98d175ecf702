#include "storage/raft_log_store.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "storage/crc32.hpp"
#include "storage/encoding.hpp"

namespace nca::storage {

using raft::ConfState;
using raft::Entry;
using raft::EntryType;
using raft::HardState;
using raft::Index;
using raft::Snapshot;
using raft::SnapshotMeta;
using raft::Term;

namespace {

constexpr Index kMaxIndex = std::numeric_limits<Index>::max();
constexpr char kHardStateSuffix = 'h';
constexpr char kSnapshotMetaSuffix = 'm';
constexpr char kSnapshotDataSuffix = 'd';
// Snapshot meta flags: the snapshot is the application's own state (compact_to_state).
constexpr uint64_t kSnapshotStateFlag = 1;
constexpr char kAppliedSuffix = 'a';
// First byte of every record body; a record with another value was written by a newer build.
constexpr uint8_t kRecordFormat = 1;
constexpr size_t kChecksumBytes = 4;
constexpr size_t kLogKeyBytes = 16;
// RocksDB refuses values of 4 GiB and more; leave room for the record header.
constexpr uint64_t kMaxValueBytes = 0xffffffffULL - 64;
// Approximate memory of a cached entry besides its data (the Entry, the deque slot).
constexpr size_t kCachedEntryOverhead = 64;
// Deleting a few keys one by one is cheaper for later reads than a range tombstone.
constexpr Index kPointDeleteLimit = 16;

void put_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint64_t get_be64(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | static_cast<unsigned char>(in[i]);
  return v;
}

std::string group_prefix(uint64_t group) {
  std::string out;
  out.reserve(kLogKeyBytes);
  put_be64(out, group);
  return out;
}

std::string state_key(uint64_t group, char suffix) {
  std::string out = group_prefix(group);
  out.push_back(suffix);
  return out;
}

// A record is checksum(4B LE) + body; the checksum covers the key too, so a record copied under
// another key does not pass.
std::string begin_record() {
  std::string out(kChecksumBytes, '\0');
  out.push_back(static_cast<char>(kRecordFormat));
  return out;
}

void seal_record(std::string_view key, std::string& record) {
  uint32_t crc = crc32c_extend(crc32c_extend(0, key), std::string_view(record).substr(4));
  for (size_t i = 0; i < kChecksumBytes; ++i)
    record[i] = static_cast<char>((crc >> (8 * i)) & 0xff);
}

// The body after the format byte, or why the record is unreadable.
Result<std::string_view> open_record(std::string_view key, std::string_view record) {
  if (record.size() < kChecksumBytes + 1) {
    return make_error(ErrorCode::data_loss,
                      "truncated (" + std::to_string(record.size()) + " bytes)");
  }
  uint32_t stored = load_le32(reinterpret_cast<const unsigned char*>(record.data()));
  std::string_view body = record.substr(kChecksumBytes);
  if (crc32c_extend(crc32c_extend(0, key), body) != stored) {
    return make_error(ErrorCode::data_loss, "checksum mismatch");
  }
  auto format = static_cast<unsigned char>(body.front());
  if (format != kRecordFormat) {
    return make_error(ErrorCode::data_loss, "unknown record format " + std::to_string(format) +
                                                " (written by a newer build?)");
  }
  return body.substr(1);
}

std::string encode_entry(std::string_view key, const Entry& entry) {
  std::string out = begin_record();
  out.reserve(kChecksumBytes + 2 + 10 + entry.data.size());
  out.push_back(static_cast<char>(entry.type));
  put_varint(out, entry.term);
  out.append(entry.data);
  seal_record(key, out);
  return out;
}

Result<Entry> decode_entry(std::string_view key, std::string_view record, Index index) {
  auto body = open_record(key, record);
  if (!body.ok()) return body.error();
  std::string_view in = *body;
  Entry entry;
  entry.index = index;
  if (in.empty()) return make_error(ErrorCode::data_loss, "truncated");
  auto type = static_cast<unsigned char>(in.front());
  in.remove_prefix(1);
  if (type != static_cast<unsigned char>(EntryType::normal) &&
      type != static_cast<unsigned char>(EntryType::conf_change)) {
    return make_error(ErrorCode::data_loss, "unknown entry type " + std::to_string(type));
  }
  entry.type = static_cast<EntryType>(type);
  if (!get_varint(in, &entry.term)) return make_error(ErrorCode::data_loss, "bad term");
  entry.data.assign(in.data(), in.size());
  return entry;
}

std::string encode_hard_state(std::string_view key, const HardState& hs) {
  std::string out = begin_record();
  put_varint(out, hs.term);
  put_varint(out, hs.vote);
  put_varint(out, hs.commit);
  seal_record(key, out);
  return out;
}

Result<HardState> decode_hard_state(std::string_view key, std::string_view record) {
  auto body = open_record(key, record);
  if (!body.ok()) return body.error();
  std::string_view in = *body;
  HardState hs;
  if (!get_varint(in, &hs.term) || !get_varint(in, &hs.vote) || !get_varint(in, &hs.commit) ||
      !in.empty()) {
    return make_error(ErrorCode::data_loss, "malformed body");
  }
  return hs;
}

void put_ids(std::string& out, const std::vector<raft::NodeId>& ids) {
  put_varint(out, ids.size());
  for (raft::NodeId id : ids) put_varint(out, id);
}

bool get_ids(std::string_view& in, std::vector<raft::NodeId>* ids) {
  uint64_t count = 0;
  // Each id takes at least one byte: a larger count is garbage, not a reason to allocate.
  if (!get_varint(in, &count) || count > in.size()) return false;
  ids->resize(count);
  for (raft::NodeId& id : *ids) {
    if (!get_varint(in, &id)) return false;
  }
  return true;
}

// Why `conf` breaks ConfState's invariants, or empty.
std::string conf_problem(const ConfState& conf) {
  for (size_t i = 1; i < conf.voters.size(); ++i) {
    if (conf.voters[i - 1] >= conf.voters[i]) return "voters are not sorted and unique";
  }
  for (size_t i = 1; i < conf.learners.size(); ++i) {
    if (conf.learners[i - 1] >= conf.learners[i]) return "learners are not sorted and unique";
  }
  for (raft::NodeId id : conf.learners) {
    if (std::binary_search(conf.voters.begin(), conf.voters.end(), id)) {
      return "node " + std::to_string(id) + " is both voter and learner";
    }
  }
  return {};
}

uint64_t entry_cache_bytes(const Entry& entry) { return entry.data.size() + kCachedEntryOverhead; }

// Adds `size` to the bytes taken so far unless that would exceed `max_bytes` and something was
// taken already (the first entry always goes, so a reader makes progress).
bool take_within(uint64_t size, uint64_t max_bytes, bool first, uint64_t* bytes) {
  if (!first && (*bytes > max_bytes || size > max_bytes - *bytes)) return false;
  *bytes += size;
  return true;
}

Error with_context(const Error& error, const std::string& context) {
  return make_error(error.code, context + ": " + error.message);
}

}  // namespace

std::string raft_log_key(uint64_t group, Index index) {
  std::string out = group_prefix(group);
  put_be64(out, index);
  return out;
}

std::string raft_hard_state_key(uint64_t group) { return state_key(group, kHardStateSuffix); }

Result<raft::Index> RaftLogStore::persisted_commit(Db* db, uint64_t group) {
  const std::string key = raft_hard_state_key(group);
  auto value = db->get(Cf::raft_state, key);
  if (!value) return value.error();
  if (!value->has_value()) return raft::Index{0};
  auto hs = decode_hard_state(key, **value);
  if (!hs) return hs.error();
  return hs->commit;
}
std::string raft_snapshot_meta_key(uint64_t group) { return state_key(group, kSnapshotMetaSuffix); }
std::string raft_snapshot_data_key(uint64_t group) { return state_key(group, kSnapshotDataSuffix); }
std::string raft_applied_key(uint64_t group) { return state_key(group, kAppliedSuffix); }

RaftLogStore::RaftLogStore(Db* db, uint64_t group, const Options& options)
    : db_(db), group_(group), options_(options) {}

RaftLogStore::~RaftLogStore() = default;

Result<std::unique_ptr<RaftLogStore>> RaftLogStore::open(Db* db, uint64_t group) {
  return open(db, group, Options());
}

Result<std::unique_ptr<RaftLogStore>> RaftLogStore::open(Db* db, uint64_t group,
                                                         const Options& options) {
  if (db == nullptr) {
    return make_error(ErrorCode::invalid_argument,
                      "raft group " + std::to_string(group) + ": no database given");
  }
  std::unique_ptr<RaftLogStore> store(new RaftLogStore(db, group, options));
  Status loaded = store->load();
  if (!loaded.ok()) return loaded.error();
  return store;
}

Status RaftLogStore::destroy(Db* db, uint64_t group) {
  if (db == nullptr) {
    return make_error(ErrorCode::invalid_argument,
                      "raft group " + std::to_string(group) + ": no database given");
  }
  Batch batch = db->batch();
  batch.delete_range(Cf::raft_log, raft_log_key(group, 0), raft_log_key(group, kMaxIndex));
  batch.del(Cf::raft_log, raft_log_key(group, kMaxIndex));
  batch.del(Cf::raft_state, raft_hard_state_key(group));
  batch.del(Cf::raft_state, raft_snapshot_meta_key(group));
  batch.del(Cf::raft_state, raft_snapshot_data_key(group));
  batch.del(Cf::raft_state, raft_applied_key(group));
  Status s = db->commit(std::move(batch));
  if (!s.ok()) return with_context(s.error(), "raft group " + std::to_string(group));
  return {};
}

std::string RaftLogStore::describe(Index index) const {
  return "raft group " + std::to_string(group_) + ": log entry " + std::to_string(index);
}

Status RaftLogStore::load() {
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string group_name = "raft group " + std::to_string(group_);

  std::string hs_key = raft_hard_state_key(group_);
  auto hs_value = db_->get(Cf::raft_state, hs_key);
  if (!hs_value.ok()) return with_context(hs_value.error(), group_name);
  if (hs_value->has_value()) {
    auto hs = decode_hard_state(hs_key, **hs_value);
    if (!hs.ok()) return with_context(hs.error(), group_name + ": hard state is corrupt");
    hard_state_ = *hs;
  }

  std::string meta_key = raft_snapshot_meta_key(group_);
  std::string data_key = raft_snapshot_data_key(group_);
  auto meta_value = db_->get(Cf::raft_state, meta_key);
  if (!meta_value.ok()) return with_context(meta_value.error(), group_name);
  auto data_value = db_->get(Cf::raft_state, data_key);
  if (!data_value.ok()) return with_context(data_value.error(), group_name);
  if (meta_value->has_value()) {
    auto body = open_record(meta_key, **meta_value);
    if (!body.ok()) return with_context(body.error(), group_name + ": snapshot meta is corrupt");
    std::string_view in = *body;
    SnapshotRecord record;
    uint64_t data_crc = 0;
    if (!get_varint(in, &record.meta.index) || !get_varint(in, &record.meta.term) ||
        !get_ids(in, &record.meta.conf.voters) || !get_ids(in, &record.meta.conf.learners) ||
        !get_varint(in, &record.data_size) || !get_varint(in, &data_crc) ||
        data_crc > 0xffffffffULL) {
      return make_error(ErrorCode::data_loss,
                        group_name + ": snapshot meta is corrupt (malformed)");
    }
    // Flags follow in records written since state snapshots exist; older records end here.
    uint64_t flags = 0;
    if (!in.empty() && (!get_varint(in, &flags) || flags > kSnapshotStateFlag)) {
      return make_error(ErrorCode::data_loss,
                        group_name + ": snapshot meta is corrupt (unknown flags)");
    }
    record.state = (flags & kSnapshotStateFlag) != 0;
    if (!in.empty()) {
      return make_error(ErrorCode::data_loss,
                        group_name + ": snapshot meta is corrupt (malformed)");
    }
    record.data_crc = static_cast<uint32_t>(data_crc);
    std::string problem = conf_problem(record.meta.conf);
    if (record.meta.index == 0 || record.meta.index == kMaxIndex || !problem.empty()) {
      return make_error(ErrorCode::data_loss,
                        group_name + ": snapshot meta is corrupt (index " +
                            std::to_string(record.meta.index) +
                            (problem.empty() ? std::string() : ", " + problem) + ")");
    }
    if (record.state) {
      if (data_value->has_value()) {
        return make_error(ErrorCode::data_loss,
                          group_name + ": the snapshot at index " +
                              std::to_string(record.meta.index) +
                              " is the shard's state, but a data record is stored too");
      }
    } else if (!data_value->has_value()) {
      return make_error(ErrorCode::data_loss, group_name + ": data of the snapshot at index " +
                                                  std::to_string(record.meta.index) +
                                                  " is missing");
    } else if (const std::string& data = **data_value;
               data.size() != record.data_size || crc32c_extend(0, data) != record.data_crc) {
      return make_error(ErrorCode::data_loss,
                        group_name + ": data of the snapshot at index " +
                            std::to_string(record.meta.index) + " is corrupt (" +
                            std::to_string(data.size()) + " bytes, expected " +
                            std::to_string(record.data_size) + ", or checksum mismatch)");
    }
    snapshot_ = record;
  } else if (data_value->has_value()) {
    return make_error(ErrorCode::data_loss,
                      group_name + ": snapshot data is stored but its meta record is missing");
  }
  first_index_ = snapshot_.meta.index + 1;

  Index expected = first_index_;
  Term previous_term = snapshot_.meta.term;
  std::optional<Error> bad;
  Status scanned = db_->scan(
      Cf::raft_log, group_prefix(group_), [&](std::string_view key, std::string_view value) {
        if (key.size() != kLogKeyBytes) {
          bad =
              make_error(ErrorCode::data_loss,
                         group_name + ": stray key " + std::to_string(key.size()) +
                             " bytes long in raft_log after index " + std::to_string(expected - 1));
          return false;
        }
        Index index = get_be64(key.substr(8));
        if (index != expected) {
          std::string what;
          if (index < first_index_) {
            what = "log entry " + std::to_string(index) + " is covered by the snapshot at index " +
                   std::to_string(snapshot_.meta.index);
          } else if (expected == first_index_) {
            what = "log starts at index " + std::to_string(index) +
                   " but must start right after the snapshot, at " + std::to_string(first_index_);
          } else {
            what = "gap in the log: entry " + std::to_string(expected) +
                   " is missing (next stored entry is " + std::to_string(index) + ")";
          }
          bad = make_error(ErrorCode::data_loss, group_name + ": " + what);
          return false;
        }
        auto entry = decode_entry(key, value, index);
        if (!entry.ok()) {
          bad = with_context(entry.error(), describe(index) + " is corrupt");
          return false;
        }
        if (entry->term < previous_term || entry->term == 0) {
          bad = make_error(ErrorCode::data_loss, describe(index) + " has term " +
                                                     std::to_string(entry->term) +
                                                     ", zero or below the term before it (" +
                                                     std::to_string(previous_term) + ")");
          return false;
        }
        previous_term = entry->term;
        ++expected;
        cache_bytes_ += entry_cache_bytes(*entry);
        cache_.push_back(std::move(entry).value());
        cache_evict();
        return true;
      });
  if (!scanned.ok()) return with_context(scanned.error(), group_name);
  if (bad) return *bad;
  last_index_ = expected - 1;
  if (hard_state_.commit > last_index_) {
    return make_error(ErrorCode::data_loss,
                      group_name + ": hard state commit index " +
                          std::to_string(hard_state_.commit) + " is beyond the last log index " +
                          std::to_string(last_index_) + " (committed entries are lost)");
  }
  return {};
}

bool RaftLogStore::cached(Index index) const {
  return !cache_.empty() && index >= cache_.front().index && index <= last_index_;
}

void RaftLogStore::cache_evict() {
  while (!cache_.empty() && (cache_.size() > options_.cache_entries ||
                             (cache_bytes_ > options_.cache_bytes && cache_.size() > 1))) {
    cache_bytes_ -= entry_cache_bytes(cache_.front());
    cache_.pop_front();
  }
}

// Precondition: entries are contiguous and start at or below last_index_ + 1, and last_index_
// already reflects them; the caller holds both mutexes.
void RaftLogStore::cache_append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  Index start = entries.front().index;
  while (!cache_.empty() && cache_.back().index >= start) {
    cache_bytes_ -= entry_cache_bytes(cache_.back());
    cache_.pop_back();
  }
  if (!cache_.empty() && cache_.back().index + 1 != start) {
    cache_.clear();
    cache_bytes_ = 0;
  }
  // Copy only the newest entries that can stay: a large batch (a follower catching up) would
  // otherwise be copied just to be evicted.
  size_t keep_from = entries.size();
  uint64_t bytes = 0;
  while (keep_from > 0 && entries.size() - keep_from < options_.cache_entries) {
    uint64_t size = entry_cache_bytes(entries[keep_from - 1]);
    if (keep_from < entries.size() && bytes + size > options_.cache_bytes) break;
    bytes += size;
    --keep_from;
  }
  if (keep_from > 0) {
    cache_.clear();
    cache_bytes_ = 0;
  }
  for (size_t i = keep_from; i < entries.size(); ++i) {
    cache_bytes_ += entry_cache_bytes(entries[i]);
    cache_.push_back(entries[i]);
  }
  cache_evict();
}

size_t RaftLogStore::cached_entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cache_.size();
}

Result<raft::InitialState> RaftLogStore::initial_state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return raft::InitialState{hard_state_, snapshot_.meta.conf};
}

Index RaftLogStore::first_index() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return first_index_;
}

Index RaftLogStore::last_index() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_index_;
}

Result<Entry> RaftLogStore::read_entry(Index index) const {
  storage_reads_.fetch_add(1, std::memory_order_relaxed);
  std::string key = raft_log_key(group_, index);
  auto value = db_->get(Cf::raft_log, key);
  if (!value.ok()) return with_context(value.error(), describe(index));
  if (!value->has_value()) {
    return make_error(ErrorCode::data_loss, describe(index) + " is missing from RocksDB");
  }
  auto entry = decode_entry(key, **value, index);
  if (!entry.ok()) return with_context(entry.error(), describe(index) + " is corrupt");
  return entry;
}

Result<Term> RaftLogStore::term_locked(Index index) const {
  if (index < first_index_ - 1) {
    return make_error(ErrorCode::not_found, "raft group " + std::to_string(group_) +
                                                ": term of index " + std::to_string(index) +
                                                " is compacted (first index " +
                                                std::to_string(first_index_) + ")");
  }
  if (index > last_index_) {
    return make_error(ErrorCode::invalid_argument, "raft group " + std::to_string(group_) +
                                                       ": term of index " + std::to_string(index) +
                                                       " asked, but the last index is " +
                                                       std::to_string(last_index_));
  }
  if (index == first_index_ - 1) return snapshot_.meta.term;
  if (cached(index)) return cache_[index - cache_.front().index].term;
  auto entry = read_entry(index);
  if (!entry.ok()) return entry.error();
  return entry->term;
}

Result<Term> RaftLogStore::term(Index index) const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (index + 1 < first_index_ || index > last_index_ || index + 1 == first_index_ ||
        cached(index)) {
      return term_locked(index);
    }
  }
  // Not in memory: read RocksDB under the writers' lock, which keeps the bounds stable meanwhile.
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  return term_locked(index);
}

Status RaftLogStore::read_from_storage(Index lo, Index hi, uint64_t max_bytes, uint64_t* bytes,
                                       std::vector<Entry>* out) const {
  storage_reads_.fetch_add(1, std::memory_order_relaxed);
  Index expected = lo;
  bool full = false;
  std::optional<Error> bad;
  Status scanned = db_->scan(
      Cf::raft_log, group_prefix(group_),
      [&](std::string_view key, std::string_view value) {
        Index index = key.size() == kLogKeyBytes ? get_be64(key.substr(8)) : 0;
        if (index != expected) {
          bad = make_error(ErrorCode::data_loss, describe(expected) + " is missing from RocksDB");
          return false;
        }
        auto entry = decode_entry(key, value, index);
        if (!entry.ok()) {
          bad = with_context(entry.error(), describe(index) + " is corrupt");
          return false;
        }
        if (!take_within(entry->data.size(), max_bytes, out->empty(), bytes)) {
          full = true;
          return false;
        }
        out->push_back(std::move(entry).value());
        return ++expected < hi;
      },
      raft_log_key(group_, lo - 1));
  if (!scanned.ok()) return with_context(scanned.error(), describe(lo));
  if (bad) return *bad;
  if (!full && expected < hi) {
    return make_error(ErrorCode::data_loss, describe(expected) + " is missing from RocksDB");
  }
  return {};
}

Result<std::vector<Entry>> RaftLogStore::entries(Index lo, Index hi, uint64_t max_bytes) const {
  const std::string group_name = "raft group " + std::to_string(group_);
  if (lo > hi) {
    return make_error(ErrorCode::invalid_argument, group_name + ": entries [" + std::to_string(lo) +
                                                       ", " + std::to_string(hi) +
                                                       ") is an empty range");
  }
  // Checks the bounds and answers from the cache when it holds `lo`; nullopt when RocksDB is
  // needed.
  auto from_memory = [&]() -> std::optional<Result<std::vector<Entry>>> {
    if (lo < first_index_) {
      return Result<std::vector<Entry>>(
          make_error(ErrorCode::not_found, group_name + ": entries from " + std::to_string(lo) +
                                               " are compacted (first index " +
                                               std::to_string(first_index_) + ")"));
    }
    if (hi > last_index_ + 1) {
      return Result<std::vector<Entry>>(make_error(
          ErrorCode::invalid_argument, group_name + ": entries up to " + std::to_string(hi) +
                                           " asked, but the last index is " +
                                           std::to_string(last_index_)));
    }
    if (lo == hi) return Result<std::vector<Entry>>(std::vector<Entry>());
    if (!cached(lo)) return std::nullopt;
    std::vector<Entry> out;
    uint64_t bytes = 0;
    for (Index i = lo; i < hi; ++i) {
      const Entry& entry = cache_[i - cache_.front().index];
      if (!take_within(entry.data.size(), max_bytes, out.empty(), &bytes)) break;
      out.push_back(entry);
    }
    return Result<std::vector<Entry>>(std::move(out));
  };
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto answer = from_memory();
    if (answer) return std::move(*answer);
  }
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  auto answer = from_memory();  // a write may have changed the bounds since the first look
  if (answer) return std::move(*answer);
  std::vector<Entry> out;
  uint64_t bytes = 0;
  Index cache_front = cache_.empty() ? last_index_ + 1 : cache_.front().index;
  Index disk_hi = std::min(hi, cache_front);
  Status read = read_from_storage(lo, disk_hi, max_bytes, &bytes, &out);
  if (!read.ok()) return read.error();
  if (out.size() == disk_hi - lo) {
    for (Index i = disk_hi; i < hi; ++i) {
      const Entry& entry = cache_[i - cache_front];
      if (!take_within(entry.data.size(), max_bytes, out.empty(), &bytes)) break;
      out.push_back(entry);
    }
  }
  return out;
}

Result<Snapshot> RaftLogStore::snapshot() const {
  std::unique_lock<std::mutex> write_lock(write_mutex_);
  Snapshot out;
  if (snapshot_.meta.index == 0) return out;
  if (snapshot_.state) {
    SnapshotSource source = source_;
    const Index stored = snapshot_.meta.index;
    write_lock.unlock();
    if (!source) {
      return make_error(ErrorCode::unavailable,
                        "raft group " + std::to_string(group_) + ": the snapshot at index " +
                            std::to_string(stored) +
                            " is the application's state, and nothing makes one from it yet");
    }
    auto made = source();
    if (!made) return made.error();
    // A snapshot older than the log's start would leave a follower a gap it cannot fill.
    if (made->meta.index < stored) {
      return make_error(ErrorCode::unavailable,
                        "raft group " + std::to_string(group_) + ": the state's snapshot is at " +
                            std::to_string(made->meta.index) + ", behind the log's start at " +
                            std::to_string(stored + 1) + "; try again");
    }
    return made;
  }
  storage_reads_.fetch_add(1, std::memory_order_relaxed);
  const std::string what = "raft group " + std::to_string(group_) +
                           ": data of the snapshot at index " +
                           std::to_string(snapshot_.meta.index);
  auto data = db_->get(Cf::raft_state, raft_snapshot_data_key(group_));
  if (!data.ok()) return with_context(data.error(), what);
  if (!data->has_value()) return make_error(ErrorCode::data_loss, what + " is missing");
  if ((*data)->size() != snapshot_.data_size || crc32c_extend(0, **data) != snapshot_.data_crc) {
    return make_error(ErrorCode::data_loss, what + " is corrupt (size or checksum mismatch)");
  }
  out.meta = snapshot_.meta;
  out.data = std::move(**data);
  return out;
}

namespace {

// Why `snapshot` cannot be stored, or empty.
std::string snapshot_problem(const SnapshotMeta& meta, size_t data_size) {
  if (meta.index == 0) return "the snapshot is empty (index 0)";
  if (meta.index == kMaxIndex) return "the snapshot index is out of range";
  if (meta.term == 0) return "the snapshot has term 0";
  if (data_size > kMaxValueBytes) {
    return "the snapshot data is too large (" + std::to_string(data_size) + " bytes)";
  }
  std::string conf = conf_problem(meta.conf);
  if (!conf.empty()) return "the snapshot's membership is invalid: " + conf;
  return {};
}

// `data` null: a state snapshot (no data record; a stored one is deleted).
void put_snapshot(Batch& batch, uint64_t group, const SnapshotMeta& snapshot,
                  const std::string* data) {
  std::string meta_key = raft_snapshot_meta_key(group);
  std::string meta = begin_record();
  put_varint(meta, snapshot.index);
  put_varint(meta, snapshot.term);
  put_ids(meta, snapshot.conf.voters);
  put_ids(meta, snapshot.conf.learners);
  put_varint(meta, data != nullptr ? data->size() : 0);
  put_varint(meta, data != nullptr ? crc32c_extend(0, *data) : 0);
  // No flags for a data snapshot: its record reads the same as before state snapshots existed.
  if (data == nullptr) put_varint(meta, kSnapshotStateFlag);
  seal_record(meta_key, meta);
  batch.put(Cf::raft_state, meta_key, meta);
  if (data != nullptr) {
    batch.put(Cf::raft_state, raft_snapshot_data_key(group), *data);
  } else {
    batch.del(Cf::raft_state, raft_snapshot_data_key(group));
  }
}

// Deletes the log keys [lo, hi) of `group`.
void delete_log_range(Batch& batch, uint64_t group, Index lo, Index hi) {
  if (lo >= hi) return;
  if (hi - lo <= kPointDeleteLimit) {
    for (Index i = lo; i < hi; ++i) batch.del(Cf::raft_log, raft_log_key(group, i));
  } else {
    batch.delete_range(Cf::raft_log, raft_log_key(group, lo), raft_log_key(group, hi));
  }
}

}  // namespace

Status RaftLogStore::save(const HardState* hard_state, const std::vector<Entry>& entries,
                          const Snapshot* snapshot) {
  return save_impl(hard_state, entries, snapshot, false, nullptr);
}

Status RaftLogStore::save_unsynced(const HardState* hard_state, const std::vector<Entry>& entries,
                                   const Snapshot* snapshot) {
  return save_impl(hard_state, entries, snapshot, true, nullptr);
}

Status RaftLogStore::save_as_state(const HardState* hard_state, const std::vector<Entry>& entries,
                                   const SnapshotMeta& meta, Batch state) {
  // The data is not stored: the state's own records are the snapshot from here on.
  Snapshot snapshot{meta, std::string()};
  return save_impl(hard_state, entries, &snapshot, false, &state);
}

Status RaftLogStore::sync() {
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  if (!needs_sync_) return {};
  Status s = db_->sync_wal();
  if (!s.ok()) return with_context(s.error(), "raft group " + std::to_string(group_) + ": sync");
  needs_sync_ = false;
  return {};
}

Status RaftLogStore::save_impl(const HardState* hard_state, const std::vector<Entry>& entries,
                               const Snapshot* snapshot, bool defer_sync, Batch* state) {
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  const std::string group_name = "raft group " + std::to_string(group_);
  auto invalid = [&](const std::string& why) {
    return make_error(ErrorCode::invalid_argument,
                      group_name + ": save refused, nothing written: " + why);
  };

  // The state after this save, checked in full before anything is written.
  Index new_first = first_index_;
  Index new_last = last_index_;
  Term term_before_entries = 0;
  if (snapshot != nullptr) {
    std::string problem = snapshot_problem(snapshot->meta, snapshot->data.size());
    if (!problem.empty()) return invalid(problem);
    if (snapshot->meta.index < snapshot_.meta.index) {
      return make_error(ErrorCode::conflict,
                        group_name + ": save refused, nothing written: the snapshot at index " +
                            std::to_string(snapshot->meta.index) +
                            " is older than the stored one at " +
                            std::to_string(snapshot_.meta.index));
    }
    new_first = snapshot->meta.index + 1;
    new_last = snapshot->meta.index;
  }
  if (!entries.empty()) {
    Index start = entries.front().index;
    for (size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      if (i > 0 && e.index != entries[i - 1].index + 1) {
        return invalid("entries are not contiguous (index " + std::to_string(e.index) +
                       " follows " + std::to_string(entries[i - 1].index) + ")");
      }
      if (i > 0 && e.term < entries[i - 1].term) {
        return invalid("entry " + std::to_string(e.index) + " has term " + std::to_string(e.term) +
                       ", below the entry before it");
      }
      if (e.term == 0) return invalid("entry " + std::to_string(e.index) + " has term 0");
      if (e.index == kMaxIndex) return invalid("entry index out of range");
      if (e.type != EntryType::normal && e.type != EntryType::conf_change) {
        return invalid("entry " + std::to_string(e.index) + " has an unknown type " +
                       std::to_string(static_cast<int>(e.type)));
      }
      if (e.data.size() > kMaxValueBytes) {
        return invalid("entry " + std::to_string(e.index) + " is too large (" +
                       std::to_string(e.data.size()) + " bytes)");
      }
    }
    if (start < new_first) {
      return invalid("entries start at " + std::to_string(start) +
                     ", at or below the snapshot index " + std::to_string(new_first - 1));
    }
    if (start > new_last + 1) {
      return invalid("entries start at " + std::to_string(start) + ", leaving a gap after " +
                     std::to_string(new_last));
    }
    if (start == new_first) {
      term_before_entries = snapshot != nullptr ? snapshot->meta.term : snapshot_.meta.term;
    } else {
      auto previous = term_locked(start - 1);
      if (!previous.ok()) return previous.error();
      term_before_entries = *previous;
    }
    if (entries.front().term < term_before_entries) {
      return invalid("entry " + std::to_string(start) + " has term " +
                     std::to_string(entries.front().term) + ", below the term of entry " +
                     std::to_string(start - 1) + " (" + std::to_string(term_before_entries) + ")");
    }
    new_last = entries.back().index;
  }
  HardState new_hard_state = hard_state != nullptr ? *hard_state : hard_state_;
  if (new_hard_state.term < hard_state_.term) {
    return invalid("hard state term " + std::to_string(new_hard_state.term) +
                   " is below the stored term " + std::to_string(hard_state_.term));
  }
  if (new_hard_state.commit > new_last) {
    return invalid("commit index " + std::to_string(new_hard_state.commit) +
                   " would be beyond the last log index " + std::to_string(new_last));
  }

  Batch batch = state != nullptr ? std::move(*state) : db_->batch();
  if (snapshot != nullptr) {
    put_snapshot(batch, group_, snapshot->meta, state != nullptr ? nullptr : &snapshot->data);
  }
  // Old keys outside the new log go; those inside it are either kept or overwritten below.
  if (first_index_ <= last_index_) {
    delete_log_range(batch, group_, first_index_, std::min(last_index_ + 1, new_first));
    delete_log_range(batch, group_, std::max(new_last + 1, first_index_), last_index_ + 1);
  }
  for (const Entry& e : entries) {
    std::string key = raft_log_key(group_, e.index);
    batch.put(Cf::raft_log, key, encode_entry(key, e));
  }
  if (hard_state != nullptr && *hard_state != hard_state_) {
    std::string key = raft_hard_state_key(group_);
    batch.put(Cf::raft_state, key, encode_hard_state(key, *hard_state));
  }
  if (batch.empty()) return {};
  // A save that only moves the commit index skips the fsync, as etcd does: after a crash the
  // commit index is learned again from the leader, and a later synced write syncs this one too.
  bool must_sync = snapshot != nullptr || !entries.empty() ||
                   new_hard_state.term != hard_state_.term ||
                   new_hard_state.vote != hard_state_.vote;
  // A deferred sync is the caller's sync(); a snapshot is synced here whatever the caller asked.
  if (must_sync && defer_sync && snapshot == nullptr) {
    must_sync = false;
    needs_sync_ = true;
  }
  Status committed =
      must_sync ? db_->commit(std::move(batch)) : db_->write_direct(std::move(batch));
  if (!committed.ok()) return with_context(committed.error(), group_name + ": save failed");

  std::lock_guard<std::mutex> lock(mutex_);
  if (snapshot != nullptr) {
    snapshot_.meta = snapshot->meta;
    snapshot_.data_size = snapshot->data.size();
    snapshot_.data_crc = crc32c_extend(0, snapshot->data);
    snapshot_.state = state != nullptr;
    cache_.clear();
    cache_bytes_ = 0;
  }
  first_index_ = new_first;
  last_index_ = new_last;
  cache_append(entries);
  hard_state_ = new_hard_state;
  return {};
}

Status RaftLogStore::compact(const Snapshot& snapshot) {
  return compact_impl(snapshot.meta, &snapshot.data);
}

Status RaftLogStore::compact_to_state(const SnapshotMeta& meta) {
  return compact_impl(meta, nullptr);
}

void RaftLogStore::set_snapshot_source(SnapshotSource source) {
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  source_ = std::move(source);
}

Result<SnapshotMeta> RaftLogStore::snapshot_meta() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return snapshot_.meta;
}

Status RaftLogStore::compact_impl(const SnapshotMeta& meta, const std::string* data) {
  std::lock_guard<std::mutex> write_lock(write_mutex_);
  const std::string group_name = "raft group " + std::to_string(group_);
  auto refuse = [&](ErrorCode code, const std::string& why) {
    return make_error(code, group_name + ": compaction refused, nothing written: " + why);
  };
  std::string problem = snapshot_problem(meta, data != nullptr ? data->size() : 0);
  if (!problem.empty()) return refuse(ErrorCode::invalid_argument, problem);
  Index index = meta.index;
  if (index < snapshot_.meta.index) {
    return refuse(ErrorCode::conflict, "the snapshot at index " + std::to_string(index) +
                                           " is older than the stored one at " +
                                           std::to_string(snapshot_.meta.index));
  }
  if (index > last_index_) {
    return refuse(ErrorCode::invalid_argument, "the snapshot at index " + std::to_string(index) +
                                                   " is beyond the last log index " +
                                                   std::to_string(last_index_));
  }
  auto term_at = term_locked(index);
  if (!term_at.ok()) return term_at.error();
  if (*term_at != meta.term) {
    return refuse(ErrorCode::invalid_argument, "the snapshot says entry " + std::to_string(index) +
                                                   " has term " + std::to_string(meta.term) +
                                                   ", but the log has term " +
                                                   std::to_string(*term_at));
  }

  Batch batch = db_->batch();
  put_snapshot(batch, group_, meta, data);
  delete_log_range(batch, group_, first_index_, index + 1);
  Status committed = db_->commit(std::move(batch));
  if (!committed.ok()) return with_context(committed.error(), group_name + ": compaction failed");

  std::lock_guard<std::mutex> lock(mutex_);
  snapshot_.meta = meta;
  snapshot_.data_size = data != nullptr ? data->size() : 0;
  snapshot_.data_crc = data != nullptr ? crc32c_extend(0, *data) : 0;
  snapshot_.state = data == nullptr;
  first_index_ = index + 1;
  while (!cache_.empty() && cache_.front().index <= index) {
    cache_bytes_ -= entry_cache_bytes(cache_.front());
    cache_.pop_front();
  }
  return {};
}

}  // namespace nca::storage
