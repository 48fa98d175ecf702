#include "storage/group_committer.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/db.hpp"
#include "tests/storage/storage_test_util.hpp"

namespace nca::storage {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Latch;
using testing::TempDir;

Batch batch_with(const std::string& key) {
  Batch b(nullptr);
  b.put(Cf::items, key, "v");
  return b;
}

// Waits until `pred` holds or the deadline passes; returns pred().
template <class Pred>
bool eventually(Pred pred, milliseconds timeout = milliseconds(10000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::yield();
  }
  return true;
}

// A writer that records each group it is given and blocks the first group until `release` opens.
struct RecordingWriter {
  std::mutex mutex;
  std::vector<std::vector<std::string>> groups;  // first key of each batch, per group
  std::vector<bool> synced;
  Latch first_entered;
  Latch release;

  GroupCommitter::WriteGroup fn() {
    return [this](std::vector<Batch*>& batches, bool sync) -> Status {
      std::vector<std::string> keys;
      for (Batch* b : batches) keys.push_back(std::to_string(b->count()));
      size_t index;
      {
        std::lock_guard<std::mutex> lock(mutex);
        groups.push_back(keys);
        synced.push_back(sync);
        index = groups.size() - 1;
      }
      if (index == 0) {
        first_entered.open();
        if (!release.wait_for(seconds(10)))
          return make_error(ErrorCode::internal, "latch timed out");
      }
      return {};
    };
  }
};

TEST(GroupCommitter, BatchesQueuedDuringAWriteShareOneLaterFsync) {
  RecordingWriter writer;
  GroupCommitter committer(writer.fn());
  std::atomic<int> first_done{0};
  committer.submit(batch_with("first"), true, [&](Status s) {
    EXPECT_TRUE(s.ok());
    first_done.fetch_add(1);
  });
  ASSERT_TRUE(writer.first_entered.wait_for(seconds(10)));
  EXPECT_EQ(committer.sync_count(), 0u);  // the first group's write has not returned yet

  constexpr int kQueued = 16;
  std::atomic<int> queued_done{0};
  std::vector<int> completion_order;
  std::mutex order_mutex;
  for (int i = 0; i < kQueued; ++i) {
    Batch b(nullptr);
    for (int k = 0; k <= i; ++k)
      b.put(Cf::items, "k" + std::to_string(k), "v");  // count() == i + 1
    committer.submit(std::move(b), true, [&, i](Status s) {
      EXPECT_TRUE(s.ok());
      std::lock_guard<std::mutex> lock(order_mutex);
      completion_order.push_back(i);
      queued_done.fetch_add(1);
    });
  }
  // Nothing queued completes while the first group's write is blocked.
  EXPECT_EQ(queued_done.load(), 0);
  EXPECT_EQ(first_done.load(), 0);
  writer.release.open();

  ASSERT_TRUE(eventually([&] { return queued_done.load() == kQueued; }));
  EXPECT_EQ(first_done.load(), 1);
  // One fsync for the first group and exactly one more for all the batches queued behind it.
  EXPECT_EQ(committer.sync_count(), 2u) << "the queued batches must share exactly one fsync";
  EXPECT_EQ(committer.group_count(), 2u);
  EXPECT_EQ(committer.commit_count(), static_cast<uint64_t>(kQueued + 1));
  std::lock_guard<std::mutex> lock(writer.mutex);
  ASSERT_EQ(writer.groups.size(), 2u);
  EXPECT_EQ(writer.groups[0].size(), 1u);
  ASSERT_EQ(writer.groups[1].size(), static_cast<size_t>(kQueued));
  for (int i = 0; i < kQueued; ++i) {
    EXPECT_EQ(writer.groups[1][i], std::to_string(i + 1)) << "batches must be written in order";
    EXPECT_EQ(completion_order[i], i) << "callbacks must run in submission order";
  }
  EXPECT_TRUE(writer.synced[0]);
  EXPECT_TRUE(writer.synced[1]);
}

TEST(GroupCommitter, AFailedWriteFailsEveryBatchOfItsGroupOnly) {
  Latch first_entered, release;
  std::atomic<int> calls{0};
  GroupCommitter committer([&](std::vector<Batch*>&, bool) -> Status {
    int call = calls.fetch_add(1);
    if (call == 0) {
      first_entered.open();
      if (!release.wait_for(seconds(10))) return make_error(ErrorCode::internal, "latch timed out");
      return {};
    }
    if (call == 1) return make_error(ErrorCode::unavailable, "IO error: disk on fire");
    return {};
  });
  std::vector<Status> results(6);
  std::atomic<int> done{0};
  auto record = [&](int i) {
    return [&, i](Status s) {
      results[i] = s;
      done.fetch_add(1);
    };
  };
  committer.submit(batch_with("a"), true, record(0));
  ASSERT_TRUE(first_entered.wait_for(seconds(10)));
  for (int i = 1; i <= 4; ++i) committer.submit(batch_with("b"), true, record(i));
  release.open();
  ASSERT_TRUE(eventually([&] { return done.load() == 5; }));
  committer.submit(batch_with("c"), true, record(5));
  ASSERT_TRUE(eventually([&] { return done.load() == 6; }));

  EXPECT_TRUE(results[0].ok());
  for (int i = 1; i <= 4; ++i) {
    ASSERT_FALSE(results[i].ok()) << i;
    EXPECT_EQ(results[i].code(), ErrorCode::unavailable);
    EXPECT_NE(results[i].error().message.find("disk on fire"), std::string::npos);
  }
  EXPECT_TRUE(results[5].ok());
  EXPECT_EQ(committer.commit_count(), 2u);
}

TEST(GroupCommitter, UnsyncedOnlyGroupsDoNotFsyncAndMixedGroupsDo) {
  RecordingWriter writer;
  GroupCommitter committer(writer.fn());
  std::atomic<int> done{0};
  auto count = [&](Status s) {
    EXPECT_TRUE(s.ok());
    done.fetch_add(1);
  };
  committer.submit(batch_with("a"), false, count);
  ASSERT_TRUE(writer.first_entered.wait_for(seconds(10)));
  committer.submit(batch_with("b"), false, count);
  committer.submit(batch_with("c"), true, count);
  committer.submit(Batch(nullptr), true, count);  // empty: completes with its group, writes nothing
  writer.release.open();
  ASSERT_TRUE(eventually([&] { return done.load() == 4; }));
  std::lock_guard<std::mutex> lock(writer.mutex);
  ASSERT_EQ(writer.synced.size(), 2u);
  EXPECT_FALSE(writer.synced[0]);
  EXPECT_TRUE(writer.synced[1]);
  EXPECT_EQ(writer.groups[1].size(), 2u);
  EXPECT_EQ(committer.sync_count(), 1u);
}

TEST(GroupCommitter, StopDrainsTheQueueAndLaterSubmitsFailFast) {
  std::atomic<int> written{0};
  std::atomic<int> ok{0};
  auto committer = std::make_unique<GroupCommitter>([&](std::vector<Batch*>& batches, bool) {
    written.fetch_add(static_cast<int>(batches.size()));
    return Status();
  });
  for (int i = 0; i < 100; ++i) {
    committer->submit(batch_with("k"), true, [&](Status s) {
      if (s.ok()) ok.fetch_add(1);
    });
  }
  committer->stop();
  EXPECT_EQ(written.load(), 100);
  EXPECT_EQ(ok.load(), 100);
  Status late;
  committer->submit(batch_with("late"), true, [&](Status s) { late = s; });
  EXPECT_EQ(late.code(), ErrorCode::unavailable);
  committer->stop();  // idempotent
  committer.reset();
  EXPECT_EQ(written.load(), 100);
}

TEST(GroupCommit, EightThreadsEveryCallbackOnceAndFsyncsAreShared) {
  TempDir dir;
  Db::Options options;
  options.path = dir.sub("db");
  options.block_cache_bytes = 8 << 20;
  options.write_buffer_bytes = 8 << 20;
  auto opened = Db::open(options);
  ASSERT_TRUE(opened.ok()) << opened.error().to_string();
  std::unique_ptr<Db> db = std::move(opened).value();

  constexpr int kThreads = 8;
  constexpr int kPerThread = 150;
  std::vector<std::atomic<int>> fired(kThreads * kPerThread);
  for (auto& f : fired) f.store(0);
  std::atomic<int> failures{0};
  std::atomic<int> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int id = t * kPerThread + i;
        Batch b = db->batch();
        b.put(Cf::items, "k" + std::to_string(id), std::to_string(id));
        b.put(Cf::history, "h" + std::to_string(id),
              std::string(static_cast<size_t>(id % 97), 'h'));
        if (i % 10 == 9) {
          // Mix in blocking commits from the same threads.
          if (!db->commit(std::move(b)).ok()) failures.fetch_add(1);
          fired[id].fetch_add(1);
          total.fetch_add(1);
          continue;
        }
        db->commit_async(std::move(b), [&, id](Status s) {
          if (!s.ok()) failures.fetch_add(1);
          fired[id].fetch_add(1);
          total.fetch_add(1);
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(eventually([&] { return total.load() == kThreads * kPerThread; }));
  EXPECT_EQ(failures.load(), 0);
  for (int id = 0; id < kThreads * kPerThread; ++id) EXPECT_EQ(fired[id].load(), 1) << id;
  EXPECT_EQ(db->commit_count(), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_LT(db->sync_count(), db->commit_count());
  EXPECT_GT(db->sync_count(), 0u);
  std::cout << "8 threads: " << db->commit_count() << " commits, " << db->sync_count()
            << " fsyncs\n";
  for (int id = 0; id < kThreads * kPerThread; id += 37) {
    auto v = db->get(Cf::items, "k" + std::to_string(id));
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_EQ(**v, std::to_string(id));
  }
}

}  // namespace
}  // namespace nca::storage
