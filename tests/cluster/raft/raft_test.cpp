// Tests of the Raft state machine, one rule of the Raft paper (or of etcd's extensions) at a time.
#include "cluster/raft/raft.hpp"

#include <gtest/gtest.h>

#include "tests/cluster/raft/raft_test_cluster.hpp"

namespace nca::raft {
namespace {

using test_support::TestCluster;

// Followers that heard from a leader refuse votes for an election timeout (check-quorum's lease);
// tests that elect a second leader right after isolating the first turn the lease off.
RaftConfig without_lease() {
  RaftConfig config;
  config.check_quorum = false;
  return config;
}

Message msg(MessageType type, NodeId from, NodeId to, Term term) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}

// --- configuration and input validation -------------------------------------------------------

TEST(RaftConfigTest, RefusesBadConfigurations) {
  MemoryStorage storage;
  RaftConfig config;
  config.storage = &storage;
  EXPECT_EQ(Raft::create(config).code(), ErrorCode::invalid_argument);  // id 0
  config.id = 1;
  config.election_tick = 1;
  config.heartbeat_tick = 1;
  EXPECT_EQ(Raft::create(config).code(), ErrorCode::invalid_argument);
  config.election_tick = 10;
  config.storage = nullptr;
  EXPECT_EQ(Raft::create(config).code(), ErrorCode::invalid_argument);
}

TEST(RaftConfigTest, RefusesAnAppliedIndexBeyondTheCommitIndex) {
  MemoryStorage storage;
  Bootstrap boot = bootstrap_entries({1, 2, 3});
  ASSERT_TRUE(storage.save(&boot.hard_state, boot.entries, nullptr).ok());
  RaftConfig config;
  config.id = 1;
  config.storage = &storage;
  config.applied = 7;
  auto raft = Raft::create(config);
  ASSERT_FALSE(raft.ok());
  EXPECT_EQ(raft.code(), ErrorCode::data_loss);
}

TEST(RaftStepTest, MalformedMessagesAreRefusedAndChangeNothing) {
  TestCluster c(3);
  c.elect(1);
  Term term = c.node(2).term();
  Message wrong_node = msg(MessageType::heartbeat, 1, 3, term);
  EXPECT_EQ(c.node(2).step(wrong_node).code(), ErrorCode::invalid_argument);
  Message no_term = msg(MessageType::heartbeat, 1, 2, 0);
  EXPECT_EQ(c.node(2).step(no_term).code(), ErrorCode::invalid_argument);
  Message from_self = msg(MessageType::heartbeat, 2, 2, term);
  EXPECT_EQ(c.node(2).step(from_self).code(), ErrorCode::invalid_argument);
  Message empty_snapshot = msg(MessageType::snapshot, 1, 2, term);
  EXPECT_EQ(c.node(2).step(empty_snapshot).code(), ErrorCode::invalid_argument);
  Message gap = msg(MessageType::append, 1, 2, term);
  gap.index = c.node(2).log().last_index();
  gap.log_term = c.node(2).log().last_term();
  gap.entries.push_back(Entry{term, gap.index + 2, EntryType::normal, "x"});
  Index last = c.node(2).log().last_index();
  EXPECT_EQ(c.node(2).step(gap).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(c.node(2).log().last_index(), last);
  EXPECT_EQ(c.node(2).term(), term);
}

// --- elections (§5.2) --------------------------------------------------------------------------

TEST(RaftElectionTest, ACampaignWinsWithAMajorityAndRaisesTheTerm) {
  TestCluster c(3);
  Term before = c.node(1).term();
  c.elect(1);
  EXPECT_EQ(c.node(1).term(), before + 1);
  EXPECT_EQ(c.node(2).leader(), 1u);
  EXPECT_EQ(c.node(3).leader(), 1u);
  EXPECT_EQ(c.node(2).role(), Role::follower);
}

TEST(RaftElectionTest, AFollowerStartsAnElectionAfterItsRandomizedTimeout) {
  TestCluster c(3);
  // The timeout is in [election_tick, 2 * election_tick): never sooner, always by then.
  c.tick(1, 9);
  c.stabilize();
  EXPECT_EQ(c.node(1).role(), Role::follower);
  c.tick(1, 11);
  c.stabilize();
  EXPECT_EQ(c.node(1).role(), Role::leader);
}

TEST(RaftElectionTest, ElectionTimeoutsAreDeterministicPerSeed) {
  auto first_election_tick = [](uint64_t seed) {
    RaftConfig base;
    base.seed = seed;
    TestCluster c(3, 3, base);
    for (int t = 1; t <= 40; ++t) {
      c.tick(2);
      c.stabilize();
      if (c.node(2).role() == Role::leader) return t;
    }
    return -1;
  };
  EXPECT_EQ(first_election_tick(7), first_election_tick(7));
  EXPECT_GE(first_election_tick(7), 10);
  EXPECT_LT(first_election_tick(7), 20);
}

TEST(RaftElectionTest, ANodeVotesAtMostOncePerTerm) {
  TestCluster c(3);
  Term t = c.node(3).term() + 1;
  Message v1 = msg(MessageType::vote, 1, 3, t);
  v1.index = c.node(3).log().last_index();
  v1.log_term = c.node(3).log().last_term();
  Message v2 = v1;
  v2.from = 2;
  // Node 3 has no leader, so no lease keeps it from voting.
  ASSERT_TRUE(c.node(3).step(v1).ok());
  ASSERT_TRUE(c.node(3).step(v2).ok());
  EXPECT_EQ(c.node(3).vote(), 1u);
  Ready rd = c.node(3).ready();
  ASSERT_EQ(rd.persisted_messages.size(), 2u);
  EXPECT_FALSE(rd.persisted_messages[0].reject);
  EXPECT_EQ(rd.persisted_messages[0].to, 1u);
  EXPECT_TRUE(rd.persisted_messages[1].reject);
  EXPECT_EQ(rd.persisted_messages[1].to, 2u);
  // The vote is in the hard state to persist before the grant may be sent.
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote, 1u);
  EXPECT_TRUE(rd.messages.empty());
}

TEST(RaftElectionTest, AVoteSurvivesARestart) {
  TestCluster c(3);
  Term t = c.node(3).term() + 1;
  Message v1 = msg(MessageType::vote, 1, 3, t);
  v1.index = c.node(3).log().last_index();
  v1.log_term = c.node(3).log().last_term();
  ASSERT_TRUE(c.node(3).step(v1).ok());
  ASSERT_TRUE(c.handle_ready(3));
  c.restart(3);
  EXPECT_EQ(c.node(3).term(), t);
  EXPECT_EQ(c.node(3).vote(), 1u);
  Message v2 = v1;
  v2.from = 2;
  ASSERT_TRUE(c.node(3).step(v2).ok());
  Ready rd = c.node(3).ready();
  ASSERT_EQ(rd.persisted_messages.size(), 1u);
  EXPECT_TRUE(rd.persisted_messages[0].reject);
}

TEST(RaftElectionTest, AVoteGoesOnlyToACandidateWhoseLogIsAtLeastAsUpToDate) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose("a").ok());
  c.stabilize();
  Term t = c.node(3).term() + 1;
  // Same last term, shorter log: refused (§5.4.1).
  Message shorter = msg(MessageType::vote, 2, 3, t);
  shorter.index = c.node(3).log().last_index() - 1;
  shorter.log_term = c.node(3).log().last_term();
  // Lower last term, longer log: refused.
  Message older = msg(MessageType::vote, 2, 3, t);
  older.index = c.node(3).log().last_index() + 5;
  older.log_term = c.node(3).log().last_term() - 1;
  c.tick(3, 10);  // leave the leader lease
  ASSERT_TRUE(c.node(3).step(shorter).ok());
  ASSERT_TRUE(c.node(3).step(older).ok());
  Ready rd = c.node(3).ready();
  ASSERT_EQ(rd.persisted_messages.size(), 2u);
  EXPECT_TRUE(rd.persisted_messages[0].reject);
  EXPECT_TRUE(rd.persisted_messages[1].reject);
  c.node(3).advance(rd);
  // A higher last term wins even with a shorter log.
  Message newer = msg(MessageType::vote, 2, 3, t);
  newer.index = 1;
  newer.log_term = c.node(3).log().last_term() + 1;
  ASSERT_TRUE(c.node(3).step(newer).ok());
  rd = c.node(3).ready();
  ASSERT_EQ(rd.persisted_messages.size(), 1u);
  EXPECT_FALSE(rd.persisted_messages[0].reject);
}

