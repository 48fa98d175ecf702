// Raft over the RocksDB log (storage/raft_log_store): replication, compaction and recovery with
// real synced storage, each node with its own database as on separate machines.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "storage/db.hpp"
#include "storage/raft_log_store.hpp"
#include "tests/cluster/raft/raft_test_cluster.hpp"
#include "tests/storage/storage_test_util.hpp"

namespace nca::raft {
namespace {

// A node's disk: its own Db and the group's RaftLogStore, closed when destroyed.
class DiskStorage final : public LogStorage {
 public:
  static std::unique_ptr<LogStorage> open(const std::string& path) {
    auto db = storage::testing::open_db(path);
    if (db == nullptr) return nullptr;
    auto disk = std::unique_ptr<DiskStorage>(new DiskStorage());
    disk->db_ = std::move(db);
    auto store = storage::RaftLogStore::open(disk->db_.get(), 7);
    EXPECT_TRUE(store.ok()) << store.error().message;
    if (!store.ok()) return nullptr;
    disk->store_ = std::move(*store);
    return disk;
  }
  ~DiskStorage() override {
    store_.reset();  // before the Db it writes to
  }

  Result<InitialState> initial_state() const override { return store_->initial_state(); }
  Result<std::vector<Entry>> entries(Index lo, Index hi, uint64_t max_bytes) const override {
    return store_->entries(lo, hi, max_bytes);
  }
  Result<Term> term(Index index) const override { return store_->term(index); }
  Index first_index() const override { return store_->first_index(); }
  Index last_index() const override { return store_->last_index(); }
  Result<Snapshot> snapshot() const override { return store_->snapshot(); }
  Status save(const HardState* hs, const std::vector<Entry>& entries,
              const Snapshot* snapshot) override {
    return store_->save(hs, entries, snapshot);
  }
  Status compact(const Snapshot& snapshot) override { return store_->compact(snapshot); }

 private:
  DiskStorage() = default;
  std::unique_ptr<storage::Db> db_;
  std::unique_ptr<storage::RaftLogStore> store_;
};

class RaftRocksDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("nca-raft-rocksdb-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  test_support::TestCluster::StorageFactory factory() {
    return [root = root_](NodeId id) {
      return DiskStorage::open((root / ("node-" + std::to_string(id))).string());
    };
  }

  std::filesystem::path root_;
};

TEST_F(RaftRocksDbTest, ReplicatesAndEveryNodeRecoversItsLogFromDisk) {
  test_support::TestCluster c(3, 3, {}, factory());
  c.elect(1);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.node(1).propose("d" + std::to_string(i)).ok());
  c.stabilize();
  HardState before = c.node(2).hard_state();
  Index last = c.node(2).log().last_index();
  for (NodeId id : {1, 2, 3}) c.restart(id);
  EXPECT_EQ(c.node(2).hard_state(), before);
  EXPECT_EQ(c.node(2).log().last_index(), last);
  // Restarted from the log alone (no snapshot), each node re-applies everything committed.
  auto data = c.applied_data(2);
  ASSERT_EQ(data.size(), 30u);
  EXPECT_EQ(data.back(), "d29");
  c.elect(3);
  ASSERT_TRUE(c.node(3).propose("after-restart").ok());
  c.stabilize();
  EXPECT_EQ(c.applied_data(1).back(), "after-restart");
}

TEST_F(RaftRocksDbTest, ACompactedFollowerRestartsFromItsSnapshotAndALaggardGetsTheLeaders) {
  test_support::TestCluster c(3, 3, {}, factory());
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.node(1).propose("s" + std::to_string(i)).ok());
  c.stabilize();
  c.compact(1, "state-of-1");
  c.compact(2, "state-of-2");
  Index snap = c.storage(2).snapshot()->meta.index;
  c.restart(2);
  EXPECT_EQ(c.node(2).log().first_index(), snap + 1);
  EXPECT_EQ(c.storage(2).snapshot()->data, "state-of-2");
  c.heal();
  for (int i = 0; i < 5; ++i) {
    c.tick(1);
    c.stabilize();
  }
  EXPECT_EQ(c.storage(3).snapshot()->data, "state-of-1");
  EXPECT_EQ(c.node(3).log().last_index(), c.node(1).log().last_index());
  c.restart(3);
  EXPECT_EQ(c.node(3).log().first_index(), c.storage(1).snapshot()->meta.index + 1);
}

}  // namespace
}  // namespace nca::raft
