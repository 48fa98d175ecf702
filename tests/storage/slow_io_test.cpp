#include "storage/slow_io.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "storage/db.hpp"
#include "tests/storage/storage_test_util.hpp"

namespace nca::storage {
namespace {

Result<std::unique_ptr<Db>> open_db(const testing::TempDir& dir) {
  Db::Options o;
  o.path = dir.path();
  return Db::open(o);
}

struct Captured {
  std::vector<std::pair<int, std::string>> lines;
  IoLogSink sink() {
    return [this](int level, const std::string& line) { lines.emplace_back(level, line); };
  }
};

TEST(SlowOpTimer, ReportsAnOperationThatReachedTheThreshold) {
  Captured out;
  const std::string path = "/data/db";
  {
    SlowOpTimer t("an fsync of the write-ahead log", path, nullptr, false,
                  std::chrono::milliseconds(0), out.sink());
  }
  ASSERT_EQ(out.lines.size(), 1u);
  EXPECT_EQ(out.lines[0].first, 1);
  const std::string& line = out.lines[0].second;
  EXPECT_NE(line.find("an fsync of the write-ahead log at '/data/db' took "), std::string::npos)
      << line;
  EXPECT_NE(line.find(" ms "), std::string::npos) << line;
}

TEST(SlowOpTimer, SaysNothingAboutAFastOperation) {
  Captured out;
  const std::string path = "/data/db";
  { SlowOpTimer t("a write", path, nullptr, false, std::chrono::hours(1), out.sink()); }
  EXPECT_TRUE(out.lines.empty());
}

TEST(SlowOpTimer, CountsSlowOperationsAndTimesDurableOnes) {
  Captured out;
  const std::string path = "/data/db";
  IoCounters counters;
  { SlowOpTimer t("a write", path, &counters, false, std::chrono::hours(1), out.sink()); }
  EXPECT_EQ(counters.durable_writes.snapshot().count, 0u);  // not durable: not timed
  EXPECT_EQ(counters.slow_operations.load(), 0u);
  { SlowOpTimer t("a synced write", path, &counters, true, std::chrono::hours(1), out.sink()); }
  EXPECT_EQ(counters.durable_writes.snapshot().count, 1u);
  EXPECT_EQ(counters.slow_operations.load(), 0u);
  { SlowOpTimer t("an fsync", path, &counters, true, std::chrono::milliseconds(0), out.sink()); }
  EXPECT_EQ(counters.durable_writes.snapshot().count, 2u);
  EXPECT_EQ(counters.slow_operations.load(), 1u);
  // Counted with or without a sink to log to.
  { SlowOpTimer t("an fsync", path, &counters, true, std::chrono::milliseconds(0), nullptr); }
  EXPECT_EQ(counters.slow_operations.load(), 2u);
  EXPECT_EQ(out.lines.size(), 1u);
}

TEST(StallLogger, WarnsOfAStallAndTellsItsEnd) {
  Captured out;
  auto counters = std::make_shared<IoCounters>();
  StallLogger logger("/data/db", counters, out.sink());
  rocksdb::WriteStallInfo info;
  info.cf_name = "raft_log";
  info.condition.prev = rocksdb::WriteStallCondition::kNormal;
  info.condition.cur = rocksdb::WriteStallCondition::kStopped;
  logger.OnStallConditionsChanged(info);
  info.condition.prev = rocksdb::WriteStallCondition::kStopped;
  info.condition.cur = rocksdb::WriteStallCondition::kNormal;
  logger.OnStallConditionsChanged(info);
  ASSERT_EQ(out.lines.size(), 2u);
  EXPECT_EQ(out.lines[0].first, 1);
  EXPECT_NE(out.lines[0].second.find("'raft_log' at '/data/db' are stopped (were normal)"),
            std::string::npos)
      << out.lines[0].second;
  EXPECT_EQ(out.lines[1].first, 0);
  EXPECT_NE(out.lines[1].second.find("are normal (were stopped)"), std::string::npos)
      << out.lines[1].second;
  EXPECT_EQ(counters->write_stalls.load(), 1u);  // the stall, not its end
  info.condition.prev = rocksdb::WriteStallCondition::kNormal;
  info.condition.cur = rocksdb::WriteStallCondition::kDelayed;
  logger.OnStallConditionsChanged(info);
  EXPECT_EQ(counters->write_stalls.load(), 2u);
}

TEST(IoCounters, ADbTimesItsSyncedWritesAndFsyncsOnly) {
  testing::TempDir dir;
  auto db = open_db(dir);
  ASSERT_TRUE(db.ok()) << db.error().message;
  const uint64_t at_open = (*db)->io().durable_writes.snapshot().count;
  auto unsynced = (*db)->batch();
  unsynced.put(Cf::items, "k1", "v");
  ASSERT_TRUE((*db)->write_direct(std::move(unsynced)).ok());
  EXPECT_EQ((*db)->io().durable_writes.snapshot().count, at_open);
  auto synced = (*db)->batch();
  synced.put(Cf::items, "k2", "v");
  ASSERT_TRUE((*db)->commit(std::move(synced)).ok());
  EXPECT_EQ((*db)->io().durable_writes.snapshot().count, at_open + 1);
  auto more = (*db)->batch();
  more.put(Cf::items, "k3", "v");
  ASSERT_TRUE((*db)->write_direct(std::move(more)).ok());
  ASSERT_TRUE((*db)->sync_wal().ok());
  EXPECT_EQ((*db)->io().durable_writes.snapshot().count, at_open + 2);
}

TEST(StallLogger, EveryDbListensForStalls) {
  testing::TempDir dir;
  auto db = open_db(dir);
  ASSERT_TRUE(db.ok()) << db.error().message;
  size_t found = 0;
  for (const auto& l : (*db)->raw()->GetDBOptions().listeners) {
    if (std::string(l->Name()) == "nca.StallLogger") ++found;
  }
  EXPECT_EQ(found, 1u);
}

}  // namespace
}  // namespace nca::storage
