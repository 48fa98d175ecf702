// cluster/raft_host.hpp: every Raft group one node takes part in, driven as one unit.
//
// Contract: the owner feeds ticks (tick()), peer batches (step()) and proposals (propose()), then
// calls process_ready(), which handles each group's Ready in the order raft.hpp prescribes (save
// entries, hard state and snapshot to the group's LogStorage; apply committed entries through the
// apply callback; advance) and returns what to send, coalesced into one batch per peer node across
// all groups (so heartbeats of many groups share one frame). By default everything goes out and
// is applied after the save's sync; process_ready()'s callbacks let a leader's appends leave, and
// committed entries be applied, before it (see there).
//
// A batch from a peer is checked before any group sees it: it must name this node as recipient and
// every message must come from the batch's sender; messages for groups this node does not host are
// dropped and counted (the shard map decides hosting; a stale peer may still send). Errors are
// values; a failed save is returned and the group must not be driven further (the node restarts it
// from storage).
//
// Pure: no threads, no clock, no I/O beyond the LogStorages it owns. Not thread-safe. The one
// exception is set_install_runner(): the runner's InstallFn writes a group's LogStorage on another
// thread while the host's thread may read it, so with a runner the storages must be thread-safe
// (storage::RaftLogStore is).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/raft/log_storage.hpp"
#include "cluster/raft/raft.hpp"
#include "cluster/transport/raft_codec.hpp"
#include "nca/result.hpp"

namespace nca::cluster {

class RaftHost {
 public:
  struct Options {
    raft::NodeId node = raft::kNoNode;
    int election_tick = 10;
    int heartbeat_tick = 1;
    uint64_t seed = 0;  // each group's election timer seed is derived from it and the group id
  };

  // Called for every committed entry in log order, conf changes and leaders' empty no-ops
  // included (a conf change's data is the encoded change).
  using ApplyFn = std::function<void(uint64_t group, const raft::Entry& entry)>;
  // Called when this node's role or known leader of a group changes.
  using RoleFn = std::function<void(uint64_t group, const raft::SoftState& state)>;
  // Called with a snapshot the application must install instead of its state: the group's stored
  // snapshot when the group is added and it is newer than the application's applied index
  // (entries after it follow through ApplyFn), and one received from the leader (before any entry
  // after it is applied). An error means the application's state is unknown: add_group() or
  // process_ready() returns it, and the group must not be driven further.
  using RestoreFn = std::function<Status(uint64_t group, const raft::Snapshot& snapshot)>;
  // Called with a confirmed read (read_index), after the round's entries were applied.
  using ReadFn = std::function<void(uint64_t group, uint64_t context, raft::Index index)>;

  // The application's state of a group pinned at the applied index it holds (`index`, which must
  // be the one the host handed to ApplyFn last, or no snapshot is made from it). Pinning is cheap
  // and happens on the host's thread; `make` reads the pinned state into one blob, however the
  // state is written meanwhile, and may run on any thread.
  using MakeFn = std::function<Result<std::string>()>;
  struct PinnedCheckpoint {
    raft::Index index = 0;
    MakeFn make;
  };
  using CheckpointFn = std::function<Result<PinnedCheckpoint>(uint64_t group)>;
  // Runs a checkpoint's `make` off the host's thread (reading a large state takes long, and the
  // host's thread serves every group of the node); the application hands the result back through
  // checkpoint_made(), on the host's thread.
  using CheckpointRunner = std::function<void(uint64_t group, raft::Index index, MakeFn make)>;
  // Installs a snapshot received from the leader: saves it (with the rest of its Ready) to the
  // group's storage, synced, and hands it to RestoreFn. May run on any thread.
  using InstallFn = std::function<Status()>;
  // Installs a snapshot received from the leader in one write with the rest of its Ready (the hard
  // state, the entries after the snapshot): the application writes its state from the snapshot's
  // data and has `storage` record the snapshot as that state (compact_to_state's kind), so the
  // data is written once, not stored, and no crash can keep one without the other. An InstallFn
  // calls it first: true when it installed the snapshot; false declines (a group whose state the
  // application keeps elsewhere), and the snapshot is saved and handed to RestoreFn as without it.
  using AdoptFn = std::function<Result<bool>(
      uint64_t group, raft::LogStorage& storage, const raft::HardState* hard_state,
      const std::vector<raft::Entry>& entries, const raft::Snapshot& snapshot)>;
  // Runs an InstallFn off the host's thread (saving and restoring a large state takes long, and
  // the host's thread serves every group of the node); the application hands the result back
  // through install_done(), on the host's thread.
  using InstallRunner = std::function<void(uint64_t group, raft::Index index, InstallFn install)>;

