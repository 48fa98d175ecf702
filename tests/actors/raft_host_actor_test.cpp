// Raft groups over the real peer transport: three actor systems on loopback replicate proposals,
// fail over when the leader's node goes away, and refuse proposals on followers with a hint.
#include "actors/raft_host_actor.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>

#include "actors/peer_transport.hpp"
#include "cluster/raft/memory_storage.hpp"
#include "storage/raft_log_store.hpp"
#include "tests/actors/cluster_test_util.hpp"
#include "tests/actors/node_test_util.hpp"
#include "tests/storage/storage_test_util.hpp"

namespace nca::actors {
namespace {

using nca::testing::wait_until;
using std::chrono::milliseconds;

struct AppliedLog {
  std::mutex mu;
  std::map<uint64_t, std::vector<std::string>> by_group;  // non-empty normal entries, in order
  std::map<uint64_t, raft::Index> index;                  // the last entry applied, of any kind

  std::vector<std::string> of(uint64_t group) {
    std::lock_guard<std::mutex> g(mu);
    return by_group[group];
  }
};

// Holds the checkpoints a node reads for its followers until the test releases them (or 20 s
// pass); `reading` opens once a read began.
struct CheckpointGate {
  storage::testing::Latch reading, release;
  void pass() {
    reading.open();
    (void)release.wait_for(std::chrono::seconds(20));
  }
};

// With it, a node compacts group 1's log to its state every 5 entries, and a follower behind the
// log's start gets the applied entries as a checkpoint, read through `gate` and installed through
// `install`.
struct Checkpoints {
  std::shared_ptr<CheckpointGate> gate;
  std::shared_ptr<CheckpointGate> install;
};

class RaftTestNode {
 public:
  // With `data_dir`, each group's log lives in a RocksDB there (RaftLogStore), so a node made again
  // on the same directory restarts from its log; otherwise in memory.
  RaftTestNode(uint64_t id, uint64_t incarnation, const std::vector<uint64_t>& groups,
               const std::string& data_dir = "", const Checkpoints* checkpoints = nullptr)
      : db_(data_dir.empty() ? nullptr : storage::testing::open_db(data_dir)),
        sys_(cfg_),
        applied_(std::make_shared<AppliedLog>()),
        id_(id) {
    PeerTransportConfig t;
    t.node_id = id;
    t.incarnation = incarnation;
    t.heartbeat_interval = milliseconds(50);
    t.detector.suspect_after_us = 500'000;
    t.detector.dead_after_us = 2'000'000;
    t.clock = &clock_;
    transport_ = spawn_peer_transport(sys_, t);
    auto port = caf::io::publish(transport_, 0, "127.0.0.1", true);
    port_ = port ? *port : 0;

    RaftHostActorConfig r;
    r.host.node = id;
    r.host.election_tick = 10;
    r.host.heartbeat_tick = 1;
    r.host.seed = 7;
    r.incarnation = incarnation;
    r.tick = milliseconds(20);
    r.transport = transport_;
    r.groups = groups;
    r.bootstrap_voters = {1, 2, 3};
    r.counters = &counters_;
    storage::Db* db = db_.get();
    r.storage_for = [db](uint64_t group) -> std::unique_ptr<raft::LogStorage> {
      if (db == nullptr) return std::make_unique<raft::MemoryStorage>();
      auto store = storage::RaftLogStore::open(db, group);
      EXPECT_TRUE(store.ok()) << store.error().to_string();
      return store ? std::move(*store) : nullptr;
    };
    auto applied = applied_;
    r.apply = [applied](uint64_t group, const raft::Entry& e) {
      std::lock_guard<std::mutex> g(applied->mu);
      applied->index[group] = e.index;
      if (e.type != raft::EntryType::normal || e.data.empty()) return;
      applied->by_group[group].push_back(e.data);
    };
    if (checkpoints != nullptr) {
      r.snapshot_entries = 5;
      r.compacts = [](uint64_t group) { return group == 1; };
      auto gate = checkpoints->gate;
      r.checkpoint_of = [applied, gate](uint64_t group) {
        std::lock_guard<std::mutex> g(applied->mu);
        std::string blob;
        for (const auto& e : applied->by_group[group]) blob += e + "\n";
        return Result<cluster::RaftHost::PinnedCheckpoint>(
            cluster::RaftHost::PinnedCheckpoint{applied->index[group], [gate, blob] {
                                                  gate->pass();
                                                  return Result<std::string>(blob);
                                                }});
      };
      auto install = checkpoints->install;
      r.restore = [applied, install](uint64_t group, const raft::Snapshot& snap) -> Status {
        install->pass();
        std::lock_guard<std::mutex> g(applied->mu);
        auto& log = applied->by_group[group];
        log.clear();
        std::string line;
        for (char c : snap.data) {
          if (c != '\n') {
            line += c;
          } else {
            log.push_back(line);
            line.clear();
          }
        }
        applied->index[group] = snap.meta.index;
        return {};
      };
    }
    auto host = spawn_raft_host(sys_, r);
    EXPECT_TRUE(host.ok()) << host.error().to_string();
    if (host) host_ = *host;
    caf::anon_send(transport_, listener_atom::value, host_);
  }
  ~RaftTestNode() {
    caf::anon_send_exit(host_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(transport_, caf::exit_reason::user_shutdown);
  }

  uint16_t port() const { return port_; }
  const RaftHostCounters& counters() const { return counters_; }
  AppliedLog& applied() { return *applied_; }
  void add_peer(uint64_t peer, uint16_t port) {
    caf::anon_send(transport_, add_peer_atom::value, peer, std::string("127.0.0.1"), port);
  }
  std::string state(uint64_t group) {
    caf::scoped_actor self{sys_};
    std::string out;
    self->request(host_, std::chrono::seconds(5), raft_state_atom::value, group)
        .receive([&](const std::string& s) { out = s; },
                 [&](caf::error& e) { out = "error: " + sys_.render(e); });
    return out;
  }
  bool leads(uint64_t group) { return state(group).find("role=leader") != std::string::npos; }
  // "removed", or the error text (a timeout included).
  std::string remove_group(uint64_t group, std::chrono::milliseconds timeout) {
    caf::scoped_actor self{sys_};
    std::string out;
    self->request(host_, timeout, remove_group_atom::value, group)
        .receive([&](bool) { out = "removed"; },
                 [&](caf::error& e) { out = "error: " + sys_.render(e); });
    return out;
  }
  // "hosted", or the error text.
  std::string add_group(uint64_t group) {
    caf::scoped_actor self{sys_};
    std::string out;
    self->request(host_, std::chrono::seconds(5), add_group_atom::value, group,
                  std::vector<uint64_t>{1, 2, 3})
        .receive([&](bool) { out = "hosted"; },
                 [&](caf::error& e) { out = "error: " + sys_.render(e); });
    return out;
  }
  bool compacted(uint64_t group) { return state(group).find(" snapshot=0") == std::string::npos; }
  // The index the entry got, or the error text.
  std::string propose(uint64_t group, const std::string& data) {
    caf::scoped_actor self{sys_};
    std::string out;
    self->request(host_, std::chrono::seconds(5), propose_atom::value, group, data)
        .receive([&](uint64_t index) { out = "index " + std::to_string(index); },
                 [&](caf::error& e) { out = "error: " + sys_.render(e); });
    return out;
  }

 private:
  std::unique_ptr<storage::Db> db_;  // outlives the actor system that writes to it
  RaftHostCounters counters_;        // likewise
  nca::testing::TransportCafConfig cfg_;
  caf::actor_system sys_;
  SystemClock clock_;
  std::shared_ptr<AppliedLog> applied_;
  uint64_t id_;
  caf::actor transport_;
  caf::actor host_;
  uint16_t port_ = 0;
};

// Index of the node (0..2) that leads `group`, or -1.
int leader_of(std::vector<std::unique_ptr<RaftTestNode>>& nodes, uint64_t group) {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i] && nodes[i]->leads(group)) return static_cast<int>(i);
  }
  return -1;
}

