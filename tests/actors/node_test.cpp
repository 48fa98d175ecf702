// End-to-end through the SDK against an in-process node: every verb, filters, idempotency, group
// commit, restart with saved and with rebuilt indices, item actor passivation.
#include <gtest/gtest.h>

#include <random>

#include <fstream>
#include <set>
#include <thread>

#include "tests/actors/node_test_util.hpp"

namespace nca {
namespace {

using testing::NodeFixture;
using testing::wait_until;

class NodeTest : public NodeFixture {};

TEST_F(NodeTest, RememberAndRecallThroughTheSdk) {
  ASSERT_TRUE(client_->remember("ada", "Ada is allergic to peanuts", 0.8, {"health"}).ok());
  ASSERT_TRUE(client_->remember("ada", "Ada's favourite colour is green").ok());
  ASSERT_TRUE(client_->remember("ada", "Ada works as a structural engineer in Lisbon").ok());
  ASSERT_TRUE(client_->remember("bob", "Bob is allergic to cats").ok());
  auto r = client_->recall("ada", "what is Ada allergic to", 2);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->hits_size(), 2);
  EXPECT_EQ(r->hits(0).item().content(), "Ada is allergic to peanuts");
  EXPECT_EQ(r->hits(0).item().persona_id(), "ada") << "personas never see each other's memories";
  EXPECT_GT(r->hits(0).score(), r->hits(1).score());
  EXPECT_GT(r->hits(0).similarity(), 0);
  EXPECT_EQ(r->hits(0).vector_rank(), 1u);
}

TEST_F(NodeTest, EveryVerb) {
  pb::MemoryInput in = memory("the launch is on Friday", {"work"});
  (*in.mutable_metadata())["project"] = "apollo";
  in.set_session_id("s1");
  auto added = client_->remember("ada", in);
  ASSERT_TRUE(added.ok()) << added.error().message;
  std::string id = added->item().id();
  EXPECT_EQ(added->item().session_id(), "s1");

  auto got = client_->get(id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->item().content(), "the launch is on Friday");

  pb::UpdateRequest up;
  up.set_id(id);
  up.set_content("the launch moved to Monday");
  up.set_expected_version(1);
  auto updated = client_->update(up);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->item().version(), 2u);
  EXPECT_EQ(client_->get(id)->item().content(), "the launch moved to Monday");
  EXPECT_EQ(client_->update(up).code(), ErrorCode::conflict) << "stale expected_version";
  auto recalled = client_->recall("ada", "when is the launch", 1);
  ASSERT_TRUE(recalled.ok());
  EXPECT_EQ(recalled->hits(0).item().content(), "the launch moved to Monday");

  auto touched = client_->touch(id);
  ASSERT_TRUE(touched.ok()) << touched.error().message;
  EXPECT_GE(touched->item().access_count(), 1u);

  ASSERT_TRUE(client_->forget(id, "not needed").ok());
  EXPECT_EQ(client_->get(id).code(), ErrorCode::not_found);
  auto none = client_->recall("ada", "when is the launch", 5);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->hits_size(), 0) << "forgotten memories leave the index";
  pb::ListRequest archived;
  archived.set_persona_id("ada");
  archived.set_archived(true);
  auto arch = client_->list(archived);
  ASSERT_TRUE(arch.ok());
  ASSERT_EQ(arch->archived_size(), 1);
  EXPECT_EQ(arch->archived(0).reason(), "not needed");

  ASSERT_TRUE(client_->restore(id).ok());
  EXPECT_EQ(client_->recall("ada", "when is the launch", 1)->hits_size(), 1);

  auto hist = client_->history(id);
  ASSERT_TRUE(hist.ok());
  std::vector<pb::HistoryAction> actions;
  for (const auto& h : hist->records()) actions.push_back(h.action());
  EXPECT_EQ(actions,
            (std::vector<pb::HistoryAction>{pb::ADD, pb::UPDATE, pb::FORGET, pb::RESTORE}));

  ASSERT_TRUE(client_->remove(id).ok());
  EXPECT_EQ(client_->get(id).code(), ErrorCode::not_found);
  EXPECT_EQ(client_->remove(id).code(), ErrorCode::not_found);
  auto after = client_->history(id);
  ASSERT_TRUE(after.ok()) << "history survives a delete";
  EXPECT_EQ(after->records(after->records_size() - 1).action(), pb::DELETE);

  auto stats = client_->stats("ada");
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->persona_size(), 1);
  EXPECT_EQ(stats->persona(0).tiers_size(), 3);
  auto node_stats = client_->stats();
  ASSERT_TRUE(node_stats.ok());
  EXPECT_EQ(node_stats->personas(), 1u);
}

