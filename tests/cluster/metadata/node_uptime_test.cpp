#include "cluster/metadata/node_uptime.hpp"

#include <gtest/gtest.h>

namespace nca::metadata {
namespace {

using std::chrono::seconds;

NodeSighting live(uint64_t node, uint64_t incarnation) {
  return NodeSighting{node, incarnation, "127.0.0.1:1", true, false};
}

NodeSighting suspected(uint64_t node, uint64_t incarnation) {
  return NodeSighting{node, incarnation, "127.0.0.1:1", false, false};
}

TEST(NodeUptime, AStretchRunsFromTheFirstLiveSighting) {
  NodeUptime up;
  const NodeUptime::Time t0{};
  EXPECT_FALSE(up.up_for(2, seconds(0), t0)) << "never seen";
  up.observe({live(2, 1)}, t0);
  EXPECT_TRUE(up.up_for(2, seconds(0), t0));
  EXPECT_FALSE(up.up_for(2, seconds(3), t0 + seconds(2)));
  up.observe({live(2, 1)}, t0 + seconds(2));
  EXPECT_TRUE(up.up_for(2, seconds(3), t0 + seconds(3)));
}

TEST(NodeUptime, ASuspicionARestartOrAnAbsenceStartsItAgain) {
  NodeUptime up;
  const NodeUptime::Time t0{};
  up.observe({live(2, 1), live(3, 1), live(4, 1)}, t0);
  up.observe({suspected(2, 1), live(3, 2)}, t0 + seconds(5));
  EXPECT_FALSE(up.up_for(2, seconds(1), t0 + seconds(6))) << "suspected";
  EXPECT_FALSE(up.up_for(3, seconds(3), t0 + seconds(6))) << "restarted: a new incarnation";
  EXPECT_TRUE(up.up_for(3, seconds(1), t0 + seconds(6)));
  EXPECT_FALSE(up.up_for(4, seconds(1), t0 + seconds(6))) << "not seen in the last round";
  up.observe({live(2, 1), live(3, 2), live(4, 1)}, t0 + seconds(7));
  EXPECT_FALSE(up.up_for(2, seconds(3), t0 + seconds(8))) << "its stretch began at 7 s";
  EXPECT_TRUE(up.up_for(2, seconds(3), t0 + seconds(10)));
}

}  // namespace
}  // namespace nca::metadata
