// RaftHost: several groups on three hosts, wired through the wire codec in a deterministic loop.
#include "cluster/raft_host.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cluster/raft/memory_storage.hpp"

namespace nca::cluster {
namespace {

using raft::NodeId;

struct Applied {
  uint64_t group;
  raft::Index index;
  std::string data;
};

// Three hosts, groups 1..G each on all three. deliver() moves every outgoing batch through
// encode/decode, as the transport would; `cut` drops everything to and from one node.
class Cluster {
 public:
  explicit Cluster(uint64_t groups) {
    for (NodeId n = 1; n <= 3; ++n) {
      RaftHost::Options o;
      o.node = n;
      o.seed = 42;
      hosts_[n] = std::make_unique<RaftHost>(o, [this, n](uint64_t g, const raft::Entry& e) {
        if (!e.data.empty() && e.type == raft::EntryType::normal) {
          applied_[n].push_back({g, e.index, e.data});
        }
      });
      for (uint64_t g = 1; g <= groups; ++g) {
        EXPECT_TRUE(
            hosts_[n]->add_group(g, std::make_unique<raft::MemoryStorage>(), {1, 2, 3}).ok());
      }
    }
  }

  RaftHost& host(NodeId n) { return *hosts_.at(n); }
  const std::vector<Applied>& applied(NodeId n) { return applied_[n]; }
  size_t max_batch_groups() const { return max_batch_groups_; }
  size_t batches() const { return batches_; }
  void cut(NodeId n) { cut_ = n; }

  void step_all() {
    for (auto& [n, h] : hosts_) {
      if (n != cut_) h->tick();
    }
    for (int round = 0; round < 10; ++round) {  // bounded: replies to replies settle quickly
      bool any = false;
      for (auto& [n, h] : hosts_) {
        auto out = h->process_ready();
        ASSERT_TRUE(out.ok()) << out.error().to_string();
        for (auto& [to, msgs] : *out) {
          if (n == cut_ || to == cut_) continue;
          any = true;
          ++batches_;
          std::set<uint64_t> groups;
          for (const auto& m : msgs) groups.insert(m.group);
          max_batch_groups_ = std::max(max_batch_groups_, groups.size());
          auto bytes = transport::encode_batch({n, 1, to}, msgs);
          auto decoded = transport::decode_batch(bytes);
          ASSERT_TRUE(decoded.ok()) << decoded.error().to_string();
          ASSERT_TRUE(hosts_.at(to)->step(*decoded).ok());
        }
      }
      if (!any) break;
    }
  }

  std::optional<NodeId> leader(uint64_t group) {
    for (auto& [n, h] : hosts_) {
      if (n == cut_) continue;
      auto st = h->state_of(group);
      if (st && st->role == raft::Role::leader) return n;
    }
    return std::nullopt;
  }

  // Ticks until every group has a leader outside the cut node; false after `max_steps`.
  bool await_leaders(uint64_t groups, int max_steps = 500) {
    for (int i = 0; i < max_steps; ++i) {
      bool all = true;
      for (uint64_t g = 1; g <= groups; ++g) all = all && leader(g).has_value();
      if (all) return true;
      step_all();
    }
    return false;
  }