  RaftHost(Options options, ApplyFn apply, RoleFn role = nullptr, RestoreFn restore = nullptr);
  void set_read_fn(ReadFn fn) { read_ = std::move(fn); }
  // Before any add_group(): lets compact_to_state() compact groups without a copy of their state;
  // a follower that needs a snapshot then gets one made by `fn` from the state as it is then.
  void set_checkpoint_fn(CheckpointFn fn) { checkpoint_ = std::move(fn); }
  // With a runner, a follower that needs a snapshot of the state waits for one made off the
  // host's thread: the first request starts it (the storage answers unavailable, and Raft asks
  // again later); once checkpoint_made() delivered it, the next request takes it. One is made at
  // a time across the host's groups (each holds a whole state in memory); the others' requests
  // are answered unavailable meanwhile. Without a runner, the snapshot is made on the host's
  // thread when it is asked for.
  void set_checkpoint_runner(CheckpointRunner runner) { runner_ = std::move(runner); }
  // The result of the checkpoint the runner made for `group` at `index`. Errors: not_found when
  // the group left meanwhile, conflict when no checkpoint at `index` was being made (the result is
  // dropped either way), and `data`'s error (the next request starts a new one).
  Status checkpoint_made(uint64_t group, raft::Index index, Result<std::string> data);
  // With a runner, a snapshot received from the leader is installed off the host's thread. The
  // group stands still until then, and the others go on: it is not ticked (so it cannot time out
  // its leader and campaign), messages to it are dropped and counted as a lossy network would
  // drop them (its leader sends again), and proposals, reads, leadership changes, compactions and
  // remove_group() are refused with unavailable. One install runs at a time across the host's
  // groups (each holds a whole state in memory); another group's waits, standing still likewise.
  // The role change a snapshot's Ready carries is reported at once. The InstallFn reads the
  // group's Ready and storage until it returns; the host must outlive it. Without a runner,
  // snapshots are installed on the host's thread.
  void set_install_runner(InstallRunner runner) { installer_ = std::move(runner); }
  // With an install runner: installs go through `fn` (see AdoptFn).
  void set_adopt_fn(AdoptFn fn) { adopt_ = std::move(fn); }
  // The result of the install the runner ran for `group` at `index` (the next group's install, if
  // one waits, goes to the runner then); the next process_ready() finishes the group's round (the
  // messages that wait for the snapshot to be saved, and the entries after it). Errors: not_found,
  // conflict when no install at `index` was running, and `result`'s error, after which the group
  // stays still and the owner must stop driving the host, as after a failed process_ready().
  Status install_done(uint64_t group, raft::Index index, Status result);
  // A snapshot received from the leader is being installed (install_done() not yet called, or the
  // group's round not yet finished).
  bool installing(uint64_t group) const;

