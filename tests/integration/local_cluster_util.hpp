// tests/integration/local_cluster_util.hpp: a cluster of real nca-node processes started by
// scripts/local-cluster on a random port range, stopped (and its directory removed) when the
// object goes; the CLI's JSON status of a node; bounded polling.
#pragma once

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

#include "cluster/membership/node_number.hpp"
#include "tests/support/loopback_port.hpp"
#include "tests/support/shell_command.hpp"

namespace nca::testing {

using Json = nlohmann::json;

// The fault tests' clusters: four shards, quick elections and failure detection; no consolidation
// and room in short-term memory, so a persona's memories only grow during a test (its history can
// be checked as a grow-only set).
constexpr uint32_t kFaultTestShards = 4;
constexpr const char* kFaultTestArgs =
    "--cluster.shards 4 --raft.tick 20ms --cluster.dead-after 2s --cluster.heartbeat-interval "
    "200ms --lymphatic.enabled false --memory.stm-capacity 100000";

class LocalCluster {
 public:
  // `name` keeps the directories of parallel tests apart; `args` go to every node.
  explicit LocalCluster(
      const std::string& name,
      const std::string& args = "--cluster.dead-after 2s --cluster.heartbeat-interval 200ms") {
    dir_ = (std::filesystem::temp_directory_path() /
            ("nca-" + name + "-" + std::to_string(::getpid())))
               .string();
    std::mt19937 rng(std::random_device{}());
    base_ = testing::fixed_port_base(16, rng());
    env_ = "LOCAL_CLUSTER_DIR=" + dir_ + " BASE_PORT=" + std::to_string(base_) +
           " LOCAL_CLUSTER_BIN=" + NCA_BIN_DIR + " LOCAL_CLUSTER_ARGS='" + args + "' ";
    script_ = std::string(NCA_SOURCE_DIR) + "/scripts/local-cluster";
  }
  ~LocalCluster() {
    (void)run("stop");
    std::filesystem::remove_all(dir_);
  }

  testing::CommandResult run(const std::string& args) {
    return testing::run_shell(env_ + script_ + " " + args + " 2>&1");
  }
  // `nca --json cluster status` of node i, parsed; null when it does not answer, and then
  // `*error` (if given) holds what the CLI said.
  Json status(int i, std::string* error = nullptr) {
    auto r = testing::run_shell(std::string(NCA_BIN_DIR) + "/nca --json --addr 127.0.0.1:" +
                                std::to_string(base_ + i) + " cluster status 2>&1");
    Json j = r.exit_code == 0 ? Json::parse(r.out, nullptr, false) : Json();
    if (r.exit_code != 0 || j.is_discarded()) {
      if (error != nullptr) *error = "exit " + std::to_string(r.exit_code) + ": " + r.out;
      return nullptr;
    }
    return j;
  }
  // The last `lines` lines of node i's log, for a failure message.
  std::string log_tail(int i, int lines = 40) {
    auto r = testing::run_shell("tail -n " + std::to_string(lines) + " " + log_path(i) + " 2>&1");
    return r.out;
  }
  // `nca --addr <node i> <args>`, its exit code and output.
  testing::CommandResult cli(int i, const std::string& args) {
    return testing::run_shell(std::string(NCA_BIN_DIR) + "/nca --addr 127.0.0.1:" +
                              std::to_string(base_ + i) + " " + args + " 2>&1");
  }
  std::string address(int i) const { return "127.0.0.1:" + std::to_string(base_ + i); }
  std::string log_path(int i) const { return dir_ + "/node-" + std::to_string(i) + "/log"; }
  int pid(int i) {
    std::ifstream in(dir_ + "/node-" + std::to_string(i) + "/pid");
    int p = 0;
    in >> p;
    return p;
  }

 private:
  std::string dir_, env_, script_;
  int base_ = 0;
};

inline std::string number(int i) {
  return std::to_string(membership::node_number("node-" + std::to_string(i)));
}

// A field of a JSON object, or `fallback` when the object or the field is missing (protobuf's JSON
// leaves out default values, and writes 64-bit numbers as strings).
template <class T>
T field(const Json& j, const char* key, T fallback) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  return j[key].get<T>();
}

// The member entry of node i in a status, or null.
inline Json member(const Json& status, int i) {
  if (!status.is_object() || !status.contains("members")) return nullptr;
  for (const auto& m : status["members"]) {
    if (field<std::string>(m, "node", "") == number(i)) return m;
  }
  return nullptr;
}

inline bool poll(const std::function<bool()>& cond, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {  // bounded by the deadline
    if (cond()) return true;
    usleep(200'000);  // ok-sleep: polling interval between CLI calls
  }
  return cond();
}

// The leader of every shard of a fault-test cluster as node i reports it ("" while one has none).
inline std::vector<std::string> shard_leaders(LocalCluster& c, int i) {
  Json s = c.status(i);
  std::vector<std::string> out(kFaultTestShards);
  if (!s.is_object() || !s.contains("shards")) return {};
  for (const auto& sh : s["shards"]) {
    auto shard = field<uint32_t>(sh, "shard", 0);
    std::string leader = field<std::string>(sh, "leader", "");
    if (shard < kFaultTestShards && leader != "0") out[shard] = leader;
  }
  for (const auto& l : out) {
    if (l.empty()) return {};
  }
  return out;
}

}  // namespace nca::testing
