// `nca-bench raft`: commit throughput and latency of one three-node Raft group (cluster/raft) whose
// nodes run in this process over an in-memory transport and keep their logs in RocksDB
// (storage/raft_log_store.hpp, synced commits), against raw RocksDB synced writes with the same
// number of threads, in the same run.
//
// The cluster. Nodes 1..3, each with its own storage::Db (sync on) in its own directory under one
// temp directory, a RaftLogStore for group 1 bootstrapped with bootstrap_entries({1, 2, 3}), and
// its own thread. A node's thread owns its Raft and loops: take everything from its inbox (peer
// messages and proposals, under one lock), step and propose all of it, tick every 10 ms (election
// timeout 10 ticks), then handle one Ready the way raft.hpp prescribes: send `messages` to the
// peers' inboxes at once (a leader's appends leave before its own fsync, so the followers' fsyncs
// overlap it), save entries, hard state and snapshot with one RaftLogStore::save (one synced
// RocksDB commit), send `persisted_messages`, apply `committed`, advance. Everything that arrives
// while a save is in progress is taken together afterwards and goes into the next Ready, so one
// fsync covers all the proposals that queued behind it: batching comes from the disk's own latency,
// as in RocksDB's group commit. Node 1 campaigns once every node has applied the bootstrap entries.
//
// The load. For each count P of --proposers: P threads, each in a closed loop, propose a
// --value-bytes value to the leader's inbox and wait until the leader applies it. The leader
// matches applied entries to waiting proposals by index and term (an index that came back with
// another term was lost in a leadership change: the proposal failed and is proposed again). Commit
// latency is from handing the proposal to the leader's inbox to the proposer being woken with its
// entry applied. A phase runs for --seconds or until --commits proposals committed, whichever comes
// first; commits/s is the phase's commits over its wall time.
//
// The baseline, right before each phase on the same disk: bench/raw_rocksdb.hpp's synced Puts with
// P threads and --value-bytes values, for as long or as many writes: one fsync stream with
// RocksDB's group commit. A Raft commit needs two fsyncs in sequence on its critical path (the
// leader's, overlapped with a follower's, then the save of the new commit index before the apply)
// and three nodes write the same disk, so the target (commits/s with 64 proposers at least half the
// raw rate) is met only when batching amortises the fsyncs. The mean time of one save over the
// three nodes is reported next to the raw Put latency: on some virtual disks a lone fsync stream is
// much slower than overlapping ones (see docs/benchmarks.md), which favours three nodes over one
// raw stream.
//
// Headline keys (JSON): those of the largest P (64 by default): commits_per_s, commit_p50_us,
// commit_p99_us, raw_rocksdb_sync_writes_per_s, ratio_to_raw; `by_proposers` holds every phase,
// with the leader's entries per save, the fsyncs per commit over the three nodes and the mean time
// of one save.
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.hpp"
#include "bench/raw_rocksdb.hpp"
#include "bench/subcommands.hpp"
#include "cluster/raft/raft.hpp"
#include "runtime/allocator/thread_cache_allocator.hpp"
#include "storage/db.hpp"
#include "storage/raft_log_store.hpp"