  // Hosts `group` with its log in `storage`. When the storage is empty and `bootstrap_voters` is
  // not, the group's bootstrap entries (raft::bootstrap_entries) are saved first, identically on
  // every founding member. `applied` is the last index the application already holds (it persists
  // it with what it applies); only later entries go through ApplyFn. already_exists if the group is
  // hosted; data_loss if `applied` is beyond what the log says is committed.
  Status add_group(uint64_t group, std::unique_ptr<raft::LogStorage> storage,
                   const std::vector<raft::NodeId>& bootstrap_voters, raft::Index applied = 0);
  // Stops hosting `group` and hands its storage back (the caller destroys it: the replica left the
  // group). Messages for it are dropped from then on, as for any group not hosted. not_found for a
  // group not hosted; unavailable while it installs a snapshot (set_install_runner).
  Result<std::unique_ptr<raft::LogStorage>> remove_group(uint64_t group);
  bool hosts(uint64_t group) const { return groups_.count(group) != 0; }
  std::vector<uint64_t> groups() const;  // ascending

  // Ticks every group; a group whose only voter is this node campaigns at once rather than after
  // an election timeout.
  void tick();
  // invalid_argument (nothing stepped) when the batch is not addressed to this node or a message
  // claims another sender.
  Status step(const transport::DecodedBatch& batch);
  // Leader only: unavailable with the leader hint otherwise; not_found for a group not hosted.
  Result<raft::Index> propose(uint64_t group, std::string data);
  // Leader only, one unapplied change per group at a time (conflict otherwise).
  Result<raft::Index> propose_conf_change(uint64_t group, const raft::ConfChange& change);
  Status campaign(uint64_t group);
  // Leader only: a linearizable read (raft.hpp's read_index). Once a quorum confirms this node
  // still leads, process_ready() hands ReadFn the context and the commit index the read must wait
  // for (it has been applied when the application has applied that index). Never answered when
  // the leadership is lost meanwhile: the caller fails its reads on the role change.
  Status read_index(uint64_t group, uint64_t context);
  // Leader only: hands the group's leadership to voter `to` once its log is current (raft.hpp).
  Status transfer_leadership(uint64_t group, raft::NodeId to);
  // Takes a snapshot at `index` with `data`, the application's state as of that index, and drops
  // the log entries it covers. Followers that fall behind the log's start then catch up from it.
  // `index` must be the group's applied index (the configuration is known only there). Errors:
  // not_found for a group not hosted; conflict when `index` is not the applied index (the
  // application is behind: try again) or nothing new was applied since the last snapshot.
  Status compact(uint64_t group, raft::Index index, std::string data);
  // Compacts the log at the applied index without copying the state: the application's own
  // durable state is the snapshot (raft::LogStorage::compact_to_state), and a follower behind the
  // log's start gets a snapshot made then by the CheckpointFn, at the applied index of that
  // moment. The application must have written its state up to the applied index through the same
  // write-ahead log as the log, before this call (the compaction is synced). Errors: not_found;
  // conflict when nothing was applied since the last snapshot; invalid_argument without a
  // CheckpointFn or when the storage cannot.
  Status compact_to_state(uint64_t group);
  // The index of the group's latest snapshot (0: none).
  raft::Index snapshot_index(uint64_t group) const;
  // The last index the group handed to ApplyFn (0 for a group not hosted).
  raft::Index applied_of(uint64_t group) const;
  // This node leads `group` and is handing the leadership over (it refuses proposals meanwhile).
  bool handing_over(uint64_t group) const;

  // `send_early`, when given, gets the messages that may leave before the round's save (a
  // leader's appends and heartbeats: Ready::messages), once every group's Ready is saved unsynced
  // and before the sync; the rest (Ready::persisted_messages, and all messages without
  // `send_early`) is returned.
  //
  // `applied_early`, when given, moves the apply before the sync as well: committed entries are
  // durable on a majority already (a leader counts itself only for entries it has synced), so
  // they need not wait for this round's fsync of newer entries, and neither do the answers to
  // their proposals. ApplyFn gets the committed entries of every group whose Ready holds no
  // snapshot, then `applied_early` is called, then the round syncs; a group receiving a snapshot
  // installs it and applies after the sync, as without the callback. A follower may so apply an
  // entry before its own copy is synced: the owner must keep its applied state from outliving
  // the log on a crash, e.g. by writing both through one write-ahead log, log first.
  using SendFn = std::function<void(std::map<raft::NodeId, std::vector<transport::GroupMessage>>)>;
  Result<std::map<raft::NodeId, std::vector<transport::GroupMessage>>> process_ready(
      const SendFn& send_early = nullptr, const std::function<void()>& applied_early = nullptr);

