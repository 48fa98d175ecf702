// One process hosts many Raft groups: the state per group is small and nothing in Raft is shared or
// global, so groups never interfere. (The memory per group is printed for docs/raft.md, not
// asserted.)
#include <gtest/gtest.h>
#include <malloc.h>

#include <iostream>
#include <memory>
#include <vector>

#include "tests/cluster/raft/raft_test_cluster.hpp"

namespace nca::raft {
namespace {

TEST(RaftManyGroupsTest, AThousandGroupsElectAndCommitIndependently) {
  constexpr size_t kGroups = 1000;
  size_t heap_before = mallinfo2().uordblks;
  std::vector<std::unique_ptr<test_support::TestCluster>> groups;
  for (size_t g = 0; g < kGroups; ++g) {
    RaftConfig base;
    base.seed = g;
    groups.push_back(std::make_unique<test_support::TestCluster>(3, 3, base));
  }
  for (size_t g = 0; g < kGroups; ++g) {
    NodeId leader = 1 + g % 3;  // spread leaders over the three "nodes"
    groups[g]->elect(leader);
    ASSERT_TRUE(groups[g]->node(leader).propose("group-" + std::to_string(g)).ok());
    groups[g]->stabilize();
  }
  size_t heap_after = mallinfo2().uordblks;
  for (size_t g = 0; g < kGroups; ++g) {
    for (NodeId id = 1; id <= 3; ++id) {
      auto data = groups[g]->applied_data(id);
      ASSERT_EQ(data.size(), 1u) << "group " << g << " node " << id;
      EXPECT_EQ(data[0], "group-" + std::to_string(g));
    }
  }
  std::cout << "heap per group of 3 replicas (Raft, in-memory log, test driver): "
            << (heap_after - heap_before) / kGroups << " bytes; sizeof(Raft) " << sizeof(Raft)
            << " bytes\n";
}

}  // namespace
}  // namespace nca::raft
