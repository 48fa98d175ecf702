// storage/slow_io.hpp: makes slow storage visible in a node's log. A Raft host, the group
// committer and the heartbeats of a node's groups wait behind its writes and fsyncs; when the disk
// or the machine stalls, elections time out elsewhere and clients see "no leader" errors, and the
// log should say why (etcd logs a "slow fdatasync" the same way).
//
// Contract.
//   * SlowOpTimer times one operation from construction to destruction on a steady clock (a
//     diagnostic measurement: no behaviour depends on it) and, when it took at least `threshold`,
//     hands `sink` one line naming the operation, the database path and the milliseconds.
//   * StallLogger is a RocksDB event listener: every change of a column family's write-stall
//     condition (normal, delayed, stopped) goes to `sink` as one line; RocksDB calls it on its
//     own threads.
//   * The default sink is spdlog: warnings for slow operations and stalls, info for the return to
//     normal.
//   * IoCounters keeps the same events for /metrics: a SlowOpTimer given one counts a slow
//     operation in `slow_operations` and, when it times a durable write, records every duration in
//     `durable_writes`; a StallLogger given one counts each change into a delayed or stopped state.
//
// Thread-safety: a SlowOpTimer belongs to the thread that made it; StallLogger is thread-safe if
// its sink is (spdlog is).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <rocksdb/listener.h>

#include "storage/latency_histogram.hpp"

namespace nca::storage {

// level: 0 info, 1 warning.
using IoLogSink = std::function<void(int level, const std::string& line)>;

IoLogSink spdlog_io_sink();

// One Db's storage events since it opened (Db::io()).
struct IoCounters {
  // Synced writes and WAL fsyncs, each timed whole (a synced group commit includes its write).
  LatencyHistogram durable_writes;
  std::atomic<uint64_t> slow_operations{0};
  std::atomic<uint64_t> write_stalls{0};  // changes of a column family into delayed or stopped
};

class SlowOpTimer {
 public:
  static constexpr std::chrono::milliseconds kDefaultThreshold{1000};

  // `counters` (may be null) counts a slow operation; with `durable`, every duration is recorded
  // in counters->durable_writes too.
  SlowOpTimer(const char* what, const std::string& path, IoCounters* counters = nullptr,
              bool durable = false, std::chrono::milliseconds threshold = kDefaultThreshold,
              IoLogSink sink = spdlog_io_sink());
  ~SlowOpTimer();
  SlowOpTimer(const SlowOpTimer&) = delete;
  SlowOpTimer& operator=(const SlowOpTimer&) = delete;

 private:
  const char* what_;
  const std::string& path_;
  IoCounters* counters_;
  bool durable_;
  std::chrono::milliseconds threshold_;
  IoLogSink sink_;
  std::chrono::steady_clock::time_point start_;
};

class StallLogger : public rocksdb::EventListener {
 public:
  // `counters` (may be null) is shared with the Db, which RocksDB's listeners may outlive.
  StallLogger(std::string path, std::shared_ptr<IoCounters> counters = nullptr,
              IoLogSink sink = spdlog_io_sink());
  const char* Name() const override { return "nca.StallLogger"; }
  void OnStallConditionsChanged(const rocksdb::WriteStallInfo& info) override;

 private:
  std::string path_;
  std::shared_ptr<IoCounters> counters_;
  IoLogSink sink_;
};

}  // namespace nca::storage