TEST_F(NodeTest, RecallFilters) {
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  pb::MemoryInput a = memory("coffee with Maria on Monday", {"social"});
  (*a.mutable_metadata())["place"] = "cafe";
  a.set_created_at_us(now - 10 * kUsPerDay);
  pb::MemoryInput b = memory("coffee order for the office", {"work"});
  (*b.mutable_metadata())["place"] = "office";
  b.set_tier(pb::LTM);
  pb::MemoryInput c = memory("coffee beans from Brazil", {"work", "shopping"});
  c.set_importance(0.0);
  for (auto* m : {&a, &b, &c}) ASSERT_TRUE(client_->remember("ada", *m).ok());

  auto query = [&](auto setup) {
    pb::RecallRequest r;
    r.set_persona_id("ada");
    r.set_query("coffee");
    r.set_k(10);
    r.set_no_reinforce(true);  // keep health as remembered for the min_health check
    setup(r);
    auto res = client_->recall(r);
    EXPECT_TRUE(res.ok());
    std::set<std::string> out;
    for (const auto& h : res->hits()) out.insert(h.item().content());
    return out;
  };
  EXPECT_EQ(query([](pb::RecallRequest&) {}).size(), 3u);
  EXPECT_EQ(query([](pb::RecallRequest& r) { r.mutable_filter()->add_tags("work"); }),
            (std::set<std::string>{"coffee order for the office", "coffee beans from Brazil"}));
  EXPECT_EQ(query([](pb::RecallRequest& r) {
              r.mutable_filter()->add_tags("work");
              r.mutable_filter()->add_tags("shopping");
            }),
            (std::set<std::string>{"coffee beans from Brazil"}));
  EXPECT_EQ(query([](pb::RecallRequest& r) {
              (*r.mutable_filter()->mutable_metadata())["place"] = "cafe";
            }),
            (std::set<std::string>{"coffee with Maria on Monday"}));
  EXPECT_EQ(query([](pb::RecallRequest& r) { r.add_tiers(pb::LTM); }),
            (std::set<std::string>{"coffee order for the office"}));
  EXPECT_EQ(query([&](pb::RecallRequest& r) {
              r.mutable_filter()->set_created_before_us(now - kUsPerDay);
            }),
            (std::set<std::string>{"coffee with Maria on Monday"}));
  EXPECT_EQ(query([](pb::RecallRequest& r) {
              r.mutable_filter()->set_min_health(50);
            }).count("coffee beans from Brazil"),
            0u)
      << "importance 0 starts at health 40";
}

TEST_F(NodeTest, ClientEmbeddingsAndIncludeEmbedding) {
  pb::MemoryInput in = memory("vector supplied by the client");
  for (int i = 0; i < 64; ++i) in.add_embedding(i == 3 ? 2.0f : 0.0f);
  auto added = client_->remember("ada", in);
  ASSERT_TRUE(added.ok()) << added.error().message;
  pb::RecallRequest r;
  r.set_persona_id("ada");
  for (int i = 0; i < 64; ++i) r.add_query_embedding(i == 3 ? 1.0f : 0.0f);
  r.set_include_embedding(true);
  auto res = client_->recall(r);
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->hits_size(), 1);
  EXPECT_NEAR(res->hits(0).similarity(), 1.0, 1e-5);
  ASSERT_EQ(res->hits(0).embedding_size(), 64);
  EXPECT_NEAR(res->hits(0).embedding(3), 1.0, 1e-6) << "stored normalised";
}

