#include "cluster/sim/raft_simulator.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "cluster/raft/memory_storage.hpp"
#include "cluster/raft/raft.hpp"
#include "cluster/sim/kv_state_machine.hpp"
#include "cluster/sim/linearizability.hpp"
#include "cluster/sim/safety_checker.hpp"
#include "cluster/sim/sim_network.hpp"

namespace nca::raft::sim {
namespace {

// Election timeouts are drawn from [20, 40) ticks; a message takes at most 2 ticks, so an election
// (pre-vote and vote round trips) fits well inside that window, as it must in a real deployment
// for randomized timeouts to break split votes.
constexpr int kElectionTick = 20;
constexpr uint64_t kOpTimeout = 400;  // steps a client waits for a reply
constexpr char kHealMarker[] = "heal-";

struct ClientOp {
  enum class Kind { put, log_get, read_index_get };
  Kind kind = Kind::put;
  size_t history = 0;  // position in the history
  uint64_t seq = 0;
  std::string key;
  std::string value;
  uint64_t deadline = 0;
  bool accepted = false;
  NodeId node = kNoNode;
  uint64_t context = 0;
  std::optional<Index> read_at;
};

struct Client {
  uint64_t id = 0;
  uint64_t seq = 0;
  NodeId guess = 1;
  std::optional<ClientOp> op;
};

struct Node {
  NodeId id = kNoNode;
  MemoryStorage storage;
  std::unique_ptr<Raft> raft;
  KvStateMachine kv;
  Index applied = 0;
  bool alive = true;
  uint64_t restart_at = 0;
  std::optional<Ready> pending;  // a Ready whose write is in flight
  uint64_t pending_done_at = 0;
  uint64_t incarnation = 0;
  uint64_t tick_phase = 0;
  uint64_t compact_every = 50;
  SoftState soft;
};

class Simulation {
 public:
  Simulation(uint64_t seed, const SimOptions& options)
      : seed_(seed), options_(options), rng_(seed), network_(&rng_) {
    result_.seed = seed;
  }

  SimResult run();

 private:
  bool chance(double p) { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < p; }
  uint64_t uniform(uint64_t lo, uint64_t hi) { return lo + rng_() % (hi - lo + 1); }
  NodeId random_node() { return static_cast<NodeId>(uniform(1, options_.nodes)); }
  Node& node(NodeId id) { return nodes_[id - 1]; }

  void fail(const std::string& why) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.failure = "at step " + std::to_string(now_) + ": " + why;
    trace("FAILURE " + why);
  }
  void trace(const std::string& line) {
    if (options_.trace) result_.trace.push_back("t=" + std::to_string(now_) + " " + line);
  }

  bool setup();
  void step(bool faults, bool new_ops);
  void inject_faults();
  void crash(Node& n);
  void restart(Node& n);
  bool start_raft(Node& n);
  void deliver();
  void process_ready(Node& n);
  void complete_ready(Node& n);
  void maybe_compact(Node& n);
  void send_all(const std::vector<Message>& messages);
  void run_clients(bool new_ops);
  void submit(Client& c);
  void finish(Client& c, const std::string& observed);
  void serve_reads(Node& n);
  Node* current_leader();
  void change_membership(Node& leader);

