// RequestLedger: replies by request id survive the persona's next activation (they are stored with
// the write), only committed writes answer retries, and expired or evicted records leave storage.
#include "runtime/request_ledger.hpp"

#include <gtest/gtest.h>

#include "storage/keys.hpp"
#include "tests/storage/storage_test_util.hpp"

namespace nca {
namespace {

using storage::testing::open_db;
using storage::testing::TempDir;

constexpr TimeUs kTtl = 60 * kUsPerSecond;

std::string prefix() { return storage::persona_prefix(3, "t", "ada"); }

size_t stored(const storage::Db& db) {
  size_t n = 0;
  EXPECT_TRUE(db.scan(storage::Cf::meta, storage::request_prefix(prefix()),
                      [&](std::string_view, std::string_view) {
                        ++n;
                        return true;
                      })
                  .ok());
  return n;
}

// Stages `id` into a batch, commits it, and remembers the reply, as the persona actor does.
void write(storage::Db& db, RequestLedger& ledger, const std::string& id, const std::string& body) {
  auto batch = db.batch();
  batch.put(storage::Cf::items, storage::item_key(prefix(), "m-" + id), body);
  ledger.stage(batch, id, {11, body});
  ASSERT_TRUE(db.commit(std::move(batch)).ok());
  ledger.remember(id, {11, body});
}

TEST(RequestLedgerTest, ARetryOnTheNextActivationGetsTheFirstReply) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ManualClock clock;
  {
    RequestLedger first(clock, prefix(), 100, kTtl);
    write(*db, first, "req-1", "reply one");
    ASSERT_TRUE(first.find("req-1").has_value());
    EXPECT_EQ(first.find("req-1")->bytes, "reply one");
  }
  RequestLedger next(clock, prefix(), 100, kTtl);  // another node, or after a restart
  EXPECT_FALSE(next.find("req-1").has_value()) << "nothing before load()";
  auto n = next.load(*db);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1u);
  auto found = next.find("req-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->method, 11u);
  EXPECT_EQ(found->bytes, "reply one");
  // Another persona's ledger sees none of it.
  RequestLedger other(clock, storage::persona_prefix(3, "t", "bob"), 100, kTtl);
  ASSERT_TRUE(other.load(*db).ok());
  EXPECT_FALSE(other.find("req-1").has_value());
}

TEST(RequestLedgerTest, AWriteThatDidNotCommitAnswersNoRetry) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ManualClock clock;
  RequestLedger ledger(clock, prefix(), 100, kTtl);
  auto batch = db->batch();
  ledger.stage(batch, "lost", {11, "would be"});
  // The batch is dropped (the proposal failed): nothing stored, nothing remembered.
  EXPECT_FALSE(ledger.find("lost").has_value());
  EXPECT_EQ(stored(*db), 0u);
}

TEST(RequestLedgerTest, ExpiredAndEvictedRecordsLeaveStorageWithLaterWrites) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ManualClock clock;
  RequestLedger ledger(clock, prefix(), 4, kTtl);
  for (int i = 0; i < 6; ++i) write(*db, ledger, "r" + std::to_string(i), "x");
  // Capacity 4: the two oldest left memory; the next write deletes their records.
  EXPECT_EQ(ledger.size(), 4u);
  EXPECT_FALSE(ledger.find("r0").has_value());
  EXPECT_EQ(stored(*db), 5u) << "r0 went with r5's write; r1 waits for the next";
  write(*db, ledger, "r6", "x");
  EXPECT_EQ(stored(*db), 5u) << "deletes trail evictions by one write";
  clock.advance_us(kTtl);
  EXPECT_FALSE(ledger.find("r6").has_value()) << "expired";
  write(*db, ledger, "r7", "x");  // deletes up to kDeletesPerStage of the expired
  EXPECT_EQ(stored(*db), 1u);
  EXPECT_TRUE(ledger.find("r7").has_value());
}

TEST(RequestLedgerTest, LoadSkipsExpiredAndDamagedRecordsAndDeletesThemLater) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ManualClock clock;
  {
    RequestLedger ledger(clock, prefix(), 100, kTtl);
    write(*db, ledger, "old", "x");
  }
  clock.advance_us(kTtl / 2);
  {
    RequestLedger ledger(clock, prefix(), 100, kTtl);
    write(*db, ledger, "young", "y");
  }
  auto batch = db->batch();
  batch.put(storage::Cf::meta, storage::request_key(prefix(), "garbage"), "not a record");
  ASSERT_TRUE(db->commit(std::move(batch)).ok());
  clock.advance_us(kTtl / 2 + 1);
  RequestLedger ledger(clock, prefix(), 100, kTtl);
  auto n = ledger.load(*db);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(ledger.find("young").has_value());
  EXPECT_FALSE(ledger.find("old").has_value());
  EXPECT_EQ(ledger.pending_deletes(), 2u);
  auto next = db->batch();
  ledger.stage(next, "", {});
  ASSERT_TRUE(db->commit(std::move(next)).ok());
  EXPECT_EQ(stored(*db), 1u);
}

}  // namespace
}  // namespace nca
