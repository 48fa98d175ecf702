// tests/cluster/raft/raft_test_cluster.hpp: a few Raft nodes wired together in memory, for tests.
//
// Each node has a storage (a MemoryStorage unless a factory is given) bootstrapped with the same
// voters. stabilize() handles every
// Ready the way an application must (persist, send, apply, advance) and delivers messages at once,
// until nothing moves (bounded). A filter drops messages (partitions); applied entries and read
// states are recorded per node. Single-threaded; not part of the library.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/raft/memory_storage.hpp"
#include "cluster/raft/raft.hpp"

namespace nca::raft::test_support {

class TestCluster {
 public:
  // Makes node `id`'s storage; called again on restart() (after the old one is destroyed), so a
  // durable storage reopens what it wrote.
  using StorageFactory = std::function<std::unique_ptr<LogStorage>(NodeId id)>;

  explicit TestCluster(size_t voters, size_t members = 0, RaftConfig base = {},
                       StorageFactory factory = nullptr)
      : base_(base), factory_(std::move(factory)) {
    if (members < voters) members = voters;
    std::vector<NodeId> ids;
    for (NodeId id = 1; id <= voters; ++id) ids.push_back(id);
    Bootstrap boot = bootstrap_entries(ids);
    for (NodeId id = 1; id <= members; ++id) {
      auto& n = nodes_[id];
      n.storage = factory_ ? factory_(id) : std::make_unique<MemoryStorage>();
      if (id <= voters) {
        EXPECT_TRUE(n.storage->save(&boot.hard_state, boot.entries, nullptr).ok());
      }
      start(id);
    }
    stabilize();  // applies the bootstrap entries, which is how members learn the membership
  }

  Raft& node(NodeId id) { return *nodes_.at(id).raft; }
  LogStorage& storage(NodeId id) { return *nodes_.at(id).storage; }
  const std::vector<Entry>& applied(NodeId id) { return nodes_.at(id).applied; }
  std::vector<ReadState>& reads(NodeId id) { return nodes_.at(id).reads; }

  // Normal entries with data that node `id` applied, as strings.
  std::vector<std::string> applied_data(NodeId id) {
    std::vector<std::string> out;
    for (const Entry& e : applied(id)) {
      if (e.type == EntryType::normal && !e.data.empty()) out.push_back(e.data);
    }
    return out;
  }

  // Drops every message to or from `id` while isolated.
  void isolate(NodeId id) { isolated_.insert(id); }
  void heal() { isolated_.clear(); }
  std::function<bool(const Message&)> filter;  // return false to drop
  std::vector<Message> sent;                   // every message that was delivered

  void restart(NodeId id) {
    if (factory_) {
      nodes_.at(id).raft.reset();
      nodes_.at(id).storage.reset();
      nodes_.at(id).storage = factory_(id);
    }
    auto snap = nodes_.at(id).storage->snapshot();
    nodes_.at(id).applied.clear();
    nodes_.at(id).applied_index = snap.ok() ? snap->meta.index : 0;
    start(id);
    handle_ready(id);  // re-applies the committed log, membership changes included
  }

  // Handles Readies and delivers messages until quiet (at most `rounds` rounds).
  void stabilize(int rounds = 200) {
    for (int i = 0; i < rounds; ++i) {
      bool moved = false;
      for (auto& [id, n] : nodes_) moved = handle_ready(id) || moved;
      moved = deliver() || moved;
      if (!moved) return;
    }
    ADD_FAILURE() << "cluster did not settle within " << rounds << " rounds";
  }

  void tick(NodeId id, int times = 1) {
    for (int i = 0; i < times; ++i) node(id).tick();
  }
  void tick_all(int times = 1) {
    for (int i = 0; i < times; ++i) {
      for (auto& [id, n] : nodes_) n.raft->tick();
    }
  }

  // Elects `id` (campaign + stabilize) and checks it won.
  void elect(NodeId id) {
    node(id).campaign();
    stabilize();
    ASSERT_EQ(node(id).role(), Role::leader) << "node " << id << " did not win";
  }

  // Handles one Ready of `id`; false when it had none.
  bool handle_ready(NodeId id) {
    auto& n = nodes_.at(id);
    if (!n.raft->has_ready()) return false;
    Ready rd = n.raft->ready();
    for (Message& m : rd.messages) queue_.push_back(std::move(m));
    EXPECT_TRUE(n.storage
                    ->save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                           rd.snapshot ? &*rd.snapshot : nullptr)
                    .ok());
    for (Message& m : rd.persisted_messages) queue_.push_back(std::move(m));
    if (rd.snapshot) n.applied_index = rd.snapshot->meta.index;
    for (const Entry& e : rd.committed) {
      EXPECT_EQ(e.index, n.applied_index + 1) << "node " << id << " applies out of order";
      n.applied_index = e.index;
      n.applied.push_back(e);
    }
    for (const ReadState& r : rd.read_states) n.reads.push_back(r);
    n.raft->advance(rd);
    return true;
  }

  // Delivers queued messages; false when there were none.
  bool deliver() {
    if (queue_.empty()) return false;
    std::deque<Message> batch;
    batch.swap(queue_);
    for (Message& m : batch) {
      if (isolated_.count(m.from) || isolated_.count(m.to)) continue;
      if (filter && !filter(m)) continue;
      if (!nodes_.count(m.to) || !nodes_.at(m.to).raft) continue;
      sent.push_back(m);
      Status s = nodes_.at(m.to).raft->step(m);
      EXPECT_TRUE(s.ok()) << s.error().message;
    }
    return true;
  }

  // Takes a snapshot of `id` at its applied index and compacts its log.
  void compact(NodeId id, const std::string& data = "state") {
    auto& n = nodes_.at(id);
    Snapshot snap;
    snap.meta.index = n.applied_index;
    snap.meta.term = *n.storage->term(n.applied_index);
    snap.meta.conf = n.raft->conf();
    snap.data = data;
    ASSERT_TRUE(n.storage->compact(snap).ok());
  }

  std::deque<Message>& queue() { return queue_; }

 private:
  struct Node {
    std::unique_ptr<LogStorage> storage;
    std::unique_ptr<Raft> raft;
    std::vector<Entry> applied;
    Index applied_index = 0;
    std::vector<ReadState> reads;
  };

  void start(NodeId id) {
    auto& n = nodes_.at(id);
    RaftConfig config = base_;
    config.id = id;
    config.storage = n.storage.get();
    config.applied = n.applied_index;
    auto raft = Raft::create(config);
    ASSERT_TRUE(raft.ok()) << raft.error().message;
    n.raft = std::move(*raft);
  }

  RaftConfig base_;
  StorageFactory factory_;
  std::map<NodeId, Node> nodes_;
  std::set<NodeId> isolated_;
  std::deque<Message> queue_;
};

}  // namespace nca::raft::test_support