  uint64_t seed_;
  SimOptions options_;
  std::mt19937_64 rng_;
  SimNetwork network_;
  SafetyChecker checker_;
  std::vector<Node> nodes_;
  std::vector<Client> clients_;
  std::vector<KvOperation> history_;
  uint64_t now_ = 0;
  SimResult result_;
  uint64_t partition_until_ = 0;
  bool healing_ = false;
  bool healed_ = false;
  bool sabotaged_ = false;
  std::map<NodeId, Term> marker_term_;  // heal markers proposed, by leader
};

std::string message_line(const Message& m) {
  std::ostringstream out;
  out << to_string(m.type) << " " << m.from << "->" << m.to << " term " << m.term;
  if (m.type == MessageType::append || m.type == MessageType::append_resp) {
    out << " index " << m.index << " log_term " << m.log_term << " entries " << m.entries.size()
        << " commit " << m.commit
        << (m.reject ? " reject hint " + std::to_string(m.reject_hint) : "");
  } else if (m.type == MessageType::snapshot && m.snapshot) {
    out << " snapshot index " << m.snapshot->meta.index << " term " << m.snapshot->meta.term
        << " voters " << m.snapshot->meta.conf.voters.size() << " learners "
        << m.snapshot->meta.conf.learners.size();
  } else if (m.reject) {
    out << " reject";
  }
  return out.str();
}

bool Simulation::setup() {
  if (options_.nodes == 0 || options_.nodes > 15) {
    fail("the simulation takes 1 to 15 nodes, not " + std::to_string(options_.nodes));
    return false;
  }
  if (options_.faults) {
    NetworkFaults f;
    f.drop = chance(0.2) ? 0.0 : uniform(0, 100) / 1000.0;
    f.duplicate = uniform(0, 50) / 1000.0;
    f.max_delay = uniform(1, 20);
    network_.set_faults(f);
  }
  std::vector<NodeId> voters;
  for (size_t i = 1; i <= options_.nodes; ++i) voters.push_back(i);
  Bootstrap boot = bootstrap_entries(voters);
  nodes_.resize(options_.nodes);
  for (size_t i = 0; i < options_.nodes; ++i) {
    Node& n = nodes_[i];
    n.id = i + 1;
    n.tick_phase = uniform(0, options_.tick_every - 1);
    n.compact_every = uniform(10, 80);
    Status s = n.storage.save(&boot.hard_state, boot.entries, nullptr);
    if (!s.ok()) {
      fail("bootstrap: " + s.error().message);
      return false;
    }
    if (!start_raft(n)) return false;
  }
  for (size_t c = 0; c < options_.clients; ++c) {
    Client client;
    client.id = c + 1;
    client.guess = random_node();
    clients_.push_back(client);
  }
  return true;
}

bool Simulation::start_raft(Node& n) {
  RaftConfig config;
  config.id = n.id;
  config.storage = &n.storage;
  config.election_tick = kElectionTick;
  config.heartbeat_tick = 1;
  config.applied = n.applied;
  config.max_inflight = 8;
  config.max_message_bytes = 256;  // small, so batching and flow control are exercised
  config.seed = seed_ * 31 + n.incarnation;
  auto raft = Raft::create(config);
  if (!raft.ok()) {
    fail("node " + std::to_string(n.id) + " cannot start: " + raft.error().message);
    return false;
  }
  n.raft = std::move(*raft);
  n.soft = SoftState{};
  return true;
}

SimResult Simulation::run() {
  if (!setup()) return result_;
  for (now_ = 1; now_ <= options_.steps && result_.ok; ++now_) step(options_.faults, true);
  if (!result_.ok) return result_;

  // Heal: every link, every node, no more loss. A leader must now commit within the bound.
  healing_ = true;
  network_.unblock_all();
  NetworkFaults calm = network_.faults();
  calm.drop = 0;
  calm.duplicate = 0;
  network_.set_faults(calm);
  for (Node& n : nodes_) {
    if (!n.alive) restart(n);
  }
  trace("healed");
  uint64_t heal_start = now_;
  uint64_t heal_end = now_ + options_.heal_ticks * options_.tick_every;
  for (; now_ <= heal_end && result_.ok && !healed_; ++now_) step(false, true);
  if (!result_.ok) return result_;
  if (!healed_) {
    fail("after the network healed no leader committed within " +
         std::to_string(options_.heal_ticks) + " ticks");
    return result_;
  }
  result_.stats.heal_ticks = (now_ - heal_start) / options_.tick_every;
  // Let every client op finish or time out, then judge the history.
  uint64_t drain_end = now_ + kOpTimeout + 1;
  for (; now_ <= drain_end && result_.ok; ++now_) {
    step(false, false);
    bool busy = false;
    for (const Client& c : clients_) busy = busy || c.op.has_value();
    if (!busy) break;
  }
  if (!result_.ok) return result_;
  result_.stats.steps = now_;
  result_.stats.messages = network_.sent();
  result_.stats.dropped = network_.dropped();
  result_.stats.duplicated = network_.duplicated();
  result_.stats.leaders = checker_.leaders_seen();
  result_.stats.committed = checker_.committed_entries();
  for (const KvOperation& op : history_) result_.stats.ops_completed += op.completed ? 1 : 0;
  result_.stats.ops = history_.size();
  LinearizabilityReport report = check_kv_history(history_);
  if (report.verdict == Linearizability::violation) {
    fail("the client history is not linearizable (key " + report.key + "): " + report.explanation);
  } else if (report.verdict == Linearizability::unknown) {
    fail("the linearizability check ran out of its search budget on key " + report.key);
  }
  return result_;
}

void Simulation::step(bool faults, bool new_ops) {
  for (Node& n : nodes_) {
    if (!n.alive && n.restart_at <= now_) restart(n);
  }
  if (faults) inject_faults();
  deliver();
  for (Node& n : nodes_) {
    if (n.alive && (now_ + n.tick_phase) % options_.tick_every == 0) n.raft->tick();
  }
  if (healing_ && !healed_) {
    if (Node* leader = current_leader()) {
      auto proposed = marker_term_.find(leader->id);
      if (proposed == marker_term_.end() || proposed->second != leader->raft->term()) {
        if (leader->raft->propose(kHealMarker + std::to_string(leader->raft->term())).ok()) {
          marker_term_[leader->id] = leader->raft->term();
        }
      }
    }
  }
  run_clients(new_ops);
  for (int round = 0; round < 2 && result_.ok; ++round) {
    for (Node& n : nodes_) {
      if (n.alive && result_.ok) process_ready(n);
    }
  }
  if (!result_.ok) return;
  std::vector<const Raft*> live;
  for (const Node& n : nodes_) {
    if (n.alive) live.push_back(n.raft.get());
  }
  Status s = checker_.check_step(live);
  if (!s.ok()) fail(s.error().message);
}

Node* Simulation::current_leader() {
  Node* best = nullptr;
  for (Node& n : nodes_) {
    if (n.alive && n.raft->role() == Role::leader &&
        (best == nullptr || n.raft->term() > best->raft->term())) {
      best = &n;
    }
  }
  return best;
}

void Simulation::inject_faults() {
  // Crashes: keep a majority alive most of the time, but do not promise it.
  size_t dead = 0;
  for (const Node& n : nodes_) dead += n.alive ? 0 : 1;
  if (chance(0.0015) && dead < (options_.nodes + 1) / 2) {
    Node& n = node(random_node());
    if (n.alive) crash(n);
  }
  // Partitions.
  if (network_.any_blocked() && now_ >= partition_until_) {
    network_.unblock_all();
    trace("partition healed");
  } else if (!network_.any_blocked() && chance(0.002) && options_.nodes > 1) {
    ++result_.stats.partitions;
    partition_until_ = now_ + uniform(50, 600);
    switch (uniform(0, 3)) {
      case 0: {  // isolate one node (the leader, when there is one)
        Node* leader = current_leader();
        NodeId lone = leader != nullptr && chance(0.5) ? leader->id : random_node();
        for (NodeId other = 1; other <= options_.nodes; ++other) {
          if (other == lone) continue;
          network_.block(lone, other);
          network_.block(other, lone);
        }
        trace("partition: node " + std::to_string(lone) + " isolated");
        break;
      }
      case 1: {  // two sides
        std::vector<bool> side(options_.nodes + 1);
        for (NodeId id = 1; id <= options_.nodes; ++id) side[id] = chance(0.5);
        for (NodeId a = 1; a <= options_.nodes; ++a) {
          for (NodeId b = 1; b <= options_.nodes; ++b) {
            if (side[a] != side[b]) network_.block(a, b);
          }
        }
        trace("partition: split in two sides");
        break;
      }
      case 2: {  // asymmetric: a node can send but not receive (or the reverse)
        NodeId lone = random_node();
        bool deaf = chance(0.5);
        for (NodeId other = 1; other <= options_.nodes; ++other) {
          if (other == lone) continue;
          if (deaf) {
            network_.block(other, lone);
          } else {
            network_.block(lone, other);
          }
        }
        trace("partition: node " + std::to_string(lone) +
              (deaf ? " cannot hear" : " cannot speak"));
        break;
      }
      default: {  // random one-way links
        size_t links = uniform(1, options_.nodes * 2);
        for (size_t i = 0; i < links; ++i) {
          NodeId a = random_node();
          NodeId b = random_node();
          if (a != b) network_.block(a, b);
        }
        trace("partition: random one-way links");
        break;
      }
    }
  }
  // Clock jumps: a node's timer fires many ticks at once.
  if (chance(0.001)) {
    Node& n = node(random_node());
    if (n.alive) {
      uint64_t jump = uniform(1, 2 * kElectionTick);
      trace("clock jump: node " + std::to_string(n.id) + " +" + std::to_string(jump) + " ticks");
      for (uint64_t i = 0; i < jump; ++i) n.raft->tick();
    }
  }
  Node* leader = current_leader();
  if (leader != nullptr && chance(0.001)) change_membership(*leader);
  if (leader != nullptr && chance(0.001)) {
    NodeId to = random_node();
    if (to != leader->id && leader->raft->transfer_leadership(to).ok()) {
      ++result_.stats.transfers;
      trace("transfer: leader " + std::to_string(leader->id) + " hands over to " +
            std::to_string(to));
    }
  }
}

void Simulation::change_membership(Node& leader) {
  const ConfState& conf = leader.raft->conf();
  std::optional<ConfChange> change;
  for (NodeId id = 1; id <= options_.nodes && !change; ++id) {
    if (is_learner(conf, id)) change = ConfChange{ConfChangeType::add_voter, id};
  }
  for (NodeId id = 1; id <= options_.nodes && !change; ++id) {
    if (!is_voter(conf, id) && !is_learner(conf, id)) {
      change = ConfChange{ConfChangeType::add_learner, id};
    }
  }
  if (!change && options_.nodes >= 3) {
    NodeId id = random_node();
    if (id == leader.id) return;
    change =
        ConfChange{chance(0.5) ? ConfChangeType::remove_node : ConfChangeType::add_learner, id};
  }
  if (!change) return;
  auto index = leader.raft->propose_conf_change(*change);
  if (index.ok()) {
    ++result_.stats.conf_changes;
    trace("conf change proposed at " + std::to_string(*index) + ": type " +
          std::to_string(static_cast<int>(change->type)) + " node " + std::to_string(change->node));
  }
}

void Simulation::crash(Node& n) {
  ++result_.stats.crashes;
  if (n.pending) {
    // A write in flight may or may not have reached the disk; its persisted_messages never left.
    if (chance(0.5)) {
      ++result_.stats.lost_writes;
      trace("crash: node " + std::to_string(n.id) + " loses its unsynced write");
    } else {
      const Ready& rd = *n.pending;
      Status s = n.storage.save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                                rd.snapshot ? &*rd.snapshot : nullptr);
      if (!s.ok()) fail("node " + std::to_string(n.id) + " save: " + s.error().message);
    }
  }
  trace("crash: node " + std::to_string(n.id));
  n.pending.reset();
  n.raft.reset();
  n.kv = KvStateMachine{};
  n.alive = false;
  n.restart_at = now_ + uniform(30, 400);
  for (Client& c : clients_) {
    if (c.op && c.op->accepted && c.op->node == n.id) c.op->deadline = now_;  // the reply is lost
  }
}