// 300 memories with random 64-dimensional embeddings, named after `round`.
std::vector<pb::MemoryInput> random_batch(std::mt19937& rng, int round) {
  std::normal_distribution<float> gauss;
  std::vector<pb::MemoryInput> batch;
  for (int i = 0; i < 300; ++i) {
    pb::MemoryInput in;
    in.set_content("round " + std::to_string(round) + " point " + std::to_string(i));
    for (int d = 0; d < 64; ++d) in.add_embedding(gauss(rng));
    batch.push_back(std::move(in));
  }
  return batch;
}

// Recall reads the tier index directly only when every change the persona sent has reached it: the
// last memory of a batch is found by the recall right after the batch was acknowledged, every time
// (indexing a batch takes long enough that a recall racing it would miss).
TEST_F(NodeTest, RecallSeesEachAcknowledgedRememberAtOnce) {
  std::mt19937 rng(7);
  for (int round = 0; round < 10; ++round) {
    std::vector<pb::MemoryInput> batch = random_batch(rng, round);
    auto added = client_->remember_batch("ada", batch);
    ASSERT_TRUE(added.ok()) << added.error().message;
    pb::RecallRequest r;
    r.set_persona_id("ada");
    r.mutable_query_embedding()->CopyFrom(batch.back().embedding());
    r.set_k(1);
    r.set_mode(pb::VECTOR);
    r.set_no_reinforce(true);
    auto res = client_->recall(r);
    ASSERT_TRUE(res.ok()) << res.error().message;
    ASSERT_EQ(res->hits_size(), 1) << "round " << round;
    EXPECT_EQ(res->hits(0).item().id(), added->results(299).item().id()) << "round " << round;
  }
}

TEST_F(NodeTest, ContextOfAnEmptyPersonaIsEmpty) {
  auto ctx = client_->context("nobody-yet", 5);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  EXPECT_EQ(ctx->items_size(), 0);
}

TEST_F(NodeTest, RetriedWriteWithSameRequestIdIsAppliedOnce) {
  pb::Request req;
  req.mutable_header()->set_request_id("retry-1");
  req.mutable_remember()->set_persona_id("ada");
  req.mutable_remember()->mutable_memory()->set_content("remember me once");
  auto first = client_->call(req);
  ASSERT_TRUE(first.ok());
  auto second = client_->call(req);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->remember().item().id(), second->remember().item().id());
  pb::ListRequest l;
  l.set_persona_id("ada");
  EXPECT_EQ(client_->list(l)->items_size(), 1);
}

