#include "storage/slow_io.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "storage/db.hpp"
#include "tests/storage/storage_test_util.hpp"

namespace nca::storage {
namespace {

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
    SlowOpTimer t("an fsync of the write-ahead log", path, std::chrono::milliseconds(0),
                  out.sink());
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
  { SlowOpTimer t("a write", path, std::chrono::hours(1), out.sink()); }
  EXPECT_TRUE(out.lines.empty());
}

TEST(StallLogger, WarnsOfAStallAndTellsItsEnd) {
  Captured out;
  StallLogger logger("/data/db", out.sink());
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
}

TEST(StallLogger, EveryDbListensForStalls) {
  testing::TempDir dir;
  Db::Options o;
  o.path = dir.path();
  auto db = Db::open(o);
  ASSERT_TRUE(db.ok()) << db.error().message;
  size_t found = 0;
  for (const auto& l : (*db)->raw()->GetDBOptions().listeners) {
    if (std::string(l->Name()) == "nca.StallLogger") ++found;
  }
  EXPECT_EQ(found, 1u);
}

}  // namespace
}  // namespace nca::storage