void Simulation::restart(Node& n) {
  ++n.incarnation;
  auto snapshot = n.storage.snapshot();
  if (!snapshot.ok()) {
    fail("node " + std::to_string(n.id) + " snapshot: " + snapshot.error().message);
    return;
  }
  n.kv = KvStateMachine{};
  if (!snapshot->empty()) {
    Status s = n.kv.restore(snapshot->data);
    if (!s.ok()) {
      fail("node " + std::to_string(n.id) + " restore: " + s.error().message);
      return;
    }
  }
  n.applied = snapshot->meta.index;
  checker_.on_restore(n.id, n.applied);
  if (!start_raft(n)) return;
  n.alive = true;
  trace("restart: node " + std::to_string(n.id) + " from snapshot " + std::to_string(n.applied));
}

void Simulation::deliver() {
  for (Message& m : network_.due(now_)) {
    Node& n = node(m.to);
    if (!n.alive) continue;
    trace("deliver " + message_line(m));
    if (m.type == MessageType::snapshot) ++result_.stats.snapshots_sent;
    Status s = n.raft->step(m);
    if (!s.ok()) {
      fail("node " + std::to_string(n.id) + " refused " + message_line(m) + ": " +
           s.error().message);
      return;
    }
  }
}

void Simulation::send_all(const std::vector<Message>& messages) {
  for (const Message& m : messages) {
    if (m.to == kNoNode || m.to > options_.nodes) {
      fail("a message to unknown node " + std::to_string(m.to));
      return;
    }
    network_.send(now_, m);
  }
}