TEST(RaftHostActorTest, GroupsReplicateOverLoopbackAndFailOver) {
  const std::vector<uint64_t> groups = {1, 2};
  std::vector<std::unique_ptr<RaftTestNode>> nodes;
  for (uint64_t id = 1; id <= 3; ++id) {
    nodes.push_back(std::make_unique<RaftTestNode>(id, 100 + id, groups));
    ASSERT_NE(nodes.back()->port(), 0);
  }
  nodes[0]->add_peer(2, nodes[1]->port());
  nodes[0]->add_peer(3, nodes[2]->port());
  nodes[1]->add_peer(3, nodes[2]->port());

  int leader = -1;
  ASSERT_TRUE(wait_until([&] {
    leader = leader_of(nodes, 1);
    return leader >= 0 && leader_of(nodes, 2) >= 0;
  })) << nodes[0]->state(1);
  // Every node has heard of a leader for each group: at least two leader changes seen (the first
  // leader of a group counts), and it has run rounds.
  ASSERT_TRUE(wait_until([&] {
    for (auto& n : nodes) {
      if (n->counters().leader_changes.load() < 2) return false;
    }
    return true;
  }));
  std::vector<uint64_t> changes_before;
  for (auto& n : nodes) {
    EXPECT_GT(n->counters().rounds.load(), 0u);
    changes_before.push_back(n->counters().leader_changes.load());
  }
  for (int i = 0; i < 5; ++i) {
    const std::string reply = nodes[leader]->propose(1, "write " + std::to_string(i));
    ASSERT_EQ(reply.rfind("index ", 0), 0u) << reply;
  }
  // A follower refuses with the leader it knows.
  const int follower = (leader + 1) % 3;
  const std::string refused = nodes[follower]->propose(1, "to a follower");
  EXPECT_NE(refused.find("leader is node " + std::to_string(leader + 1)), std::string::npos)
      << refused;
  const std::vector<std::string> want = {"write 0", "write 1", "write 2", "write 3", "write 4"};
  ASSERT_TRUE(wait_until([&] {
    for (auto& n : nodes) {
      if (n->applied().of(1) != want) return false;
    }
    return true;
  }));

  // The leader's node goes away; the other two elect a leader and go on, with every acknowledged
  // write still there.
  nodes[leader].reset();
  int next = -1;
  ASSERT_TRUE(wait_until(
      [&] {
        next = leader_of(nodes, 1);
        return next >= 0 && next != leader;
      },
      std::chrono::seconds(15)));
  std::string reply;
  ASSERT_TRUE(wait_until([&] {  // the first proposals may race the new leader's no-op
    reply = nodes[next]->propose(1, "after failover");
    return reply.rfind("index ", 0) == 0;
  })) << reply;
  for (auto& n : nodes) {
    if (!n) continue;
    ASSERT_TRUE(wait_until([&] {
      auto log = n->applied().of(1);
      return log.size() >= 6 && log.back() == "after failover";
    }));
    auto log = n->applied().of(1);
    EXPECT_EQ(std::vector<std::string>(log.begin(), log.begin() + 5), want);
  }
  // The survivors saw group 1's leader change.
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i]) continue;
    EXPECT_GT(nodes[i]->counters().leader_changes.load(), changes_before[i]) << "node " << i + 1;
  }
}