TEST(RaftElectionTest, AHigherTermDeposesALeader) {
  TestCluster c(3);
  c.elect(1);
  Term t = c.node(1).term();
  Message hb = msg(MessageType::append_resp, 2, 1, t + 3);
  ASSERT_TRUE(c.node(1).step(hb).ok());
  EXPECT_EQ(c.node(1).role(), Role::follower);
  EXPECT_EQ(c.node(1).term(), t + 3);
  EXPECT_EQ(c.node(1).vote(), kNoNode);
}

TEST(RaftElectionTest, AStaleLeaderLearnsTheNewTermFromTheFollowersItContacts) {
  TestCluster c(3, 3, without_lease());
  c.elect(1);
  c.isolate(1);
  c.elect(2);
  Term new_term = c.node(2).term();
  c.heal();
  ASSERT_TRUE(c.node(1).propose("stale").ok());
  c.stabilize();
  EXPECT_EQ(c.node(1).role(), Role::follower);
  EXPECT_EQ(c.node(1).term(), new_term);
  // The stale proposal never commits anywhere.
  for (NodeId id : {1, 2, 3}) {
    for (const std::string& d : c.applied_data(id)) EXPECT_NE(d, "stale");
  }
}

TEST(RaftElectionTest, ASplitVoteEndsWithoutALeaderAndALaterCampaignWins) {
  RaftConfig base;
  base.pre_vote = false;
  TestCluster c(4, 4, base);
  // 1 and 2 campaign at once; each gets only its own vote and one other: no majority of 4.
  c.filter = [](const Message& m) {
    if (m.type != MessageType::vote) return true;
    return (m.from == 1 && m.to == 3) || (m.from == 2 && m.to == 4);
  };
  c.node(1).campaign();
  c.node(2).campaign();
  c.stabilize();
  EXPECT_NE(c.node(1).role(), Role::leader);
  EXPECT_NE(c.node(2).role(), Role::leader);
  c.filter = nullptr;
  c.elect(3);
}

