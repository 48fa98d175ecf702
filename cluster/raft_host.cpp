#include "cluster/raft_host.hpp"

#include <chrono>
#include <set>

namespace nca::cluster {
namespace {

Error not_hosted(uint64_t group) {
  return make_error(ErrorCode::not_found,
                    "raft group " + std::to_string(group) + " is not hosted on this node");
}

}  // namespace

RaftHost::RaftHost(Options options, ApplyFn apply, RoleFn role, RestoreFn restore)
    : options_(options),
      apply_(std::move(apply)),
      role_(std::move(role)),
      restore_(std::move(restore)) {}

Status RaftHost::add_group(uint64_t group, std::unique_ptr<raft::LogStorage> storage,
                           const std::vector<raft::NodeId>& bootstrap_voters, raft::Index applied) {
  if (groups_.count(group) != 0) {
    return make_error(ErrorCode::already_exists,
                      "raft group " + std::to_string(group) + " is already hosted on this node");
  }
  if (!storage) return make_error(ErrorCode::invalid_argument, "raft group without storage");
  auto initial = storage->initial_state();
  if (!initial) return initial.error();
  const bool fresh = storage->last_index() == 0 && initial->hard_state.term == 0;
  if (fresh && !bootstrap_voters.empty()) {
    raft::Bootstrap boot = raft::bootstrap_entries(bootstrap_voters);
    if (auto s = storage->save(&boot.hard_state, boot.entries, nullptr); !s) return s;
  }
  raft::RaftConfig config;
  config.id = options_.node;
  config.storage = storage.get();
  config.election_tick = options_.election_tick;
  config.heartbeat_tick = options_.heartbeat_tick;
  config.seed = options_.seed ^ (group * 0x9E3779B97F4A7C15ull) ^ options_.node;
  config.applied = applied;
  auto r = raft::Raft::create(config);
  if (!r) return r.error();
  auto meta = storage->snapshot_meta();
  if (!meta) return meta.error();
  // The application holds its state up to `applied`: an older snapshot is not news to it (and its
  // data is not read: a shard's snapshot is its whole checkpoint).
  if (meta->index > applied && restore_) {
    auto snap = storage->snapshot();
    if (!snap) {
      return make_error(snap.error().code,
                        "raft group " + std::to_string(group) + ": its log starts after index " +
                            std::to_string(meta->index) + ", the application holds only index " +
                            std::to_string(applied) +
                            ", and the snapshot cannot be read: " + snap.error().message);
    }
    if (auto s = restore_(group, *snap); !s) return s;
  }
  if (checkpoint_) {
    storage->set_snapshot_source([this, group] { return state_snapshot(group); });
  }
  Group g;
  g.storage = std::move(storage);
  g.raft = std::move(*r);
  groups_.emplace(group, std::move(g));
  return {};
}

Result<std::unique_ptr<raft::LogStorage>> RaftHost::remove_group(uint64_t group) {
  auto g = idle_group(group, "its removal");
  if (!g) return g.error();
  auto it = groups_.find(group);
  std::unique_ptr<raft::LogStorage> storage = std::move(it->second.storage);
  groups_.erase(it);  // the Raft object goes first: it reads through the storage
  storage->set_snapshot_source(nullptr);  // it refers to this host's group
  return storage;
}

std::vector<uint64_t> RaftHost::groups() const {
  std::vector<uint64_t> out;
  for (const auto& [id, g] : groups_) out.push_back(id);
  return out;
}

void RaftHost::tick() {
  for (auto& [id, g] : groups_) {
    if (g.install != Install::none) continue;  // stands still until the snapshot is in
    g.raft->tick();
    // A group whose only voter is this node needs no election timeout to pass. Its configuration
    // is known once the bootstrap entries are applied (after the first Ready), hence here.
    const auto& voters = g.raft->conf().voters;
    if (g.raft->role() != raft::Role::leader && voters.size() == 1 && voters[0] == options_.node) {
      g.raft->campaign();
    }
  }
}

Status RaftHost::step(const transport::DecodedBatch& batch) {
  if (batch.header.to_node != options_.node) {
    return make_error(ErrorCode::invalid_argument,
                      "raft batch for node " + std::to_string(batch.header.to_node) +
                          " arrived at node " + std::to_string(options_.node));
  }
  for (const auto& gm : batch.messages) {
    if (gm.message.from != batch.header.from_node || gm.message.to != options_.node) {
      return make_error(ErrorCode::invalid_argument,
                        "raft batch from node " + std::to_string(batch.header.from_node) +
                            " carries a message from " + std::to_string(gm.message.from) + " to " +
                            std::to_string(gm.message.to));
    }
  }
  for (const auto& gm : batch.messages) {
    auto it = groups_.find(gm.group);
    if (it == groups_.end() || it->second.install != Install::none) {
      ++dropped_;
      continue;
    }
    // A message the group refuses (malformed for its state) changes nothing there; the others in
    // the batch still count.
    if (!it->second.raft->step(gm.message)) ++dropped_;
  }
  return {};
}

Result<raft::Index> RaftHost::propose(uint64_t group, std::string data) {
  auto g = idle_group(group, "proposals");
  if (!g) return g.error();
  return (*g)->raft->propose(std::move(data));
}

Result<raft::Index> RaftHost::propose_conf_change(uint64_t group, const raft::ConfChange& change) {
  auto g = idle_group(group, "membership changes");
  if (!g) return g.error();
  return (*g)->raft->propose_conf_change(change);
}

Result<RaftHost::Group*> RaftHost::idle_group(uint64_t group, const char* what) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return not_hosted(group);
  if (it->second.install != Install::none) {
    return make_error(ErrorCode::unavailable, "raft group " + std::to_string(group) +
                                                  " is installing a snapshot from its leader; " +
                                                  what + " wait until it is in");
  }
  return &it->second;
}

