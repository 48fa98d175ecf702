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

#include "cluster/membership/node_number.hpp"
#include "tests/support/loopback_port.hpp"
#include "tests/support/shell_command.hpp"

namespace nca {
namespace {

using Json = nlohmann::json;

class LocalCluster {
 public:
  LocalCluster() {
    dir_ = (std::filesystem::temp_directory_path() /
            ("nca-metadata-failover-" + std::to_string(::getpid())))
               .string();
    std::mt19937 rng(std::random_device{}());
    base_ = testing::fixed_port_base(16, rng());
    env_ = "LOCAL_CLUSTER_DIR=" + dir_ + " BASE_PORT=" + std::to_string(base_) +
           " LOCAL_CLUSTER_BIN=" + NCA_BIN_DIR +
           " LOCAL_CLUSTER_ARGS='--cluster.dead-after 2s --cluster.heartbeat-interval 200ms' ";
    script_ = std::string(NCA_SOURCE_DIR) + "/scripts/local-cluster";
  }
  ~LocalCluster() {
    (void)run("stop");
    std::filesystem::remove_all(dir_);
  }

  testing::CommandResult run(const std::string& args) {
    return testing::run_shell(env_ + script_ + " " + args + " 2>&1");
  }
  // `nca --json cluster status` of node i, parsed; null when it does not answer.
  Json status(int i) {
    auto r = testing::run_shell(std::string(NCA_BIN_DIR) + "/nca --json --addr 127.0.0.1:" +
                                std::to_string(base_ + i) + " cluster status 2>/dev/null");
    if (r.exit_code != 0) return nullptr;
    Json j = Json::parse(r.out, nullptr, false);
    return j.is_discarded() ? Json(nullptr) : j;
  }
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

std::string number(int i) {
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
Json member(const Json& status, int i) {
  if (!status.is_object() || !status.contains("members")) return nullptr;
  for (const auto& m : status["members"]) {
    if (field<std::string>(m, "node", "") == number(i)) return m;
  }
  return nullptr;
}

bool poll(const std::function<bool()>& cond, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {  // bounded by the deadline
    if (cond()) return true;
    usleep(200'000);  // ok-sleep: polling interval between CLI calls
  }
  return cond();
}

TEST(MetadataFailover, LeaderKilledAnotherLeadsAndTheOldOneComesBack) {
  LocalCluster c;
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