// --- pre-vote and check-quorum (etcd's §9.6 extensions) ------------------------------------------

TEST(RaftPreVoteTest, APartitionedNodeDoesNotInflateItsTermNorDisruptTheLeaderOnReturn) {
  TestCluster c(3);
  c.elect(1);
  Term t = c.node(1).term();
  c.isolate(3);
  for (int i = 0; i < 100; ++i) {
    c.tick(3);
    c.stabilize();
  }
  EXPECT_EQ(c.node(3).term(), t);  // pre-votes never raise the term
  EXPECT_EQ(c.node(3).role(), Role::pre_candidate);
  c.heal();
  c.tick(3, 30);
  c.tick(1);
  c.stabilize();
  EXPECT_EQ(c.node(1).role(), Role::leader);
  EXPECT_EQ(c.node(1).term(), t);
}

TEST(RaftPreVoteTest, WithoutPreVoteAPartitionedNodeRaisesItsTerm) {
  RaftConfig base;
  base.pre_vote = false;
  base.check_quorum = false;
  TestCluster c(3, 3, base);
  c.elect(1);
  Term t = c.node(1).term();
  c.isolate(3);
  c.tick(3, 60);
  c.stabilize();
  EXPECT_GT(c.node(3).term(), t + 1);
}

TEST(RaftCheckQuorumTest, AnIsolatedLeaderStepsDownAfterAnElectionTimeout) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(1);
  for (int i = 0; i < 25 && c.node(1).role() == Role::leader; ++i) {
    c.tick(1);
    c.stabilize();
  }
  EXPECT_EQ(c.node(1).role(), Role::follower);
}

TEST(RaftCheckQuorumTest, AFollowerInContactWithItsLeaderIgnoresVoteRequests) {
  TestCluster c(3);
  c.elect(1);
  Term t = c.node(2).term();
  Message v = msg(MessageType::vote, 3, 2, t + 1);
  v.index = c.node(2).log().last_index() + 10;
  v.log_term = c.node(2).log().last_term();
  ASSERT_TRUE(c.node(2).step(v).ok());
  EXPECT_EQ(c.node(2).term(), t);
  EXPECT_EQ(c.node(2).leader(), 1u);
  EXPECT_TRUE(c.node(2).ready().persisted_messages.empty());
}

// --- log replication (§5.3) --------------------------------------------------------------------