bool RaftHost::installing(uint64_t group) const {
  auto it = groups_.find(group);
  return it != groups_.end() && it->second.install != Install::none;
}

void RaftHost::start_install(uint64_t id, Group& g, raft::Ready rd) {
  // The role is reported now, not when the install is done: a leader deposed by the Ready must
  // stop serving at once.
  if (rd.soft_state != g.reported) {
    g.reported = rd.soft_state;
    if (role_) role_(id, rd.soft_state);
  }
  g.held = std::make_unique<raft::Ready>(std::move(rd));
  g.install = Install::queued;
  // One at a time: each holds a whole state in memory and writes it to the same disk.
  for (const auto& [other, og] : groups_) {
    if (og.install == Install::running) return;
  }
  run_install(id, g);
}

void RaftHost::run_install(uint64_t id, Group& g) {
  g.install = Install::running;
  const raft::Ready* held = g.held.get();
  raft::LogStorage* storage = g.storage.get();
  const raft::Index index = held->snapshot->meta.index;
  installer_(id, index, [this, id, held, storage]() -> Status {
    const raft::HardState* hard_state = held->hard_state ? &*held->hard_state : nullptr;
    if (adopt_) {
      auto adopted = adopt_(id, *storage, hard_state, held->entries, *held->snapshot);
      if (!adopted) return adopted.error();
      if (*adopted) return {};
    }
    if (auto s = storage->save(hard_state, held->entries, &*held->snapshot); !s) {
      return make_error(s.error().code, "raft group " + std::to_string(id) +
                                            ": saving its snapshot failed: " + s.error().message);
    }
    return restore_ ? restore_(id, *held->snapshot) : Status{};
  });
}

Status RaftHost::install_done(uint64_t group, raft::Index index, Status result) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return not_hosted(group);
  Group& g = it->second;
  if (g.install != Install::running || g.held->snapshot->meta.index != index) {
    return make_error(ErrorCode::conflict, "raft group " + std::to_string(group) +
                                               ": no snapshot at index " + std::to_string(index) +
                                               " was being installed");
  }
  if (!result) {
    g.install = Install::failed;
    return result;
  }
  g.install = Install::installed;
  for (auto& [next, ng] : groups_) {
    if (ng.install == Install::queued) {
      run_install(next, ng);
      break;
    }
  }
  return {};
}

