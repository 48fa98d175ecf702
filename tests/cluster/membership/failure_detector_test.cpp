// FailureDetector: alive -> suspected -> dead by silence, recovery, restarts fenced by incarnation.
#include "cluster/membership/failure_detector.hpp"

#include <gtest/gtest.h>

#include "tests/support/test_seed.hpp"

#include <map>
#include <random>

namespace nca::membership {
namespace {

using Kind = PeerChange::Kind;

FailureDetector::Options opts() {
  FailureDetector::Options o;
  o.suspect_after_us = 1'000;
  o.dead_after_us = 10'000;
  return o;
}

TEST(FailureDetectorTest, SilenceMakesAPeerSuspectedThenDead) {
  FailureDetector fd(opts());
  auto first = fd.observe(7, 3, 100);
  EXPECT_FALSE(first.stale);
  ASSERT_EQ(first.changes, (std::vector<PeerChange>{{Kind::joined, 7, 3}}));
  EXPECT_TRUE(fd.tick(1'099).empty());
  EXPECT_EQ(fd.state_of(7), PeerState::alive);
  EXPECT_EQ(fd.tick(1'100), (std::vector<PeerChange>{{Kind::suspected, 7, 3}}));
  EXPECT_TRUE(fd.tick(5'000).empty());  // reported once
  EXPECT_EQ(fd.tick(10'100), (std::vector<PeerChange>{{Kind::died, 7, 3}}));
  EXPECT_EQ(fd.state_of(7), PeerState::dead);
  EXPECT_TRUE(fd.tick(50'000).empty());
  // A dead peer that speaks again in the same life recovers.
  EXPECT_EQ(fd.observe(7, 3, 50'001).changes, (std::vector<PeerChange>{{Kind::recovered, 7, 3}}));
  EXPECT_EQ(fd.state_of(7), PeerState::alive);
}

TEST(FailureDetectorTest, ALongGapBetweenTicksReportsSuspectedBeforeDied) {
  FailureDetector fd(opts());
  fd.observe(1, 1, 0);
  EXPECT_EQ(fd.tick(20'000),
            (std::vector<PeerChange>{{Kind::suspected, 1, 1}, {Kind::died, 1, 1}}));
}

TEST(FailureDetectorTest, HeardPeersStayAliveAndSuspectedOnesRecover) {
  FailureDetector fd(opts());
  fd.observe(1, 1, 0);
  for (TimeUs t = 500; t <= 20'000; t += 500) {
    EXPECT_TRUE(fd.observe(1, 1, t).changes.empty());
    EXPECT_TRUE(fd.tick(t + 400).empty());
  }
  EXPECT_EQ(fd.tick(30'000).size(), 2u);  // suspected, died
  fd.observe(2, 1, 30'000);
  EXPECT_EQ(fd.tick(31'000), (std::vector<PeerChange>{{Kind::suspected, 2, 1}}));
  EXPECT_EQ(fd.observe(2, 1, 31'001).changes, (std::vector<PeerChange>{{Kind::recovered, 2, 1}}));
}

TEST(FailureDetectorTest, IncarnationsFenceRestartsAndOldLives) {
  FailureDetector fd(opts());
  fd.observe(4, 10, 0);
  // A higher incarnation: the peer restarted, even if it had been declared dead meanwhile.
  auto restarted = fd.observe(4, 11, 100);
  EXPECT_FALSE(restarted.stale);
  EXPECT_EQ(restarted.changes, (std::vector<PeerChange>{{Kind::restarted, 4, 11}}));
  EXPECT_EQ(fd.incarnation_of(4), 11u);
  // A message of the previous life arriving late is stale and changes nothing.
  auto late = fd.observe(4, 10, 200);
  EXPECT_TRUE(late.stale);
  EXPECT_TRUE(late.changes.empty());
  EXPECT_EQ(fd.last_heard_us(4), 100);
  EXPECT_EQ(fd.incarnation_of(4), 11u);
  // Incarnation 0 is never valid.
  EXPECT_TRUE(fd.observe(4, 0, 300).stale);
  EXPECT_TRUE(fd.observe(5, 0, 300).stale);
  EXPECT_FALSE(fd.state_of(5).has_value());
  // A dead peer that comes back with a new incarnation is a restart, not a recovery.
  fd.tick(50'000);
  EXPECT_EQ(fd.state_of(4), PeerState::dead);
  EXPECT_EQ(fd.observe(4, 12, 50'001).changes, (std::vector<PeerChange>{{Kind::restarted, 4, 12}}));
  EXPECT_EQ(fd.state_of(4), PeerState::alive);
}

TEST(FailureDetectorTest, ClockJumpsBackNeitherRetireNorRevive) {
  FailureDetector fd(opts());
  fd.observe(1, 1, 5'000);
  fd.observe(1, 1, 2'000);  // the local clock stepped back
  EXPECT_EQ(fd.last_heard_us(1), 5'000);
  EXPECT_TRUE(fd.tick(3'000).empty());  // negative silence: alive
  EXPECT_EQ(fd.tick(6'000).size(), 1u);
}

TEST(FailureDetectorTest, ForgetAndOptionsAreSane) {
  FailureDetector::Options o;
  o.suspect_after_us = 5'000;
  o.dead_after_us = 1'000;  // below suspect: raised to it
  FailureDetector fd(o);
  fd.observe(3, 1, 0);
  EXPECT_EQ(fd.tick(5'000), (std::vector<PeerChange>{{Kind::suspected, 3, 1}, {Kind::died, 3, 1}}));
  fd.forget(3);
  EXPECT_TRUE(fd.peers().empty());
  EXPECT_EQ(fd.observe(3, 1, 6'000).changes, (std::vector<PeerChange>{{Kind::joined, 3, 1}}));
  EXPECT_EQ(to_string(PeerChange{Kind::died, 3, 1}), "node 3 (incarnation 1) died");
}

// Randomized: whatever the interleaving, a peer's incarnation never goes down, a stale message
// never changes anything, and the state always matches the silence since the last accepted message.
TEST(FailureDetectorTest, RandomHistoriesKeepTheInvariants) {
  const uint64_t seed = testing::test_seed("failure detector histories");
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  FailureDetector fd(opts());
  std::map<PeerId, uint64_t> max_inc;
  std::map<PeerId, TimeUs> heard;
  TimeUs now = 0;
  for (int step = 0; step < 5'000; ++step) {
    now += static_cast<TimeUs>(rng() % 3'000);
    const PeerId peer = 1 + rng() % 4;
    if (rng() % 3 == 0) {
      fd.tick(now);
    } else {
      const uint64_t inc = rng() % 5;
      auto known = fd.incarnation_of(peer);
      auto obs = fd.observe(peer, inc, now);
      const bool should_be_stale = inc == 0 || (known && inc < *known);
      ASSERT_EQ(obs.stale, should_be_stale) << "step " << step;
      if (!obs.stale) {
        max_inc[peer] = std::max(max_inc[peer], inc);
        if (!known || inc > *known) {
          heard[peer] = now;
        } else {
          heard[peer] = std::max(heard[peer], now);
        }
      }
    }
    for (const auto& [p, inc] : max_inc) {
      ASSERT_EQ(fd.incarnation_of(p), inc);
      ASSERT_EQ(fd.last_heard_us(p), heard[p]);
    }
  }
}

}  // namespace
}  // namespace nca::membership