void Simulation::process_ready(Node& n) {
  if (!n.pending && n.raft->has_ready()) {
    Ready rd = n.raft->ready();
    if (rd.soft_state != n.soft) {
      n.soft = rd.soft_state;
      trace("node " + std::to_string(n.id) + " is " + to_string(rd.soft_state.role) + " in term " +
            std::to_string(n.raft->term()) + " (leader " + std::to_string(rd.soft_state.leader) +
            ")");
    }
    send_all(rd.messages);
    n.pending = std::move(rd);
    n.pending_done_at = now_ + (options_.faults ? uniform(0, 2) : 0);
  }
  if (n.pending && n.pending_done_at <= now_) complete_ready(n);
}

void Simulation::complete_ready(Node& n) {
  Ready rd = std::move(*n.pending);
  n.pending.reset();
  Status s = n.storage.save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                            rd.snapshot ? &*rd.snapshot : nullptr);
  if (!s.ok()) {
    fail("node " + std::to_string(n.id) + " save: " + s.error().message);
    return;
  }
  send_all(rd.persisted_messages);
  if (rd.snapshot) {
    s = n.kv.restore(rd.snapshot->data);
    if (!s.ok()) {
      fail("node " + std::to_string(n.id) + " snapshot install: " + s.error().message);
      return;
    }
    n.applied = rd.snapshot->meta.index;
    checker_.on_restore(n.id, n.applied);
    trace("node " + std::to_string(n.id) + " installed snapshot " + std::to_string(n.applied));
  }
  for (Entry e : rd.committed) {
    if (options_.sabotage_apply && !sabotaged_ && n.id == 1 && decode_command(e.data)) {
      sabotaged_ = true;
      e.data += "!";
    }
    s = checker_.on_apply(n.id, e);
    if (!s.ok()) {
      fail(s.error().message);
      return;
    }
    n.applied = e.index;
    if (e.type != EntryType::normal) continue;
    if (healing_ && e.data.rfind(kHealMarker, 0) == 0) healed_ = true;
    auto command = n.kv.apply(e.data);
    if (!command) continue;
    for (Client& c : clients_) {
      if (c.id == command->client && c.op && c.op->accepted && c.op->node == n.id &&
          c.op->seq == command->seq && c.op->kind != ClientOp::Kind::read_index_get) {
        finish(c, command->kind == KvCommand::Kind::get ? command->value : std::string());
      }
    }
  }
  if (!rd.committed.empty()) {
    trace("node " + std::to_string(n.id) + " applied up to " + std::to_string(n.applied));
  }
  for (const ReadState& rs : rd.read_states) {
    for (Client& c : clients_) {
      if (c.op && c.op->accepted && c.op->node == n.id && c.op->context == rs.context) {
        c.op->read_at = rs.index;
      }
    }
  }
  n.raft->advance(rd);
  maybe_compact(n);
  serve_reads(n);
}

