// tests/cluster/raft/conf_change_test.cpp: membership changes: their log encoding and the rules
// apply_conf_change enforces (no duplicate members, never zero voters, sorted unique lists).
#include "cluster/raft/conf_change.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace nca::raft {
namespace {

ConfState conf(std::vector<NodeId> voters, std::vector<NodeId> learners = {}) {
  return ConfState{std::move(voters), std::move(learners)};
}

ConfChange change(ConfChangeType type, NodeId node) { return ConfChange{type, node}; }

// Sorted, unique, disjoint: what every ConfState must satisfy.
::testing::AssertionResult well_formed(const ConfState& c) {
  auto sorted_unique = [](const std::vector<NodeId>& ids) {
    return std::is_sorted(ids.begin(), ids.end()) &&
           std::adjacent_find(ids.begin(), ids.end()) == ids.end();
  };
  if (!sorted_unique(c.voters)) return ::testing::AssertionFailure() << "voters not sorted/unique";
  if (!sorted_unique(c.learners)) {
    return ::testing::AssertionFailure() << "learners not sorted/unique";
  }
  for (NodeId v : c.voters) {
    if (std::binary_search(c.learners.begin(), c.learners.end(), v)) {
      return ::testing::AssertionFailure() << "node " << v << " is both voter and learner";
    }
  }
  if (c.voters.empty()) return ::testing::AssertionFailure() << "no voters";
  return ::testing::AssertionSuccess();
}

TEST(ConfChangeTest, EncodeDecodeRoundTrip) {
  for (ConfChangeType type :
       {ConfChangeType::add_voter, ConfChangeType::add_learner, ConfChangeType::remove_node}) {
    for (NodeId node :
         {NodeId{1}, NodeId{255}, NodeId{256}, NodeId{0x0102030405060708ull}, NodeId{UINT64_MAX}}) {
      ConfChange c = change(type, node);
      std::string data = encode_conf_change(c);
      EXPECT_EQ(data.size(), 9u);
      auto back = decode_conf_change(data);
      ASSERT_TRUE(back.ok()) << back.error().to_string();
      EXPECT_TRUE(*back == c) << "node " << node;
    }
  }
  // Different changes encode differently.
  EXPECT_NE(encode_conf_change(change(ConfChangeType::add_voter, 1)),
            encode_conf_change(change(ConfChangeType::add_learner, 1)));
  EXPECT_NE(encode_conf_change(change(ConfChangeType::add_voter, 1)),
            encode_conf_change(change(ConfChangeType::add_voter, 256)));
}

TEST(ConfChangeTest, MalformedDataIsDataLoss) {
  std::string good = encode_conf_change(change(ConfChangeType::add_voter, 7));
  std::string bad_type = good;
  bad_type[0] = 3;
  std::string node_zero = encode_conf_change(change(ConfChangeType::remove_node, 0));
  std::vector<std::string> cases = {"",       good.substr(0, 8), good + "x",
                                    bad_type, node_zero,         std::string(9, '\xff')};
  for (const std::string& data : cases) {
    auto got = decode_conf_change(data);
    ASSERT_FALSE(got.ok()) << "decoded " << data.size() << " bytes";
    EXPECT_EQ(got.code(), ErrorCode::data_loss);
  }
}

TEST(ConfChangeTest, RandomBytesNeverDecodeToNodeZeroOrABadType) {
  uint64_t seed = std::random_device{}();
  std::cout << "seed " << seed << std::endl;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 2000; ++i) {
    std::string data(rng() % 12, '\0');
    for (char& c : data) c = static_cast<char>(rng() % 4 == 0 ? rng() % 4 : rng());
    auto got = decode_conf_change(data);
    if (!got.ok()) {
      EXPECT_EQ(got.code(), ErrorCode::data_loss);
      continue;
    }
    EXPECT_EQ(data.size(), 9u);
    EXPECT_NE(got->node, kNoNode);
    EXPECT_LE(static_cast<int>(got->type), 2);
    EXPECT_EQ(encode_conf_change(*got), data);
  }
}

TEST(ConfChangeTest, AddVoterAndLearner) {
  auto with_voter = apply_conf_change(conf({1, 3}), change(ConfChangeType::add_voter, 2));
  ASSERT_TRUE(with_voter.ok()) << with_voter.error().to_string();
  EXPECT_EQ(*with_voter, conf({1, 2, 3}));
  EXPECT_TRUE(is_voter(*with_voter, 2));
  EXPECT_FALSE(is_learner(*with_voter, 2));

  auto with_learner = apply_conf_change(*with_voter, change(ConfChangeType::add_learner, 9));
  ASSERT_TRUE(with_learner.ok()) << with_learner.error().to_string();
  EXPECT_EQ(*with_learner, conf({1, 2, 3}, {9}));
  EXPECT_TRUE(is_learner(*with_learner, 9));
  EXPECT_FALSE(is_voter(*with_learner, 9));

  // Into an empty configuration (how bootstrap builds the first one).
  auto first = apply_conf_change(ConfState{}, change(ConfChangeType::add_voter, 4));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, conf({4}));
}

