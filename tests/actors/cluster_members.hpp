// tests/actors/cluster_members.hpp: in-process nodes of a test cluster on loopback, each with
// its own data directory and an SDK client, stopped and removed when the Member goes.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/node.hpp"
#include "nca/client.hpp"
#include "tests/actors/node_test_util.hpp"
#include "tests/support/loopback_port.hpp"

namespace nca::testing {

struct Member {
  std::string dir;
  std::unique_ptr<actors::Node> node;
  std::unique_ptr<Client> client;

  ~Member() {
    client.reset();
    if (node) (void)node->stop();
    node.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(node->port()); }
  // Peers this node sees in `state`, linked.
  size_t peers_in(const std::string& state) {
    auto status = client->cluster_status();
    if (!status) return 0;
    size_t n = 0;
    for (const auto& p : status->peers()) n += (p.state() == state && p.linked()) ? 1 : 0;
    return n;
  }
  std::string state_of(uint64_t node) {
    auto status = client->cluster_status();
    if (!status) return "error: " + status.error().message;
    for (const auto& p : status->peers()) {
      if (p.node() == node) return p.state();
    }
    return "absent";
  }
};

inline std::unique_ptr<Member> start_member(
    const std::string& name, std::vector<std::string> seeds, const std::string& secret = "",
    const std::string& dir = "", const std::string& listen = "",
    const std::function<void(config::Settings&)>& tweak = nullptr) {
  auto m = std::make_unique<Member>();
  m->dir = dir.empty() ? testing::make_temp_dir("nca-cluster") : dir;
  config::Settings s = testing::test_settings(m->dir);
  s.node.id = name;
  s.cluster.seeds = std::move(seeds);
  s.cluster.join_secret = secret;
  if (!listen.empty()) s.node.listen = listen;
  if (tweak) tweak(s);
  s.cluster.heartbeat_interval = 100'000;
  s.cluster.dead_after = 1'000'000;
  auto node = actors::Node::start(s, nullptr);
  EXPECT_TRUE(node.ok()) << node.error().message;
  if (!node) return m;
  m->node = std::move(*node);
  auto client = Client::connect({m->address()});
  EXPECT_TRUE(client.ok()) << client.error().message;
  if (client) m->client = std::move(*client);
  return m;
}

// The first node of a cluster: it lists its own address as the only seed, so it founds the
// cluster and places shards (a node without seeds is standalone).
inline std::unique_ptr<Member> start_founder(
    const std::string& name, const std::function<void(config::Settings&)>& tweak = nullptr,
    const std::string& dir = "", const std::string& secret = "") {
  const std::string address = "127.0.0.1:" + std::to_string(unused_loopback_port());
  return start_member(name, {address}, secret, dir, address, tweak);
}

}  // namespace nca::testing
