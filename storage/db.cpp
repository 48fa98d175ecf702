#include "storage/db.hpp"

#include <filesystem>
#include <future>
#include <system_error>
#include <utility>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>

#include "storage/keys.hpp"
#include "storage/merged_batch.hpp"
#include "storage/rocksdb_slice.hpp"
#include "storage/rocksdb_status.hpp"
#include "storage/slow_io.hpp"

namespace nca::storage {
namespace {

std::string_view view(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

bool wants_bloom_filter(Cf cf) { return cf == Cf::items || cf == Cf::vectors; }

rocksdb::ColumnFamilyOptions family_options(std::optional<Cf> cf,
                                            const std::shared_ptr<rocksdb::Cache>& cache,
                                            const Db::Options& options) {
  rocksdb::ColumnFamilyOptions out;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.format_version = 5;
  // Index and filter blocks compete for the same cache as data, so memory stays within the budget.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  if (cf && wants_bloom_filter(*cf)) {
    // Items and vectors are read by exact key on every recall hit; a bloom filter skips SSTs that
    // lack it.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.whole_key_filtering = true;
  }
  out.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Embeddings are floats, which Snappy cannot shrink: compressing them only spends the flush's
  // and compaction's CPU (1.6% of a busy node's samples, session 31).
  if (cf && *cf == Cf::vectors) out.compression = rocksdb::kNoCompression;
  out.write_buffer_size = options.write_buffer_bytes;
  out.level_compaction_dynamic_level_bytes = true;
  return out;
}

rocksdb::DBOptions database_options(const Db::Options& options, std::shared_ptr<IoCounters> io) {
  rocksdb::DBOptions out;
  out.create_if_missing = options.create_if_missing;
  out.create_missing_column_families = true;
  out.paranoid_checks = true;
  // Two cores: one flush and one compaction at a time, leaving the other core to serve requests.
  out.max_background_jobs = 2;
  out.db_write_buffer_size = 2 * options.write_buffer_bytes;
  // With ten families, a rarely written one would otherwise pin old WAL files forever.
  out.max_total_wal_size = 4 * static_cast<uint64_t>(options.write_buffer_bytes);
  out.bytes_per_sync = 1 << 20;
  out.keep_log_file_num = 4;
  out.max_log_file_size = 16 << 20;
  out.stats_dump_period_sec = 0;
  // Parallel table loading spawns threads per family on every open; two cores gain nothing from it.
  out.max_file_opening_threads = 1;
  // A write stall holds back the Raft host and the group committer; the log says so.
  out.listeners.push_back(std::make_shared<StallLogger>(options.path, std::move(io)));
  return out;
}

}  // namespace

Result<std::unique_ptr<Db>> Db::open(const Options& options) {
  if (options.path.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "cannot open storage: the data directory path is empty");
  }
  if (options.create_if_missing) {
    std::error_code ec;
    std::filesystem::create_directories(options.path, ec);
    if (ec) {
      return make_error(ErrorCode::unavailable,
                        "cannot create data directory '" + options.path + "': " + ec.message());
    }
  }
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  auto io = std::make_shared<IoCounters>();
  rocksdb::DBOptions db_options = database_options(options, io);

  // Open the families that exist, then create the missing ones in one call: creating them one by
  // one (create_missing_column_families) rewrites and fsyncs the OPTIONS file once per family.
  std::vector<std::string> existing;
  if (!rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing).ok() ||
      existing.empty()) {
    existing = {rocksdb::kDefaultColumnFamilyName};
  }
  auto known_cf = [](const std::string& name) -> std::optional<Cf> {
    for (Cf cf : kAllCfs) {
      if (name == cf_name(cf)) return cf;
    }
    return std::nullopt;
  };
  // Unknown families (from a newer build) must be listed to open; they stay open but unused.
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : existing) {
    descriptors.emplace_back(name, family_options(known_cf(name), cache, options));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) {
    Error error = error_from_rocksdb(s, "cannot open RocksDB at '" + options.path + "'");
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      error.message += " (another process, or another Db in this process, has it open)";
    }
    return error;
  }
  std::unique_ptr<Db> db(new Db());
  db->options_ = options;
  db->io_ = std::move(io);
  db->db_.reset(raw);

  std::vector<rocksdb::ColumnFamilyDescriptor> missing;
  for (Cf cf : kAllCfs) {
    bool present = false;
    for (const std::string& name : existing) present = present || name == cf_name(cf);
    if (!present) missing.emplace_back(cf_name(cf), family_options(cf, cache, options));
  }
  if (!missing.empty()) {
    std::vector<rocksdb::ColumnFamilyHandle*> created;
    s = raw->CreateColumnFamilies(missing, &created);
    handles.insert(handles.end(), created.begin(), created.end());
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    std::optional<Cf> cf = known_cf(h->GetName());
    if (cf) {
      db->handles_[cf_index(*cf)] = h;
    } else {
      db->other_handles_.push_back(h);
    }
  }
  if (!s.ok()) {
    // ~Db releases the handles and closes.
    return error_from_rocksdb(s,
                              "cannot create column families in RocksDB at '" + options.path + "'");
  }
  Db* self = db.get();
  db->committer_ = std::make_unique<GroupCommitter>(
      [self](std::vector<Batch*>& batches, bool sync) { return self->write_group(batches, sync); });
  return db;
}