TEST(RaftHostActorTest, ARestartedNodeRecoversItsLogAndCatchesUp) {
  storage::testing::TempDir dir;
  const std::vector<uint64_t> groups = {1};
  std::vector<std::unique_ptr<RaftTestNode>> nodes;
  for (uint64_t id = 1; id <= 3; ++id) {
    nodes.push_back(
        std::make_unique<RaftTestNode>(id, 1, groups, dir.sub("node" + std::to_string(id))));
  }
  auto link_all = [&] {
    for (size_t i = 0; i < 3; ++i) {
      for (size_t j = i + 1; j < 3; ++j) {
        if (nodes[i] && nodes[j]) nodes[i]->add_peer(j + 1, nodes[j]->port());
      }
    }
  };
  link_all();
  int leader = -1;
  ASSERT_TRUE(wait_until([&] { return (leader = leader_of(nodes, 1)) >= 0; }));
  ASSERT_EQ(nodes[leader]->propose(1, "before").rfind("index ", 0), 0u);
  // A follower goes down; the other two go on without it.
  const int down = (leader + 1) % 3;
  ASSERT_TRUE(wait_until([&] { return nodes[down]->applied().of(1).size() == 1; }));
  nodes[down].reset();
  ASSERT_EQ(nodes[leader]->propose(1, "while it was down").rfind("index ", 0), 0u);
  // It comes back on the same data directory as a new incarnation, reloads its log from RocksDB
  // (its Raft state survives: no second vote in a term) and catches up.
  nodes[down] = std::make_unique<RaftTestNode>(down + 1, 2, groups,
                                               dir.sub("node" + std::to_string(down + 1)));
  // Before any peer knows its new address, it applies what its own log says was committed.
  ASSERT_TRUE(wait_until([&] {
    return nodes[down]->applied().of(1) == std::vector<std::string>{"before"};
  })) << nodes[down]->state(1);
  link_all();
  const std::vector<std::string> want = {"before", "while it was down"};
  ASSERT_TRUE(wait_until([&] { return nodes[down]->applied().of(1) == want; }))
      << nodes[down]->state(1);
  for (auto& n : nodes) EXPECT_EQ(n->applied().of(1), want);
}

