// Nodes join through cluster.seeds: three in-process nodes on loopback find each other through one
// seed, see each other alive, and see a stopped node go suspected, then dead. A node with another
// join secret stays out. (docs/cluster.md)
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/membership/node_number.hpp"
#include "tests/actors/cluster_members.hpp"
#include "tests/actors/node_test_util.hpp"
#include "tests/support/loopback_port.hpp"

namespace nca {
namespace {

using testing::make_temp_dir;
using testing::Member;
using testing::start_founder;
using testing::start_member;
using testing::test_settings;
using testing::wait_until;

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

// The metadata group as a member sees it: "node:role" of every member, in ascending ids, and the
// group's leader.
std::string members_of(Member& m, uint64_t* leader = nullptr) {
  auto status = m.client->cluster_status();
  if (!status) return "error: " + status.error().message;
  if (leader != nullptr) *leader = status->metadata_leader();
  std::string out;
  for (const auto& x : status->members()) {
    out += (out.empty() ? "" : " ") + std::to_string(x.node()) + ":" + x.metadata_role();
  }
  return out;
}

std::string expected_members(const std::vector<std::pair<std::string, std::string>>& nodes) {
  std::vector<std::pair<uint64_t, std::string>> sorted;
  for (const auto& [name, role] : nodes) sorted.emplace_back(membership::node_number(name), role);
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const auto& [n, role] : sorted)
    out += (out.empty() ? "" : " ") + std::to_string(n) + ":" + role;
  return out;
}

// Compose and Kubernetes give every node the same seed list, its own address included: the first
// seed founds the group, and the three end as one cluster with three voters.
TEST(ClusterMembershipTest, SameSeedsOnEveryNodeMakeOneCluster) {
  std::vector<std::string> addresses;
  for (int i = 0; i < 3; ++i) {
    int port = testing::unused_loopback_port();
    addresses.push_back("127.0.0.1:" + std::to_string(port));
  }
  std::vector<std::unique_ptr<Member>> nodes;
  const std::vector<std::string> names = {"node-p", "node-q", "node-r"};
  // Started in reverse, so the founder is not simply the first to run.
  for (int i = 2; i >= 0; --i) {
    nodes.push_back(start_member(names[i], addresses, "s3cret", "", addresses[i]));
    ASSERT_TRUE(nodes.back()->client) << names[i];
  }
  const std::string three =
      expected_members({{"node-p", "voter"}, {"node-q", "voter"}, {"node-r", "voter"}});
  uint64_t leader = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        for (auto& n : nodes) {
          if (members_of(*n, &leader) != three || leader == 0) return false;
        }
        return true;
      },
      std::chrono::seconds(20)))
      << members_of(*nodes[0]) << "\nwanted " << three;
}

