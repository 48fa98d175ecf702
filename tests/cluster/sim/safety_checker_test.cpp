// tests/cluster/sim/safety_checker_test.cpp: the simulator's safety checker must catch each broken
// Raft property. Real Raft nodes are built over hand-written storages (crafted logs, terms and
// commit indices) or driven to leadership by hand, then shown to the checker.
#include "cluster/sim/safety_checker.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster/raft/memory_storage.hpp"

namespace nca::raft::sim {
namespace {

// A Raft node and the storage it reads; never moved, since the Raft keeps a pointer.
struct TestNode {
  MemoryStorage storage;
  std::unique_ptr<Raft> raft;
};

struct Tail {
  Term term;
  std::string data;
};

// Node `id` of the group `voters`: its storage holds the bootstrap entries followed by `tail`
// (one entry per element), its hard state has `term` and commits `commit` (at least the
// bootstrap). The bootstrap membership counts as applied.
std::unique_ptr<TestNode> make_node(NodeId id, const std::vector<NodeId>& voters,
                                    const std::vector<Tail>& tail, Term term, Index commit) {
  auto node = std::make_unique<TestNode>();
  Bootstrap boot = bootstrap_entries(voters);
  std::vector<Entry> entries = boot.entries;
  for (const Tail& t : tail) {
    entries.push_back(Entry{t.term, entries.size() + 1, EntryType::normal, t.data});
  }
  HardState hs{term, kNoNode, commit};
  Status saved = node->storage.save(&hs, entries, nullptr);
  EXPECT_TRUE(saved.ok()) << saved.error().to_string();
  RaftConfig config;
  config.id = id;
  config.storage = &node->storage;
  config.applied = boot.entries.size();
  config.seed = id;
  auto raft = Raft::create(config);
  EXPECT_TRUE(raft.ok()) << raft.error().to_string();
  if (raft.ok()) node->raft = std::move(*raft);
  return node;
}

// Wins an election by hand: campaigns, then steps a granted pre-vote and vote from `voter`
// (enough for a majority of three).
void elect_by_hand(Raft& raft, NodeId voter) {
  raft.campaign();
  ASSERT_EQ(raft.role(), Role::pre_candidate);
  Message pre;
  pre.type = MessageType::pre_vote_resp;
  pre.from = voter;
  pre.to = raft.id();
  pre.term = raft.term() + 1;
  ASSERT_TRUE(raft.step(pre).ok());
  ASSERT_EQ(raft.role(), Role::candidate);
  Message vote;
  vote.type = MessageType::vote_resp;
  vote.from = voter;
  vote.to = raft.id();
  vote.term = raft.term();
  ASSERT_TRUE(raft.step(vote).ok());
  ASSERT_EQ(raft.role(), Role::leader);
}

Entry entry(Term term, Index index, std::string data) {
  return Entry{term, index, EntryType::normal, std::move(data)};
}

::testing::AssertionResult violates(const Status& s, const std::string& property) {
  if (s.ok()) return ::testing::AssertionFailure() << "no violation reported";
  if (s.code() != ErrorCode::internal) {
    return ::testing::AssertionFailure() << "unexpected code: " << s.error().to_string();
  }
  if (s.error().message.find(property + " violated") == std::string::npos) {
    return ::testing::AssertionFailure()
           << "does not name " << property << ": " << s.error().message;
  }
  return ::testing::AssertionSuccess() << s.error().message;
}

const std::vector<NodeId> kThree = {1, 2, 3};

TEST(SafetyCheckerTest, ConsistentLogsPass) {
  auto a = make_node(1, kThree, {{2, "a"}, {2, "b"}, {3, "c"}}, 3, 6);
  auto b = make_node(2, kThree, {{2, "a"}, {2, "b"}, {3, "c"}}, 3, 5);
  auto c = make_node(3, kThree, {{2, "a"}}, 2, 4);
  ASSERT_TRUE(a->raft && b->raft && c->raft);
  SafetyChecker checker;
  for (int round = 0; round < 2; ++round) {
    Status s = checker.check_step({a->raft.get(), b->raft.get(), c->raft.get()});
    ASSERT_TRUE(s.ok()) << s.error().to_string();
  }
  EXPECT_EQ(checker.committed_entries(), 6u);
  EXPECT_EQ(checker.leaders_seen(), 0u);
}

TEST(SafetyCheckerTest, UncommittedDivergenceIsAllowed) {
  // Two followers with different uncommitted tails: normal after a leader change.
  auto a = make_node(1, kThree, {{2, "a"}, {2, "b"}}, 2, 3);
  auto b = make_node(2, kThree, {{3, "x"}}, 3, 3);
  ASSERT_TRUE(a->raft && b->raft);
  SafetyChecker checker;
  Status s = checker.check_step({a->raft.get(), b->raft.get()});
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(checker.committed_entries(), 3u);
}

TEST(SafetyCheckerTest, DifferentCommittedEntriesViolateStateMachineSafety) {
  auto a = make_node(1, kThree, {{2, "a"}}, 2, 4);
  auto b = make_node(2, kThree, {{3, "b"}}, 3, 4);
  ASSERT_TRUE(a->raft && b->raft);
  {
    // Seen in one step: the logs agree up to 3 (log matching holds), but both commit index 4.
    SafetyChecker checker;
    Status s = checker.check_step({a->raft.get(), b->raft.get()});
    EXPECT_TRUE(violates(s, "state-machine safety"));
    EXPECT_NE(s.error().message.find("index 4"), std::string::npos) << s.error().message;
  }
  {
    // Seen in different steps (the nodes were never alive at the same time).
    SafetyChecker checker;
    ASSERT_TRUE(checker.check_step({a->raft.get()}).ok());
    EXPECT_TRUE(violates(checker.check_step({b->raft.get()}), "state-machine safety"));
  }
  {
    // Same index and term, different data.
    auto c = make_node(3, kThree, {{2, "not a"}}, 2, 4);
    ASSERT_TRUE(c->raft);
    SafetyChecker checker;
    ASSERT_TRUE(checker.check_step({a->raft.get()}).ok());
    EXPECT_TRUE(violates(checker.check_step({c->raft.get()}), "state-machine safety"));
  }
}

TEST(SafetyCheckerTest, AgreeingTermWithDifferentHistoryViolatesLogMatching) {
  // Both have entry 5 of term 3, but entry 4 differs: the append consistency check failed.
  auto a = make_node(1, kThree, {{2, "a"}, {3, "x"}}, 3, 3);
  auto b = make_node(2, kThree, {{2, "b"}, {3, "x"}}, 3, 3);
  ASSERT_TRUE(a->raft && b->raft);
  SafetyChecker checker;
  Status s = checker.check_step({a->raft.get(), b->raft.get()});
  EXPECT_TRUE(violates(s, "log matching"));
  EXPECT_NE(s.error().message.find("agree on index 5"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("differ at index 4"), std::string::npos) << s.error().message;

  // A different term earlier, same term later.
  auto c = make_node(3, kThree, {{4, "a"}, {3, "x"}}, 4, 3);
  ASSERT_TRUE(c->raft);
  SafetyChecker other;
  EXPECT_TRUE(violates(other.check_step({a->raft.get(), c->raft.get()}), "log matching"));
  // The same logs, each shown alone, are fine: log matching compares live nodes.
  SafetyChecker alone;
  EXPECT_TRUE(alone.check_step({a->raft.get()}).ok());
  EXPECT_TRUE(alone.check_step({c->raft.get()}).ok());
}

// Steps `m` into `node` and handles the resulting Ready like the simulator: save, then advance.
void step_and_persist(TestNode& node, const Message& m) {
  ASSERT_TRUE(node.raft->step(m).ok());
  Ready rd = node.raft->ready();
  ASSERT_TRUE(node.storage
                  .save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                        rd.snapshot ? &*rd.snapshot : nullptr)
                  .ok());
  node.raft->advance(rd);
}

TEST(SafetyCheckerTest, LogMatchingIsCheckedAfterAMidLogRewrite) {
  auto a = make_node(1, kThree, {{2, "a"}, {3, "x"}, {3, "y"}}, 3, 3);
  auto b = make_node(2, kThree, {{2, "a"}, {3, "x"}, {3, "y"}}, 3, 3);
  ASSERT_TRUE(a->raft && b->raft);
  SafetyChecker checker;
  ASSERT_TRUE(checker.check_step({a->raft.get(), b->raft.get()}).ok());

  // Node 3 (term 3) rewrites b's entries 4..6; only entry 4 really changes, so b keeps its first
  // and last index, its last two terms, its commit index and an empty unstable tail.
  Message append;
  append.type = MessageType::append;
  append.from = 3;
  append.to = 2;
  append.term = 3;
  append.index = 3;
  append.log_term = 1;
  append.entries = {entry(3, 4, "q"), entry(3, 5, "x"), entry(3, 6, "y")};
  append.commit = 3;
  step_and_persist(*b, append);
  ASSERT_EQ(b->raft->log().term_or_zero(4), 3u);
  ASSERT_EQ(b->raft->log().last_index(), 6u);
  ASSERT_TRUE(b->raft->log().unstable_entries().empty());
  // Now a and b agree on index 6 (term 3) but differ at 4.
  Status now = checker.check_step({a->raft.get(), b->raft.get()});

  // Once b's commit index moves, the pair is compared again in any case.
  Message heartbeat;
  heartbeat.type = MessageType::heartbeat;
  heartbeat.from = 3;
  heartbeat.to = 2;
  heartbeat.term = 3;
  heartbeat.commit = 4;
  step_and_persist(*b, heartbeat);
  ASSERT_EQ(b->raft->log().committed(), 4u);
  EXPECT_TRUE(violates(checker.check_step({a->raft.get(), b->raft.get()}), "log matching"));

  EXPECT_TRUE(violates(now, "log matching"));
}

TEST(SafetyCheckerTest, InOrderConsistentAppliesPass) {
  SafetyChecker checker;
  for (NodeId node : {1, 2}) {
    for (Index i = 1; i <= 5; ++i) {
      Status s = checker.on_apply(node, entry(1, i, "e" + std::to_string(i)));
      ASSERT_TRUE(s.ok()) << s.error().to_string();
    }
  }
}

TEST(SafetyCheckerTest, ApplyingOutOfOrderIsAViolation) {
  SafetyChecker checker;
  ASSERT_TRUE(checker.on_apply(1, entry(1, 1, "a")).ok());
  Status gap = checker.on_apply(1, entry(1, 3, "c"));
  EXPECT_TRUE(violates(gap, "state-machine safety"));
  EXPECT_NE(gap.error().message.find("applied index 3 after 1"), std::string::npos)
      << gap.error().message;
  EXPECT_TRUE(violates(checker.on_apply(1, entry(1, 1, "a")), "state-machine safety"));
  // The refused applies did not move the node's position.
  EXPECT_TRUE(checker.on_apply(1, entry(1, 2, "b")).ok());
  // Starting anywhere but 1 without a restore is a gap too.
  EXPECT_TRUE(violates(checker.on_apply(2, entry(1, 2, "b")), "state-machine safety"));
}

TEST(SafetyCheckerTest, ApplyingConflictingEntriesIsAViolation) {
  SafetyChecker checker;
  ASSERT_TRUE(checker.on_apply(1, entry(1, 1, "a")).ok());
  ASSERT_TRUE(checker.on_apply(1, entry(2, 2, "b")).ok());
  ASSERT_TRUE(checker.on_apply(2, entry(1, 1, "a")).ok());
  Status other_data = checker.on_apply(2, entry(2, 2, "not b"));
  EXPECT_TRUE(violates(other_data, "state-machine safety"));
  SafetyChecker terms;
  ASSERT_TRUE(terms.on_apply(1, entry(1, 1, "a")).ok());
  Status other_term = terms.on_apply(2, entry(2, 1, "a"));
  EXPECT_TRUE(violates(other_term, "state-machine safety"));
  EXPECT_NE(other_term.error().message.find("node 2"), std::string::npos);
}

TEST(SafetyCheckerTest, RestoreMovesTheApplyPosition) {
  SafetyChecker checker;
  ASSERT_TRUE(checker.on_apply(1, entry(1, 1, "a")).ok());
  checker.on_restore(1, 10);
  EXPECT_TRUE(checker.on_apply(1, entry(2, 11, "k")).ok());
  EXPECT_TRUE(violates(checker.on_apply(1, entry(2, 13, "m")), "state-machine safety"));
  // A node restarting from a snapshot at 5 applies 6 next, never 5 again.
  checker.on_restore(2, 5);
  EXPECT_TRUE(violates(checker.on_apply(2, entry(1, 5, "e")), "state-machine safety"));
  EXPECT_TRUE(checker.on_apply(2, entry(1, 6, "f")).ok());
  // What the restored node applies is still compared with the others.
  checker.on_restore(3, 10);
  EXPECT_TRUE(violates(checker.on_apply(3, entry(2, 11, "not k")), "state-machine safety"));
}

TEST(SafetyCheckerTest, TwoLeadersInOneTermViolateElectionSafety) {
  // Two single-voter groups elect themselves in term 2; shown to one checker they are two
  // leaders of one term.
  auto a = make_node(1, {1}, {}, 1, 1);
  auto b = make_node(2, {2}, {}, 1, 1);
  ASSERT_TRUE(a->raft && b->raft);
  a->raft->campaign();
  b->raft->campaign();
  ASSERT_EQ(a->raft->role(), Role::leader);
  ASSERT_EQ(b->raft->role(), Role::leader);
  ASSERT_EQ(a->raft->term(), 2u);
  ASSERT_EQ(b->raft->term(), 2u);
  SafetyChecker checker;
  ASSERT_TRUE(checker.check_step({a->raft.get()}).ok());
  ASSERT_TRUE(checker.check_step({a->raft.get()}).ok());  // the same leader again is fine
  EXPECT_EQ(checker.leaders_seen(), 1u);
  Status s = checker.check_step({b->raft.get()});
  EXPECT_TRUE(violates(s, "election safety"));
  EXPECT_NE(s.error().message.find("node 1 and node 2 both led term 2"), std::string::npos)
      << s.error().message;
}

TEST(SafetyCheckerTest, DoubleVoteInOneGroupViolatesElectionSafety) {
  // Nodes 1 and 3 of one group each count a vote from node 2 in term 2.
  auto a = make_node(1, kThree, {}, 1, 3);
  auto c = make_node(3, kThree, {}, 1, 3);
  ASSERT_TRUE(a->raft && c->raft);
  elect_by_hand(*a->raft, 2);
  elect_by_hand(*c->raft, 2);
  ASSERT_EQ(a->raft->term(), c->raft->term());
  SafetyChecker checker;
  EXPECT_TRUE(violates(checker.check_step({a->raft.get(), c->raft.get()}), "election safety"));
}

TEST(SafetyCheckerTest, LeadersOfDifferentTermsAreFine) {
  auto a = make_node(1, kThree, {}, 1, 3);
  auto c = make_node(3, kThree, {}, 4, 3);
  ASSERT_TRUE(a->raft && c->raft);
  elect_by_hand(*a->raft, 2);
  elect_by_hand(*c->raft, 2);
  ASSERT_EQ(a->raft->term(), 2u);
  ASSERT_EQ(c->raft->term(), 5u);
  SafetyChecker checker;
  ASSERT_TRUE(checker.check_step({a->raft.get()}).ok());
  Status s = checker.check_step({a->raft.get(), c->raft.get()});
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(checker.leaders_seen(), 2u);
}

TEST(SafetyCheckerTest, LeaderMissingACommittedEntryViolatesLeaderCompleteness) {
  // Node 2 committed entry 4 (term 2). Node 1 never got it, yet wins term 3 with node 3's vote
  // (as if node 3 had ignored the up-to-date check).
  auto follower = make_node(2, kThree, {{2, "x"}}, 2, 4);
  auto leader = make_node(1, kThree, {}, 2, 3);
  ASSERT_TRUE(follower->raft && leader->raft);
  elect_by_hand(*leader->raft, 3);
  ASSERT_EQ(leader->raft->term(), 3u);
  {
    SafetyChecker checker;
    Status s = checker.check_step({follower->raft.get(), leader->raft.get()});
    EXPECT_TRUE(violates(s, "leader completeness"));
    EXPECT_NE(s.error().message.find("node 1 leads term 3 without entry 4"), std::string::npos)
        << s.error().message;
  }
  {
    SafetyChecker checker;
    ASSERT_TRUE(checker.check_step({follower->raft.get()}).ok());
    EXPECT_TRUE(violates(checker.check_step({leader->raft.get()}), "leader completeness"));
  }
  {
    // Across two groups: a single-voter leader of term 3 whose log lacks entries 2..4.
    auto lone = make_node(1, {1}, {}, 2, 1);
    ASSERT_TRUE(lone->raft);
    lone->raft->campaign();
    ASSERT_EQ(lone->raft->role(), Role::leader);
    ASSERT_EQ(lone->raft->term(), 3u);
    SafetyChecker checker;
    ASSERT_TRUE(checker.check_step({follower->raft.get()}).ok());
    EXPECT_TRUE(violates(checker.check_step({lone->raft.get()}), "leader completeness"));
  }
}

TEST(SafetyCheckerTest, LeaderWithTheCommittedEntriesIsComplete) {
  auto follower = make_node(2, kThree, {{2, "x"}}, 2, 4);
  auto leader = make_node(1, kThree, {{2, "x"}}, 2, 3);  // has entry 4, not yet known committed
  ASSERT_TRUE(follower->raft && leader->raft);
  elect_by_hand(*leader->raft, 3);
  SafetyChecker checker;
  ASSERT_TRUE(checker.check_step({follower->raft.get()}).ok());
  Status s = checker.check_step({follower->raft.get(), leader->raft.get()});
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(checker.leaders_seen(), 1u);
}

TEST(SafetyCheckerTest, EntriesCommittedInALaterTermDoNotBindAnOlderLeader) {
  // A stale leader of term 3 (say, in a minority partition) lacks entry 4, which was committed
  // only in term 5: not a leader completeness violation.
  auto later = make_node(2, kThree, {{5, "y"}}, 5, 4);
  auto stale = make_node(1, kThree, {}, 2, 3);
  ASSERT_TRUE(later->raft && stale->raft);
  elect_by_hand(*stale->raft, 3);
  ASSERT_EQ(stale->raft->term(), 3u);
  SafetyChecker checker;
  ASSERT_TRUE(checker.check_step({later->raft.get()}).ok());
  Status s = checker.check_step({stale->raft.get()});
  EXPECT_TRUE(s.ok()) << s.error().to_string();
}

}  // namespace
}  // namespace nca::raft::sim