// Groups 1 and 2 on nodes 1 and 2, group 1 compacted after 12 writes (`want`), then node 3
// starts and needs a checkpoint of group 1. Checkpoints are read through `checkpoints.gate` and
// installed through `checkpoints.install`; a test holds one of them and opens the other. Whatever
// fails, the gates open when the test ends.
class LateNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    start(0);
    start(1);
    ASSERT_TRUE(wait_until([&] {
      l1 = leader_of(nodes, 1);
      l2 = leader_of(nodes, 2);
      return l1 >= 0 && l2 >= 0;
    }));
    for (int i = 0; i < 12; ++i) {
      want.push_back("w" + std::to_string(i));
      ASSERT_EQ(nodes[l1]->propose(1, want.back()).rfind("index ", 0), 0u);
    }
    ASSERT_TRUE(wait_until([&] { return nodes[0]->compacted(1) && nodes[1]->compacted(1); }))
        << nodes[l1]->state(1);
  }
  void TearDown() override {
    checkpoints.gate->release.open();
    checkpoints.install->release.open();
  }
  void start(size_t i) {
    nodes[i] =
        std::make_unique<RaftTestNode>(i + 1, 1, std::vector<uint64_t>{1, 2},
                                       dir.sub("node" + std::to_string(i + 1)), &checkpoints);
    for (size_t j = 0; j < 3; ++j) {
      if (j != i && nodes[j]) nodes[j]->add_peer(i + 1, nodes[i]->port());
      if (j != i && nodes[j]) nodes[i]->add_peer(j + 1, nodes[j]->port());
    }
  }
  // Starts the late node with `other` open; once its checkpoint reaches `held`, group 1 takes a
  // write and group 2 goes on (group_two_goes_on).
  void start_late_node_holding(CheckpointGate& held, CheckpointGate& other) {
    other.release.open();
    start(2);
    ASSERT_TRUE(wait_until([&] { return held.reading.is_open(); }))
        << "the late node's checkpoint did not reach the held step";
    const std::string during1 = nodes[l1]->propose(1, "during");
    ASSERT_EQ(during1.rfind("index ", 0), 0u) << during1;
    want.push_back("during");
    group_two_goes_on();
  }
  // Releases `held`: the late node catches up with group 1, what was written meanwhile included.
  void release_and_catch_up(CheckpointGate& held) {
    held.release.open();
    ASSERT_TRUE(wait_until([&] { return nodes[2]->applied().of(1) == want; }))
        << nodes[2]->state(1);
  }
  // While a gate is held, group 2 takes a write and the late node applies it: its Raft host's
  // thread is free.
  void group_two_goes_on() {
    ASSERT_TRUE(wait_until([&] { return (l2 = leader_of(nodes, 2)) >= 0; }));
    const std::string during2 = nodes[l2]->propose(2, "during");
    ASSERT_EQ(during2.rfind("index ", 0), 0u) << during2;
    ASSERT_TRUE(wait_until([&] {
      auto log = nodes[2]->applied().of(2);
      return !log.empty() && log.back() == "during";
    })) << nodes[2]->state(2);
    EXPECT_TRUE(nodes[2]->applied().of(1).empty()) << "group 1 reached the late node";
  }

  storage::testing::TempDir dir;  // outlives the nodes
  Checkpoints checkpoints{std::make_shared<CheckpointGate>(), std::make_shared<CheckpointGate>()};
  std::vector<std::unique_ptr<RaftTestNode>> nodes{3};
  int l1 = -1, l2 = -1;
  std::vector<std::string> want;
};