std::optional<RaftHost::GroupView> RaftHost::view_of(uint64_t group) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return std::nullopt;
  const raft::Raft& r = *it->second.raft;
  GroupView v;
  v.leader = r.role() == raft::Role::leader;
  v.known_leader = r.leader();
  v.conf = r.conf();
  v.last_index = r.log().last_index();
  v.commit_index = r.log().committed();
  v.applied_index = r.log().applied();
  if (v.leader) {
    for (const auto& [node, pr] : r.progress()) v.match[node] = pr.match;
  }
  return v;
}

Result<raft::SnapshotMeta> RaftHost::applied_meta(uint64_t group) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    return not_hosted(group);
  }
  const raft::Raft& r = *it->second.raft;
  raft::SnapshotMeta meta;
  meta.index = r.log().applied();
  auto term = r.log().term(meta.index);
  if (!term) return term.error();
  meta.term = *term;
  // Conf changes take effect when applied, so the configuration now is the one as of `applied`.
  meta.conf = r.conf();
  return meta;
}

Result<raft::SnapshotMeta> RaftHost::compaction_meta(uint64_t group) const {
  auto meta = applied_meta(group);
  if (!meta) return meta.error();
  if (meta->index <= snapshot_index(group)) {
    return make_error(ErrorCode::conflict, "raft group " + std::to_string(group) +
                                               ": nothing applied since the last snapshot");
  }
  return meta;
}

Status RaftHost::compact(uint64_t group, raft::Index index, std::string data) {
  if (auto g = idle_group(group, "compactions"); !g) return g.error();
  auto meta = compaction_meta(group);
  if (!meta) return meta.error();
  if (index != meta->index) {
    return make_error(ErrorCode::conflict, "raft group " + std::to_string(group) + " applied " +
                                               std::to_string(meta->index) + ", not " +
                                               std::to_string(index) + "; try again");
  }
  return groups_.at(group).storage->compact(raft::Snapshot{std::move(*meta), std::move(data)});
}

Status RaftHost::compact_to_state(uint64_t group) {
  if (auto g = idle_group(group, "compactions"); !g) return g.error();
  if (!checkpoint_) {
    return make_error(ErrorCode::invalid_argument,
                      "raft group " + std::to_string(group) +
                          ": no checkpoint function, so its log cannot be compacted to its state");
  }
  auto meta = compaction_meta(group);
  if (!meta) return meta.error();
  Group& g = groups_.at(group);
  if (auto s = g.storage->compact_to_state(*meta); !s) return s;
  // A checkpoint older than the log's new start is of no use to anyone; a large one holds memory.
  if (g.checkpoint.stage == Checkpoint::Stage::made && g.checkpoint.meta.index < meta->index) {
    g.checkpoint = Checkpoint{};
  }
  return {};
}

Result<raft::Snapshot> RaftHost::state_snapshot(uint64_t group) {
  auto meta = applied_meta(group);
  if (!meta) return meta.error();
  const std::string name = "raft group " + std::to_string(group);
  Checkpoint& made = groups_.at(group).checkpoint;
  if (made.stage == Checkpoint::Stage::making) {
    return make_error(ErrorCode::unavailable,
                      name + ": a checkpoint at index " + std::to_string(made.meta.index) +
                          " is being made; a follower gets it once it is done");
  }
  if (made.stage == Checkpoint::Stage::made) {
    // Handed out once: Raft holds it while it sends it, and a follower that still needs one later
    // gets a newer one. The storage refuses it if the log was compacted past it meanwhile.
    raft::Snapshot out{std::move(made.meta), std::move(made.data)};
    made = Checkpoint{};
    return out;
  }
  if (runner_) {
    // One at a time: each holds a whole shard in memory and reads it on a core of its own, and a
    // node joining a cluster makes every leader it replicates from want one per shard at once.
    for (const auto& [id, other] : groups_) {
      if (other.checkpoint.stage == Checkpoint::Stage::making) {
        return make_error(ErrorCode::unavailable, name +
                                                      ": waits for the checkpoint of raft group " +
                                                      std::to_string(id) + " to be made first");
      }
    }
  }
  auto pinned = checkpoint_(group);
  if (!pinned) return pinned.error();
  if (pinned->index != meta->index) {
    // The state and the configuration must be of the same index; the application is behind (a
    // failed write) or ahead of what Raft applied. A later attempt may find them agreeing.
    return make_error(ErrorCode::unavailable,
                      name + ": the state holds index " + std::to_string(pinned->index) +
                          " but Raft applied " + std::to_string(meta->index) + "; no snapshot now");
  }
  if (!runner_) {
    auto data = pinned->make();
    if (!data) return data.error();
    return raft::Snapshot{std::move(*meta), std::move(*data)};
  }
  made.stage = Checkpoint::Stage::making;
  made.meta = std::move(*meta);
  runner_(group, made.meta.index, std::move(pinned->make));
  return make_error(ErrorCode::unavailable, name + ": making a checkpoint at index " +
                                                std::to_string(made.meta.index) +
                                                " for a follower behind the log's start");
}