 private:
  std::map<NodeId, std::unique_ptr<RaftHost>> hosts_;
  std::map<NodeId, std::vector<Applied>> applied_;
  NodeId cut_ = raft::kNoNode;
  size_t max_batch_groups_ = 0;
  size_t batches_ = 0;
};

TEST(RaftHostTest, ManyGroupsReplicateThroughOneBatchPerPeer) {
  constexpr uint64_t kGroups = 8;
  Cluster c(kGroups);
  ASSERT_TRUE(c.await_leaders(kGroups));
  for (uint64_t g = 1; g <= kGroups; ++g) {
    NodeId l = *c.leader(g);
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(c.host(l).propose(g, "g" + std::to_string(g) + "-" + std::to_string(i)).ok());
    }
  }
  for (int i = 0; i < 20; ++i) c.step_all();
  for (NodeId n = 1; n <= 3; ++n) {
    std::map<uint64_t, std::vector<std::string>> per_group;
    for (const auto& a : c.applied(n)) per_group[a.group].push_back(a.data);
    ASSERT_EQ(per_group.size(), kGroups) << "node " << n;
    for (uint64_t g = 1; g <= kGroups; ++g) {
      std::vector<std::string> want;
      for (int i = 0; i < 5; ++i) want.push_back("g" + std::to_string(g) + "-" + std::to_string(i));
      EXPECT_EQ(per_group[g], want) << "node " << n << " group " << g;
    }
  }
  // Heartbeats and appends of several groups share one frame between two nodes.
  EXPECT_GT(c.max_batch_groups(), 1u);
}

// The last round's profile counts what the round moved, for the slow-round warning.
TEST(RaftHostTest, TheLastRoundsProfileCountsWhatItMoved) {
  Cluster c(2);
  ASSERT_TRUE(c.await_leaders(2));
  const NodeId leader = *c.leader(1);
  ASSERT_TRUE(c.host(leader).propose(1, "a").ok());
  ASSERT_TRUE(c.host(leader).propose(1, "b").ok());
  ASSERT_TRUE(c.host(leader).process_ready().ok());
  const auto& p = c.host(leader).last_round();
  EXPECT_GE(p.groups, 1u);
  EXPECT_EQ(p.entries_saved, 2u);
  EXPECT_GE(p.messages, 2u) << "the appends to two followers";
  EXPECT_EQ(p.message_entries, 4u) << "two entries to each of two followers";
  EXPECT_GE(p.ready_and_save_us, 0);
  EXPECT_GE(p.sync_us, 0);
  ASSERT_TRUE(c.host(leader).process_ready().ok());
  EXPECT_EQ(c.host(leader).last_round().entries_saved, 0u) << "a round's profile is its own";
}

// With a send_early callback, a leader's appends leave before its round's sync, and a follower's
// acknowledgements only after its own: the order that keeps a leader from counting an ack before
// its own entries are durable.
TEST(RaftHostTest, AppendsLeaveBeforeTheSyncAcknowledgementsAfterIt) {
  Cluster c(1);
  ASSERT_TRUE(c.await_leaders(1));
  const NodeId leader = *c.leader(1);
  ASSERT_TRUE(c.host(leader).propose(1, "early").ok());
  using Batches = std::map<NodeId, std::vector<transport::GroupMessage>>;
  Batches early;
  auto late = c.host(leader).process_ready([&](Batches b) { early = std::move(b); });
  ASSERT_TRUE(late.ok());
  size_t appends = 0;
  for (const auto& [to, msgs] : early) {
    for (const auto& m : msgs) appends += m.message.type == raft::MessageType::append;
  }
  EXPECT_EQ(appends, 2u) << "one append per follower before the sync";
  for (const auto& [to, msgs] : *late) {
    for (const auto& m : msgs) EXPECT_NE(m.message.type, raft::MessageType::append);
  }
  for (auto& [to, msgs] : early) {
    auto decoded = transport::decode_batch(transport::encode_batch({leader, 1, to}, msgs));
    ASSERT_TRUE(decoded.ok());
    ASSERT_TRUE(c.host(to).step(*decoded).ok());
    Batches follower_early;
    auto follower_late =
        c.host(to).process_ready([&](Batches b) { follower_early = std::move(b); });
    ASSERT_TRUE(follower_late.ok());
    for (const auto& [dest, fm] : follower_early) {
      for (const auto& m : fm) {
        EXPECT_NE(m.message.type, raft::MessageType::append_resp) << "an ack before the sync";
      }
    }
    size_t acks = 0;
    for (const auto& [dest, fm] : *follower_late) {
      for (const auto& m : fm) acks += m.message.type == raft::MessageType::append_resp;
    }
    EXPECT_EQ(acks, 1u);
  }
}

TEST(RaftHostTest, GroupsFailOverWhenTheirLeaderIsCutOff) {
  Cluster c(3);
  ASSERT_TRUE(c.await_leaders(3));
  NodeId old = *c.leader(1);
  c.cut(old);
  ASSERT_TRUE(c.await_leaders(3));
  NodeId now = *c.leader(1);
  EXPECT_NE(now, old);
  ASSERT_TRUE(c.host(now).propose(1, "after failover").ok());
  for (int i = 0; i < 10; ++i) c.step_all();
  for (NodeId n = 1; n <= 3; ++n) {
    if (n == old) continue;
    ASSERT_FALSE(c.applied(n).empty());
    EXPECT_EQ(c.applied(n).back().data, "after failover");
  }
  // The old leader, cut off, cannot commit: a proposal it takes never applies anywhere.
  auto stale = c.host(old).propose(1, "from the minority");
  for (int i = 0; i < 10; ++i) c.step_all();
  for (NodeId n = 1; n <= 3; ++n) {
    for (const auto& a : c.applied(n)) EXPECT_NE(a.data, "from the minority");
  }
  (void)stale;
}

TEST(RaftHostTest, MisaddressedBatchesAndUnknownGroupsChangeNothing) {
  Cluster c(1);
  ASSERT_TRUE(c.await_leaders(1));
  const auto term = *c.host(2).term_of(1);
  raft::Message m;
  m.type = raft::MessageType::vote;
  m.from = 3;
  m.to = 2;
  m.term = term + 5;
  transport::DecodedBatch wrong_to{{3, 1, 1}, {{1, m}}};
  EXPECT_EQ(c.host(2).step(wrong_to).code(), ErrorCode::invalid_argument);
  transport::DecodedBatch forged_from{{1, 1, 2}, {{1, m}}};  // claims node 1, carries node 3's
  EXPECT_EQ(c.host(2).step(forged_from).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(*c.host(2).term_of(1), term);
  transport::DecodedBatch other_group{{3, 1, 2}, {{99, m}}};
  EXPECT_TRUE(c.host(2).step(other_group).ok());
  EXPECT_EQ(c.host(2).dropped_messages(), 1u);
  EXPECT_EQ(*c.host(2).term_of(1), term);
  EXPECT_EQ(c.host(2).propose(99, "x").code(), ErrorCode::not_found);
  EXPECT_EQ(c.host(2).add_group(1, std::make_unique<raft::MemoryStorage>(), {}).code(),
            ErrorCode::already_exists);
}

}  // namespace
}  // namespace nca::cluster