Db::~Db() {
  if (committer_) committer_->stop();
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    if (h != nullptr) (void)db_->DestroyColumnFamilyHandle(h);
  }
  for (rocksdb::ColumnFamilyHandle* h : other_handles_) (void)db_->DestroyColumnFamilyHandle(h);
  // Close's status only reports files it could not release; nothing is left to do about them here.
  (void)db_->Close();
  db_.reset();
}

namespace {

// Batches are merged up to this size, so a group of large batches is not copied whole at once.
constexpr size_t kMergeLimit = 16 << 20;

rocksdb::WriteBatch merged(std::vector<Batch*>::const_iterator first,
                           std::vector<Batch*>::const_iterator last) {
  size_t bytes = MergedBatch::kHeader;
  for (auto it = first; it != last; ++it) bytes += (*it)->rep().GetDataSize();
  MergedBatch m;
  m.reserve(bytes);
  for (auto it = first; it != last; ++it) m.append((*it)->rep().Data());
  return m.take();
}

}  // namespace

Status Db::write_group(std::vector<Batch*>& batches, bool sync) {
  // A group is one RocksDB write (one WAL record, one write(2)) rather than one per batch, in
  // chunks of at most kMergeLimit bytes; one fsync at the end makes every chunk durable.
  SlowOpTimer slow(sync ? "a synced group commit" : "a group commit", options_.path, io_.get(),
                   sync);
  auto first = batches.cbegin();
  while (first != batches.cend()) {
    auto last = first;
    size_t bytes = 0;
    do {
      bytes += (*last)->rep().GetDataSize();
      ++last;
    } while (last != batches.cend() && bytes + (*last)->rep().GetDataSize() <= kMergeLimit);
    rocksdb::WriteOptions write_options;
    write_options.sync = sync && last == batches.cend();
    rocksdb::Status s;
    if (last - first == 1) {
      s = db_->Write(write_options, &(*first)->rep());
    } else {
      rocksdb::WriteBatch group = merged(first, last);
      s = db_->Write(write_options, &group);
    }
    if (!s.ok()) return error_from_rocksdb(s, "write to RocksDB at '" + options_.path + "' failed");
    first = last;
  }
  return {};
}

Db::View Db::read_view() const {
  rocksdb::DB* db = db_.get();
  return View(db->GetSnapshot(), [db](const rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); });
}

Result<std::optional<std::string>> Db::get(Cf cf, std::string_view key,
                                           const rocksdb::Snapshot* at) const {
  rocksdb::PinnableSlice value;
  rocksdb::ReadOptions read_options;
  read_options.snapshot = at;
  rocksdb::Status s = db_->Get(read_options, handle(cf), slice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) {
    return error_from_rocksdb(s, std::string("read of ") + printable_key(key) + " in '" +
                                     cf_name(cf) + "' at '" + options_.path + "'");
  }
  return std::optional<std::string>(value.ToString());
}

std::vector<Result<std::optional<std::string>>> Db::multi_get(
    Cf cf, const std::vector<std::string>& keys) const {
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const std::string& k : keys) slices.emplace_back(k);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  if (!keys.empty()) {
    db_->MultiGet(rocksdb::ReadOptions(), handle(cf), keys.size(), slices.data(), values.data(),
                  statuses.data());
  }
  std::vector<Result<std::optional<std::string>>> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) {
      out.emplace_back(std::optional<std::string>());
    } else if (!statuses[i].ok()) {
      out.emplace_back(error_from_rocksdb(
          statuses[i], std::string("read of ") + printable_key(keys[i]) + " in '" + cf_name(cf) +
                           "' at '" + options_.path + "'"));
    } else {
      out.emplace_back(std::optional<std::string>(values[i].ToString()));
    }
  }
  return out;
}

Status Db::scan(Cf cf, std::string_view prefix,
                const std::function<bool(std::string_view key, std::string_view value)>& visit,
                std::string_view start_after, const rocksdb::Snapshot* at) const {
  rocksdb::ReadOptions read_options;
  read_options.snapshot = at;
  std::string upper = prefix_successor(prefix);
  rocksdb::Slice upper_slice(upper);
  if (!upper.empty()) read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, handle(cf)));
  bool resume = !start_after.empty() && start_after >= prefix;
  it->Seek(slice(resume ? start_after : prefix));
  if (resume && it->Valid() && view(it->key()) == start_after) it->Next();
  for (; it->Valid(); it->Next()) {
    std::string_view key = view(it->key());
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!visit(key, view(it->value()))) return {};
  }
  if (!it->status().ok()) {
    return error_from_rocksdb(it->status(), std::string("scan of ") + printable_key(prefix) +
                                                " in '" + cf_name(cf) + "' at '" + options_.path +
                                                "'");
  }
  return {};
}

