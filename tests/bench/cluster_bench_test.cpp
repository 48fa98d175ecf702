// `nca-bench cluster` runs end to end with tiny sizes: three nca-node processes, one failover, a
// standalone node, a one-node cluster, three etcd members and one; it prints every key issue #7
// asks for, and what the nodes counted per remember (their /metrics), with positive values and no
// errors (no timing is checked); bad arguments are refused with exit code 2 and nothing on stdout.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "tests/support/shell_command.hpp"

namespace {

std::string bench(const std::string& args, int* exit_code) {
  auto r = nca::testing::run_shell(std::string(NCA_BIN_DIR) + "/nca-bench cluster --json " + args +
                                   " 2>/dev/null");
  *exit_code = r.exit_code;
  return r.out;
}

TEST(ClusterBench, PrintsEveryKeyWithPositiveValues) {
  int code = -1;
  std::string out =
      bench("--clients 4 --writes 120 --recalls 40 --personas 8 --failovers 1 --shards 4", &code);
  ASSERT_EQ(code, 0) << out;
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  for (const char* key :
       {"remember_per_s", "remember_p99_us", "single_node_remember_per_s", "failover_ms_median",
        "etcd_put_per_s", "etcd_put_p99_us", "recall_p50_us", "recall_p99_us",
        "etcd_single_put_per_s", "etcd_single_put_p99_us", "remember_cpu_us",
        "single_node_remember_cpu_us", "etcd_put_cpu_us", "etcd_single_put_cpu_us",
        "remember_server_cpu_us", "single_node_remember_server_cpu_us", "etcd_put_server_cpu_us",
        "etcd_single_put_server_cpu_us", "remember_server_switches_per_call",
        "single_node_remember_server_switches_per_call", "etcd_put_server_switches_per_call",
        "etcd_single_put_server_switches_per_call", "remember_durable_writes_per_call",
        "remember_raft_rounds_per_call", "remember_peer_frames_per_call",
        "single_node_remember_durable_writes_per_call",
        // A one-node cluster runs Raft (rounds, synced log writes) alone.
        "one_replica_remember_per_s", "one_replica_remember_p99_us",
        "one_replica_remember_server_cpu_us", "one_replica_remember_server_switches_per_call",
        "one_replica_remember_durable_writes_per_call",
        "one_replica_remember_raft_rounds_per_call"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    ASSERT_TRUE(j[key].is_number()) << key << " = " << j[key];
    EXPECT_GT(j[key].get<double>(), 0) << key;
  }
  // Counted by the nodes themselves (their /metrics): the leader changes seen during the phase (the
  // rebalancer may still move a leadership), and no frames from a standalone node, which has no
  // peers.
  ASSERT_TRUE(j["remember_leader_changes"].is_number()) << j["remember_leader_changes"];
  EXPECT_EQ(j["single_node_remember_peer_frames_per_call"], 0);
  EXPECT_EQ(j["one_replica_remember_peer_frames_per_call"], 0);
  // A standalone node has no Raft group at all.
  EXPECT_EQ(j["single_node_remember_raft_rounds_per_call"], 0);
  // A standalone node has no one to forward to; in the cluster the SDK learns where each persona
  // is served, so at most a share of the calls is forwarded.
  EXPECT_EQ(j["single_node_remember_forwarded_per_call"], 0);
  ASSERT_TRUE(j["remember_forwarded_per_call"].is_number()) << j["remember_forwarded_per_call"];
  EXPECT_LT(j["remember_forwarded_per_call"].get<double>(), 1.0);
  EXPECT_EQ(j["remember_errors"], 0);
  EXPECT_EQ(j["single_node_remember_errors"], 0);
  EXPECT_EQ(j["one_replica_remember_errors"], 0);
  EXPECT_EQ(j["etcd_put_errors"], 0);
  EXPECT_EQ(j["etcd_single_put_errors"], 0);
  ASSERT_TRUE(j["failover_ms"].is_array());
  EXPECT_EQ(j["failover_ms"].size(), 1u);
}

TEST(ClusterBench, RejectsBadArguments) {
  for (const char* args : {"--nodes 2", "--clients 0", "--writes 0", "--no-such-option"}) {
    int code = -1;
    std::string out = bench(args, &code);
    EXPECT_EQ(code, 2) << args;
    EXPECT_TRUE(out.empty()) << args << ": " << out;
  }
}

}  // namespace