TEST(RaftReplicationTest, ANewLeaderCommitsANoOpOfItsTerm) {
  TestCluster c(3);
  c.elect(1);
  const Entry& last = c.applied(2).back();
  EXPECT_EQ(last.term, c.node(1).term());
  EXPECT_TRUE(last.data.empty());
  EXPECT_EQ(c.node(2).log().committed(), last.index);
}

TEST(RaftReplicationTest, ProposalsCommitEverywhereInOrder) {
  TestCluster c(5);
  c.elect(3);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.node(3).propose("v" + std::to_string(i)).ok());
  c.stabilize();
  for (NodeId id = 1; id <= 5; ++id) {
    auto data = c.applied_data(id);
    ASSERT_EQ(data.size(), 20u) << "node " << id;
    for (int i = 0; i < 20; ++i) EXPECT_EQ(data[i], "v" + std::to_string(i));
  }
}

TEST(RaftReplicationTest, AFollowerRefusesProposals) {
  TestCluster c(3);
  c.elect(1);
  auto r = c.node(2).propose("x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::unavailable);
  EXPECT_NE(r.error().message.find("node 1"), std::string::npos) << r.error().message;
}

TEST(RaftReplicationTest, AnEntryCommitsOnlyOnceAMajorityPersistedIt) {
  TestCluster c(3);
  c.elect(1);
  Index committed = c.node(1).log().committed();
  c.isolate(2);
  c.isolate(3);
  ASSERT_TRUE(c.node(1).propose("x").ok());
  c.stabilize();
  EXPECT_EQ(c.node(1).log().committed(), committed);  // its own disk is not a majority
  c.heal();
  c.tick(1);
  c.stabilize();
  EXPECT_EQ(c.node(1).log().committed(), committed + 1);
}

TEST(RaftReplicationTest, TheLeaderCountsItselfOnlyAfterItsOwnWriteCompletes) {
  TestCluster c(1);
  c.elect(1);
  Index committed = c.node(1).log().committed();
  ASSERT_TRUE(c.node(1).propose("x").ok());
  Ready rd = c.node(1).ready();
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_EQ(c.node(1).log().committed(), committed);  // not before the storage completion
  ASSERT_TRUE(c.storage(1).save(nullptr, rd.entries, nullptr).ok());
  c.node(1).advance(rd);
  EXPECT_EQ(c.node(1).log().committed(), committed + 1);
}

TEST(RaftReplicationTest, ProposalsBetweenTwoReadiesTravelInOneAppendPerFollower) {
  TestCluster c(3);
  c.elect(1);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.node(1).propose("b" + std::to_string(i)).ok());
  Ready rd = c.node(1).ready();
  size_t appends = 0;
  for (const Message& m : rd.messages) {
    if (m.type == MessageType::append) {
      ++appends;
      EXPECT_EQ(m.entries.size(), 10u);
    }
  }
  EXPECT_EQ(appends, 2u);
  // The leader's appends may leave before its own write: they are in `messages`.
  EXPECT_TRUE(rd.persisted_messages.empty());
  c.node(1).advance(rd);
}

TEST(RaftReplicationTest, ConflictingUncommittedEntriesAreOverwrittenByTheLeader) {
  TestCluster c(3, 3, without_lease());
  c.elect(1);
  // Node 1 appends entries only it has, then loses leadership.
  c.isolate(1);
  ASSERT_TRUE(c.node(1).propose("lost-1").ok());
  ASSERT_TRUE(c.node(1).propose("lost-2").ok());
  c.stabilize();
  c.elect(2);
  ASSERT_TRUE(c.node(2).propose("kept").ok());
  c.stabilize();
  c.heal();
  c.tick(2);
  c.stabilize();
  // Log matching: node 1 now has exactly node 2's log.
  ASSERT_EQ(c.node(1).log().last_index(), c.node(2).log().last_index());
  for (Index i = 1; i <= c.node(2).log().last_index(); ++i) {
    EXPECT_EQ(c.node(1).log().term_or_zero(i), c.node(2).log().term_or_zero(i)) << i;
  }
  auto data = c.applied_data(1);
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(data.back(), "kept");
  for (const std::string& d : data) EXPECT_EQ(d.rfind("lost", 0), std::string::npos);
}

