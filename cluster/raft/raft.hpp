// cluster/raft/raft.hpp: one Raft group member as a pure, deterministic state machine.
//
// Contract. Raft has no threads, no clock and no I/O of its own (the style of etcd's raft). The
// application drives it with tick() (its unit of time), step() (a message from a peer), propose()
// and the other requests, and collects its output with ready(): a Ready holds the hard state,
// entries and snapshot to persist, the committed entries to apply, the messages to send and the
// answers to read-index requests. Handling a Ready, in order:
//   1. `messages` may be sent at once (a leader's replication, which never depends on its own
//   disk);
//   2. persist `snapshot`, `entries` and `hard_state` with one LogStorage::save() (synced);
//   3. send `persisted_messages` (votes and append acknowledgements: they promise durability);
//   4. install `snapshot` into the state machine if any, then apply `committed` in order;
//   5. call advance(ready): the storage completion.
// ready() must not be called again before advance(); step(), tick() and proposals may come in
// between (their output goes into the next Ready). The leader counts its own log towards a
// majority only from advance(), so an entry is committed only once a majority has it on disk.
//
// Features: leader election with pre-vote and check-quorum (a leader that has not heard from a
// majority within an election timeout steps down, and followers in contact with a leader refuse to
// vote), log replication with batching (proposals between two Readies go out together),
// pipelining and per-follower flow control (see progress.hpp), commit by majority of the current
// term, snapshots and snapshot install, single-server membership changes (one pending at a time,
// applied when the application applies the entry) and learners, leadership transfer, and
// read-index reads (linearizable reads confirmed by a heartbeat round, no log write).
//
// Many groups: the state is a few hundred bytes plus the unstable log, and Raft never talks to a
// network, so a node runs thousands of groups and batches their messages itself.
//
// Errors are values: bad messages and refused requests return a Status and change nothing.
// Thread-safety: none; one thread (or one actor) owns a Raft. Ownership: the application owns the
// LogStorage, which must outlive the Raft.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/raft/conf_change.hpp"
#include "cluster/raft/log_storage.hpp"
#include "cluster/raft/progress.hpp"
#include "cluster/raft/raft_log.hpp"
#include "cluster/raft/types.hpp"

namespace nca::raft {

struct RaftConfig {
  NodeId id = kNoNode;
  LogStorage* storage = nullptr;
  // Followers start an election after a random number of ticks in [election_tick, 2*election_tick).
  int election_tick = 10;
  int heartbeat_tick = 1;  // must be < election_tick
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t max_message_bytes = 1 << 20;  // entry data per append message
  // Entry data per append while the leader probes a follower's log (at least one entry): a probe
  // is sent again at every heartbeat response until the follower answers it.
  uint64_t max_probe_bytes = 64 << 10;
  size_t max_inflight = 256;                // unacknowledged appends per follower
  uint64_t max_committed_bytes = 64 << 20;  // committed entry data per Ready
  // The last index the application's state machine already holds (0 on a fresh start; after a
  // crash, whatever the application persisted).
  Index applied = 0;
  uint64_t seed = 0;  // randomises election timeouts, deterministically
};

enum class Role { follower, pre_candidate, candidate, leader };
const char* to_string(Role role);

struct SoftState {
  NodeId leader = kNoNode;
  Role role = Role::follower;
  bool operator==(const SoftState& o) const { return leader == o.leader && role == o.role; }
  bool operator!=(const SoftState& o) const { return !(*this == o); }
};

// A read-index answer: the read with `context` may be served once `index` is applied.
struct ReadState {
  uint64_t context = 0;
  Index index = 0;
};

struct Ready {
  SoftState soft_state;
  std::optional<HardState> hard_state;  // set when changed since the last Ready
  std::optional<Snapshot> snapshot;
  std::vector<Entry> entries;               // to persist
  std::vector<Entry> committed;             // to apply, ascending
  std::vector<Message> messages;            // may be sent before persisting
  std::vector<Message> persisted_messages;  // only after persisting
  std::vector<ReadState> read_states;
};

// The entries that bootstrap a new group with `voters` (add_voter changes at indices 1..n, term
// 1) and the hard state that commits them. Every member saves the same ones before it starts, so a
// node that joins later learns the membership by replaying the log.
struct Bootstrap {
  HardState hard_state;
  std::vector<Entry> entries;
};
Bootstrap bootstrap_entries(const std::vector<NodeId>& voters);

class Raft {
 public:
  // Reads the persisted state from config.storage. Errors: invalid_argument for a bad config,
  // data_loss for an inconsistent storage.
  static Result<std::unique_ptr<Raft>> create(const RaftConfig& config);

