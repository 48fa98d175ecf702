// The metadata group across real processes (scripts/local-cluster): three nca-node processes end
// with three voters under the founder; SIGKILL of the founder, the leader, makes the other two
// elect a new leader and record it dead; `local-cluster start 1` brings it back on its data as a
// new incarnation, alive again. Each wait is bounded.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "tests/integration/local_cluster_util.hpp"

namespace nca {
namespace {

using testing::field;
using testing::Json;
using testing::LocalCluster;
using testing::member;
using testing::number;
using testing::poll;

TEST(MetadataFailover, LeaderKilledAnotherLeadsAndTheOldOneComesBack) {
  LocalCluster c("metadata-failover");
  auto started = c.run("3");
  ASSERT_EQ(started.exit_code, 0) << started.out;
  Json s;
  ASSERT_TRUE(poll(
      [&] {
        s = c.status(2);
        int voters = 0;
        for (int i = 1; i <= 3; ++i)
          voters += field<std::string>(member(s, i), "metadata_role", "") == "voter";
        return voters == 3 && field<std::string>(s, "metadata_leader", "") == number(1);
      },
      std::chrono::seconds(30)))
      << s.dump();

  ASSERT_EQ(::kill(c.pid(1), SIGKILL), 0);
  ASSERT_TRUE(poll(
      [&] {
        s = c.status(2);
        const std::string leader = field<std::string>(s, "metadata_leader", "");
        return !leader.empty() && leader != "0" && leader != number(1) &&
               field<bool>(member(s, 1), "dead", false);
      },
      std::chrono::seconds(30)))
      << s.dump();

  auto again = c.run("start 1");
  ASSERT_EQ(again.exit_code, 0) << again.out;
  ASSERT_TRUE(poll(
      [&] {
        s = c.status(3);
        Json a = member(s, 1);
        return a.is_object() && !field<bool>(a, "dead", false) &&
               std::stoull(field<std::string>(a, "incarnation", "0")) >= 2 &&
               field<std::string>(a, "metadata_role", "") == "voter";
      },
      std::chrono::seconds(30)))
      << s.dump();
  EXPECT_EQ(c.run("start 1").exit_code, 2) << "already running";
  EXPECT_EQ(c.run("start 9").exit_code, 2) << "no such node";
}

}  // namespace
}  // namespace nca
