// Raft against a peer that sends nonsense: messages of every type with random terms, indices,
// commits, entries (contiguous or not, conf changes of garbage), snapshots of random memberships,
// from members, non-members and the node itself. Raft is not Byzantine fault tolerant: such a peer
// may corrupt what the group agrees on, and our transport only takes frames from the connection of
// the node they name. What nonsense must never do is crash a node, leave it with a log it cannot
// persist (a Ready whose save the storage refuses stops the node's Raft host), make it apply out
// of order, commit past its own log, or lead without being a voter. Lost, duplicated and reordered
// honest messages are the simulator's (cluster/sim). Seeded; the seed is printed.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "cluster/raft/conf_change.hpp"
#include "cluster/raft/raft.hpp"
#include "tests/cluster/raft/raft_test_cluster.hpp"
#include "tests/support/test_seed.hpp"

namespace nca::raft {
namespace {

using test_support::TestCluster;

class HostilePeer {
 public:
  explicit HostilePeer(uint64_t seed) : rng_(seed) {}

  // A message for `to`, built around what `to` holds so that it reaches deep into the handlers
  // (indices next to its log, terms next to its own) rather than bouncing off the first check.
  Message next(const Raft& to) {
    Message m;
    m.type = static_cast<MessageType>(pick(0, 11));
    m.to = pick(0, 15) == 0 ? pick(1, 5) : to.id();
    m.from = pick(1, 5);  // 4 and 5 are not members; the node itself is refused
    if (pick(0, 20) == 0) m.from = kNoNode;
    const Term t = to.term();
    const Term terms[] = {0, t > 0 ? t - 1 : 0, t, t, t + 1, t + 3};
    m.term = terms[pick(0, 5)];
    const Index last = to.log().last_index();
    m.index = near(last);
    m.log_term = pick(0, static_cast<int>(t + 2));
    m.commit = pick(0, 4) == 0 ? pick(0, 1000) : near(last);
    m.reject = pick(0, 3) == 0;
    m.reject_hint = near(last);
    m.context = pick(0, 3);
    if (m.type == MessageType::append || pick(0, 10) == 0) {
      const int n = pick(0, 4);
      for (int i = 0; i < n; ++i) {
        Entry e;
        e.index = m.index + 1 + static_cast<Index>(i);
        if (pick(0, 10) == 0) e.index += pick(1, 3);  // a gap
        e.term = pick(0, static_cast<int>(m.term + 1));
        e.type = pick(0, 5) == 0 ? EntryType::conf_change : EntryType::normal;
        e.data = e.type == EntryType::conf_change ? conf_change_data() : "hostile";
        m.entries.push_back(std::move(e));
      }
    }
    if (m.type == MessageType::snapshot && pick(0, 5) != 0) {
      auto snap = std::make_shared<Snapshot>();
      snap->meta.index = near(last + 5);
      snap->meta.term = pick(0, static_cast<int>(m.term + 1));
      for (NodeId id = 1; id <= 5; ++id) {
        const int role = pick(0, 3);  // 0, 1: voter; 2: learner; 3: absent
        if (role <= 1) snap->meta.conf.voters.push_back(id);
        if (role == 2) snap->meta.conf.learners.push_back(id);
      }
      snap->data = "hostile state";
      m.snapshot = std::move(snap);
    }
    return m;
  }

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

 private:
  Index near(Index around) {
    const int64_t v = static_cast<int64_t>(around) + pick(-4, 3);
    return v < 0 ? 0 : static_cast<Index>(v);
  }

  // Garbage, or a well-formed change of a random kind for a random node.
  std::string conf_change_data() {
    if (pick(0, 1) == 0) return std::string(static_cast<size_t>(pick(0, 9)), '\x7f');
    ConfChange c;
    c.type = static_cast<ConfChangeType>(pick(0, 3));
    c.node = pick(0, 6);
    return encode_conf_change(c);
  }

  std::mt19937_64 rng_;
};

// What a node must hold after any input.
void expect_sound(TestCluster& c, NodeId id) {
  const Raft& r = c.node(id);
  EXPECT_LE(r.log().committed(), r.log().last_index()) << "node " << id;
  EXPECT_LE(r.log().applied(), r.log().committed()) << "node " << id;
  EXPECT_GE(r.log().last_index() + 1, r.log().first_index()) << "node " << id;
  if (r.role() == Role::leader) {
    EXPECT_EQ(r.leader(), id);
    EXPECT_TRUE(is_voter(r.conf(), id)) << "node " << id << " leads without being a voter";
  }
}

// Delivers queued honest messages, ignoring the refusals hostile state provokes (a node that
// accepted a forged suffix may refuse the real leader's appends: that is an error value, not a
// crash), then lets every node handle its Ready. Bounded.
void settle(TestCluster& c, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    for (NodeId id = 1; id <= 3; ++id) c.handle_ready(id);
    if (c.queue().empty()) return;
    auto batch = std::move(c.queue());
    c.queue().clear();
    for (Message& m : batch) {
      if (m.to < 1 || m.to > 3) continue;
      (void)c.node(m.to).step(m);
    }
  }
}

TEST(RaftHostilePeerTest, NonsenseNeverCrashesANodeOrBreaksItsLog) {
  const uint64_t seed = nca::testing::test_seed("raft hostile peer");
  for (int run = 0; run < 20; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    TestCluster c(3);
    c.elect(1);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.node(1).propose("honest " + std::to_string(i)).ok());
    c.stabilize();
    HostilePeer peer(seed + static_cast<uint64_t>(run));
    size_t refused = 0;
    for (int i = 0; i < 400; ++i) {
      const NodeId target = static_cast<NodeId>(peer.pick(1, 3));
      if (!c.node(target).step(peer.next(c.node(target))).ok()) ++refused;
      // Honest traffic goes on in between: proposals, ticks, the replies to the nonsense.
      if (peer.pick(0, 4) == 0) {
        for (NodeId id = 1; id <= 3; ++id) (void)c.node(id).propose("more");
      }
      if (peer.pick(0, 2) == 0) c.tick_all();
      settle(c, 20);
      for (NodeId id = 1; id <= 3; ++id) expect_sound(c, id);
      if (::testing::Test::HasFailure()) return;
    }
    EXPECT_GT(refused, 0u) << "the generator never produced a message Raft refuses";
  }
}

}  // namespace
}  // namespace nca::raft
