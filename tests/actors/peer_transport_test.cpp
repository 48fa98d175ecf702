// The peer transport between actor systems on loopback: handshake and frames, heartbeats and the
// failure detector, the partition hook, restarts fenced by incarnation, and the join secret.
#include "actors/peer_transport.hpp"

#include <gtest/gtest.h>
#include <caf/io/all.hpp>

#include <deque>
#include <memory>
#include <mutex>

#include "tests/actors/cluster_test_util.hpp"
#include "tests/actors/node_test_util.hpp"

namespace nca::actors {
namespace {

using membership::PeerChange;
using nca::testing::TransportCafConfig;
using nca::testing::wait_until;
using std::chrono::milliseconds;

// What a listener saw, for the test thread to inspect.
struct Inbox {
  struct Frame {
    uint64_t from, incarnation;
    std::string bytes;
  };
  std::mutex mu;
  std::vector<Frame> frames;
  std::vector<PeerChange> changes;

  bool has_frame(uint64_t from, const std::string& bytes) {
    std::lock_guard<std::mutex> g(mu);
    for (const auto& f : frames) {
      if (f.from == from && f.bytes == bytes) return true;
    }
    return false;
  }
  bool has_change(PeerChange::Kind kind, uint64_t peer) {
    std::lock_guard<std::mutex> g(mu);
    for (const auto& c : changes) {
      if (c.kind == kind && c.peer == peer) return true;
    }
    return false;
  }
  size_t count_change(PeerChange::Kind kind, uint64_t peer) {
    std::lock_guard<std::mutex> g(mu);
    size_t n = 0;
    for (const auto& c : changes) n += (c.kind == kind && c.peer == peer) ? 1 : 0;
    return n;
  }
};

// One node's transport in its own actor system, published on an OS-chosen loopback port.
class TestNode {
 public:
  TestNode(uint64_t id, uint64_t incarnation, std::string secret = "")
      : sys_(cfg_), inbox_(std::make_shared<Inbox>()) {
    auto inbox = inbox_;
    listener_ = sys_.spawn([inbox](caf::event_based_actor*) -> caf::behavior {
      return {
          [inbox](frame_atom, uint64_t from, uint64_t inc, const std::string& bytes) {
            std::lock_guard<std::mutex> g(inbox->mu);
            inbox->frames.push_back({from, inc, bytes});
          },
          [inbox](peer_change_atom, uint32_t kind, uint64_t peer, uint64_t inc) {
            std::lock_guard<std::mutex> g(inbox->mu);
            inbox->changes.push_back({static_cast<PeerChange::Kind>(kind), peer, inc});
          },
      };
    });
    PeerTransportConfig c;
    c.node_id = id;
    c.incarnation = incarnation;
    c.join_secret = std::move(secret);
    c.heartbeat_interval = milliseconds(50);
    c.connect_timeout = milliseconds(1000);
    c.detector.suspect_after_us = 400'000;
    c.detector.dead_after_us = 1'500'000;
    c.clock = &clock_;
    c.listener = listener_;
    transport_ = spawn_peer_transport(sys_, c);
    auto port = caf::io::publish(transport_, 0, "127.0.0.1", true);
    port_ = port ? *port : 0;
  }
  ~TestNode() {
    caf::anon_send_exit(transport_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(listener_, caf::exit_reason::user_shutdown);
  }

  uint16_t port() const { return port_; }
  const caf::actor& transport() const { return transport_; }
  Inbox& inbox() { return *inbox_; }
  void add_peer(uint64_t peer, uint16_t port) {
    caf::anon_send(transport_, add_peer_atom::value, peer, std::string("127.0.0.1"), port);
  }
  void advertise_and_seed(uint16_t seed_port) {
    caf::anon_send(transport_, advertise_atom::value, "127.0.0.1:" + std::to_string(port_));
    caf::anon_send(transport_, add_seed_atom::value, "127.0.0.1:" + std::to_string(seed_port));
  }
  void send(uint64_t peer, const std::string& bytes) {
    caf::anon_send(transport_, send_frame_atom::value, peer, bytes);
  }
  void partition(uint64_t peer, bool drop) {
    caf::anon_send(transport_, partition_atom::value, peer, drop);
  }
  std::string ask(caf::atom_value which) {
    caf::scoped_actor self{sys_};
    std::string out = "no answer";
    auto on_reply = [&](const std::string& s) { out = s; };
    auto on_error = [&](caf::error& e) { out = "error: " + sys_.render(e); };
    if (which == peers_atom::value) {
      self->request(transport_, std::chrono::seconds(5), peers_atom::value)
          .receive(on_reply, on_error);
    } else {
      self->request(transport_, std::chrono::seconds(5), counters_atom::value)
          .receive(on_reply, on_error);
    }
    return out;
  }
  std::string peers() { return ask(peers_atom::value); }
  std::string counters() { return ask(counters_atom::value); }
  uint64_t counter(const std::string& name) {
    const std::string all = counters();
    auto at = all.find(name + "=");
    return at == std::string::npos ? ~0ull : std::stoull(all.substr(at + name.size() + 1));
  }

 private:
  TransportCafConfig cfg_;
  caf::actor_system sys_;
  SystemClock clock_;
  std::shared_ptr<Inbox> inbox_;
  caf::actor listener_;
  caf::actor transport_;
  uint16_t port_ = 0;
};

TEST(PeerTransportTest, PeersLinkAndExchangeFramesBothWays) {
  TestNode a(1, 11), b(2, 21), c(3, 31);
  ASSERT_NE(a.port(), 0);
  ASSERT_NE(b.port(), 0);
  ASSERT_NE(c.port(), 0);
  a.add_peer(2, b.port());
  a.add_peer(3, c.port());
  b.add_peer(3, c.port());
  ASSERT_TRUE(wait_until([&] {
    return a.inbox().has_change(PeerChange::joined, 2) &&
           a.inbox().has_change(PeerChange::joined, 3) &&
           b.inbox().has_change(PeerChange::joined, 1) &&
           b.inbox().has_change(PeerChange::joined, 3) &&
           c.inbox().has_change(PeerChange::joined, 1) &&
           c.inbox().has_change(PeerChange::joined, 2);
  })) << a.peers()
      << b.peers() << c.peers();
  // C never dialled A: the link A opened carries frames both ways.
  a.send(2, "raft batch for 2");
  c.send(1, "raft batch for 1");
  b.send(3, "raft batch for 3");
  ASSERT_TRUE(wait_until([&] {
    return b.inbox().has_frame(1, "raft batch for 2") &&
           a.inbox().has_frame(3, "raft batch for 1") && c.inbox().has_frame(2, "raft batch for 3");
  }));
  {
    std::lock_guard<std::mutex> g(b.inbox().mu);
    for (const auto& f : b.inbox().frames) {
      EXPECT_FALSE(f.bytes.empty());  // heartbeats never reach the listener
      if (f.from == 1) {
        EXPECT_EQ(f.incarnation, 11u);
      }
    }
  }
  // Heartbeats keep everyone alive well past the suspicion timeout.
  ASSERT_TRUE(wait_until([&] { return a.counter("received") >= 20; }));
  EXPECT_FALSE(a.inbox().has_change(PeerChange::suspected, 2));
  EXPECT_NE(a.peers().find("2 alive 21 linked"), std::string::npos) << a.peers();
  // A frame for a node nobody knows is dropped and counted, not queued.
  const uint64_t dropped = a.counter("dropped");
  a.send(9, "nobody");
  EXPECT_EQ(a.counter("dropped"), dropped + 1);
}

TEST(PeerTransportTest, APartitionSilencesBothWaysAndHealingRecovers) {
  TestNode a(1, 5), b(2, 6);
  a.add_peer(2, b.port());
  ASSERT_TRUE(wait_until([&] {
    return a.inbox().has_change(PeerChange::joined, 2) &&
           b.inbox().has_change(PeerChange::joined, 1);
  }));
  a.partition(2, true);
  b.partition(1, true);
  a.send(2, "lost in the partition");
  ASSERT_TRUE(wait_until(
      [&] {
        return a.inbox().has_change(PeerChange::died, 2) &&
               b.inbox().has_change(PeerChange::died, 1);
      },
      std::chrono::seconds(10)));
  EXPECT_TRUE(a.inbox().has_change(PeerChange::suspected, 2));
  EXPECT_NE(a.peers().find("2 dead"), std::string::npos) << a.peers();
  a.partition(2, false);
  b.partition(1, false);
  a.send(2, "after healing");
  ASSERT_TRUE(wait_until([&] {
    return b.inbox().has_frame(1, "after healing") &&
           a.inbox().has_change(PeerChange::recovered, 2);
  }));
  // Frames on one link arrive in order: had the first frame left A, it would be there by now.
  EXPECT_FALSE(b.inbox().has_frame(1, "lost in the partition"));
}

TEST(PeerTransportTest, ARestartedPeerIsANewIncarnation) {
  TestNode a(1, 100);
  uint16_t first_port = 0;
  {
    TestNode b(2, 7);
    first_port = b.port();
    a.add_peer(2, b.port());
    ASSERT_TRUE(wait_until([&] { return a.inbox().has_change(PeerChange::joined, 2); }));
  }  // B's process is gone
  TestNode b2(2, 8);
  ASSERT_NE(b2.port(), 0);
  a.add_peer(2, b2.port());
  ASSERT_TRUE(wait_until([&] { return a.inbox().has_change(PeerChange::restarted, 2); }))
      << a.peers();
  EXPECT_NE(a.peers().find("2 alive 8 linked"), std::string::npos) << a.peers();
  b2.send(1, "from the new life");
  ASSERT_TRUE(wait_until([&] { return a.inbox().has_frame(2, "from the new life"); }));
  // An older life that dials in again (a zombie with incarnation 7) is refused.
  const uint64_t refused = a.counter("refused");
  TestNode zombie(2, 7);
  zombie.add_peer(1, a.port());
  ASSERT_TRUE(wait_until([&] { return a.counter("refused") > refused; })) << a.counters();
  EXPECT_NE(a.peers().find("2 alive 8 linked"), std::string::npos) << a.peers();
  EXPECT_NE(zombie.peers().find("1 unknown 0 unlinked"), std::string::npos) << zombie.peers();
  (void)first_port;
  EXPECT_EQ(a.inbox().count_change(PeerChange::restarted, 2), 1u);
}

TEST(PeerTransportTest, AWrongJoinSecretLinksNothing) {
  TestNode a(1, 1, "open sesame"), b(2, 1, "open sesame"), intruder(3, 1, "guess");
  intruder.add_peer(1, a.port());
  a.add_peer(2, b.port());
  ASSERT_TRUE(wait_until([&] { return a.inbox().has_change(PeerChange::joined, 2); }));
  ASSERT_TRUE(wait_until([&] { return a.counter("refused") >= 1; })) << a.counters();
  EXPECT_FALSE(a.inbox().has_change(PeerChange::joined, 3));
  EXPECT_NE(intruder.peers().find("1 unknown 0 unlinked"), std::string::npos) << intruder.peers();
  intruder.send(1, "let me in");
  EXPECT_EQ(intruder.counter("sent"), 0u);
  // Dialling the other way does not help either: A refuses to link with a wrong secret reply.
  a.add_peer(3, intruder.port());
  ASSERT_TRUE(wait_until([&] { return intruder.counter("refused") >= 1; })) << intruder.counters();
  EXPECT_FALSE(a.inbox().has_change(PeerChange::joined, 3));
}

TEST(PeerTransportTest, NodesSharingOneSeedLinkWithEachOther) {
  TestNode seed(1, 1), b(2, 1), c(3, 1), d(4, 1);
  caf::anon_send(seed.transport(), advertise_atom::value,
                 "127.0.0.1:" + std::to_string(seed.port()));
  // Each knows only the seed's address, and not its node id.
  b.advertise_and_seed(seed.port());
  c.advertise_and_seed(seed.port());
  d.advertise_and_seed(seed.port());
  // The seed hands out the addresses it knows, so everyone ends linked with everyone.
  ASSERT_TRUE(wait_until([&] {
    for (TestNode* n : {&seed, &b, &c, &d}) {
      size_t linked = 0;
      const std::string peers = n->peers();
      for (size_t at = peers.find(" linked"); at != std::string::npos;
           at = peers.find(" linked", at + 1)) {
        ++linked;
      }
      if (linked != 3) return false;
    }
    return true;
  })) << seed.peers()
      << "--\n"
      << b.peers() << "--\n"
      << c.peers() << "--\n"
      << d.peers();
  c.send(4, "via gossip");
  ASSERT_TRUE(wait_until([&] { return d.inbox().has_frame(3, "via gossip"); }));
  // A seed entry that points at the node itself is ignored.
  b.advertise_and_seed(b.port());
  EXPECT_EQ(b.peers().find("2 "), std::string::npos) << b.peers();
}

}  // namespace
}  // namespace nca::actors