TEST(RaftReplicationTest, ARejectedAppendBacksUpToTheFollowersLog) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.node(1).propose("e" + std::to_string(i)).ok());
  c.stabilize();
  c.heal();
  for (int i = 0; i < 5; ++i) {
    c.tick(1);
    c.stabilize();
  }
  EXPECT_EQ(c.node(3).log().last_index(), c.node(1).log().last_index());
  EXPECT_EQ(c.applied_data(3).size(), 30u);
}

// Figure 8 of the Raft paper: an entry from an earlier term must not be committed by counting
// replicas; only an entry of the leader's current term commits (and earlier ones with it).
TEST(RaftCommitTest, OnlyEntriesOfTheCurrentTermCommitByCount) {
  TestCluster c(3, 3, without_lease());
  c.elect(1);
  Index base = c.node(1).log().last_index();
  // Term T: node 1 appends an entry nobody else gets, then restarts (a follower again).
  c.isolate(1);
  ASSERT_TRUE(c.node(1).propose("old").ok());
  c.stabilize();
  Term old_term = c.node(1).term();
  c.restart(1);
  c.heal();
  // Node 1 wins the next term (its log is the longest) and appends its no-op, which no one gets.
  c.filter = [](const Message& m) { return m.type != MessageType::append; };
  c.node(1).campaign();
  c.stabilize();
  ASSERT_EQ(c.node(1).role(), Role::leader);
  ASSERT_GT(c.node(1).term(), old_term);
  // Node 2 acknowledges the old entry but not the new no-op.
  Message ack = msg(MessageType::append_resp, 2, 1, c.node(1).term());
  ack.index = base + 1;
  ASSERT_EQ(c.node(1).log().term_or_zero(base + 1), old_term);
  ASSERT_TRUE(c.node(1).step(ack).ok());
  EXPECT_LT(c.node(1).log().committed(), base + 1) << "an old-term entry committed by count";
  // Once the current term's no-op reaches a majority, both commit.
  ack.index = base + 2;
  ASSERT_TRUE(c.node(1).step(ack).ok());
  EXPECT_EQ(c.node(1).log().committed(), base + 2);
}

TEST(RaftFlowControlTest, AFollowerGetsAtMostMaxInflightUnacknowledgedAppends) {
  RaftConfig base;
  base.max_inflight = 2;
  TestCluster c(3, 3, base);
  c.elect(1);
  c.filter = [](const Message& m) { return m.type != MessageType::append_resp; };
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(c.node(1).propose("x" + std::to_string(round)).ok());
    c.stabilize();
  }
  size_t appends_to_2 = 0;
  for (const Message& m : c.sent) {
    if (m.type == MessageType::append && m.to == 2 && !m.entries.empty() &&
        m.entries.front().data.rfind("x", 0) == 0) {
      ++appends_to_2;
    }
  }
  EXPECT_EQ(appends_to_2, 2u);
  EXPECT_TRUE(c.node(1).progress().at(2).is_paused());
  c.filter = nullptr;
  c.tick(1);
  c.stabilize();
  EXPECT_EQ(c.applied_data(2).size(), 5u);
}

// A probe goes again at every heartbeat response until the follower answers it; it must not carry
// the follower's whole backlog each time.
TEST(RaftFlowControlTest, ProbesSentAgainAtHeartbeatsCarryLittle) {
  RaftConfig base;
  base.max_probe_bytes = 10;
  TestCluster c(3, 3, base);
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.node(1).propose("12345").ok());
  c.stabilize();
  c.heal();
  c.sent.clear();
  // Node 3's rejection of the leader's optimistic append gets through (the leader probes), but
  // its acceptances are lost: the leader keeps probing at every heartbeat response.
  c.filter = [](const Message& m) {
    return !(m.type == MessageType::append_resp && m.from == 3 && !m.reject);
  };
  for (int i = 0; i < 5; ++i) {
    c.tick(1);
    c.stabilize();
  }
  size_t probes = 0;
  for (const Message& m : c.sent) {
    if (m.type != MessageType::append || m.to != 3 || m.entries.empty()) continue;
    ++probes;
    EXPECT_LE(m.entries.size(), 2u) << "a probe carried " << m.entries.size() << " entries";
  }
  EXPECT_GE(probes, 3u) << "the probe is sent again at heartbeat responses";
  c.filter = nullptr;
  for (int i = 0; i < 5; ++i) {
    c.tick(1);
    c.stabilize();
  }
  EXPECT_EQ(c.node(3).log().last_index(), c.node(1).log().last_index());
  EXPECT_EQ(c.applied_data(3).size(), 30u);
}