Status RaftHost::checkpoint_made(uint64_t group, raft::Index index, Result<std::string> data) {
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    return not_hosted(group);
  }
  Checkpoint& made = it->second.checkpoint;
  if (made.stage != Checkpoint::Stage::making || made.meta.index != index) {
    return make_error(ErrorCode::conflict, "raft group " + std::to_string(group) +
                                               ": no checkpoint at index " + std::to_string(index) +
                                               " was being made");
  }
  if (!data) {
    made = Checkpoint{};
    return data.error();
  }
  made.stage = Checkpoint::Stage::made;
  made.data = std::move(*data);
  return {};
}

raft::Index RaftHost::applied_of(uint64_t group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? 0 : it->second.raft->log().applied();
}

bool RaftHost::handing_over(uint64_t group) const {
  auto it = groups_.find(group);
  return it != groups_.end() && it->second.raft->role() == raft::Role::leader &&
         it->second.raft->transferee() != raft::kNoNode;
}

raft::Index RaftHost::snapshot_index(uint64_t group) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return 0;
  // The log starts right after its snapshot (log_storage.hpp). Not storage->snapshot(): that reads
  // the snapshot's data, a shard's whole checkpoint, and this is asked for every group after every
  // flush (compaction checks): once shards had snapshots, nodes spent their CPU decompressing and
  // checksumming them, and the soak's write rate fell from about 250/s to 15/s.
  return it->second.storage->first_index() - 1;
}

Status RaftHost::transfer_leadership(uint64_t group, raft::NodeId to) {
  auto g = idle_group(group, "leadership transfers");
  if (!g) return g.error();
  return (*g)->raft->transfer_leadership(to);
}

Status RaftHost::campaign(uint64_t group) {
  auto g = idle_group(group, "campaigns");
  if (!g) return g.error();
  (*g)->raft->campaign();
  return {};
}