TEST(ConfChangeTest, PromoteLearnerAndDemoteVoter) {
  auto promoted = apply_conf_change(conf({1, 2}, {3, 4}), change(ConfChangeType::add_voter, 3));
  ASSERT_TRUE(promoted.ok()) << promoted.error().to_string();
  EXPECT_EQ(*promoted, conf({1, 2, 3}, {4}));

  auto demoted = apply_conf_change(*promoted, change(ConfChangeType::add_learner, 1));
  ASSERT_TRUE(demoted.ok()) << demoted.error().to_string();
  EXPECT_EQ(*demoted, conf({2, 3}, {1, 4}));
}

TEST(ConfChangeTest, RemoveVoterAndLearner) {
  auto no_voter = apply_conf_change(conf({1, 2, 3}, {4}), change(ConfChangeType::remove_node, 2));
  ASSERT_TRUE(no_voter.ok()) << no_voter.error().to_string();
  EXPECT_EQ(*no_voter, conf({1, 3}, {4}));
  auto no_learner = apply_conf_change(*no_voter, change(ConfChangeType::remove_node, 4));
  ASSERT_TRUE(no_learner.ok()) << no_learner.error().to_string();
  EXPECT_EQ(*no_learner, conf({1, 3}));
  // The last learner may go even when only one voter is left.
  auto lone = apply_conf_change(conf({1}, {2}), change(ConfChangeType::remove_node, 2));
  ASSERT_TRUE(lone.ok());
  EXPECT_EQ(*lone, conf({1}));
}

TEST(ConfChangeTest, RefusedChangesLeaveTheInputAlone) {
  const ConfState base = conf({1, 2}, {5});
  struct Case {
    ConfState from;
    ConfChange change;
    ErrorCode code;
  };
  std::vector<Case> cases = {
      {base, change(ConfChangeType::add_voter, 1), ErrorCode::already_exists},
      {base, change(ConfChangeType::add_learner, 5), ErrorCode::already_exists},
      {base, change(ConfChangeType::remove_node, 9), ErrorCode::not_found},
      {base, change(ConfChangeType::add_voter, kNoNode), ErrorCode::invalid_argument},
      {base, change(ConfChangeType::add_learner, kNoNode), ErrorCode::invalid_argument},
      {base, change(ConfChangeType::remove_node, kNoNode), ErrorCode::invalid_argument},
      {conf({1}, {5}), change(ConfChangeType::remove_node, 1), ErrorCode::invalid_argument},
      {conf({1}, {5}), change(ConfChangeType::add_learner, 1), ErrorCode::invalid_argument},
      {conf({1}), change(ConfChangeType::remove_node, 1), ErrorCode::invalid_argument},
      {ConfState{}, change(ConfChangeType::remove_node, 1), ErrorCode::not_found},
  };
  for (const Case& c : cases) {
    ConfState input = c.from;
    auto got = apply_conf_change(input, c.change);
    ASSERT_FALSE(got.ok()) << "type " << static_cast<int>(c.change.type) << " node "
                           << c.change.node;
    EXPECT_EQ(got.code(), c.code) << got.error().to_string();
    EXPECT_FALSE(got.error().message.empty());
    EXPECT_EQ(input, c.from);
  }
  auto last = apply_conf_change(conf({1}), change(ConfChangeType::remove_node, 1));
  EXPECT_NE(last.error().message.find("last voter"), std::string::npos) << last.error().message;
}

TEST(ConfChangeTest, RandomChangeSequencesKeepTheInvariants) {
  uint64_t seed = std::random_device{}();
  std::cout << "seed " << seed << std::endl;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  ConfState c = conf({1});
  int applied = 0;
  for (int i = 0; i < 3000; ++i) {
    ConfChange next = change(static_cast<ConfChangeType>(rng() % 3), 1 + rng() % 8);
    auto got = apply_conf_change(c, next);
    if (!got.ok()) continue;
    ++applied;
    ASSERT_TRUE(well_formed(*got)) << "after step " << i;
    switch (next.type) {
      case ConfChangeType::add_voter:
        ASSERT_TRUE(is_voter(*got, next.node));
        break;
      case ConfChangeType::add_learner:
        ASSERT_TRUE(is_learner(*got, next.node));
        break;
      case ConfChangeType::remove_node:
        ASSERT_FALSE(is_voter(*got, next.node) || is_learner(*got, next.node));
        break;
    }
    // Only the named node changes.
    for (NodeId other = 1; other <= 8; ++other) {
      if (other == next.node) continue;
      ASSERT_EQ(is_voter(c, other), is_voter(*got, other));
      ASSERT_EQ(is_learner(c, other), is_learner(*got, other));
    }
    c = std::move(*got);
  }
  EXPECT_GT(applied, 100);
}

}  // namespace
}  // namespace nca::raft