namespace nca::bench {
namespace raft_bench {
namespace {

namespace po = boost::program_options;
using SteadyClock = std::chrono::steady_clock;
using raft::Entry;
using raft::Index;
using raft::Message;
using raft::NodeId;
using raft::Term;

constexpr NodeId kNodeCount = 3;
constexpr uint64_t kGroup = 1;
constexpr auto kTickInterval = std::chrono::milliseconds(10);
constexpr int kElectionTick = 10;
constexpr auto kStartDeadline = std::chrono::seconds(10);  // bootstrap applied, leader elected
constexpr auto kDrainDeadline = std::chrono::seconds(10);  // a phase's last proposals after it ends
constexpr auto kNoLeaderWait = std::chrono::milliseconds(10);
constexpr double kTargetRatio = 0.5;  // issue #6: commits/s >= 0.5 x raw synced writes/s

struct RaftBenchOptions {
  std::vector<size_t> proposers = {1, 64};
  double seconds = 5;
  size_t commits = 1000000;  // per phase, at most
  size_t value_bytes = 256;
  bool json = false;
};

// ---- options -----------------------------------------------------------------------------------

std::optional<RaftBenchOptions> parse_options(const std::vector<std::string>& args,
                                              int* exit_code) {
  RaftBenchOptions o;
  std::string proposers = "1,64";
  po::options_description desc("nca-bench raft options");
  desc.add_options()("help,h", "print this help")(
      "proposers", po::value<std::string>(&proposers)->default_value(proposers),
      "concurrent proposer threads per phase, comma-separated (the largest is the headline); "
      "also the raw RocksDB baseline's writer threads")(
      "seconds", po::value<double>(&o.seconds)->default_value(o.seconds),
      "duration of one phase and of its raw baseline, at most")(
      "commits", po::value<size_t>(&o.commits)->default_value(o.commits),
      "commits of one phase (and writes of its raw baseline), at most")(
      "value-bytes", po::value<size_t>(&o.value_bytes)->default_value(o.value_bytes),
      "size of each proposed value and raw RocksDB value")(
      "json", po::bool_switch(&o.json), "print one JSON object instead of a table");
  auto vm = parse_subcommand_args("raft", desc, args, exit_code);
  if (!vm) return std::nullopt;
  auto bad = [&](const std::string& msg) {
    std::cerr << "nca-bench raft: " << msg << "\n";
    *exit_code = 2;
    return std::nullopt;
  };
  if (!parse_count_list(proposers, 1024, &o.proposers)) {
    return bad("--proposers must be up to 16 comma-separated numbers in 1..1024, e.g. 1,64");
  }
  if (!(o.seconds >= 0.05 && o.seconds <= 3600)) return bad("--seconds must be in 0.05..3600");
  if (o.commits < 1 || o.commits > 1000000000) return bad("--commits must be in 1..1000000000");
  if (o.value_bytes < 1 || o.value_bytes > (1u << 20)) {
    return bad("--value-bytes must be in 1..1048576");
  }
  return o;
}

// ---- proposals and inboxes ---------------------------------------------------------------------

// Where one proposer waits for the fate of its proposal. complete() is called once per proposal by
// the node thread that applies (or refuses) it; the proposer re-arms with reset() before its next
// proposal. Thread-safe.
class Completion {
 public:
  void reset() {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = false;
    committed_ = false;
  }
  void complete(bool committed) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      committed_ = committed;
    }
    cv_.notify_one();
  }
  // The outcome (true: committed), or nullopt when `deadline` passed first.
  std::optional<bool> wait_until(SteadyClock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return done_; })) return std::nullopt;
    return committed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool committed_ = false;
};

struct Proposal {
  std::string data;
  Completion* completion = nullptr;
};

// A node's input: peer messages, proposals and commands. Producers are other nodes' threads, the
// proposers and the main thread; the node's own thread takes everything at once. Thread-safe.
class Inbox {
 public:
  struct Batch {
    std::vector<Message> messages;
    std::vector<Proposal> proposals;
    bool campaign = false;
    bool stop = false;
  };

  // Moves every message of `messages` in and leaves it empty (its capacity kept for reuse).
  void push_messages(std::vector<Message>* messages) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Message& m : *messages) pending_.messages.push_back(std::move(m));
    }
    messages->clear();
    cv_.notify_one();
  }
  void push_proposal(Proposal proposal) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.proposals.push_back(std::move(proposal));
    }
    cv_.notify_one();
  }
  void request_campaign() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.campaign = true;
    }
    cv_.notify_one();
  }
  void request_stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.stop = true;
    }
    cv_.notify_one();
  }

  // Waits until something arrived or `deadline` passed, then swaps everything into `out`, whose
  // vectors must be empty (the inbox keeps their capacity for the next round).
  void take(Batch* out, SteadyClock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, deadline, [&] {
      return !pending_.messages.empty() || !pending_.proposals.empty() || pending_.campaign ||
             pending_.stop;
    });
    std::swap(out->messages, pending_.messages);
    std::swap(out->proposals, pending_.proposals);
    out->campaign = pending_.campaign;
    out->stop = pending_.stop;
    pending_.campaign = false;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  Batch pending_;
};