namespace nca::cluster {
namespace {

// Four hosts of group 1, hosts 1-3 its voters and host 4 empty until the leader adds it; each
// host's application state is the entries it applied, in order, or a snapshot it restored.
// `storage_for(n)` gives each host's storage; with `checkpoints`, the hosts make state snapshots.
class SnapshotHosts {
 public:
  SnapshotHosts(const std::function<std::unique_ptr<raft::LogStorage>(NodeId)>& storage_for,
                bool checkpoints) {
    for (NodeId n = 1; n <= 4; ++n) {
      RaftHost::Options o;
      o.node = n;
      o.seed = 7;
      hosts[n] = std::make_unique<RaftHost>(
          o,
          [this, n](uint64_t group, const raft::Entry& e) {
            if (!e.data.empty() && e.type == raft::EntryType::normal) {
              text_of(n, group) += e.data + ";";
            }
            index_of(n, group) = e.index;
          },
          nullptr,
          [this, n](uint64_t group, const raft::Snapshot& s) -> Status {
            text_of(n, group) = s.data;
            index_of(n, group) = s.meta.index;
            restores[n]++;
            return {};
          });
      if (checkpoints) {
        // Pinned: the state as of now, whenever it is made.
        hosts[n]->set_checkpoint_fn(
            [this, n](uint64_t group) -> Result<RaftHost::PinnedCheckpoint> {
              return RaftHost::PinnedCheckpoint{index_of(n, group),
                                                [this, n, pinned = text_of(n, group)] {
                                                  checkpoints_made[n]++;
                                                  return Result<std::string>(pinned);
                                                }};
            });
      }
      std::vector<NodeId> voters;
      if (n <= 3) voters = {1, 2, 3};
      EXPECT_TRUE(hosts[n]->add_group(1, storage_for(n), voters).ok());
    }
  }

  void step_all() {
    for (auto& [n, h] : hosts) h->tick();
    for (int round = 0; round < 10; ++round) {  // bounded
      bool any = false;
      for (auto& [n, h] : hosts) {
        auto out = h->process_ready();
        ASSERT_TRUE(out.ok()) << out.error().to_string();
        for (auto& [to, msgs] : *out) {
          any = true;
          auto decoded = transport::decode_batch(transport::encode_batch({n, 1, to}, msgs));
          ASSERT_TRUE(decoded.ok());
          ASSERT_TRUE(hosts.at(to)->step(*decoded).ok());
        }
      }
      if (!any) break;
    }
  }

  NodeId leader() {
    for (auto& [n, h] : hosts) {
      auto v = h->view_of(1);
      if (v && v->leader) return n;
    }
    return raft::kNoNode;
  }

  // Elects a leader among hosts 1-3 and has it commit e0..e19 everywhere; the leader.
  NodeId elect_and_write() {
    for (int i = 0; i < 500 && leader() == raft::kNoNode; ++i) step_all();
    const NodeId l = leader();
    EXPECT_NE(l, raft::kNoNode);
    EXPECT_NE(l, 4u) << "host 4 is not a voter";
    if (l == raft::kNoNode || l == 4) return raft::kNoNode;
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(hosts[l]->propose(1, "e" + std::to_string(i)).ok());
    for (int i = 0; i < 10; ++i) step_all();
    return l;
  }

  // Adds host 4 as a learner through leader `l`, writes "after", and runs until host 4 matches.
  void add_late_member(NodeId l) {
    ASSERT_TRUE(
        hosts[l]->propose_conf_change(1, {raft::ConfChangeType::add_learner, NodeId{4}}).ok());
    ASSERT_TRUE(hosts[l]->propose(1, "after").ok());
    for (int i = 0; i < 30 && state[4] != state[l]; ++i) step_all();
    EXPECT_EQ(restores[4], 1) << "host 4 got the snapshot, not the compacted entries";
    EXPECT_EQ(state[4], state[l]);
    EXPECT_NE(state[4].find("e19;after;"), std::string::npos) << state[4];
    EXPECT_EQ(restores[1] + restores[2] + restores[3], 0);
  }

  // A host's state of a group: group 1's in `state` and `applied`, other groups' in `other`.
  std::string& text_of(NodeId n, uint64_t group) {
    return group == 1 ? state[n] : other[{n, group}].first;
  }
  raft::Index& index_of(NodeId n, uint64_t group) {
    return group == 1 ? applied[n] : other[{n, group}].second;
  }