TEST(RaftFlowControlTest, AppendsAreSplitAtMaxMessageBytes) {
  RaftConfig base;
  base.max_message_bytes = 10;
  TestCluster c(3, 3, base);
  c.elect(1);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(c.node(1).propose("12345").ok());
  c.stabilize();
  for (const Message& m : c.sent) {
    if (m.type != MessageType::append) continue;
    size_t bytes = 0;
    for (const Entry& e : m.entries) bytes += e.data.size();
    EXPECT_LE(bytes, 10u);
  }
  EXPECT_EQ(c.applied_data(3).size(), 6u);
}

// --- snapshots and compaction (§7) -------------------------------------------------------------

TEST(RaftSnapshotTest, ALaggingFollowerCatchesUpFromTheLeadersSnapshot) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.node(1).propose("s" + std::to_string(i)).ok());
  c.stabilize();
  c.compact(1, "snapshot-data");
  Index snap_index = c.storage(1).snapshot()->meta.index;
  ASSERT_GT(c.storage(1).first_index(), c.node(3).log().last_index() + 1);
  ASSERT_TRUE(c.node(1).propose("after").ok());
  c.stabilize();
  c.heal();
  for (int i = 0; i < 5; ++i) {
    c.tick(1);
    c.stabilize();
  }
  // Node 3 installed the snapshot, then got the rest through appends.
  EXPECT_EQ(c.storage(3).snapshot()->data, "snapshot-data");
  EXPECT_EQ(c.storage(3).first_index(), snap_index + 1);
  EXPECT_EQ(c.node(3).log().term_or_zero(snap_index), c.node(1).log().term_or_zero(snap_index));
  EXPECT_EQ(c.node(3).log().last_index(), c.node(1).log().last_index());
  auto data = c.applied_data(3);
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(data.back(), "after");
  EXPECT_EQ(c.node(1).progress().at(3).state, Progress::State::replicate);
}

TEST(RaftSnapshotTest, ASnapshotAtOrBelowTheCommitIndexIsIgnored) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose("x").ok());
  c.stabilize();
  auto snap = std::make_shared<Snapshot>();
  snap->meta.index = 2;
  snap->meta.term = 1;
  snap->meta.conf = c.node(2).conf();
  Message m = msg(MessageType::snapshot, 1, 2, c.node(1).term());
  m.snapshot = snap;
  Index last = c.node(2).log().last_index();
  ASSERT_TRUE(c.node(2).step(m).ok());
  Ready rd = c.node(2).ready();
  EXPECT_FALSE(rd.snapshot.has_value());
  EXPECT_EQ(c.node(2).log().last_index(), last);
  ASSERT_EQ(rd.persisted_messages.size(), 1u);
  EXPECT_EQ(rd.persisted_messages[0].index, c.node(2).log().committed());
}

TEST(RaftSnapshotTest, ARestartFromACompactedLogKeepsItsStateAndCatchesUp) {
  TestCluster c(3);
  c.elect(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.node(1).propose("r" + std::to_string(i)).ok());
  c.stabilize();
  c.compact(2);
  Index first = c.storage(2).first_index();
  c.restart(2);
  EXPECT_EQ(c.node(2).log().first_index(), first);
  EXPECT_EQ(c.node(2).log().applied(), first - 1);
  ASSERT_TRUE(c.node(1).propose("later").ok());
  c.tick(1);
  c.stabilize();
  auto data = c.applied_data(2);
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(data.back(), "later");
}

// --- membership (§4 of Ongaro's thesis: one server at a time) -----------------------------------

TEST(RaftMembershipTest, OneChangeAtATime) {
  TestCluster c(3, 4);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose_conf_change({ConfChangeType::add_learner, 4}).ok());
  auto second = c.node(1).propose_conf_change({ConfChangeType::add_voter, 4});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.code(), ErrorCode::conflict);
  c.stabilize();
  EXPECT_TRUE(is_learner(c.node(1).conf(), 4));
  EXPECT_TRUE(c.node(1).propose_conf_change({ConfChangeType::add_voter, 4}).ok());
  c.stabilize();
  EXPECT_TRUE(is_voter(c.node(1).conf(), 4));
  EXPECT_TRUE(is_voter(c.node(4).conf(), 4));
}