void Simulation::maybe_compact(Node& n) {
  if (n.applied < n.storage.first_index() + n.compact_every) return;
  auto term = n.storage.term(n.applied);
  if (!term.ok()) {
    fail("node " + std::to_string(n.id) + " cannot compact at " + std::to_string(n.applied) + ": " +
         term.error().message);
    return;
  }
  Snapshot snapshot;
  snapshot.meta.index = n.applied;
  snapshot.meta.term = *term;
  snapshot.meta.conf = n.raft->conf();
  snapshot.data = n.kv.serialize();
  Status s = n.storage.compact(snapshot);
  if (!s.ok()) fail("node " + std::to_string(n.id) + " compact: " + s.error().message);
}

void Simulation::serve_reads(Node& n) {
  for (Client& c : clients_) {
    if (c.op && c.op->kind == ClientOp::Kind::read_index_get && c.op->accepted &&
        c.op->node == n.id && c.op->read_at && *c.op->read_at <= n.applied) {
      finish(c, n.kv.get(c.op->key));
    }
  }
}

void Simulation::finish(Client& c, const std::string& observed) {
  KvOperation& op = history_[c.op->history];
  op.completed = true;
  op.ret = now_;
  if (op.kind == KvOperation::Kind::get) op.value = observed;
  trace("client " + std::to_string(c.id) + " op " + std::to_string(c.op->seq) + " done" +
        (op.kind == KvOperation::Kind::get ? " read '" + observed + "'" : ""));
  c.op.reset();
}