  std::map<NodeId, std::unique_ptr<RaftHost>> hosts;
  std::map<NodeId, std::string> state;    // of group 1
  std::map<NodeId, raft::Index> applied;  // the last index each host's application holds
  // The entries applied and the last index of the other groups a test adds, by (host, group).
  std::map<std::pair<NodeId, uint64_t>, std::pair<std::string, raft::Index>> other;
  std::map<NodeId, int> restores, checkpoints_made;
};

// Snapshots: three hosts compact their group's log; a fourth host added later cannot get the
// compacted entries, so it is sent the snapshot, restores its state from it through RestoreFn, and
// then applies what follows it like the others.
TEST(RaftHostSnapshotTest, ALateMemberCatchesUpFromTheSnapshot) {
  SnapshotHosts c([](NodeId) { return std::make_unique<raft::MemoryStorage>(); }, false);
  const NodeId l = c.elect_and_write();
  ASSERT_NE(l, raft::kNoNode);
  for (NodeId n = 1; n <= 3; ++n) {
    ASSERT_EQ(c.state[n], c.state[l]) << "host " << n;
    auto& host = *c.hosts[n];
    const raft::Index applied = host.view_of(1)->last_index;  // all applied by now
    EXPECT_EQ(host.compact(1, applied - 1, c.state[n]).code(), ErrorCode::conflict)
        << "not the applied index";
    ASSERT_TRUE(host.compact(1, applied, c.state[n]).ok()) << "host " << n;
    EXPECT_EQ(host.snapshot_index(1), applied);
    EXPECT_EQ(host.compact(1, applied, c.state[n]).code(), ErrorCode::conflict) << "nothing new";
  }
  EXPECT_TRUE(c.state[4].empty());
  c.add_late_member(l);
}

// A MemoryStorage behind the LogStorage interface, for test storages that watch one call.
class WrappedStorage : public raft::LogStorage {
 public:
  Result<raft::InitialState> initial_state() const override { return inner_.initial_state(); }
  Result<std::vector<raft::Entry>> entries(raft::Index lo, raft::Index hi,
                                           uint64_t max_bytes) const override {
    return inner_.entries(lo, hi, max_bytes);
  }
  Result<raft::Term> term(raft::Index index) const override { return inner_.term(index); }
  raft::Index first_index() const override { return inner_.first_index(); }
  raft::Index last_index() const override { return inner_.last_index(); }
  Result<raft::Snapshot> snapshot() const override { return inner_.snapshot(); }
  Status save(const raft::HardState* hs, const std::vector<raft::Entry>& entries,
              const raft::Snapshot* snapshot) override {
    return inner_.save(hs, entries, snapshot);
  }
  Status compact(const raft::Snapshot& snapshot) override { return inner_.compact(snapshot); }

 protected:
  raft::MemoryStorage inner_;
};

// State snapshots as RaftLogStore keeps them (storage/raft_log_store.hpp), in memory: a
// compaction records the meta only, and snapshot() asks the host's source.
class StateSnapshotStorage : public WrappedStorage {
 public:
  Status compact_to_state(const raft::SnapshotMeta& meta) override {
    raft::Snapshot s;
    s.meta = meta;
    if (auto r = inner_.compact(s); !r) return r;
    state_ = true;
    return {};
  }
  void set_snapshot_source(SnapshotSource source) override { source_ = std::move(source); }
  Result<raft::SnapshotMeta> snapshot_meta() const override { return inner_.snapshot()->meta; }
  Result<raft::Snapshot> snapshot() const override {
    if (!state_) return inner_.snapshot();
    if (!source_) return make_error(ErrorCode::unavailable, "no source");
    return source_();
  }
  Status save(const raft::HardState* hs, const std::vector<raft::Entry>& entries,
              const raft::Snapshot* snapshot) override {
    if (snapshot != nullptr) state_ = false;
    return inner_.save(hs, entries, snapshot);
  }

 private:
  bool state_ = false;
  SnapshotSource source_;
};

// Checkpoint jobs a runner was handed, run when the test says.
struct CheckpointJobs {
  struct Job {
    uint64_t group;
    raft::Index index;
    RaftHost::MakeFn make;
  };
  void install(RaftHost& host) {
    host.set_checkpoint_runner([this](uint64_t group, raft::Index index, RaftHost::MakeFn make) {
      jobs.push_back({group, index, std::move(make)});
    });
  }
  std::vector<Job> jobs;
};

std::unique_ptr<SnapshotHosts> state_snapshot_hosts(std::map<NodeId, StateSnapshotStorage*>* out,
                                                    CheckpointJobs* jobs = nullptr) {
  auto c = std::make_unique<SnapshotHosts>(
      [out](NodeId n) {
        auto storage = std::make_unique<StateSnapshotStorage>();
        (*out)[n] = storage.get();
        return storage;
      },
      true);
  if (jobs != nullptr) {
    for (auto& [n, host] : c->hosts) jobs->install(*host);
  }
  return c;
}

// Logs compacted to their state copy nothing: the state's checkpoint is made only when a late
// member needs a snapshot, by its leader, at the leader's applied index of that moment; the late
// member restores it and applies what follows like the others.
TEST(RaftHostSnapshotTest, AStateSnapshotIsMadeOnlyWhenALateMemberNeedsIt) {
  std::map<NodeId, StateSnapshotStorage*> storages;
  auto c = state_snapshot_hosts(&storages);
  const NodeId l = c->elect_and_write();
  ASSERT_NE(l, raft::kNoNode);
  for (NodeId n = 1; n <= 3; ++n) {
    ASSERT_EQ(c->state[n], c->state[l]) << "host " << n;
    ASSERT_TRUE(c->hosts[n]->compact_to_state(1).ok()) << "host " << n;
    EXPECT_EQ(c->hosts[n]->snapshot_index(1), c->applied[n]);
    EXPECT_EQ(c->hosts[n]->compact_to_state(1).code(), ErrorCode::conflict) << "nothing new";
  }
  EXPECT_EQ(c->checkpoints_made[1] + c->checkpoints_made[2] + c->checkpoints_made[3], 0)
      << "a compaction copied the state";

  // The source refuses a checkpoint of another index than Raft applied (the state is behind).
  c->applied[l] -= 1;
  EXPECT_EQ(storages[l]->snapshot().code(), ErrorCode::unavailable);
  c->applied[l] += 1;
  auto now = storages[l]->snapshot();
  ASSERT_TRUE(now.ok()) << now.error().to_string();
  EXPECT_EQ(now->meta.index, c->applied[l]);
  EXPECT_EQ(now->data, c->state[l]);
  c->checkpoints_made[l] = 0;

  c->add_late_member(l);
  EXPECT_GE(c->checkpoints_made[l], 1) << "the leader made no snapshot";
  for (NodeId n = 1; n <= 3; ++n) {
    if (n != l) {
      EXPECT_EQ(c->checkpoints_made[n], 0) << "follower " << n << " made a snapshot";
    }
  }
}

// Hosts making state snapshots through a runner the test drives, with a leader elected (`l`).
class CheckpointRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    c = state_snapshot_hosts(&storages, &runner);
    l = c->elect_and_write();
    ASSERT_NE(l, raft::kNoNode);
  }
  std::map<NodeId, StateSnapshotStorage*> storages;
  CheckpointJobs runner;
  std::unique_ptr<SnapshotHosts> c;
  NodeId l = raft::kNoNode;
};