TEST(RaftMembershipTest, ANewLeaderChangesMembershipOnlyAfterItsFirstEntryIsApplied) {
  TestCluster c(1, 2);
  c.node(1).campaign();  // a single voter wins at once; its no-op is not even persisted yet
  ASSERT_EQ(c.node(1).role(), Role::leader);
  EXPECT_EQ(c.node(1).propose_conf_change({ConfChangeType::add_learner, 2}).code(),
            ErrorCode::conflict);
  c.stabilize();
  EXPECT_TRUE(c.node(1).propose_conf_change({ConfChangeType::add_learner, 2}).ok());
}

TEST(RaftMembershipTest, ALearnerReceivesTheLogButNeitherVotesNorCountsForCommit) {
  TestCluster c(2, 3);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose_conf_change({ConfChangeType::add_learner, 3}).ok());
  c.stabilize();
  ASSERT_TRUE(c.node(1).propose("for-learner").ok());
  c.stabilize();
  EXPECT_EQ(c.applied_data(3).back(), "for-learner");
  // Commit needs voter 2: with it isolated, the learner's ack does not commit.
  Index committed = c.node(1).log().committed();
  c.isolate(2);
  ASSERT_TRUE(c.node(1).propose("needs-2").ok());
  c.stabilize();
  EXPECT_EQ(c.node(1).log().committed(), committed);
  // A learner never campaigns.
  c.tick(3, 100);
  c.stabilize();
  EXPECT_NE(c.node(3).role(), Role::candidate);
  EXPECT_NE(c.node(3).role(), Role::leader);
}

TEST(RaftMembershipTest, RemovingAVoterShrinksTheQuorum) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose_conf_change({ConfChangeType::remove_node, 3}).ok());
  c.stabilize();
  EXPECT_FALSE(is_voter(c.node(1).conf(), 3));
  EXPECT_EQ(c.node(1).progress().count(3), 0u);
  c.isolate(3);
  ASSERT_TRUE(c.node(1).propose("two-of-two").ok());
  c.stabilize();
  EXPECT_EQ(c.applied_data(2).back(), "two-of-two");
}

TEST(RaftMembershipTest, ALeaderThatRemovesItselfStepsDownAndTheRestElectANewOne) {
  TestCluster c(3, 3, without_lease());
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose_conf_change({ConfChangeType::remove_node, 1}).ok());
  c.stabilize();
  EXPECT_EQ(c.node(1).role(), Role::follower);
  c.tick(1, 50);  // a removed node never campaigns
  c.stabilize();
  EXPECT_EQ(c.node(1).role(), Role::follower);
  c.elect(2);
  ASSERT_TRUE(c.node(2).propose("without-1").ok());
  c.stabilize();
  EXPECT_EQ(c.applied_data(3).back(), "without-1");
}

TEST(RaftMembershipTest, ARestartReplaysMembershipChangesFromTheLog) {
  TestCluster c(3, 4);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose_conf_change({ConfChangeType::add_learner, 4}).ok());
  c.stabilize();
  c.restart(2);
  c.stabilize();
  EXPECT_TRUE(is_learner(c.node(2).conf(), 4));
}

TEST(RaftMembershipTest, InvalidChangesAreRefused) {
  TestCluster c(3);
  c.elect(1);
  EXPECT_EQ(c.node(1).propose_conf_change({ConfChangeType::add_voter, 2}).code(),
            ErrorCode::already_exists);
  EXPECT_EQ(c.node(1).propose_conf_change({ConfChangeType::remove_node, 9}).code(),
            ErrorCode::not_found);
  EXPECT_EQ(c.node(2).propose_conf_change({ConfChangeType::remove_node, 3}).code(),
            ErrorCode::unavailable);
}

// --- leadership transfer (thesis §3.10) --------------------------------------------------------

TEST(RaftTransferTest, LeadershipMovesToAnUpToDateFollower) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose("before").ok());
  c.stabilize();
  Term t = c.node(1).term();
  ASSERT_TRUE(c.node(1).transfer_leadership(3).ok());
  c.stabilize();
  EXPECT_EQ(c.node(3).role(), Role::leader);
  EXPECT_EQ(c.node(3).term(), t + 1);
  EXPECT_EQ(c.node(1).leader(), 3u);
}