  std::optional<raft::SoftState> state_of(uint64_t group) const;
  std::optional<raft::Term> term_of(uint64_t group) const;

  // What a group's leader knows about its members, for the code that manages membership.
  struct GroupView {
    bool leader = false;  // this node leads the group
    raft::NodeId known_leader = raft::kNoNode;
    raft::ConfState conf;
    raft::Index last_index = 0;
    raft::Index commit_index = 0;  // as this node knows it
    raft::Index applied_index = 0;
    std::map<raft::NodeId, raft::Index> match;  // leader only: each member's matched index
  };
  std::optional<GroupView> view_of(uint64_t group) const;
  uint64_t dropped_messages() const { return dropped_; }

  // Where the last process_ready() spent its time (a steady clock; diagnostics only, nothing
  // depends on it): building the groups' Readies and saving their logs unsynced, handing the
  // messages that leave before the sync to SendFn (encoding them), applying committed entries,
  // the fsync, and the rest (installs, reads, advancing), with what it moved.
  struct RoundProfile {
    int64_t ready_and_save_us = 0, send_early_us = 0, apply_us = 0, sync_us = 0, finish_us = 0;
    size_t groups = 0, entries_saved = 0, entries_applied = 0, messages = 0;
    size_t message_entries = 0;  // entries the messages carry (appends)
  };
  const RoundProfile& last_round() const { return last_round_; }

 private:
  RoundProfile last_round_;
  // A checkpoint made off the host's thread, from the request that started it until a request
  // takes it.
  struct Checkpoint {
    enum class Stage { none, making, made };
    Stage stage = Stage::none;
    raft::SnapshotMeta meta;  // as of the index it was pinned at
    std::string data;
  };
  // A snapshot from the leader installed off the host's thread, from the runner's start until the
  // round after install_done() finishes the Ready that carried it.
  enum class Install { none, queued, running, installed, failed };
  struct Group {
    std::unique_ptr<raft::LogStorage> storage;
    std::unique_ptr<raft::Raft> raft;
    raft::SoftState reported;
    Checkpoint checkpoint;
    Install install = Install::none;
    std::unique_ptr<raft::Ready> held;  // the Ready being installed; its address stays put
  };

  // The meta of a snapshot at the group's applied index (term and configuration as of it).
  Result<raft::SnapshotMeta> applied_meta(uint64_t group) const;
  // applied_meta() for a compaction: conflict when nothing was applied since the last snapshot.
  Result<raft::SnapshotMeta> compaction_meta(uint64_t group) const;
  // A snapshot of the state as it is now (the storage's source for state snapshots).
  Result<raft::Snapshot> state_snapshot(uint64_t group);
  // The hosted group, or not_found; unavailable while it installs a snapshot (`what` names the
  // refused call).
  Result<Group*> idle_group(uint64_t group, const char* what);
  // Holds `rd`, which carries a snapshot, for the install runner (queued while another group's
  // install runs); the group stands still until the install is done.
  void start_install(uint64_t id, Group& g, raft::Ready rd);
  void run_install(uint64_t id, Group& g);

  Options options_;
  CheckpointFn checkpoint_;
  CheckpointRunner runner_;
  InstallRunner installer_;
  AdoptFn adopt_;
  ApplyFn apply_;
  RoleFn role_;
  RestoreFn restore_;
  ReadFn read_;
  std::map<uint64_t, Group> groups_;
  uint64_t dropped_ = 0;
};

}  // namespace nca::cluster
