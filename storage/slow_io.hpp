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
//
// Thread-safety: a SlowOpTimer belongs to the thread that made it; StallLogger is thread-safe if
// its sink is (spdlog is).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <rocksdb/listener.h>

namespace nca::storage {

// level: 0 info, 1 warning.
using IoLogSink = std::function<void(int level, const std::string& line)>;

IoLogSink spdlog_io_sink();

class SlowOpTimer {
 public:
  static constexpr std::chrono::milliseconds kDefaultThreshold{1000};

  SlowOpTimer(const char* what, const std::string& path,
              std::chrono::milliseconds threshold = kDefaultThreshold,
              IoLogSink sink = spdlog_io_sink());
  ~SlowOpTimer();
  SlowOpTimer(const SlowOpTimer&) = delete;
  SlowOpTimer& operator=(const SlowOpTimer&) = delete;

 private:
  const char* what_;
  const std::string& path_;
  std::chrono::milliseconds threshold_;
  IoLogSink sink_;
  std::chrono::steady_clock::time_point start_;
};

class StallLogger : public rocksdb::EventListener {
 public:
  StallLogger(std::string path, IoLogSink sink = spdlog_io_sink());
  const char* Name() const override { return "nca.StallLogger"; }
  void OnStallConditionsChanged(const rocksdb::WriteStallInfo& info) override;

 private:
  std::string path_;
  IoLogSink sink_;
};

}  // namespace nca::storage