// With a runner, a checkpoint is made off the host's thread: the request that needs one pins the
// state and starts it, and is refused meanwhile; the group goes on, no second one starts, results
// that were not asked for are refused, a failed one is dropped and the next request starts
// another; once one is made the late member gets it (the state as pinned) and the entries after.
TEST_F(CheckpointRunnerTest, ACheckpointIsMadeOffTheHostsThread) {
  for (NodeId n = 1; n <= 3; ++n) ASSERT_TRUE(c->hosts[n]->compact_to_state(1).ok());

  ASSERT_TRUE(
      c->hosts[l]->propose_conf_change(1, {raft::ConfChangeType::add_learner, NodeId{4}}).ok());
  for (int i = 0; i < 30 && runner.jobs.empty(); ++i) c->step_all();
  ASSERT_EQ(runner.jobs.size(), 1u) << "the late member's need started no checkpoint";
  EXPECT_EQ(runner.jobs[0].index, c->applied[l]);
  EXPECT_EQ(c->checkpoints_made[l], 0) << "made on the host's thread";

  ASSERT_TRUE(c->hosts[l]->propose(1, "meanwhile").ok());
  for (int i = 0; i < 10; ++i) c->step_all();
  EXPECT_NE(c->state[l].find("meanwhile;"), std::string::npos) << "the group stood still";
  EXPECT_EQ(runner.jobs.size(), 1u) << "a second checkpoint started while one is being made";
  EXPECT_EQ(c->restores[4], 0);

  const raft::Index pinned = runner.jobs[0].index;
  EXPECT_EQ(c->hosts[l]->checkpoint_made(1, pinned + 1, std::string("x")).code(),
            ErrorCode::conflict);
  EXPECT_EQ(c->hosts[l]->checkpoint_made(2, pinned, std::string("x")).code(), ErrorCode::not_found);
  EXPECT_EQ(
      c->hosts[l]->checkpoint_made(1, pinned, make_error(ErrorCode::data_loss, "disk")).code(),
      ErrorCode::data_loss);
  for (int i = 0; i < 30 && runner.jobs.size() < 2; ++i) c->step_all();
  ASSERT_EQ(runner.jobs.size(), 2u) << "a failed checkpoint was not started again";
  EXPECT_EQ(c->restores[4], 0);

  const auto job = runner.jobs[1];
  EXPECT_EQ(job.index, c->applied[l]);
  ASSERT_TRUE(c->hosts[l]->checkpoint_made(job.group, job.index, job.make()).ok());
  EXPECT_EQ(c->hosts[l]->checkpoint_made(job.group, job.index, job.make()).code(),
            ErrorCode::conflict)
      << "made twice";
  ASSERT_TRUE(c->hosts[l]->propose(1, "after").ok());
  for (int i = 0; i < 30 && c->state[4] != c->state[l]; ++i) c->step_all();
  EXPECT_EQ(c->restores[4], 1);
  EXPECT_EQ(c->state[4], c->state[l]);
  EXPECT_NE(c->state[4].find("meanwhile;after;"), std::string::npos) << c->state[4];
  EXPECT_EQ(runner.jobs.size(), 2u);
}