Batch Db::batch() { return Batch(&handles_); }

void Db::commit_async(Batch batch, std::function<void(Status)> done) {
  if (!batch.empty() && batch.handles() != &handles_) {
    if (done) {
      done(make_error(ErrorCode::invalid_argument, "batch was not created by the Db at '" +
                                                       options_.path + "'; nothing written"));
    }
    return;
  }
  committer_->submit(std::move(batch), options_.sync, std::move(done));
}

Status Db::wait_for(Batch batch, bool sync) {
  if (committer_->on_committer_thread()) {
    return make_error(
        ErrorCode::internal,
        "a blocking commit was called from a commit callback (it would wait for itself); "
        "use commit_async");
  }
  if (!batch.empty() && batch.handles() != &handles_) {
    return make_error(ErrorCode::invalid_argument, "batch was not created by the Db at '" +
                                                       options_.path + "'; nothing written");
  }
  std::promise<Status> result;
  std::future<Status> done = result.get_future();
  committer_->submit(std::move(batch), sync,
                     [&result](Status s) { result.set_value(std::move(s)); });
  return done.get();
}

Status Db::commit(Batch batch) { return wait_for(std::move(batch), options_.sync); }

Status Db::write_unsynced(Batch batch) { return wait_for(std::move(batch), false); }

Status Db::delete_range(Cf cf, std::string_view begin, std::string_view end) {
  if (begin > end) {
    return make_error(ErrorCode::invalid_argument, "delete_range: begin " + printable_key(begin) +
                                                       " is after end " + printable_key(end));
  }
  if (begin == end) return {};
  Batch b = batch();
  b.delete_range(cf, begin, end);
  return commit(std::move(b));
}

Status Db::checkpoint(const std::string& dir) const {
  rocksdb::Checkpoint* raw_checkpoint = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw_checkpoint);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw_checkpoint);
  if (s.ok()) s = checkpoint->CreateCheckpoint(dir);
  if (!s.ok()) {
    return error_from_rocksdb(s, "checkpoint of '" + options_.path + "' into '" + dir + "' failed");
  }
  return {};
}

Status Db::flush() {
  std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin(), handles_.end());
  rocksdb::FlushOptions flush_options;
  flush_options.wait = true;
  rocksdb::Status s = db_->Flush(flush_options, all);
  if (!s.ok()) return error_from_rocksdb(s, "flush of '" + options_.path + "' failed");
  return {};
}

uint64_t Db::sync_count() const { return committer_->sync_count() + wal_syncs_.load(); }

Status Db::sync_wal() {
  if (!options_.sync) return {};
  // RocksDB publishes a write's sequence number only after its WAL record is written, so a sync
  // that starts after reading `latest` covers every write up to it.
  const uint64_t latest = db_->GetLatestSequenceNumber();
  if (latest <= synced_sequence_.load(std::memory_order_acquire)) return {};
  SlowOpTimer slow("an fsync of the write-ahead log", options_.path, io_.get(), true);
  auto s = db_->SyncWAL();
  if (!s.ok())
    return error_from_rocksdb(s, "syncing the write-ahead log at '" + options_.path + "' failed");
  wal_syncs_.fetch_add(1, std::memory_order_acq_rel);
  uint64_t seen = synced_sequence_.load(std::memory_order_acquire);
  while (seen < latest &&
         !synced_sequence_.compare_exchange_weak(seen, latest, std::memory_order_acq_rel)) {
  }
  return {};
}

Status Db::write_direct(Batch batch) {
  if (batch.empty()) return {};
  if (batch.handles() != &handles_) {
    return make_error(ErrorCode::invalid_argument, "batch was not created by the Db at '" +
                                                       options_.path + "'; nothing written");
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = false;
  SlowOpTimer slow("a write", options_.path, io_.get());
  auto s = db_->Write(write_options, &batch.rep());
  if (!s.ok()) return error_from_rocksdb(s, "write to RocksDB at '" + options_.path + "' failed");
  return {};
}
uint64_t Db::commit_count() const { return committer_->commit_count(); }
std::string Db::path() const { return options_.path; }
rocksdb::DB* Db::raw() { return db_.get(); }

rocksdb::ColumnFamilyHandle* Db::handle(Cf cf) const {
  size_t i = cf_index(cf);
  return i < kCfCount ? handles_[i] : handles_[0];
}

uint64_t Db::approximate_size() const {
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(h, "rocksdb.live-sst-files-size", &v)) total += v;
    v = 0;
    if (db_->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &v)) total += v;
  }
  return total;
}

}  // namespace nca::storage
