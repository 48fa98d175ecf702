// Nodes join through cluster.seeds: three in-process nodes on loopback find each other through one
// seed, see each other alive, and see a stopped node go suspected, then dead. A node with another
// join secret stays out. (docs/cluster.md)
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster/membership/node_number.hpp"
#include "tests/actors/node_test_util.hpp"

namespace nca {
namespace {

using testing::make_temp_dir;
using testing::test_settings;
using testing::wait_until;

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

std::unique_ptr<Member> start_member(const std::string& name, std::vector<std::string> seeds,
                                     const std::string& secret = "") {
  auto m = std::make_unique<Member>();
  m->dir = make_temp_dir("nca-cluster");
  config::Settings s = test_settings(m->dir);
  s.node.id = name;
  s.cluster.seeds = std::move(seeds);
  s.cluster.join_secret = secret;
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

TEST(ClusterMembershipTest, NodesJoinThroughOneSeedAndWatchEachOther) {
  auto a = start_member("node-a", {}, "s3cret");
  ASSERT_TRUE(a->node && a->client);
  auto b = start_member("node-b", {a->address()}, "s3cret");
  auto c = start_member("node-c", {a->address()}, "s3cret");
  ASSERT_TRUE(b->client && c->client);
  ASSERT_TRUE(wait_until([&] {
    return a->peers_in("alive") == 2 && b->peers_in("alive") == 2 && c->peers_in("alive") == 2;
  })) << "a sees "
      << a->peers_in("alive") << ", b " << b->peers_in("alive") << ", c " << c->peers_in("alive");

  auto status = b->client->cluster_status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->node_name(), "node-b");
  EXPECT_EQ(status->node(), membership::node_number("node-b"));
  EXPECT_EQ(status->advertise(), b->address());
  bool saw_a = false;
  for (const auto& p : status->peers()) {
    if (p.node() == membership::node_number("node-a")) {
      saw_a = true;
      EXPECT_EQ(p.address(), a->address());
      EXPECT_GE(p.incarnation(), 1u);
    }
  }
  EXPECT_TRUE(saw_a);

  // A node with another secret is refused by everyone it dials.
  auto intruder = start_member("node-x", {a->address()}, "guess");
  ASSERT_TRUE(intruder->client);
  const uint64_t x = membership::node_number("node-x");
  EXPECT_EQ(a->state_of(x), "absent");
  EXPECT_EQ(intruder->peers_in("alive"), 0u);

  // c stops: the others see it suspected, then dead, after cluster.dead-after (1 s here).
  const uint64_t c_number = membership::node_number("node-c");
  c.reset();
  ASSERT_TRUE(wait_until([&] { return a->state_of(c_number) == "dead"; })) << a->state_of(c_number);
  ASSERT_TRUE(wait_until([&] { return b->state_of(c_number) == "dead"; }));
  EXPECT_EQ(a->state_of(membership::node_number("node-b")), "alive");
  EXPECT_EQ(intruder->peers_in("alive"), 0u);
  EXPECT_EQ(a->state_of(x), "absent");
}

}  // namespace
}  // namespace nca