// The node without seeds founds the metadata group; every node that links with it is recorded in
// the cluster map on every node, the first three become voters and a fourth a learner. When the
// leader stops, the two other voters elect a new one, which records the old leader dead and
// replaces its vote with the learner's; the old leader restarts on its data as a new incarnation
// and learns again.
TEST(ClusterMembershipTest, MetadataGroupRecordsEveryNodeAndKeepsALeader) {
  auto a = start_member("node-a", {}, "s3cret");
  ASSERT_TRUE(a->node && a->client);
  ASSERT_TRUE(wait_until([&] {
    return members_of(*a) == expected_members({{"node-a", "voter"}});
  })) << members_of(*a);
  auto b = start_member("node-b", {a->address()}, "s3cret");
  auto c = start_member("node-c", {a->address()}, "s3cret");
  ASSERT_TRUE(b->client && c->client);
  const std::string three =
      expected_members({{"node-a", "voter"}, {"node-b", "voter"}, {"node-c", "voter"}});
  uint64_t leader_a = 0, leader_b = 0, leader_c = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        return members_of(*a, &leader_a) == three && members_of(*b, &leader_b) == three &&
               members_of(*c, &leader_c) == three && leader_a != 0 && leader_a == leader_b &&
               leader_b == leader_c;
      },
      std::chrono::seconds(20)))
      << "a: " << members_of(*a) << "\nb: " << members_of(*b) << "\nc: " << members_of(*c)
      << "\nwanted " << three;
  EXPECT_EQ(leader_a, membership::node_number("node-a")) << "the founder leads until it stops";

  auto d = start_member("node-d", {b->address()}, "s3cret");
  ASSERT_TRUE(d->client);
  const std::string four = expected_members(
      {{"node-a", "voter"}, {"node-b", "voter"}, {"node-c", "voter"}, {"node-d", "learner"}});
  ASSERT_TRUE(wait_until([&] { return members_of(*d) == four && members_of(*a) == four; },
                         std::chrono::seconds(20)))
      << "d: " << members_of(*d) << "\na: " << members_of(*a) << "\nwanted " << four;

  // The leader stops: b and c (two of three voters) elect a new leader among themselves.
  std::string a_dir = a->dir;
  a->dir.clear();  // keep the data: a restarts below
  a.reset();
  uint64_t leader = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        members_of(*b, &leader);
        return leader != 0 && leader != membership::node_number("node-a");
      },
      std::chrono::seconds(20)))
      << "leader " << leader;
  // Once a is dead (cluster.dead-after, 1 s here) the new leader records it, makes the learner d a
  // voter and then removes a from the voters.
  const std::string replaced = expected_members(
      {{"node-a", "none"}, {"node-b", "voter"}, {"node-c", "voter"}, {"node-d", "voter"}});
  ASSERT_TRUE(wait_until([&] { return members_of(*b) == replaced && members_of(*d) == replaced; },
                         std::chrono::seconds(20)))
      << "b: " << members_of(*b) << "\nwanted " << replaced;
  auto state_of_a = [&](Member& m) -> std::string {
    auto status = m.client->cluster_status();
    if (!status) return "error";
    for (const auto& x : status->members()) {
      if (x.node() == membership::node_number("node-a")) return x.dead() ? "dead" : "alive";
    }
    return "absent";
  };
  EXPECT_EQ(state_of_a(*c), "dead");

  // a restarts on its data: it is the same member (a new incarnation), alive, and learns again.
  auto again = start_member("node-a", {b->address()}, "s3cret", a_dir);
  ASSERT_TRUE(again->client);
  auto incarnation_of_a = [&](Member& m) -> uint64_t {
    auto status = m.client->cluster_status();
    if (!status) return 0;
    for (const auto& x : status->members()) {
      if (x.node() == membership::node_number("node-a")) return x.incarnation();
    }
    return 0;
  };
  const std::string back = expected_members(
      {{"node-a", "learner"}, {"node-b", "voter"}, {"node-c", "voter"}, {"node-d", "voter"}});
  ASSERT_TRUE(wait_until(
      [&] {
        return members_of(*again) == back && members_of(*b) == back &&
               incarnation_of_a(*again) >= 2 && incarnation_of_a(*b) >= 2;
      },
      std::chrono::seconds(20)))
      << members_of(*again) << ", incarnation " << incarnation_of_a(*b) << "\nwanted " << back;
  EXPECT_EQ(state_of_a(*b), "alive");
}