// A checkpoint made but not yet taken is dropped when the log is compacted past it: it could not
// serve a follower any more, and it may be large.
TEST_F(CheckpointRunnerTest, ACheckpointOlderThanTheLogsStartIsDropped) {
  ASSERT_TRUE(c->hosts[l]->compact_to_state(1).ok());
  EXPECT_EQ(storages[l]->snapshot().code(), ErrorCode::unavailable);
  ASSERT_EQ(runner.jobs.size(), 1u);
  const auto first = runner.jobs[0];  // a copy: the vector grows
  ASSERT_TRUE(c->hosts[l]->checkpoint_made(first.group, first.index, first.make()).ok());

  ASSERT_TRUE(c->hosts[l]->propose(1, "later").ok());
  for (int i = 0; i < 10; ++i) c->step_all();
  ASSERT_TRUE(c->hosts[l]->compact_to_state(1).ok());
  EXPECT_EQ(storages[l]->snapshot().code(), ErrorCode::unavailable) << "handed out the old one";
  ASSERT_EQ(runner.jobs.size(), 2u);
  const auto second = runner.jobs[1];
  EXPECT_GT(second.index, first.index);
  ASSERT_TRUE(c->hosts[l]->checkpoint_made(second.group, second.index, second.make()).ok());
  auto taken = storages[l]->snapshot();
  ASSERT_TRUE(taken.ok()) << taken.error().to_string();
  EXPECT_EQ(taken->meta.index, second.index);
  EXPECT_NE(taken->data.find("later;"), std::string::npos);
}

// Hosts whose logs are compacted to their state, with a leader elected (`l`) and the late host 4
// installing the leader's snapshot through a runner the test drives (`job`); host 4 alone also
// hosts group 2, which it leads.
class InstallRunnerTest : public ::testing::Test {
 protected:
  struct Job {
    uint64_t group;
    raft::Index index;
    RaftHost::InstallFn install;
  };
  void SetUp() override {
    c = state_snapshot_hosts(&storages);
    c->hosts[4]->set_install_runner(
        [this](uint64_t group, raft::Index index, RaftHost::InstallFn install) {
          jobs.push_back({group, index, std::move(install)});
        });
    ASSERT_TRUE(c->hosts[4]->add_group(2, std::make_unique<raft::MemoryStorage>(), {4}).ok());
    l = c->elect_and_write();
    ASSERT_NE(l, raft::kNoNode);
    for (NodeId n = 1; n <= 3; ++n) ASSERT_TRUE(c->hosts[n]->compact_to_state(1).ok());
    ASSERT_TRUE(
        c->hosts[l]->propose_conf_change(1, {raft::ConfChangeType::add_learner, NodeId{4}}).ok());
    for (int i = 0; i < 30 && jobs.empty(); ++i) c->step_all();
    ASSERT_EQ(jobs.size(), 1u) << "host 4 started no install";
    job = jobs[0];
    EXPECT_EQ(job.group, 1u);
    EXPECT_TRUE(c->hosts[4]->installing(1));
  }
  std::map<NodeId, StateSnapshotStorage*> storages;
  std::unique_ptr<SnapshotHosts> c;
  NodeId l = raft::kNoNode;
  std::vector<Job> jobs;
  Job job;
};

// Until the install is done the group stands still (nothing restored or applied, messages to it
// dropped, calls refused, no second install) while the host's other group goes on; then the group
// finishes its round and catches up with what was written meanwhile.
TEST_F(InstallRunnerTest, AFollowerInstallsASnapshotOffTheHostsThread) {
  RaftHost& late = *c->hosts[4];
  ASSERT_TRUE(c->hosts[l]->propose(1, "meanwhile").ok());
  ASSERT_TRUE(late.propose(2, "other").ok());
  const uint64_t dropped = late.dropped_messages();
  for (int i = 0; i < 10; ++i) c->step_all();
  EXPECT_NE(c->text_of(4, 2).find("other;"), std::string::npos)
      << "host 4's other group stood still";
  EXPECT_GT(late.dropped_messages(), dropped) << "messages to the installing group were stepped";
  EXPECT_EQ(c->restores[4], 0);
  EXPECT_TRUE(c->state[4].empty());
  EXPECT_EQ(jobs.size(), 1u) << "a second install started";
  EXPECT_EQ(late.campaign(1).code(), ErrorCode::unavailable);
  EXPECT_EQ(late.propose(1, "x").code(), ErrorCode::unavailable);
  EXPECT_EQ(late.compact_to_state(1).code(), ErrorCode::unavailable);
  EXPECT_EQ(late.remove_group(1).error().code, ErrorCode::unavailable);

  EXPECT_EQ(late.install_done(1, job.index + 1, {}).code(), ErrorCode::conflict);
  EXPECT_EQ(late.install_done(3, job.index, {}).code(), ErrorCode::not_found);
  ASSERT_TRUE(job.install().ok());
  EXPECT_EQ(c->restores[4], 1);
  ASSERT_TRUE(late.install_done(1, job.index, {}).ok());
  EXPECT_EQ(late.install_done(1, job.index, {}).code(), ErrorCode::conflict) << "done twice";
  ASSERT_TRUE(c->hosts[l]->propose(1, "after").ok());
  for (int i = 0; i < 30 && c->state[4] != c->state[l]; ++i) c->step_all();
  EXPECT_EQ(c->state[4], c->state[l]);
  EXPECT_NE(c->state[4].find("e19;meanwhile;after;"), std::string::npos) << c->state[4];
  EXPECT_FALSE(late.installing(1));
  EXPECT_EQ(c->restores[4], 1);
  EXPECT_EQ(jobs.size(), 1u);
}