// ---- the nodes ---------------------------------------------------------------------------------

class Cluster;

// Counters a node's thread publishes; read by the main thread between and after phases.
struct NodeCounters {
  std::atomic<uint64_t> saves{0};          // Readies that needed a save
  std::atomic<uint64_t> saved_entries{0};  // entries in them
  std::atomic<uint64_t> save_us{0};        // time in RaftLogStore::save (mostly its fsync)
  std::atomic<uint64_t> applied_index{0};
  std::atomic<uint64_t> step_errors{0};
};

// One group member: its Db, log store and Raft, driven by its own thread (see the file comment).
// open() and start() are called from the main thread before any traffic; afterwards only the
// node's thread touches the Raft, and other threads talk to it through inbox(). Owned by Cluster.
class BenchNode {
 public:
  BenchNode(NodeId id, Cluster* cluster) : id_(id), cluster_(cluster) {}
  ~BenchNode() { stop(); }

  Status open(const std::string& dir, const raft::Bootstrap& boot) {
    storage::Db::Options db_options;
    db_options.path = dir;
    db_options.sync = true;
    db_options.block_cache_bytes = 8 << 20;  // the log is read from the store's tail cache
    auto db = storage::Db::open(db_options);
    if (!db) return db.error();
    db_ = std::move(*db);
    auto store = storage::RaftLogStore::open(db_.get(), kGroup);
    if (!store) return store.error();
    store_ = std::move(*store);
    if (auto s = store_->save(&boot.hard_state, boot.entries, nullptr); !s) return s;
    raft::RaftConfig config;
    config.id = id_;
    config.storage = store_.get();
    config.election_tick = kElectionTick;
    config.heartbeat_tick = 1;
    config.seed = id_;
    auto created = raft::Raft::create(config);
    if (!created) return created.error();
    raft_ = std::move(*created);
    return {};
  }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    inbox_.request_stop();
    thread_.join();
  }

  Inbox& inbox() { return inbox_; }
  const NodeCounters& counters() const { return counters_; }
  uint64_t db_syncs() const { return db_->sync_count(); }

 private:
  struct Pending {
    Index index;
    Term term;
    Completion* completion;
  };

  void run();
  Status handle_ready();
  void propose(Proposal& p);
  void apply(const std::vector<Entry>& committed);
  void route(std::vector<Message>* messages);

  const NodeId id_;
  Cluster* const cluster_;
  std::unique_ptr<storage::Db> db_;
  std::unique_ptr<storage::RaftLogStore> store_;
  std::unique_ptr<raft::Raft> raft_;
  Inbox inbox_;
  std::thread thread_;
  NodeCounters counters_;
  // Proposals this node accepted as leader, ascending by index, until their index is applied.
  std::deque<Pending> pending_;
  // Outgoing messages by destination, reused across Readies.
  std::array<std::vector<Message>, kNodeCount + 1> outgoing_;
  raft::Role reported_role_ = raft::Role::follower;
};

// The three nodes and what their threads share: the current leader and the first fatal error.
class Cluster {
 public:
  Cluster() = default;
  // Stops every node thread before any node goes away: a running node sends to the others.
  ~Cluster() { stop(); }
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  Status open(const std::string& dir) {
    std::vector<NodeId> ids;
    for (NodeId id = 1; id <= kNodeCount; ++id) ids.push_back(id);
    const raft::Bootstrap boot = raft::bootstrap_entries(ids);
    for (NodeId id = 1; id <= kNodeCount; ++id) {
      nodes_[id] = std::make_unique<BenchNode>(id, this);
      if (auto s = nodes_[id]->open(dir + "/node" + std::to_string(id), boot); !s) {
        return make_error(s.error().code,
                          "node " + std::to_string(id) + " did not open: " + s.error().message);
      }
    }
    for (NodeId id = 1; id <= kNodeCount; ++id) nodes_[id]->start();
    boot_entries_ = boot.entries.size();
    return {};
  }

