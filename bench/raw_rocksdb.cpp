#include "bench/raw_rocksdb.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bench/bench_util.hpp"

namespace nca::bench {

Result<RawRocksdbSyncResult> measure_raw_rocksdb_sync_writes(const std::string& dir,
                                                             const RawRocksdbSyncOptions& options) {
  if (options.threads == 0 || options.writes == 0) {
    return make_error(ErrorCode::invalid_argument,
                      "raw RocksDB baseline: threads and writes must be at least 1");
  }
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.error_if_exists = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status opened = rocksdb::DB::Open(db_options, dir, &raw);
  if (!opened.ok()) {
    return make_error(ErrorCode::unavailable, "raw RocksDB baseline: cannot open a database in '" +
                                                  dir + "': " + opened.ToString());
  }
  std::unique_ptr<rocksdb::DB> db(raw);

  const std::string value(options.value_bytes, 'v');
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  std::optional<Error> first_error;
  std::vector<std::vector<double>> samples(options.threads);

  Stopwatch sw;
  auto writer = [&](size_t t) {
    rocksdb::WriteOptions sync_write;
    sync_write.sync = true;
    char key[32];
    samples[t].reserve(options.writes / options.threads + 1);
    while (!failed.load(std::memory_order_relaxed) && sw.elapsed_s() < options.max_seconds) {
      const size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= options.writes) break;
      std::snprintf(key, sizeof(key), "w%016zu", i);
      Stopwatch one;
      rocksdb::Status s = db->Put(sync_write, rocksdb::Slice(key), rocksdb::Slice(value));
      samples[t].push_back(one.elapsed_us());
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!first_error) {
          first_error = make_error(ErrorCode::unavailable,
                                   "raw RocksDB baseline: a synced Put failed: " + s.ToString());
        }
        failed = true;
        break;
      }
      done.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(options.threads);
  for (size_t t = 0; t < options.threads; ++t) threads.emplace_back(writer, t);
  for (auto& th : threads) th.join();
  const double seconds = sw.elapsed_s();

  rocksdb::Status closed = db->Close();
  db.reset();
  if (first_error) return *first_error;
  if (!closed.ok()) {
    return make_error(ErrorCode::unavailable,
                      "raw RocksDB baseline: closing the database failed: " + closed.ToString());
  }

  Latencies lat;
  lat.reserve(done.load());
  for (const auto& v : samples) {
    for (double us : v) lat.add(us);
  }
  RawRocksdbSyncResult out;
  out.writes = done.load();
  out.seconds = seconds;
  out.writes_per_s = seconds > 0 ? static_cast<double>(out.writes) / seconds : 0;
  out.p50_us = lat.percentile(50);
  out.p99_us = lat.percentile(99);
  return out;
}

}  // namespace nca::bench