void Simulation::run_clients(bool new_ops) {
  for (Client& c : clients_) {
    if (c.op && now_ >= c.op->deadline) {
      // No reply: the op may or may not have taken effect; the history says so.
      trace("client " + std::to_string(c.id) + " op " + std::to_string(c.op->seq) + " timed out");
      c.op.reset();
      c.guess = random_node();
    }
    if (!c.op && new_ops && chance(0.2)) {
      ClientOp op;
      uint64_t r = uniform(0, 99);
      op.kind = r < 50 ? ClientOp::Kind::put
                       : (r < 85 ? ClientOp::Kind::read_index_get : ClientOp::Kind::log_get);
      op.seq = ++c.seq;
      op.key = "k" + std::to_string(uniform(1, options_.keys));
      op.value = op.kind == ClientOp::Kind::put
                     ? "c" + std::to_string(c.id) + "-" + std::to_string(op.seq)
                     : std::string();
      op.deadline = now_ + kOpTimeout;
      op.context = (c.id << 32) | op.seq;
      KvOperation record;
      record.client = c.id;
      record.kind =
          op.kind == ClientOp::Kind::put ? KvOperation::Kind::put : KvOperation::Kind::get;
      record.key = op.key;
      record.value = op.value;
      record.call = now_;
      record.completed = false;
      op.history = history_.size();
      history_.push_back(record);
      c.op = std::move(op);
    }
    if (c.op && !c.op->accepted) submit(c);
  }
}

void Simulation::submit(Client& c) {
  Node& n = node(c.guess);
  if (!n.alive) {
    c.guess = random_node();
    return;
  }
  ClientOp& op = *c.op;
  Status accepted = Status{};
  if (op.kind == ClientOp::Kind::read_index_get) {
    accepted = n.raft->read_index(op.context);
  } else {
    KvCommand command;
    command.kind = op.kind == ClientOp::Kind::put ? KvCommand::Kind::put : KvCommand::Kind::get;
    command.client = c.id;
    command.seq = op.seq;
    command.key = op.key;
    command.value = op.value;
    auto index = n.raft->propose(encode_command(command));
    if (!index.ok()) accepted = index.error();
  }
  if (!accepted.ok()) {
    NodeId hint = n.raft->leader();
    c.guess = hint != kNoNode && hint != n.id ? hint : random_node();
    return;
  }
  op.accepted = true;
  op.node = n.id;
  trace("client " + std::to_string(c.id) + " op " + std::to_string(op.seq) + " accepted by node " +
        std::to_string(n.id));
}

}  // namespace

SimResult run_simulation(uint64_t seed, const SimOptions& options) {
  Simulation sim(seed, options);
  return sim.run();
}

std::string describe(const SimResult& r) {
  std::ostringstream out;
  out << "seed " << r.seed;
  if (!r.ok) {
    out << " FAILED " << r.failure;
    return out.str();
  }
  const SimStats& s = r.stats;
  out << " ok: steps " << s.steps << ", messages " << s.messages << " (dropped " << s.dropped
      << ", duplicated " << s.duplicated << "), crashes " << s.crashes << " (lost writes "
      << s.lost_writes << "), partitions " << s.partitions << ", leaders " << s.leaders
      << ", committed " << s.committed << ", snapshots " << s.snapshots_sent << ", conf changes "
      << s.conf_changes << ", transfers " << s.transfers << ", ops " << s.ops_completed << "/"
      << s.ops << ", heal " << s.heal_ticks << " ticks";
  return out.str();
}

}  // namespace nca::raft::sim
