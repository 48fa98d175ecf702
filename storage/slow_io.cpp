#include "storage/slow_io.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace nca::storage {
namespace {

const char* condition_name(rocksdb::WriteStallCondition c) {
  switch (c) {
    case rocksdb::WriteStallCondition::kNormal:
      return "normal";
    case rocksdb::WriteStallCondition::kDelayed:
      return "delayed";
    case rocksdb::WriteStallCondition::kStopped:
      return "stopped";
  }
  return "unknown";
}

}  // namespace

IoLogSink spdlog_io_sink() {
  return [](int level, const std::string& line) {
    if (level > 0) {
      spdlog::warn("{}", line);
    } else {
      spdlog::info("{}", line);
    }
  };
}

SlowOpTimer::SlowOpTimer(const char* what, const std::string& path, IoCounters* counters,
                         bool durable, std::chrono::milliseconds threshold, IoLogSink sink)
    : what_(what),
      path_(path),
      counters_(counters),
      durable_(durable),
      threshold_(threshold),
      sink_(std::move(sink)),
      start_(std::chrono::steady_clock::now()) {}

SlowOpTimer::~SlowOpTimer() {
  const auto elapsed = std::chrono::steady_clock::now() - start_;
  if (counters_ != nullptr && durable_) counters_->durable_writes.record(elapsed);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed);
  if (took < threshold_) return;
  if (counters_ != nullptr) counters_->slow_operations.fetch_add(1, std::memory_order_relaxed);
  if (!sink_) return;
  // nca-bench soak counts these lines and the stall lines below (bench/soak_bench.cpp).
  sink_(1, std::string("storage: ") + what_ + " at '" + path_ + "' took " +
               std::to_string(took.count()) +
               " ms (the disk or the machine is overloaded; this node's Raft groups and "
               "heartbeats waited for it)");
}

StallLogger::StallLogger(std::string path, std::shared_ptr<IoCounters> counters, IoLogSink sink)
    : path_(std::move(path)), counters_(std::move(counters)), sink_(std::move(sink)) {}

void StallLogger::OnStallConditionsChanged(const rocksdb::WriteStallInfo& info) {
  const bool normal = info.condition.cur == rocksdb::WriteStallCondition::kNormal;
  if (!normal && counters_ != nullptr) {
    counters_->write_stalls.fetch_add(1, std::memory_order_relaxed);
  }
  if (!sink_) return;
  std::string line = "storage: writes to column family '" + info.cf_name + "' at '" + path_ +
                     "' are " + condition_name(info.condition.cur) + " (were " +
                     condition_name(info.condition.prev) + ")";
  if (!normal) {
    line += ": RocksDB holds writes back until its flushes and compactions catch up";
  }
  sink_(normal ? 0 : 1, line);
}

}  // namespace nca::storage
