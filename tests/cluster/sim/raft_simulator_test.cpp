// The Raft simulation over many seeds (the CI share of issue #6: at least 1,000 seeds), plus the
// harness's own properties: determinism, real faults, and that it does catch a violation.
#include "cluster/sim/raft_simulator.hpp"

#include "tests/support/shell_command.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <string>

namespace nca::raft::sim {
namespace {

// Runs seeds [base, base + count) and stops at the first failure, naming the seed to replay.
SimStats run_seeds(uint64_t base, uint64_t count, size_t nodes) {
  std::cout << "seeds " << base << ".." << base + count - 1 << ", " << nodes << " nodes\n";
  SimOptions options;
  options.nodes = nodes;
  SimStats total;
  for (uint64_t seed = base; seed < base + count; ++seed) {
    SimResult r = run_simulation(seed, options);
    if (!r.ok) {
      ADD_FAILURE() << describe(r) << "\nreplay: nca-raft-sim --seeds 1 --seed-base " << seed
                    << " --nodes " << nodes << " --trace";
      break;
    }
    total.crashes += r.stats.crashes;
    total.lost_writes += r.stats.lost_writes;
    total.partitions += r.stats.partitions;
    total.dropped += r.stats.dropped;
    total.duplicated += r.stats.duplicated;
    total.snapshots_sent += r.stats.snapshots_sent;
    total.conf_changes += r.stats.conf_changes;
    total.transfers += r.stats.transfers;
    total.ops_completed += r.stats.ops_completed;
    total.leaders += r.stats.leaders;
    total.committed += r.stats.committed;
  }
  return total;
}

// 1,000 seeds in all, split so CTest can run the shares in parallel.
TEST(RaftSimulationTest, ThreeNodesSeeds1To300) { run_seeds(1, 300, 3); }
TEST(RaftSimulationTest, ThreeNodesSeeds301To600) { run_seeds(301, 300, 3); }
TEST(RaftSimulationTest, FiveNodesSeeds1To150) { run_seeds(1, 150, 5); }
TEST(RaftSimulationTest, FiveNodesSeeds151To300) { run_seeds(151, 150, 5); }
TEST(RaftSimulationTest, SevenNodesSeeds1To100) { run_seeds(1, 100, 7); }

TEST(RaftSimulationTest, TheFaultsAndFeaturesAreActuallyExercised) {
  SimStats s = run_seeds(10'001, 60, 5);
  EXPECT_GT(s.crashes, 0u);
  EXPECT_GT(s.lost_writes, 0u);
  EXPECT_GT(s.partitions, 0u);
  EXPECT_GT(s.dropped, 0u);
  EXPECT_GT(s.duplicated, 0u);
  EXPECT_GT(s.snapshots_sent, 0u);
  EXPECT_GT(s.conf_changes, 0u);
  EXPECT_GT(s.transfers, 0u);
  EXPECT_GT(s.ops_completed, 0u);
  EXPECT_GT(s.leaders, 60u);  // more than one leader per run on average
  EXPECT_GT(s.committed, 0u);
}

TEST(RaftSimulationTest, ASeedReplaysExactly) {
  SimOptions options;
  options.nodes = 5;
  options.trace = true;
  SimResult a = run_simulation(4242, options);
  SimResult b = run_simulation(4242, options);
  ASSERT_TRUE(a.ok) << describe(a);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(describe(a), describe(b));
  EXPECT_GT(a.trace.size(), 100u);
  SimResult c = run_simulation(4243, options);
  EXPECT_NE(a.trace, c.trace);
}

TEST(RaftSimulationTest, WithoutFaultsEveryClientOperationCompletes) {
  SimOptions options;
  options.faults = false;
  options.steps = 1500;
  SimResult r = run_simulation(7, options);
  ASSERT_TRUE(r.ok) << describe(r);
  EXPECT_GT(r.stats.ops, 50u);
  EXPECT_EQ(r.stats.ops_completed, r.stats.ops);
  EXPECT_EQ(r.stats.leaders, 1u);
}

TEST(RaftSimulationTest, ACorruptedApplyIsCaughtAndTheFailureReplays) {
  SimOptions options;
  options.sabotage_apply = true;
  SimResult r = run_simulation(11, options);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("state-machine safety"), std::string::npos) << r.failure;
  SimResult again = run_simulation(11, options);
  EXPECT_EQ(r.failure, again.failure);
  EXPECT_NE(describe(r).find("seed 11 FAILED"), std::string::npos);
}

TEST(RaftSimulationTest, BadOptionsFailWithAMessage) {
  SimOptions options;
  options.nodes = 0;
  SimResult r = run_simulation(1, options);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("1 to 15 nodes"), std::string::npos) << r.failure;
}

// --- the nca-raft-sim binary
// ----------------------------------------------------------------------

nca::testing::CommandResult run_tool(const std::string& args) {
  return nca::testing::run_shell(std::string(NCA_BIN_DIR) + "/nca-raft-sim " + args + " 2>&1");
}

TEST(RaftSimToolTest, PassingSeedsExitZeroWithASummary) {
  auto r = run_tool("--seeds 20 --seed-base 500 --nodes 3 -q --jobs 2");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("20 seeds passed (500..519, 3 nodes)"), std::string::npos) << r.out;
}

TEST(RaftSimToolTest, AFailingSeedExitsOneWithItsTraceAndReplayCommand) {
  auto r = run_tool("--seeds 5 --seed-base 30 --sabotage -q");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("seed 30 FAILED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--- trace of seed 30"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("replay: nca-raft-sim --seeds 1 --seed-base 30"), std::string::npos);
  EXPECT_EQ(r.out.find("not deterministic"), std::string::npos) << r.out;
}

TEST(RaftSimToolTest, BadArgumentsExitTwo) {
  EXPECT_EQ(run_tool("--nodes 0").exit_code, 2);
  EXPECT_EQ(run_tool("--seeds banana").exit_code, 2);
  EXPECT_EQ(run_tool("--no-such-flag").exit_code, 2);
}

}  // namespace
}  // namespace nca::raft::sim