Result<std::map<raft::NodeId, std::vector<transport::GroupMessage>>> RaftHost::process_ready(
    const SendFn& send_early, const std::function<void()>& applied_early) {
  using Steady = std::chrono::steady_clock;
  auto us_since = [](Steady::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - t).count();
  };
  RoundProfile profile;
  auto phase = Steady::now();
  std::map<raft::NodeId, std::vector<transport::GroupMessage>> out;
  std::map<raft::NodeId, std::vector<transport::GroupMessage>> early;
  auto route_to = [&](auto& into, uint64_t group, std::vector<raft::Message>& messages) {
    for (auto& m : messages) {
      if (m.to == options_.node || m.to == raft::kNoNode) continue;
      into[m.to].push_back(transport::GroupMessage{group, std::move(m)});
    }
  };
  auto route = [&](uint64_t group, std::vector<raft::Message>& messages) {
    route_to(out, group, messages);
  };
  // Two passes: every group's Ready is saved first without an fsync, then each storage that
  // deferred one syncs (on one Db the first pays, the rest find nothing new), and only then are
  // entries applied and messages sent. So a node with many busy groups pays about one fsync per
  // round, not one per group.
  std::vector<std::pair<uint64_t, raft::Ready>> readies;
  std::set<uint64_t> installed;  // groups whose Ready an install runner saved and restored
  for (auto& [id, g] : groups_) {
    if (g.install == Install::installed) {
      installed.insert(id);
      readies.emplace_back(id, std::move(*g.held));
      g.held.reset();
      g.install = Install::none;
      continue;
    }
    if (g.install != Install::none || !g.raft->has_ready()) continue;
    raft::Ready rd = g.raft->ready();
    profile.entries_saved += rd.entries.size();
    profile.entries_applied += rd.committed.size();
    profile.messages += rd.messages.size() + rd.persisted_messages.size();
    for (const auto& m : rd.messages) profile.message_entries += m.entries.size();
    // A leader's appends and heartbeats may travel while its own log is being saved (Raft thesis
    // 10.2.1): followers write in parallel, and nothing in them depends on this round's save
    // (commit indices reflect acknowledgements of earlier, saved rounds).
    if (send_early) {
      route_to(early, id, rd.messages);
      rd.messages.clear();
    }
    if (installer_ && rd.snapshot && !rd.snapshot->empty()) {
      start_install(id, g, std::move(rd));
      continue;
    }
    if (rd.hard_state || rd.snapshot || !rd.entries.empty()) {
      if (auto s = g.storage->save_unsynced(rd.hard_state ? &*rd.hard_state : nullptr, rd.entries,
                                            rd.snapshot ? &*rd.snapshot : nullptr);
          !s) {
        return make_error(s.error().code, "raft group " + std::to_string(id) +
                                              ": saving its log failed: " + s.error().message);
      }
    }
    readies.emplace_back(id, std::move(rd));
  }
  profile.groups = readies.size();
  profile.ready_and_save_us = us_since(phase);
  phase = Steady::now();
  if (send_early && !early.empty()) send_early(std::move(early));
  profile.send_early_us = us_since(phase);
  phase = Steady::now();
  // Which groups apply before the sync (see the header): those without a snapshot to install.
  auto apply_early = [&](const raft::Ready& rd) {
    return applied_early && !(rd.snapshot && !rd.snapshot->empty());
  };
  if (applied_early) {
    for (auto& [id, rd] : readies) {
      if (!apply_early(rd) || !apply_) continue;
      for (const auto& e : rd.committed) apply_(id, e);
    }
    applied_early();
  }
  profile.apply_us = us_since(phase);
  phase = Steady::now();
  for (auto& [id, rd] : readies) {
    if (auto s = groups_.at(id).storage->sync(); !s) {
      return make_error(s.error().code, "raft group " + std::to_string(id) +
                                            ": syncing its log failed: " + s.error().message);
    }
  }
  profile.sync_us = us_since(phase);
  phase = Steady::now();
  for (auto& [id, rd] : readies) {
    Group& g = groups_.at(id);
    if (rd.soft_state != g.reported) {
      g.reported = rd.soft_state;
      if (role_) role_(id, rd.soft_state);
    }
    if (rd.snapshot && !rd.snapshot->empty() && restore_ && installed.count(id) == 0) {
      if (auto s = restore_(id, *rd.snapshot); !s) return s.error();
    }
    route(id, rd.messages);  // empty when they left before the sync
    route(id, rd.persisted_messages);
    if (apply_ && !apply_early(rd)) {
      for (const auto& e : rd.committed) apply_(id, e);
    }
    if (read_) {
      for (const auto& r : rd.read_states) read_(id, r.context, r.index);
    }
    g.raft->advance(rd);
  }
  profile.finish_us = us_since(phase);
  last_round_ = profile;
  return out;
}

Status RaftHost::read_index(uint64_t group, uint64_t context) {
  auto g = idle_group(group, "reads");
  if (!g) return g.error();
  if ((*g)->raft->role() != raft::Role::leader) {
    return make_error(ErrorCode::unavailable,
                      "this node does not lead raft group " + std::to_string(group));
  }
  return (*g)->raft->read_index(context);
}

std::optional<raft::SoftState> RaftHost::state_of(uint64_t group) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return std::nullopt;
  return raft::SoftState{it->second.raft->leader(), it->second.raft->role()};
}

std::optional<raft::Term> RaftHost::term_of(uint64_t group) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return std::nullopt;
  return it->second.raft->term();
}

}  // namespace nca::cluster