// One install at a time: a second group's snapshot waits, its group standing still too, until the
// first install is done; then it goes to the runner, and both groups catch up.
TEST_F(InstallRunnerTest, InstallsRunOneAtATime) {
  for (NodeId n = 1; n <= 4; ++n) {
    std::vector<NodeId> voters;
    if (n <= 3) voters = {1, 2, 3};
    ASSERT_TRUE(c->hosts[n]->add_group(3, std::make_unique<StateSnapshotStorage>(), voters).ok());
  }
  NodeId l3 = raft::kNoNode;
  for (int i = 0; i < 500 && l3 == raft::kNoNode; ++i) {
    c->step_all();
    for (NodeId n = 1; n <= 3; ++n) {
      if (c->hosts[n]->view_of(3)->leader) l3 = n;
    }
  }
  ASSERT_NE(l3, raft::kNoNode);
  ASSERT_TRUE(c->hosts[l3]->propose(3, "g3").ok());
  for (int i = 0; i < 10; ++i) c->step_all();
  for (NodeId n = 1; n <= 3; ++n) ASSERT_TRUE(c->hosts[n]->compact_to_state(3).ok()) << n;
  ASSERT_TRUE(
      c->hosts[l3]->propose_conf_change(3, {raft::ConfChangeType::add_learner, NodeId{4}}).ok());
  for (int i = 0; i < 30 && !c->hosts[4]->installing(3); ++i) c->step_all();
  ASSERT_TRUE(c->hosts[4]->installing(3)) << "group 3's snapshot did not reach host 4";
  EXPECT_EQ(jobs.size(), 1u) << "a second install ran beside the first";

  ASSERT_TRUE(job.install().ok());
  ASSERT_TRUE(c->hosts[4]->install_done(1, job.index, {}).ok());
  ASSERT_EQ(jobs.size(), 2u) << "the waiting install did not start";
  const Job second = jobs[1];  // a copy: the vector may grow
  EXPECT_EQ(second.group, 3u);
  ASSERT_TRUE(second.install().ok());
  ASSERT_TRUE(c->hosts[4]->install_done(3, second.index, {}).ok());
  for (int i = 0; i < 30 && (c->text_of(4, 3) != c->text_of(l3, 3) || c->state[4] != c->state[l]);
       ++i) {
    c->step_all();
  }
  EXPECT_EQ(c->text_of(4, 3), c->text_of(l3, 3));
  EXPECT_NE(c->text_of(4, 3).find("g3;"), std::string::npos);
  EXPECT_EQ(c->state[4], c->state[l]);
  EXPECT_EQ(jobs.size(), 2u);
}

// A failed install is handed back as the error, and the group stays still: its state is unknown.
TEST_F(InstallRunnerTest, AFailedInstallLeavesTheGroupStill) {
  RaftHost& late = *c->hosts[4];
  EXPECT_EQ(late.install_done(1, job.index, make_error(ErrorCode::data_loss, "disk")).code(),
            ErrorCode::data_loss);
  EXPECT_TRUE(late.installing(1));
  ASSERT_TRUE(c->hosts[l]->propose(1, "after").ok());
  for (int i = 0; i < 10; ++i) c->step_all();
  EXPECT_TRUE(c->state[4].empty());
  EXPECT_EQ(c->restores[4], 0);
  EXPECT_EQ(late.install_done(1, job.index, {}).code(), ErrorCode::conflict);
}