TEST_F(NodeTest, ConcurrentWritersShareFsyncs) {
  constexpr int kThreads = 8, kPerThread = 25;
  // The metadata group writes its first entries (the node records itself) through the same Db:
  // let it settle so the counts below are the remembers' alone.
  ASSERT_TRUE(testing::wait_until([&] {
    auto st = client_->cluster_status();
    return st.ok() && st->members_size() == 1 && st->metadata_leader() != 0;
  }));
  uint64_t syncs_before = node_->context().db->sync_count();
  uint64_t commits_before = node_->context().db->commit_count();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = client_->remember("p" + std::to_string(t % 4),
                                   "fact " + std::to_string(t) + "/" + std::to_string(i));
        if (!r.ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  uint64_t syncs = node_->context().db->sync_count() - syncs_before;
  uint64_t commits = node_->context().db->commit_count() - commits_before;
  EXPECT_EQ(commits, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_LE(syncs, commits);
  auto stats = client_->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->personas(), 4u);
  std::cout << "group commit: " << commits << " commits in " << syncs << " fsyncs\n";
}

TEST_F(NodeTest, RestartReloadsSavedIndexAndRebuildsMissingOrCorruptOne) {
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    auto r = client_->remember(
        "ada", "memory number " + std::to_string(i) + " about topic " + std::to_string(i % 5));
    ASSERT_TRUE(r.ok());
    ids.push_back(r->item().id());
  }
  auto before = client_->recall("ada", "memory number 7 about topic 2", 3);
  ASSERT_TRUE(before.ok());
  restart();
  EXPECT_EQ(node_->context().counters.index_rebuilds.load(), 0u);
  auto after = client_->recall("ada", "memory number 7 about topic 2", 3);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->hits_size(), 3);
  EXPECT_EQ(after->hits(0).item().id(), before->hits(0).item().id());
  EXPECT_EQ(node_->context().counters.index_rebuilds.load(), 0u) << "the saved index was used";

  // Corrupt the saved STM index while the node is down: it rebuilds it from RocksDB and answers the
  // same.
  client_.reset();
  ASSERT_TRUE(node_->stop().ok());
  node_.reset();
  size_t corrupted = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/index")) {
    if (e.path().filename() == "stm.hnsw") {
      std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(100);
      f.write("garbage!", 8);
      ++corrupted;
    }
  }
  ASSERT_EQ(corrupted, 1u);
  start();
  auto rebuilt = client_->recall("ada", "memory number 7 about topic 2", 3);
  ASSERT_TRUE(rebuilt.ok());
  ASSERT_EQ(rebuilt->hits_size(), 3);
  EXPECT_EQ(rebuilt->hits(0).item().id(), before->hits(0).item().id());
  EXPECT_EQ(node_->context().counters.index_rebuilds.load(), 1u);
}

// With two workers the persona acknowledges a durable write long before its vectors are indexed;
// the write pipeline waits for the tier instead of letting a fast writer queue unbounded index work
// (which every later tier request would wait behind).
class BackpressureTest : public NodeFixture {
 protected:
  // The stats call waits for the tiers to drain their backlog; under the sanitizers (hnswlib's
  // scalar kernels, every access checked) that takes longer than the default 10 s, both for the
  // SDK's call and for the persona's request to its tiers.
  BackpressureTest() { client_options_.request_timeout = std::chrono::seconds(60); }
  void customize(config::Settings& s) override {
    s.scheduler.threads = 2;
    s.actors.request_timeout = 60 * kUsPerSecond;
  }
};

TEST_F(BackpressureTest, AFastWriterNeverQueuesMoreThanAFewIndexBatchesPerTier) {
  std::mt19937 rng(11);
  for (int round = 0; round < 30; ++round) {
    auto added = client_->remember_batch("ada", random_batch(rng, round));
    ASSERT_TRUE(added.ok()) << added.error().message;
  }
  // Asked right after the burst (asking in between would wait for the tiers and drain them).
  auto stats = client_->stats("ada");
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  ASSERT_EQ(stats->persona_size(), 1);
  uint64_t worst = 0;
  for (const auto& t : stats->persona(0).tiers()) worst = std::max(worst, t.index_backlog());
  // The pipeline stops at 4 queued apply messages per tier; the write group in flight adds one.
  EXPECT_LE(worst, 5u);
}

class PassivationTest : public NodeFixture {
  void customize(config::Settings& s) override { s.actors.idle_timeout = 300'000; }
};

TEST_F(PassivationTest, ItemActorsFollowTheWorkingSet) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(client_->remember("ada", "item " + std::to_string(i))->item().id());
  EXPECT_EQ(node_->context().counters.live_item_actors.load(), 0u)
      << "bulk paths spawn no item actors";
  for (const auto& id : ids) ASSERT_TRUE(client_->get(id).ok());
  EXPECT_EQ(node_->context().counters.live_item_actors.load(), 5u);
  EXPECT_TRUE(wait_until([&] { return node_->context().counters.live_item_actors.load() == 0; }))
      << "idle item actors are passivated";
  ASSERT_TRUE(client_->get(ids[0]).ok()) << "and reactivated on demand";
  EXPECT_EQ(node_->context().counters.live_item_actors.load(), 1u);
}

}  // namespace
}  // namespace nca