  // Waits until every node applied the bootstrap entries (so each knows the membership), lets
  // node 1 campaign, and waits for a leader.
  Status elect() {
    const auto deadline = SteadyClock::now() + kStartDeadline;
    for (NodeId id = 1; id <= kNodeCount; ++id) {
      while (nodes_[id]->counters().applied_index.load() < boot_entries_) {
        if (SteadyClock::now() > deadline) {
          return make_error(ErrorCode::unavailable,
                            "node " + std::to_string(id) + " did not apply the bootstrap entries");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    nodes_[1]->inbox().request_campaign();
    std::unique_lock<std::mutex> lock(mu_);
    if (!leader_cv_.wait_until(lock, deadline,
                               [&] { return leader_ != raft::kNoNode || error_; })) {
      return make_error(ErrorCode::unavailable, "no leader was elected within 10 s");
    }
    if (error_) return *error_;
    return {};
  }

  void stop() {
    for (NodeId id = 1; id <= kNodeCount; ++id) {
      if (nodes_[id]) nodes_[id]->stop();
    }
  }

  BenchNode* node(NodeId id) { return id >= 1 && id <= kNodeCount ? nodes_[id].get() : nullptr; }

  // The current leader (kNoNode while there is none), waiting up to `wait` for one. The common
  // case (a leader is known) is one atomic load: every proposal asks.
  NodeId leader(std::chrono::milliseconds wait) {
    NodeId known = known_leader_.load(std::memory_order_acquire);
    if (known != raft::kNoNode) return known;
    std::unique_lock<std::mutex> lock(mu_);
    leader_cv_.wait_for(lock, wait, [&] { return leader_ != raft::kNoNode || error_; });
    return leader_;
  }

  void report_role(NodeId id, bool leading) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (leading) {
        if (leader_ != id) ++leader_changes_;
        leader_ = id;
      } else if (leader_ == id) {
        leader_ = raft::kNoNode;
      }
      known_leader_.store(leader_, std::memory_order_release);
    }
    leader_cv_.notify_all();
  }

  void fail(Error e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::move(e);
    }
    leader_cv_.notify_all();
  }
  std::optional<Error> error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }
  uint64_t leader_changes() {
    std::lock_guard<std::mutex> lock(mu_);
    return leader_changes_;
  }

  // Sums over the nodes, for per-phase differences.
  uint64_t total_db_syncs() const {
    uint64_t n = 0;
    for (NodeId id = 1; id <= kNodeCount; ++id) n += nodes_[id]->db_syncs();
    return n;
  }
  uint64_t total_step_errors() const {
    uint64_t n = 0;
    for (NodeId id = 1; id <= kNodeCount; ++id) n += nodes_[id]->counters().step_errors.load();
    return n;
  }
  uint64_t total_saves() const {
    uint64_t n = 0;
    for (NodeId id = 1; id <= kNodeCount; ++id) n += nodes_[id]->counters().saves.load();
    return n;
  }
  uint64_t total_save_us() const {
    uint64_t n = 0;
    for (NodeId id = 1; id <= kNodeCount; ++id) n += nodes_[id]->counters().save_us.load();
    return n;
  }

 private:
  std::array<std::unique_ptr<BenchNode>, kNodeCount + 1> nodes_;  // [0] unused
  uint64_t boot_entries_ = 0;
  std::mutex mu_;
  std::condition_variable leader_cv_;
  NodeId leader_ = raft::kNoNode;
  std::atomic<NodeId> known_leader_{raft::kNoNode};  // leader_, readable without mu_
  uint64_t leader_changes_ = 0;
  std::optional<Error> error_;
};

