// scripts/local-cluster starts real nca-node processes that join through the first one; every node
// then sees the other two alive and linked in `nca cluster status`, and all three as voting
// members of the metadata group; the script stops them all.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <sstream>
#include <string>

#include "tests/support/loopback_port.hpp"
#include "tests/support/shell_command.hpp"

namespace nca {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Rows of the members tables (alive, a voter of the metadata group) across the nodes' status.
size_t voting_members(const std::string& status) {
  size_t n = 0;
  std::istringstream lines(status);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" alive ") != std::string::npos && line.find(" voter ") != std::string::npos) ++n;
  }
  return n;
}

TEST(LocalClusterScript, ThreeProcessesJoinThroughOneSeedAndStop) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("nca-local-cluster-test-" + std::to_string(::getpid())))
                              .string();
  // Fixed ports are the script's interface; a random base keeps parallel runs apart.
  std::mt19937 rng(std::random_device{}());
  const int base = testing::fixed_port_base(16, rng());
  const std::string env = "LOCAL_CLUSTER_DIR=" + dir + " BASE_PORT=" + std::to_string(base) +
                          " LOCAL_CLUSTER_BIN=" + NCA_BIN_DIR + " ";
  const std::string script = std::string(NCA_SOURCE_DIR) + "/scripts/local-cluster";

  // Whatever happens below, no node outlives the test.
  struct StopAll {
    std::string command;
    ~StopAll() { (void)testing::run_shell(command); }
  } stop_all{env + script + " stop >/dev/null 2>&1"};
  auto started = testing::run_shell(env + script + " 3 2>&1");
  ASSERT_EQ(started.exit_code, 0) << started.out;
  EXPECT_NE(started.out.find("3 nodes running"), std::string::npos) << started.out;

  // Heartbeats link everyone within a few hundred milliseconds, the metadata group adds a member
  // every few ticks; poll, bounded. Each node prints its 2 peers (rows ending in linked "yes") and
  // the 3 members.
  std::string status;
  bool meshed = false;
  for (int attempt = 0; attempt < 200 && !meshed; ++attempt) {
    status = testing::run_shell(env + script + " status 2>&1").out;
    meshed = count(status, " yes\n") == 6 && voting_members(status) == 9;
    if (!meshed) usleep(100'000);  // ok-sleep: polling interval
  }
  auto stopped = testing::run_shell(env + script + " stop 2>&1");
  EXPECT_TRUE(meshed) << status;
  EXPECT_EQ(stopped.exit_code, 0) << stopped.out;
  EXPECT_NE(stopped.out.find("stopped"), std::string::npos) << stopped.out;
  auto again = testing::run_shell(env + script + " stop 2>&1");
  EXPECT_NE(again.out.find("no nodes running"), std::string::npos) << again.out;
  auto bad = testing::run_shell(env + script + " 0 2>&1");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nca