TEST(RaftHostSnapshotTest, CompactingToTheStateNeedsACheckpointFunction) {
  RaftHost::Options o;
  o.node = 1;
  RaftHost host(o, [](uint64_t, const raft::Entry&) {});
  ASSERT_TRUE(host.add_group(1, std::make_unique<StateSnapshotStorage>(), {1}).ok());
  EXPECT_EQ(host.compact_to_state(1).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(host.compact_to_state(2).code(), ErrorCode::not_found);
}

// Counts snapshot() calls of the storage it wraps: reading a snapshot reads its data (a shard's
// whole checkpoint), which a host must do only to send or restore it.
class SnapshotCountingStorage : public WrappedStorage {
 public:
  explicit SnapshotCountingStorage(int* reads) : reads_(reads) {}
  Result<raft::Snapshot> snapshot() const override {
    ++*reads_;
    return WrappedStorage::snapshot();
  }

 private:
  int* reads_;
};

// Ticks a host whose group 1 has it as its only voter until it leads; false after 200 ticks.
bool elect_sole_voter(RaftHost& host) {
  for (int i = 0; i < 200 && !(host.view_of(1) && host.view_of(1)->leader); ++i) {
    host.tick();
    if (!host.process_ready().ok()) return false;
  }
  return host.view_of(1) && host.view_of(1)->leader;
}

// Records the order of saves and syncs into a log the test shares with its apply callback.
class SyncRecordingStorage : public WrappedStorage {
 public:
  explicit SyncRecordingStorage(std::vector<std::string>* events) : events_(events) {}
  Status save_unsynced(const raft::HardState* hs, const std::vector<raft::Entry>& entries,
                       const raft::Snapshot* snapshot) override {
    for (const auto& e : entries) {
      if (!e.data.empty()) events_->push_back("save " + e.data);
    }
    return save(hs, entries, snapshot);
  }
  Status sync() override {
    events_->push_back("sync");
    return {};
  }

 private:
  std::vector<std::string>* events_;
};

// Runs one voter's group until entry "a" is committed and "b" waits to be saved, then returns
// the order of the round that applies "a".
std::vector<std::string> round_order(bool apply_early) {
  std::vector<std::string> events;
  RaftHost::Options o;
  o.node = 1;
  RaftHost host(o, [&](uint64_t, const raft::Entry& e) {
    if (!e.data.empty()) events.push_back("apply " + e.data);
  });
  EXPECT_TRUE(host.add_group(1, std::make_unique<SyncRecordingStorage>(&events), {1}).ok());
  EXPECT_TRUE(elect_sole_voter(host));
  EXPECT_TRUE(host.propose(1, "a").ok());
  EXPECT_TRUE(host.process_ready().ok());  // saves and syncs "a"; it commits on the sync
  EXPECT_TRUE(host.propose(1, "b").ok());
  events.clear();
  std::function<void()> applied = [&] { events.push_back("applied"); };
  EXPECT_TRUE(host.process_ready(nullptr, apply_early ? applied : nullptr).ok());
  return events;
}

// A committed entry is durable on a majority already: with `applied_early` it is applied, and
// the owner told, before the round's fsync of newer entries, so its answer need not wait for it.
TEST(RaftHostTest, CommittedEntriesAreAppliedBeforeTheRoundsSyncWhenAsked) {
  EXPECT_EQ(round_order(true), (std::vector<std::string>{"save b", "apply a", "applied", "sync"}));
  EXPECT_EQ(round_order(false), (std::vector<std::string>{"save b", "sync", "apply a"}));
}

// Checkpoints are made one at a time across a host's groups: a second group's request waits
// (unavailable, no job) until the first one's checkpoint is made.
TEST(RaftHostSnapshotTest, CheckpointsAreMadeOneAtATime) {
  RaftHost::Options o;
  o.node = 1;
  std::map<uint64_t, raft::Index> applied;
  RaftHost host(o, [&applied](uint64_t g, const raft::Entry& e) { applied[g] = e.index; });
  host.set_checkpoint_fn([&applied](uint64_t g) -> Result<RaftHost::PinnedCheckpoint> {
    return RaftHost::PinnedCheckpoint{
        applied[g], [g] { return Result<std::string>("state of " + std::to_string(g)); }};
  });
  CheckpointJobs runner;
  runner.install(host);
  std::map<uint64_t, StateSnapshotStorage*> storages;
  for (uint64_t g : {1, 2}) {
    auto storage = std::make_unique<StateSnapshotStorage>();
    storages[g] = storage.get();
    ASSERT_TRUE(host.add_group(g, std::move(storage), {1}).ok());
  }
  for (int i = 0; i < 200 && !(host.view_of(1)->leader && host.view_of(2)->leader); ++i) {
    host.tick();
    ASSERT_TRUE(host.process_ready().ok());
  }
  for (uint64_t g : {1, 2}) {
    ASSERT_TRUE(host.view_of(g)->leader);
    ASSERT_TRUE(host.propose(g, "x").ok());
  }
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(host.process_ready().ok());
  for (uint64_t g : {1, 2}) ASSERT_TRUE(host.compact_to_state(g).ok());

  EXPECT_EQ(storages[1]->snapshot().code(), ErrorCode::unavailable);
  ASSERT_EQ(runner.jobs.size(), 1u);
  auto second = storages[2]->snapshot();
  ASSERT_EQ(second.code(), ErrorCode::unavailable);
  EXPECT_NE(second.error().message.find("waits for the checkpoint of raft group 1"),
            std::string::npos)
      << second.error().message;
  EXPECT_EQ(runner.jobs.size(), 1u) << "two checkpoints in the making";

  const auto first = runner.jobs[0];
  ASSERT_TRUE(host.checkpoint_made(first.group, first.index, first.make()).ok());
  EXPECT_EQ(storages[2]->snapshot().code(), ErrorCode::unavailable);
  ASSERT_EQ(runner.jobs.size(), 2u) << "the second group's checkpoint did not start";
  EXPECT_EQ(runner.jobs[1].group, 2u);
  auto taken = storages[1]->snapshot();
  ASSERT_TRUE(taken.ok()) << taken.error().to_string();
  EXPECT_EQ(taken->data, "state of 1");
}

TEST(RaftHostSnapshotTest, TheSnapshotIndexDoesNotReadTheSnapshot) {
  RaftHost::Options o;
  o.node = 1;
  RaftHost host(
      o, [](uint64_t, const raft::Entry&) {}, nullptr, nullptr);
  int reads = 0;
  ASSERT_TRUE(host.add_group(1, std::make_unique<SnapshotCountingStorage>(&reads), {1}).ok());
  ASSERT_TRUE(elect_sole_voter(host));
  ASSERT_TRUE(host.propose(1, "x").ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(host.process_ready().ok());
  const raft::Index applied = host.applied_of(1);
  ASSERT_GT(applied, 0u);
  ASSERT_TRUE(host.compact(1, applied, "state").ok());
  const int before = reads;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(host.snapshot_index(1), applied);
  EXPECT_EQ(reads, before) << "snapshot_index() read the snapshot's data";
}

}  // namespace
}  // namespace nca::cluster