void BenchNode::run() {
  Inbox::Batch batch;
  auto next_tick = SteadyClock::now() + kTickInterval;
  if (auto s = handle_ready(); !s) {  // the bootstrap entries
    cluster_->fail(
        make_error(s.error().code, "node " + std::to_string(id_) + ": " + s.error().message));
    return;
  }
  while (true) {
    inbox_.take(&batch, raft_->has_ready() ? SteadyClock::now() : next_tick);
    if (batch.stop) break;
    for (const Message& m : batch.messages) {
      if (!raft_->step(m).ok()) counters_.step_errors.fetch_add(1, std::memory_order_relaxed);
    }
    batch.messages.clear();
    for (Proposal& p : batch.proposals) propose(p);
    batch.proposals.clear();
    if (batch.campaign) raft_->campaign();
    const auto now = SteadyClock::now();
    if (now >= next_tick) {
      raft_->tick();
      next_tick = now + kTickInterval;
    }
    if (!raft_->has_ready()) continue;
    if (auto s = handle_ready(); !s) {
      cluster_->fail(
          make_error(s.error().code, "node " + std::to_string(id_) + ": " + s.error().message));
      break;
    }
  }
  // Whatever is still waiting will not be applied by this node any more.
  for (const Pending& p : pending_) p.completion->complete(false);
  pending_.clear();
  for (Proposal& p : batch.proposals) p.completion->complete(false);
}

void BenchNode::propose(Proposal& p) {
  auto index = raft_->propose(std::move(p.data));
  if (!index) {
    p.completion->complete(false);
    return;
  }
  // A leader that lost and regained leadership may reuse indices of proposals it still tracks:
  // those entries are gone from its log, so they count as failed.
  while (!pending_.empty() && pending_.back().index >= *index) {
    pending_.back().completion->complete(false);
    pending_.pop_back();
  }
  pending_.push_back(Pending{*index, raft_->term(), p.completion});
}

Status BenchNode::handle_ready() {
  raft::Ready rd = raft_->ready();
  const bool leading = rd.soft_state.role == raft::Role::leader;
  if (leading != (reported_role_ == raft::Role::leader)) cluster_->report_role(id_, leading);
  reported_role_ = rd.soft_state.role;

  route(&rd.messages);  // may go before the save: nothing in them depends on our disk
  const bool must_save = rd.hard_state || rd.snapshot || !rd.entries.empty();
  if (must_save) {
    Stopwatch sw;
    Status saved = store_->save(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                                rd.snapshot ? &*rd.snapshot : nullptr);
    if (!saved) return saved;
    counters_.save_us.fetch_add(static_cast<uint64_t>(sw.elapsed_us()), std::memory_order_relaxed);
    counters_.saves.fetch_add(1, std::memory_order_relaxed);
    counters_.saved_entries.fetch_add(rd.entries.size(), std::memory_order_relaxed);
  }
  route(&rd.persisted_messages);
  apply(rd.committed);
  raft_->advance(rd);
  return {};
}

void BenchNode::apply(const std::vector<Entry>& committed) {
  for (const Entry& e : committed) {
    while (!pending_.empty() && pending_.front().index <= e.index) {
      const Pending& p = pending_.front();
      p.completion->complete(p.index == e.index && p.term == e.term);
      pending_.pop_front();
    }
  }
  if (!committed.empty()) {
    counters_.applied_index.store(committed.back().index, std::memory_order_relaxed);
  }
}

void BenchNode::route(std::vector<Message>* messages) {
  for (Message& m : *messages) {
    if (m.to >= 1 && m.to <= kNodeCount && m.to != id_) outgoing_[m.to].push_back(std::move(m));
  }
  messages->clear();
  for (NodeId to = 1; to <= kNodeCount; ++to) {
    if (!outgoing_[to].empty()) cluster_->node(to)->inbox().push_messages(&outgoing_[to]);
  }
}

// ---- one phase ---------------------------------------------------------------------------------

struct PhaseResult {
  size_t proposers = 0;
  size_t commits = 0;
  size_t failed_proposals = 0;  // refused or lost in a leadership change, then proposed again
  double seconds = 0;
  double commits_per_s = 0;
  double p50_us = 0, p99_us = 0, mean_us = 0;
  double entries_per_leader_save = 0;
  double fsyncs_per_commit = 0;  // over all three nodes
  double save_mean_us = 0;       // one RaftLogStore::save, over all three nodes
  RawRocksdbSyncResult raw;
};