// With a snapshot every 3 entries, the metadata log is compacted while three nodes join; a fourth
// node joining later gets the map from a snapshot (the entries are gone) and ends with the same
// members as the others; a node restarting on its data restores the map from its own snapshot.
TEST(ClusterMembershipTest, MetadataLogIsCompactedAndLateNodesCatchUpFromTheSnapshot) {
  auto small = [](config::Settings& s) { s.raft.snapshot_entries = 3; };
  auto a = start_member("node-a", {}, "", "", "", small);
  ASSERT_TRUE(a->client);
  auto b = start_member("node-b", {a->address()}, "", "", "", small);
  auto c = start_member("node-c", {a->address()}, "", "", "", small);
  ASSERT_TRUE(b->client && c->client);
  const std::string three =
      expected_members({{"node-a", "voter"}, {"node-b", "voter"}, {"node-c", "voter"}});
  auto snapshot_index = [](Member& m) -> uint64_t {
    auto status = m.client->cluster_status();
    return status ? status->metadata_snapshot_index() : 0;
  };
  ASSERT_TRUE(wait_until([&] { return members_of(*a) == three && snapshot_index(*a) > 0; },
                         std::chrono::seconds(20)))
      << members_of(*a) << ", snapshot at " << snapshot_index(*a);
  auto d = start_member("node-d", {a->address()}, "", "", "", small);
  ASSERT_TRUE(d->client);
  const std::string four = expected_members(
      {{"node-a", "voter"}, {"node-b", "voter"}, {"node-c", "voter"}, {"node-d", "learner"}});
  ASSERT_TRUE(wait_until([&] { return members_of(*d) == four && members_of(*a) == four; },
                         std::chrono::seconds(20)))
      << "d: " << members_of(*d) << "\nwanted " << four;
  EXPECT_GT(snapshot_index(*d), 0u) << "d installed the leader's snapshot";

  // d restarts on its data: the map comes back from its own log (snapshot included) at once.
  std::string d_dir = d->dir;
  d->dir.clear();
  d.reset();
  auto again = start_member("node-d", {a->address()}, "", d_dir, "", small);
  ASSERT_TRUE(again->client);
  ASSERT_TRUE(wait_until([&] { return members_of(*again) == four; }, std::chrono::seconds(20)))
      << members_of(*again);
}

// Once three members are live the leader places the shards; every replica hosts its shards' Raft
// groups, which elect leaders that every node reports alike, and leadership moves to each shard's
// preferred replica (the first), so the three nodes lead about a third of the shards each.
TEST(ClusterMembershipTest, ShardsArePlacedAndTheirGroupsElectLeaders) {
  auto eight = [](config::Settings& s) { s.cluster.shards = 8; };
  auto a = start_founder("node-a", eight);
  ASSERT_TRUE(a->client);
  auto b = start_member("node-b", {a->address()}, "", "", "", eight);
  ASSERT_TRUE(b->client);
  // Two members, three replicas wanted: nothing is placed yet.
  ASSERT_TRUE(wait_until([&] {
    return members_of(*a) == expected_members({{"node-a", "voter"}, {"node-b", "voter"}});
  }));
  auto status = a->client->cluster_status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->shards_size(), 0);
  auto c = start_member("node-c", {a->address()}, "", "", "", eight);
  ASSERT_TRUE(c->client);
  // "shard:leader" of every shard, when each has a leader this node hosts.
  auto leaders = [](Member& m) -> std::string {
    auto st = m.client->cluster_status();
    if (!st || st->shards_size() != 8) return "";
    std::string out;
    for (const auto& s : st->shards()) {
      if (!s.hosted() || s.leader() == 0 || s.replicas_size() != 3) return "";
      out += std::to_string(s.shard()) + ":" + std::to_string(s.leader()) + " ";
    }
    return out;
  };
  auto preferred_lead = [](Member& m) {
    auto st = m.client->cluster_status();
    if (!st || st->shards_size() != 8) return false;
    for (const auto& s : st->shards()) {
      if (s.leader() != s.replicas(0)) return false;
    }
    return true;
  };
  std::string la, lb, lc;
  ASSERT_TRUE(wait_until(
      [&] {
        la = leaders(*a);
        lb = leaders(*b);
        lc = leaders(*c);
        return !la.empty() && la == lb && lb == lc && preferred_lead(*a);
      },
      std::chrono::seconds(30)))
      << "a: " << la << "\nb: " << lb << "\nc: " << lc;
  std::map<uint64_t, int> led;
  auto st = a->client->cluster_status();
  ASSERT_TRUE(st.ok());
  for (const auto& s : st->shards()) led[s.leader()]++;
  ASSERT_EQ(led.size(), 3u);
  for (const auto& [node, n] : led) EXPECT_TRUE(n == 2 || n == 3) << node << " leads " << n;
}

}  // namespace
}  // namespace nca
