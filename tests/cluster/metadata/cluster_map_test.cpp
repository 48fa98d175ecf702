// ClusterMap: members, first placement, fenced shard changes, the persona hash, snapshots, and
// determinism across replicas.
#include "cluster/metadata/cluster_map.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "storage/keys.hpp"
#include "tests/support/test_seed.hpp"

namespace nca::metadata {
namespace {

pb::MetaCommand join(uint64_t node, uint64_t incarnation, const std::string& address = "") {
  pb::MetaCommand c;
  c.set_schema_version(1);
  auto* j = c.mutable_join();
  j->set_node(node);
  j->set_incarnation(incarnation);
  j->set_address(address.empty() ? "127.0.0.1:" + std::to_string(7400 + node) : address);
  return c;
}

pb::MetaCommand with(std::function<void(pb::MetaCommand&)> fill) {
  pb::MetaCommand c;
  c.set_schema_version(1);
  fill(c);
  return c;
}

TEST(ClusterMapTest, ShardsFollowTheStorageKeyLayout) {
  ClusterMap map(64, 3);
  EXPECT_EQ(map.shard_count(), 64u);
  EXPECT_EQ(map.shard_of("acme", "alice"), storage::shard_of("acme", "alice", 64));
  EXPECT_EQ(map.shard_of("acme", "alice"), storage::fnv1a64("acme/alice") % 64);
  EXPECT_NE(map.shard_of("acme", "alice"), map.shard_of("acme", "alicf"));
}

TEST(ClusterMapTest, FirstPlacementBalancesReplicasAndLeaders) {
  for (size_t nodes : {1u, 2u, 3u, 4u, 5u, 7u}) {
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < nodes; ++i) ids.push_back(10 + i);
    auto placement = initial_placement(ids, 64, 3);
    ASSERT_EQ(placement.size(), 64u);
    std::map<uint64_t, int> replicas, leaders;
    for (const auto& a : placement) {
      EXPECT_EQ(a.replicas_size(), static_cast<int>(std::min<size_t>(3, nodes)));
      std::set<uint64_t> distinct(a.replicas().begin(), a.replicas().end());
      EXPECT_EQ(distinct.size(), static_cast<size_t>(a.replicas_size()));
      EXPECT_EQ(a.leader_hint(), a.replicas(0));
      EXPECT_EQ(a.epoch(), 1u);
      for (uint64_t r : a.replicas()) ++replicas[r];
      ++leaders[a.replicas(0)];
    }
    auto spread = [](const std::map<uint64_t, int>& m) {
      int lo = 1 << 30, hi = 0;
      for (const auto& [k, v] : m) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      return hi - lo;
    };
    EXPECT_EQ(replicas.size(), nodes);
    EXPECT_LE(spread(replicas), 1) << nodes << " nodes";
    EXPECT_LE(spread(leaders), 1) << nodes << " nodes";
  }
}

TEST(ClusterMapTest, MembersJoinRestartDieAndLeave) {
  ClusterMap map(8, 3);
  ASSERT_TRUE(map.apply(1, join(1, 5)).ok());
  ASSERT_TRUE(map.apply(2, join(2, 1)).ok());
  ASSERT_TRUE(map.apply(3, join(3, 1)).ok());
  EXPECT_EQ(map.live_nodes(), (std::vector<uint64_t>{1, 2, 3}));
  // A restart records the new incarnation; an older one is refused.
  ASSERT_TRUE(map.apply(4, join(1, 6, "10.0.0.1:7420")).ok());
  EXPECT_EQ(map.member(1)->incarnation(), 6u);
  EXPECT_EQ(map.member(1)->address(), "10.0.0.1:7420");
  EXPECT_EQ(map.apply(5, join(1, 5)).code(), ErrorCode::conflict);
  EXPECT_EQ(map.member(1)->incarnation(), 6u);
  EXPECT_EQ(map.applied_index(), 5u);  // a refused command is still applied history
  ASSERT_TRUE(map.apply(6, with([](auto& c) { c.set_mark_dead(2); })).ok());
  EXPECT_EQ(map.live_nodes(), (std::vector<uint64_t>{1, 3}));
  ASSERT_TRUE(map.apply(7, join(2, 2)).ok());  // rejoining after a restart: alive again
  EXPECT_FALSE(map.member(2)->dead());
  ASSERT_TRUE(map.apply(8, with([](auto& c) { c.set_drain(3); })).ok());
  EXPECT_EQ(map.live_nodes(), (std::vector<uint64_t>{1, 2}));
  ASSERT_TRUE(map.apply(9, with([](auto& c) { c.set_leave(3); })).ok());
  EXPECT_EQ(map.member(3), nullptr);
  EXPECT_EQ(map.apply(10, with([](auto& c) { c.set_leave(3); })).code(), ErrorCode::not_found);
  EXPECT_EQ(map.apply(11, join(0, 1)).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(map.apply(12, join(4, 0)).code(), ErrorCode::invalid_argument);
}

TEST(ClusterMapTest, ShardChangesAreFencedByEpoch) {
  ClusterMap map(4, 3);
  for (uint64_t n = 1; n <= 4; ++n) ASSERT_TRUE(map.apply(n, join(n, 1)).ok());
  ASSERT_TRUE(map.apply(5, with([](auto& c) { c.set_create_shards(4); })).ok());
  EXPECT_EQ(map.apply(6, with([](auto& c) { c.set_create_shards(4); })).code(),
            ErrorCode::already_exists);
  const pb::ShardAssignment before = *map.shard(2);
  auto change = [&](uint64_t epoch, std::vector<uint64_t> replicas) {
    return with([=](auto& c) {
      auto* s = c.mutable_set_shard();
      s->set_shard(2);
      s->set_epoch(epoch);
      for (uint64_t r : replicas) s->add_replicas(r);
      s->set_leader_hint(replicas.empty() ? 0 : replicas[0]);
    });
  };
  // A planner on a stale map (epoch 1 again) cannot clobber; nor jump ahead.
  EXPECT_EQ(map.apply(7, change(1, {1, 2, 4})).code(), ErrorCode::conflict);
  EXPECT_EQ(map.apply(8, change(3, {1, 2, 4})).code(), ErrorCode::conflict);
  EXPECT_EQ(map.apply(9, change(2, {1, 1, 4})).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(map.apply(10, change(2, {1, 9})).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(map.apply(11, change(2, {})).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(map.shard(2)->SerializeAsString(), before.SerializeAsString());
  ASSERT_TRUE(map.apply(12, change(2, {4, 1, 2})).ok());
  EXPECT_EQ(map.shard(2)->epoch(), 2u);
  EXPECT_EQ(map.shard(2)->leader_hint(), 4u);
  // A member holding a replica cannot leave until its replicas move.
  EXPECT_EQ(map.apply(13, with([](auto& c) { c.set_leave(4); })).code(), ErrorCode::conflict);
  EXPECT_EQ(map.apply(14, with([](auto& c) {
                        auto* s = c.mutable_set_shard();
                        s->set_shard(99);
                        s->set_epoch(2);
                        s->add_replicas(1);
                      }))
                .code(),
            ErrorCode::not_found);
}

TEST(ClusterMapTest, OnlyTheCurrentEpochSettlesAndAChangeCannotSettleItself) {
  ClusterMap map(4, 3);
  for (uint64_t n = 1; n <= 4; ++n) ASSERT_TRUE(map.apply(n, join(n, 1)).ok());
  ASSERT_TRUE(map.apply(5, with([](auto& c) { c.set_create_shards(4); })).ok());
  EXPECT_EQ(map.shard(0)->settled_epoch(), 1u) << "the first placement is settled at birth";
  auto settled = [](uint32_t shard, uint64_t epoch) {
    return with([=](auto& c) {
      c.mutable_shard_settled()->set_shard(shard);
      c.mutable_shard_settled()->set_epoch(epoch);
    });
  };
  pb::ShardAssignment next = *map.shard(0);
  next.set_epoch(2);
  next.add_replicas(4);
  next.set_settled_epoch(2);  // a planner's claim, ignored
  ASSERT_TRUE(map.apply(6, with([&](auto& c) { *c.mutable_set_shard() = next; })).ok());
  EXPECT_EQ(map.shard(0)->settled_epoch(), 1u);
  EXPECT_EQ(map.apply(7, settled(0, 1)).code(), ErrorCode::conflict) << "a stale report";
  EXPECT_EQ(map.apply(8, settled(0, 3)).code(), ErrorCode::conflict);
  EXPECT_EQ(map.apply(9, settled(7, 1)).code(), ErrorCode::not_found);
  EXPECT_EQ(map.shard(0)->settled_epoch(), 1u);
  ASSERT_TRUE(map.apply(10, settled(0, 2)).ok());
  EXPECT_EQ(map.shard(0)->settled_epoch(), 2u);
  // Drain and undrain.
  ASSERT_TRUE(map.apply(11, with([](auto& c) { c.set_drain(4); })).ok());
  EXPECT_TRUE(map.member(4)->draining());
  ASSERT_TRUE(map.apply(12, with([](auto& c) { c.set_undrain(4); })).ok());
  EXPECT_FALSE(map.member(4)->draining());
  EXPECT_EQ(map.apply(13, with([](auto& c) { c.set_undrain(9); })).code(), ErrorCode::not_found);
}

TEST(ClusterMapTest, BadCommandsAndSnapshotsAreRefused) {
  ClusterMap map(4, 3);
  EXPECT_EQ(map.apply(1, std::string("\xff\xff garbage")).code(), ErrorCode::invalid_argument);
  pb::MetaCommand future = join(1, 1);
  future.set_schema_version(2);
  EXPECT_EQ(map.apply(2, future).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(map.apply(3, with([](auto&) {})).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(map.apply(4, with([](auto& c) { c.set_create_shards(4); })).code(),
            ErrorCode::unavailable);
  EXPECT_TRUE(map.members().empty());
  EXPECT_EQ(map.applied_index(), 4u);
  EXPECT_EQ(ClusterMap::restore("\xff\xff garbage").code(), ErrorCode::data_loss);
  EXPECT_EQ(ClusterMap::restore("").code(), ErrorCode::data_loss);  // schema 0, no shards
}

// Two replicas applying the same random command stream end byte-identical, and a snapshot taken
// anywhere restores to the same state and goes on identically.
TEST(ClusterMapTest, ReplicasAndSnapshotsStayIdentical) {
  const uint64_t seed = testing::test_seed("cluster map commands");
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  ClusterMap a(16, 3), b(16, 3);
  std::optional<ClusterMap> restored;
  for (uint64_t index = 1; index <= 2000; ++index) {
    pb::MetaCommand c;
    c.set_schema_version(1);
    const uint64_t node = 1 + rng() % 6;
    switch (rng() % 7) {
      case 0:
      case 1:
        c = join(node, 1 + rng() % 4);
        break;
      case 2:
        c.set_mark_dead(node);
        break;
      case 3:
        c.set_mark_alive(node);
        break;
      case 4:
        c.set_leave(node);
        break;
      case 5:
        c.set_create_shards(16);
        break;
      default: {
        auto* s = c.mutable_set_shard();
        s->set_shard(static_cast<uint32_t>(rng() % 16));
        s->set_epoch(1 + rng() % 3);
        for (int r = 0; r < 3; ++r) s->add_replicas(1 + rng() % 6);
      }
    }
    const std::string bytes = c.SerializeAsString();
    const auto ra = a.apply(index, bytes);
    const auto rb = b.apply(index, bytes);
    ASSERT_EQ(ra.ok(), rb.ok()) << index;
    if (restored) {
      ASSERT_EQ(restored->apply(index, bytes).ok(), ra.ok());
    }
    ASSERT_EQ(a.snapshot(), b.snapshot()) << index;
    if (index == 700) {
      auto r = ClusterMap::restore(a.snapshot());
      ASSERT_TRUE(r.ok()) << r.error().to_string();
      restored.emplace(std::move(*r));
    }
  }
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(restored->snapshot(), a.snapshot());
  EXPECT_TRUE(a.has_shards());
}

}  // namespace
}  // namespace nca::metadata
