// check_grow_only_sets: a good history passes; a phantom, a lost write, two disagreeing reads and a
// read that goes back are each caught and named.
#include "cluster/sim/set_history.hpp"

#include <gtest/gtest.h>

namespace nca::raft::sim {
namespace {

SetOperation add(const std::string& e, uint64_t call, uint64_t ret, bool completed = true) {
  SetOperation op;
  op.kind = SetOperation::Kind::add;
  op.set = "ada";
  op.element = e;
  op.call = call;
  op.ret = ret;
  op.completed = completed;
  return op;
}

SetOperation read(std::vector<std::string> seen, uint64_t call, uint64_t ret) {
  SetOperation op;
  op.kind = SetOperation::Kind::read;
  op.set = "ada";
  op.elements = std::move(seen);
  op.call = call;
  op.ret = ret;
  return op;
}

TEST(SetHistoryTest, AConsistentHistoryPasses) {
  auto r = check_grow_only_sets({add("a", 0, 10), read({}, 1, 2), read({"a"}, 5, 6),
                                 add("b", 12, 20, false), read({"a"}, 11, 13),
                                 read({"a", "b"}, 21, 22), read({"a", "b"}, 23, 24)});
  EXPECT_TRUE(r.ok) << r.explanation;
  EXPECT_EQ(r.reads, 5u);
}

TEST(SetHistoryTest, EachViolationIsNamed) {
  auto phantom = check_grow_only_sets({read({"z"}, 0, 1), add("z", 5, 6)});
  EXPECT_FALSE(phantom.ok);
  EXPECT_NE(phantom.explanation.find("no add had been invoked"), std::string::npos);
  auto lost = check_grow_only_sets({add("a", 0, 1), read({}, 2, 3)});
  EXPECT_FALSE(lost.ok);
  EXPECT_NE(lost.explanation.find("completed at 1"), std::string::npos) << lost.explanation;
  auto split = check_grow_only_sets(
      {add("a", 0, 100), add("b", 0, 100), read({"a"}, 10, 20), read({"b"}, 10, 20)});
  EXPECT_FALSE(split.ok);
  EXPECT_NE(split.explanation.find("disagree"), std::string::npos);
  auto back = check_grow_only_sets({add("a", 0, 100), read({"a"}, 10, 20), read({}, 30, 40)});
  EXPECT_FALSE(back.ok);
  EXPECT_NE(back.explanation.find("went back"), std::string::npos);
  EXPECT_EQ(back.set, "ada");
}

}  // namespace
}  // namespace nca::raft::sim