Status run_phase(Cluster& cluster, size_t proposers, const RaftBenchOptions& o, PhaseResult* r) {
  const NodeId leader_at_start = cluster.leader(std::chrono::milliseconds(0));
  BenchNode* leader_node = cluster.node(leader_at_start);
  const uint64_t syncs_before = cluster.total_db_syncs();
  const uint64_t all_saves_before = cluster.total_saves();
  const uint64_t save_us_before = cluster.total_save_us();
  const uint64_t saves_before = leader_node ? leader_node->counters().saves.load() : 0;
  const uint64_t entries_before = leader_node ? leader_node->counters().saved_entries.load() : 0;

  std::atomic<size_t> tickets{0};
  std::atomic<size_t> committed{0};
  std::atomic<size_t> failed{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> stuck{false};
  std::mutex done_mu;
  std::condition_variable done_cv;
  std::vector<std::vector<double>> samples(proposers);
  const std::string value(o.value_bytes, 'r');
  const auto deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                 std::chrono::duration<double>(o.seconds));

  Stopwatch sw;
  // Each commit needs a ticket, so a phase never commits more than --commits; a proposer keeps
  // its ticket through failed attempts.
  auto proposer = [&](size_t t) {
    Completion completion;
    samples[t].reserve(1024);
    bool holds_ticket = false;
    while (!stop.load(std::memory_order_relaxed)) {
      if (!holds_ticket && tickets.fetch_add(1, std::memory_order_relaxed) >= o.commits) break;
      holds_ticket = true;
      NodeId leader = cluster.leader(kNoLeaderWait);
      BenchNode* node = cluster.node(leader);
      if (node == nullptr) continue;  // no leader yet: leader() waited a little
      completion.reset();
      Stopwatch one;
      node->inbox().push_proposal(Proposal{value, &completion});
      std::optional<bool> outcome = completion.wait_until(deadline + kDrainDeadline);
      if (!outcome) {  // the node never answered: give up rather than hang
        stuck = true;
        break;
      }
      if (!*outcome) {
        failed.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      holds_ticket = false;
      samples[t].push_back(one.elapsed_us());
      if (committed.fetch_add(1, std::memory_order_relaxed) + 1 >= o.commits) {
        std::lock_guard<std::mutex> lock(done_mu);
        stop = true;
        done_cv.notify_all();
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(proposers);
  for (size_t t = 0; t < proposers; ++t) threads.emplace_back(proposer, t);
  {
    std::unique_lock<std::mutex> lock(done_mu);
    done_cv.wait_until(lock, deadline, [&] { return stop.load(); });
  }
  stop = true;
  for (auto& th : threads) th.join();
  r->seconds = sw.elapsed_s();

  if (auto e = cluster.error()) return *e;
  if (stuck) {
    return make_error(
        ErrorCode::unavailable,
        "a proposal was neither committed nor refused within 10 s of the phase's end");
  }
  Latencies lat;
  for (const auto& v : samples) {
    for (double us : v) lat.add(us);
  }
  r->proposers = proposers;
  r->commits = committed.load();
  r->failed_proposals = failed.load();
  r->commits_per_s = r->seconds > 0 ? static_cast<double>(r->commits) / r->seconds : 0;
  r->p50_us = lat.percentile(50);
  r->p99_us = lat.percentile(99);
  r->mean_us = lat.mean();
  if (leader_node != nullptr) {
    const uint64_t saves = leader_node->counters().saves.load() - saves_before;
    const uint64_t entries = leader_node->counters().saved_entries.load() - entries_before;
    r->entries_per_leader_save = saves > 0 ? static_cast<double>(entries) / saves : 0;
  }
  const uint64_t syncs = cluster.total_db_syncs() - syncs_before;
  r->fsyncs_per_commit = r->commits > 0 ? static_cast<double>(syncs) / r->commits : 0;
  const uint64_t saves = cluster.total_saves() - all_saves_before;
  r->save_mean_us =
      saves > 0 ? static_cast<double>(cluster.total_save_us() - save_us_before) / saves : 0;
  return {};
}

// ---- output ------------------------------------------------------------------------------------

struct Results {
  std::vector<PhaseResult> phases;  // in --proposers order
  size_t headline = 0;              // index into phases: the largest proposer count
  uint64_t leader_changes = 0;
  uint64_t step_errors = 0;  // messages a Raft refused (none expected without faults)
  double load_start = -1, load_end = -1;
};

double ratio(const PhaseResult& p) {
  return p.raw.writes_per_s > 0 ? p.commits_per_s / p.raw.writes_per_s : 0;
}
bool target_met(const PhaseResult& p) { return ratio(p) >= kTargetRatio; }

nlohmann::ordered_json to_json(const RaftBenchOptions& o, const Results& r) {
  const PhaseResult& h = r.phases[r.headline];
  nlohmann::ordered_json j;
  j["benchmark"] = "raft";
  j["allocator"] = alloc::name();  // see runtime/allocator
  j["nodes"] = kNodeCount;
  j["value_bytes"] = o.value_bytes;
  j["seconds"] = o.seconds;
  j["max_commits"] = o.commits;
  j["headline_proposers"] = h.proposers;
  j["commits_per_s"] = json_number(h.commits_per_s);
  j["commit_p50_us"] = json_number(h.p50_us);
  j["commit_p99_us"] = json_number(h.p99_us);
  j["raw_rocksdb_sync_writes_per_s"] = json_number(h.raw.writes_per_s);
  j["raw_rocksdb_sync_p50_us"] = json_number(h.raw.p50_us);
  j["raw_rocksdb_sync_p99_us"] = json_number(h.raw.p99_us);
  j["ratio_to_raw"] = json_number(ratio(h), 3);
  j["target_ratio"] = kTargetRatio;
  j["target_met"] = target_met(h);
  nlohmann::ordered_json phases = nlohmann::ordered_json::array();
  for (const PhaseResult& p : r.phases) {
    nlohmann::ordered_json x;
    x["proposers"] = p.proposers;
    x["commits"] = p.commits;
    x["seconds"] = json_number(p.seconds, 3);
    x["commits_per_s"] = json_number(p.commits_per_s);
    x["commit_p50_us"] = json_number(p.p50_us);
    x["commit_p99_us"] = json_number(p.p99_us);
    x["commit_mean_us"] = json_number(p.mean_us);
    x["failed_proposals"] = p.failed_proposals;
    x["entries_per_leader_save"] = json_number(p.entries_per_leader_save, 2);
    x["fsyncs_per_commit"] = json_number(p.fsyncs_per_commit, 3);
    x["save_mean_us"] = json_number(p.save_mean_us);
    x["raw_rocksdb_threads"] = p.proposers;
    x["raw_rocksdb_writes"] = p.raw.writes;
    x["raw_rocksdb_sync_writes_per_s"] = json_number(p.raw.writes_per_s);
    x["raw_rocksdb_sync_p50_us"] = json_number(p.raw.p50_us);
    x["raw_rocksdb_sync_p99_us"] = json_number(p.raw.p99_us);
    x["ratio_to_raw"] = json_number(ratio(p), 3);
    phases.push_back(std::move(x));
  }
  j["by_proposers"] = std::move(phases);
  j["leader_changes"] = r.leader_changes;
  j["step_errors"] = r.step_errors;
  j["nproc"] = online_cpus();
  j["cpu"] = cpu_model();
  j["loadavg_1m_start"] = json_number(r.load_start, 2);
  j["loadavg_1m_end"] = json_number(r.load_end, 2);
  return j;
}

void print_table(const RaftBenchOptions& o, const Results& r) {
  std::vector<TableRow> rows;
  for (size_t i = 0; i < r.phases.size(); ++i) {
    const PhaseResult& p = r.phases[i];
    const std::string at =
        " (" + std::to_string(p.proposers) + (p.proposers == 1 ? " proposer)" : " proposers)");
    const bool headline = i == r.headline;
    rows.push_back(
        {"commits_per_s" + at, table_number(p.commits_per_s),
         "raw RocksDB " + table_number(p.raw.writes_per_s) + " synced writes/s (" +
             std::to_string(p.proposers) + " threads), ratio " + table_number(ratio(p), 3),
         headline ? ">= 0.5 x raw" : "", headline ? (target_met(p) ? "yes" : "NO") : ""});
    rows.push_back({"commit_p50_us" + at, table_number(p.p50_us),
                    "raw Put p50 " + table_number(p.raw.p50_us), "", ""});
    rows.push_back({"commit_p99_us" + at, table_number(p.p99_us),
                    "raw Put p99 " + table_number(p.raw.p99_us), "", ""});
    rows.push_back({"entries_per_leader_save" + at, table_number(p.entries_per_leader_save, 2),
                    "fsyncs per commit (3 nodes) " + table_number(p.fsyncs_per_commit, 3), "", ""});
    rows.push_back({"save_mean_us" + at, table_number(p.save_mean_us),
                    "raw Put p50 " + table_number(p.raw.p50_us), "", ""});
  }
  std::cout << "nca-bench raft: 3 nodes in-process, RocksDB log (synced), value_bytes="
            << o.value_bytes << " seconds=" << o.seconds << " max_commits=" << o.commits
            << " leader_changes=" << r.leader_changes << "\n"
            << machine_line(r.load_start, r.load_end) << "\n";
  print_rows(rows);
}

Status run_all(const RaftBenchOptions& o, Results* r) {
  TempDir tmp("nca-bench-raft");
  if (tmp.path().empty()) {
    return make_error(ErrorCode::unavailable, "cannot create a temporary directory");
  }
  Cluster cluster;
  Status opened = cluster.open(tmp.path());
  if (opened) opened = cluster.elect();
  if (!opened) {
    cluster.stop();
    return opened;
  }
  progress("raft: node " + std::to_string(cluster.leader(std::chrono::milliseconds(0))) + " leads");
  Status result;
  for (size_t proposers : o.proposers) {
    PhaseResult phase;
    RawRocksdbSyncOptions raw;
    raw.threads = proposers;
    raw.writes = o.commits;
    raw.value_bytes = o.value_bytes;
    raw.max_seconds = o.seconds;
    progress("raw RocksDB synced writes, " + std::to_string(proposers) + " threads");
    auto measured =
        measure_raw_rocksdb_sync_writes(tmp.path() + "/raw-" + std::to_string(proposers), raw);
    if (!measured) {
      result = measured.error();
      break;
    }
    phase.raw = *measured;
    progress("raft commits, " + std::to_string(proposers) + " proposers");
    result = run_phase(cluster, proposers, o, &phase);
    if (!result) break;
    progress("  " + table_number(phase.commits_per_s) + " commits/s (raw " +
             table_number(phase.raw.writes_per_s) + "), p50 " + table_number(phase.p50_us) +
             " us, p99 " + table_number(phase.p99_us) + " us, " +
             table_number(phase.entries_per_leader_save, 2) + " entries per leader save");
    r->phases.push_back(phase);
  }
  r->leader_changes = cluster.leader_changes();
  r->step_errors = cluster.total_step_errors();
  cluster.stop();
  if (!result) return result;
  size_t best = 0;
  for (size_t i = 0; i < r->phases.size(); ++i) {
    if (r->phases[i].proposers > r->phases[best].proposers) best = i;
  }
  r->headline = best;
  return {};
}

int run(const std::vector<std::string>& args) {
  int exit_code = 0;
  auto parsed = parse_options(args, &exit_code);
  if (!parsed) return exit_code;
  const RaftBenchOptions& o = *parsed;

  Results r;
  r.load_start = load_average_1m();
  if (auto s = run_all(o, &r); !s) {
    std::cerr << "nca-bench raft: " << s.error().to_string() << "\n";
    return 1;
  }
  r.load_end = load_average_1m();
  return print_result(
      o.json, [&] { return to_json(o, r).dump(); }, [&] { print_table(o, r); });
}

}  // namespace
}  // namespace raft_bench

int run_raft(const std::vector<std::string>& args) { return raft_bench::run(args); }

}  // namespace nca::bench