// A leader reads a follower's checkpoint off its Raft host's thread: while the read is held, the
// node goes on serving its groups, the one being checkpointed included, and the late node takes
// part in the other group; once the read ends, the late node installs the checkpoint and catches
// up with what was written meanwhile.
TEST_F(LateNodeTest, ALeaderServesItsGroupsWhileACheckpointIsRead) {
  start_late_node_holding(*checkpoints.gate, *checkpoints.install);
  release_and_catch_up(*checkpoints.gate);
}

// A follower installs a leader's checkpoint off its Raft host's thread: while the install is
// held, the group shows it is installing and the late node goes on taking part in its other
// group; once the install ends, the late node catches up with what was written meanwhile.
TEST_F(LateNodeTest, AFollowerServesItsGroupsWhileACheckpointIsInstalled) {
  start_late_node_holding(*checkpoints.install, *checkpoints.gate);
  EXPECT_NE(nodes[2]->state(1).find(" installing"), std::string::npos) << nodes[2]->state(1);
  release_and_catch_up(*checkpoints.install);
  EXPECT_EQ(nodes[2]->state(1).find(" installing"), std::string::npos) << nodes[2]->state(1);
}

// A group installing a snapshot is removed only once the install is done (the install writes its
// storage until then).
TEST_F(LateNodeTest, ARemovalWaitsForTheInstall) {
  start_late_node_holding(*checkpoints.install, *checkpoints.gate);
  const std::string early = nodes[2]->remove_group(1, milliseconds(300));
  EXPECT_EQ(early.rfind("error", 0), 0u) << "answered while the install is held: " << early;
  EXPECT_NE(nodes[2]->state(1).find(" installing"), std::string::npos) << nodes[2]->state(1);
  checkpoints.install->release.open();
  ASSERT_TRUE(wait_until([&] { return nodes[2]->state(1) == "not hosted"; })) << nodes[2]->state(1);
}

// A group placed on the node again while its removal waits for an install stays, and catches up.
TEST_F(LateNodeTest, AnAddCancelsARemovalThatWaitsForTheInstall) {
  start_late_node_holding(*checkpoints.install, *checkpoints.gate);
  const std::string early = nodes[2]->remove_group(1, milliseconds(300));
  EXPECT_EQ(early.rfind("error", 0), 0u) << "answered while the install is held: " << early;
  EXPECT_EQ(nodes[2]->add_group(1), "hosted");
  release_and_catch_up(*checkpoints.install);
  EXPECT_NE(nodes[2]->state(1), "not hosted");
}

}  // namespace
}  // namespace nca::actors