TEST(RaftTransferTest, ALaggingTargetCatchesUpFirstAndProposalsWaitMeanwhile) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.node(1).propose("x").ok());
  c.stabilize();
  c.heal();
  ASSERT_TRUE(c.node(1).transfer_leadership(3).ok());
  EXPECT_EQ(c.node(1).propose("during").code(), ErrorCode::unavailable);
  c.stabilize();
  EXPECT_EQ(c.node(3).role(), Role::leader);
  EXPECT_EQ(c.node(3).log().last_index(), c.node(1).log().last_index());
}

TEST(RaftTransferTest, AnUnreachableTargetIsAbandonedAfterAnElectionTimeout) {
  TestCluster c(3);
  c.elect(1);
  c.isolate(3);
  ASSERT_TRUE(c.node(1).transfer_leadership(3).ok());
  EXPECT_EQ(c.node(1).transferee(), 3u);
  for (int i = 0; i < 10; ++i) {
    c.tick(1);
    c.stabilize();
  }
  EXPECT_EQ(c.node(1).transferee(), kNoNode);
  EXPECT_EQ(c.node(1).role(), Role::leader);
  EXPECT_TRUE(c.node(1).propose("again").ok());
}

TEST(RaftTransferTest, OnlyVotersCanLead) {
  TestCluster c(2, 3);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose_conf_change({ConfChangeType::add_learner, 3}).ok());
  c.stabilize();
  EXPECT_EQ(c.node(1).transfer_leadership(3).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(c.node(2).transfer_leadership(1).code(), ErrorCode::unavailable);
}

// --- read index (thesis §6.4) -------------------------------------------------------------------

TEST(RaftReadIndexTest, TheLeaderAnswersAfterAHeartbeatRoundConfirmsItsLeadership) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose("x").ok());
  c.stabilize();
  Index committed = c.node(1).log().committed();
  c.isolate(2);
  c.isolate(3);
  ASSERT_TRUE(c.node(1).read_index(42).ok());
  c.stabilize();
  EXPECT_TRUE(c.reads(1).empty());  // no majority confirmed it yet
  c.heal();
  c.tick(1);
  c.stabilize();
  ASSERT_EQ(c.reads(1).size(), 1u);
  EXPECT_EQ(c.reads(1)[0].context, 42u);
  EXPECT_EQ(c.reads(1)[0].index, committed);
}

TEST(RaftReadIndexTest, AFollowersReadIsConfirmedByTheLeader) {
  TestCluster c(3);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose("x").ok());
  c.stabilize();
  ASSERT_TRUE(c.node(2).read_index(7).ok());
  c.stabilize();
  ASSERT_EQ(c.reads(2).size(), 1u);
  EXPECT_EQ(c.reads(2)[0].context, 7u);
  EXPECT_EQ(c.reads(2)[0].index, c.node(1).log().committed());
}

TEST(RaftReadIndexTest, AReadWithoutAKnownLeaderFails) {
  TestCluster c(3);
  EXPECT_EQ(c.node(2).read_index(1).code(), ErrorCode::unavailable);
}

TEST(RaftReadIndexTest, AReadWaitsForTheLeadersFirstCommitInItsTerm) {
  TestCluster c(3);
  c.node(1).campaign();
  c.filter = [](const Message& m) { return m.type != MessageType::append_resp; };
  c.stabilize();
  ASSERT_EQ(c.node(1).role(), Role::leader);
  ASSERT_TRUE(c.node(1).read_index(9).ok());
  c.tick(1);
  c.stabilize();
  EXPECT_TRUE(c.reads(1).empty());  // its no-op is not committed: the commit index may be stale
  c.filter = nullptr;
  c.tick(1);
  c.stabilize();
  ASSERT_EQ(c.reads(1).size(), 1u);
  EXPECT_EQ(c.reads(1)[0].index, c.node(1).log().committed());
}

TEST(RaftReadIndexTest, ASingleVoterAnswersAtOnce) {
  TestCluster c(1);
  c.elect(1);
  ASSERT_TRUE(c.node(1).read_index(3).ok());
  c.stabilize();
  ASSERT_EQ(c.reads(1).size(), 1u);
}

}  // namespace
}  // namespace nca::raft