  void tick();
  Status step(const Message& message);

  // Leader only: appends `data` and returns its index (unavailable with the leader hint
  // otherwise). The index is not committed until it shows up in a Ready's `committed`.
  Result<Index> propose(std::string data);
  // Leader only, one pending change at a time (conflict while one is unapplied).
  Result<Index> propose_conf_change(const ConfChange& change);
  // Leader only: hands leadership to voter `to` once its log is current; proposals are refused
  // meanwhile; abandoned after an election timeout.
  Status transfer_leadership(NodeId to);
  // Asks for a linearizable read; the answer is a ReadState with `context` in a later Ready (or
  // never, if leadership changes: the caller times out and retries).
  Status read_index(uint64_t context);
  // Starts an election now (pre-vote first when enabled), as if the election timeout had passed.
  void campaign();

  bool has_ready() const;
  Ready ready();
  void advance(const Ready& ready);

  NodeId id() const { return id_; }
  Term term() const { return term_; }
  Role role() const { return role_; }
  NodeId leader() const { return leader_; }
  NodeId vote() const { return vote_; }
  const ConfState& conf() const { return conf_; }
  const RaftLog& log() const { return log_; }
  HardState hard_state() const { return HardState{term_, vote_, log_.committed()}; }
  // The leader's view of each member (empty on followers).
  const std::map<NodeId, Progress>& progress() const { return progress_; }
  NodeId transferee() const { return lead_transferee_; }

 private:
  enum class CampaignKind { pre_election, election, transfer };
  struct PendingRead {
    uint64_t round = 0;  // heartbeat round that confirms it
    NodeId from = kNoNode;
    uint64_t context = 0;
    Index index = 0;
    std::set<NodeId> acks;
  };

  Raft(const RaftConfig& config);
  Status init();

  // Roles.
  void reset(Term term);
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void start_campaign(CampaignKind kind);
  bool promotable() const;
  bool has_unapplied_conf_change() const;
  // Records a vote; returns +1 won, -1 lost, 0 pending.
  int poll(NodeId from, bool granted);

  // Per-role message handling.
  Status step_leader(const Message& m);
  Status step_candidate(const Message& m);
  Status step_follower(const Message& m);
  Status handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot(const Message& m);
  bool restore(const Snapshot& snapshot);
  void handle_vote_request(const Message& m);

  // Leader duties.
  void append_entries(std::vector<Entry> entries);
  bool send_append(NodeId to, bool send_if_empty = true);
  void bcast_append();
  void bcast_heartbeat();
  bool maybe_commit();
  bool quorum_active();
  void handle_read_index(NodeId from, uint64_t context);
  void release_reads();
  void answer_read(NodeId from, uint64_t context, Index index);
  void abort_transfer() { lead_transferee_ = kNoNode; }

  // Membership.
  void apply_conf(const ConfChange& change);
  void reset_progress();

  void send(Message m);
  size_t quorum() const { return conf_.voters.size() / 2 + 1; }
  void reset_randomized_timeout();
  uint64_t next_random();

  NodeId id_;
  LogStorage* storage_;
  RaftConfig config_;
  RaftLog log_;

  Term term_ = 0;
  NodeId vote_ = kNoNode;
  NodeId leader_ = kNoNode;
  Role role_ = Role::follower;
  ConfState conf_;
  std::map<NodeId, Progress> progress_;
  std::map<NodeId, bool> votes_;
  NodeId lead_transferee_ = kNoNode;
  Index pending_conf_index_ = 0;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  uint64_t rng_state_;  // splitmix64: 8 bytes, where std::mt19937_64 would add 2.5 KB per group

  bool pending_bcast_ = false;  // new entries or commit to send at the next ready()
  uint64_t read_round_ = 0;
  std::vector<PendingRead> pending_reads_;
  std::vector<std::pair<NodeId, uint64_t>> reads_before_commit_;  // until the term's first commit

  std::vector<Message> messages_;
  std::vector<Message> persisted_messages_;
  std::vector<ReadState> read_states_;
  HardState persisted_hard_state_;
  SoftState reported_soft_state_;
  Index applying_ = 0;  // committed entries handed out up to here
};

}  // namespace nca::raft
