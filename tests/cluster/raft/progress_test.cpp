// tests/cluster/raft/progress_test.cpp: a leader's per-follower flow control: probe, replicate and
// snapshot states, stale replies, the in-flight window.
#include "cluster/raft/progress.hpp"

#include <gtest/gtest.h>

#include <string>

namespace nca::raft {
namespace {

using State = Progress::State;

Progress replicating(Index match, size_t max_inflight = 3) {
  Progress p(match, match + 1, max_inflight, false);
  p.become_replicate();
  return p;
}

TEST(ProgressTest, StartsProbingAndPausesAfterOneProbe) {
  Progress p(0, 6, 4, false);
  EXPECT_EQ(p.state, State::probe);
  EXPECT_FALSE(p.is_paused());
  p.sent_entries(2, 7);
  EXPECT_TRUE(p.probe_sent);
  EXPECT_TRUE(p.is_paused());
  EXPECT_EQ(p.next, 6u);  // probing does not move next optimistically
  // An empty probe (a heartbeat's append) pauses too.
  Progress q(0, 6, 4, false);
  q.sent_entries(0, 5);
  EXPECT_TRUE(q.is_paused());
}

TEST(ProgressTest, MaybeUpdateRaisesMatchOnlyForward) {
  Progress p(3, 4, 4, false);
  p.sent_entries(1, 4);
  ASSERT_TRUE(p.is_paused());
  EXPECT_TRUE(p.maybe_update(5));
  EXPECT_EQ(p.match, 5u);
  EXPECT_EQ(p.next, 6u);
  EXPECT_FALSE(p.probe_sent);
  EXPECT_FALSE(p.is_paused());
  // An older acknowledgement changes nothing.
  EXPECT_FALSE(p.maybe_update(4));
  EXPECT_EQ(p.match, 5u);
  EXPECT_EQ(p.next, 6u);
  EXPECT_FALSE(p.maybe_update(5));
  // next never moves backwards through maybe_update.
  Progress r = replicating(2);
  r.sent_entries(5, 9);
  ASSERT_EQ(r.next, 10u);
  EXPECT_TRUE(r.maybe_update(4));
  EXPECT_EQ(r.match, 4u);
  EXPECT_EQ(r.next, 10u);
}

TEST(ProgressTest, ProbeRejectionUsesTheHint) {
  Progress p(0, 11, 4, false);
  // The follower's log ends at 4: skip straight past it.
  EXPECT_TRUE(p.maybe_decrease_to(10, 4));
  EXPECT_EQ(p.next, 5u);
  // A hint beyond the rejected index only steps back by one.
  Progress q(0, 11, 4, false);
  EXPECT_TRUE(q.maybe_decrease_to(10, 20));
  EXPECT_EQ(q.next, 10u);
  // An empty follower: start at 1, never 0.
  Progress r(0, 11, 4, false);
  EXPECT_TRUE(r.maybe_decrease_to(10, 0));
  EXPECT_EQ(r.next, 1u);
  // The rejection unpauses the probe, so the next one goes out at once.
  Progress s(0, 11, 4, false);
  s.sent_entries(1, 11);
  ASSERT_TRUE(s.is_paused());
  EXPECT_TRUE(s.maybe_decrease_to(10, 7));
  EXPECT_FALSE(s.is_paused());
}

TEST(ProgressTest, ProbeIgnoresStaleRejections) {
  Progress p(0, 11, 4, false);
  ASSERT_TRUE(p.maybe_decrease_to(10, 6));
  ASSERT_EQ(p.next, 7u);
  p.sent_entries(1, 7);
  // The reply to an earlier probe (after 10, or after 8) arrives late.
  EXPECT_FALSE(p.maybe_decrease_to(10, 2));
  EXPECT_FALSE(p.maybe_decrease_to(8, 2));
  EXPECT_EQ(p.next, 7u);
  EXPECT_TRUE(p.probe_sent);
  // The reply to the latest probe counts.
  EXPECT_TRUE(p.maybe_decrease_to(6, 2));
  EXPECT_EQ(p.next, 3u);
}

TEST(ProgressTest, ReplicateRejectionFallsBackToMatch) {
  Progress p = replicating(5);
  p.sent_entries(3, 8);
  p.sent_entries(2, 10);
  ASSERT_EQ(p.next, 11u);
  // Stale: at or below match, a later append already matched.
  EXPECT_FALSE(p.maybe_decrease_to(5, 0));
  EXPECT_FALSE(p.maybe_decrease_to(3, 0));
  EXPECT_EQ(p.next, 11u);
  // A real rejection: back to just after match (the hint is not used in replicate).
  EXPECT_TRUE(p.maybe_decrease_to(8, 6));
  EXPECT_EQ(p.next, 6u);
  EXPECT_EQ(p.match, 5u);
}

TEST(ProgressTest, ReplicateMovesNextOptimisticallyAndFillsTheWindow) {
  Progress p = replicating(5, 3);
  EXPECT_EQ(p.state, State::replicate);
  EXPECT_EQ(p.next, 6u);
  EXPECT_FALSE(p.is_paused());
  p.sent_entries(2, 7);
  EXPECT_EQ(p.next, 8u);
  p.sent_entries(0, 7);  // an empty append takes no slot
  EXPECT_FALSE(p.inflight_full());
  p.sent_entries(1, 8);
  EXPECT_FALSE(p.inflight_full());
  p.sent_entries(4, 12);
  EXPECT_TRUE(p.inflight_full());
  EXPECT_TRUE(p.is_paused());
  EXPECT_EQ(p.next, 13u);

  // Acknowledging up to 8 frees the first two (7 and 8).
  p.free_inflight_up_to(8);
  EXPECT_FALSE(p.inflight_full());
  p.sent_entries(1, 13);
  p.sent_entries(1, 14);
  EXPECT_TRUE(p.inflight_full());  // 12, 13, 14

  // A heartbeat reply frees the oldest one.
  p.free_first_inflight();
  EXPECT_FALSE(p.inflight_full());
  p.sent_entries(1, 15);
  EXPECT_TRUE(p.inflight_full());  // 13, 14, 15
  p.free_inflight_up_to(12);       // below the oldest: frees nothing
  EXPECT_TRUE(p.inflight_full());
  p.free_inflight_up_to(15);
  EXPECT_FALSE(p.is_paused());
  p.free_first_inflight();  // on an empty window: harmless
  EXPECT_FALSE(p.inflight_full());
}

TEST(ProgressTest, WindowOfOne) {
  Progress p = replicating(0, 1);
  p.sent_entries(1, 1);
  EXPECT_TRUE(p.is_paused());
  p.free_inflight_up_to(1);
  EXPECT_FALSE(p.is_paused());
}

TEST(ProgressTest, BecomeReplicateAndProbeResetNextAndWindow) {
  Progress p = replicating(5, 2);
  p.sent_entries(3, 8);
  p.sent_entries(3, 11);
  ASSERT_TRUE(p.inflight_full());
  p.become_probe();
  EXPECT_EQ(p.state, State::probe);
  EXPECT_EQ(p.next, 6u);
  EXPECT_FALSE(p.is_paused());
  p.become_replicate();
  EXPECT_EQ(p.state, State::replicate);
  EXPECT_EQ(p.next, 6u);
  EXPECT_FALSE(p.inflight_full());  // the old window was dropped
}

TEST(ProgressTest, SnapshotStatePausesAndProbesPastTheSnapshot) {
  Progress p(3, 4, 4, false);
  p.become_snapshot(20);
  EXPECT_EQ(p.state, State::snapshot);
  EXPECT_EQ(p.pending_snapshot, 20u);
  EXPECT_TRUE(p.is_paused());
  p.snapshot_ticks = 5;
  // The follower now has at least the snapshot.
  p.become_probe();
  EXPECT_EQ(p.state, State::probe);
  EXPECT_EQ(p.next, 21u);
  EXPECT_EQ(p.pending_snapshot, 0u);
  EXPECT_EQ(p.snapshot_ticks, 0);
  EXPECT_FALSE(p.is_paused());

  // When match already passed the snapshot, probing starts after match.
  Progress q(3, 4, 4, false);
  q.become_snapshot(20);
  EXPECT_TRUE(q.maybe_update(25));
  q.become_probe();
  EXPECT_EQ(q.next, 26u);

  // From probe (no snapshot pending) become_probe restarts right after match.
  Progress r(3, 9, 4, false);
  r.become_probe();
  EXPECT_EQ(r.next, 4u);
}

TEST(ProgressTest, IsPausedPerState) {
  Progress probe(1, 2, 1, false);
  EXPECT_FALSE(probe.is_paused());
  probe.sent_entries(1, 2);
  EXPECT_TRUE(probe.is_paused());

  Progress replicate = replicating(1, 1);
  EXPECT_FALSE(replicate.is_paused());
  replicate.sent_entries(1, 2);
  EXPECT_TRUE(replicate.is_paused());

  Progress snapshot(1, 2, 1, false);
  snapshot.become_snapshot(5);
  EXPECT_TRUE(snapshot.is_paused());
  snapshot.sent_entries(1, 6);  // nothing is sent in snapshot state; still paused, next untouched
  EXPECT_TRUE(snapshot.is_paused());
  EXPECT_EQ(snapshot.next, 2u);
}

TEST(ProgressTest, LearnerFlagAndNames) {
  Progress learner(0, 1, 1, true);
  EXPECT_TRUE(learner.learner);
  EXPECT_EQ(std::string(to_string(State::probe)), "probe");
  EXPECT_EQ(std::string(to_string(State::replicate)), "replicate");
  EXPECT_EQ(std::string(to_string(State::snapshot)), "snapshot");
}

}  // namespace
}  // namespace nca::raft
