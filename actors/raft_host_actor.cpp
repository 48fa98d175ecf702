#include "actors/raft_host_actor.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <map>
#include <set>
#include <string>

#include "actors/peer_transport.hpp"
#include "cluster/transport/raft_codec.hpp"

namespace nca::actors {
namespace {

using raft_tick_atom = caf::atom_constant<caf::atom("rtick")>;
using flush_atom = caf::atom_constant<caf::atom("rflush")>;
using checkpoint_made_atom = caf::atom_constant<caf::atom("rckpt")>;
using install_done_atom = caf::atom_constant<caf::atom("rinstall")>;

struct PendingProposal {
  raft::Term term = 0;
  caf::response_promise rp;
};

// (group, index) -> who waits for it. Shared by the actor and the host's apply and role callbacks,
// which run only inside the actor's handlers.
struct Proposals {
  std::map<std::pair<uint64_t, raft::Index>, PendingProposal> pending;
  // Groups this node leads and has applied an entry of its term in (see `leadership`).
  std::set<uint64_t> serving;
  // Linearizable reads: asked since the last flush (one read_index per group per flush), sent to
  // Raft by context, and confirmed but waiting for the apply of their index.
  std::map<uint64_t, std::vector<caf::response_promise>> reads_queued;
  std::map<uint64_t, std::pair<uint64_t, std::vector<caf::response_promise>>> reads_asked;
  struct ConfirmedRead {
    uint64_t group;
    raft::Index index;
    std::vector<caf::response_promise> waiting;
  };
  std::vector<ConfirmedRead> reads_confirmed;
  uint64_t next_read = 0;
  // Answers and serving notices of the round being applied, held until its write (round_applied).
  struct Answer {
    caf::response_promise rp;
    uint64_t index = 0;  // 0: the entry committed in another term than proposed
  };
  std::vector<Answer> answers;
  std::vector<uint64_t> now_serving;
  cluster::RaftHost* host = nullptr;             // set once the host exists; outlived by it
  RaftHostCounters* counters = nullptr;          // RaftHostActorConfig::counters (may be null)
  std::map<uint64_t, raft::NodeId> last_leader;  // per group, the last leader seen (0: none)
};

// A proposal a leader could not take yet (it is handing the leadership over).
struct HeldProposal {
  uint64_t group = 0;
  std::string data;
  caf::typed_response_promise<uint64_t> rp;
};

struct HostState {
  bool flush_queued = false;
  std::vector<HeldProposal> held;
  // Removals of groups that were installing a snapshot, done once the install is finished.
  std::map<uint64_t, std::vector<caf::typed_response_promise<bool>>> removals;
  RaftHostActorConfig config;
  std::shared_ptr<cluster::RaftHost> host;
  std::shared_ptr<Proposals> proposals;
};

using RaftHostSelf = caf::stateful_actor<HostState>;

caf::error failure(const std::string& message) {
  return caf::make_error(caf::sec::runtime_error, message);
}

void fail_pending(Proposals& p, uint64_t group, const std::string& why) {
  for (auto it = p.pending.lower_bound({group, 0});
       it != p.pending.end() && it->first.first == group;) {
    it->second.rp.deliver(failure(why));
    it = p.pending.erase(it);
    if (p.counters != nullptr) p.counters->proposals_failed.fetch_add(1, std::memory_order_relaxed);
  }
  auto fail = [&](std::vector<caf::response_promise>& rps) {
    for (auto& rp : rps) rp.deliver(failure(why));
  };
  if (auto q = p.reads_queued.find(group); q != p.reads_queued.end()) {
    fail(q->second);
    p.reads_queued.erase(q);
  }
  for (auto it = p.reads_asked.begin(); it != p.reads_asked.end();) {
    if (it->second.first != group) {
      ++it;
      continue;
    }
    fail(it->second.second);
    it = p.reads_asked.erase(it);
  }
  for (auto it = p.reads_confirmed.begin(); it != p.reads_confirmed.end();) {
    if (it->group != group) {
      ++it;
      continue;
    }
    fail(it->waiting);
    it = p.reads_confirmed.erase(it);
  }
}

// One read_index per group with reads queued since the last flush: their heartbeat round goes out
// with this flush's messages.
void ask_reads(Proposals& p, cluster::RaftHost& host) {
  for (auto& [group, rps] : p.reads_queued) {
    const uint64_t context = ++p.next_read;
    if (auto s = host.read_index(group, context); !s) {
      for (auto& rp : rps) rp.deliver(failure(s.error().message));
      continue;
    }
    p.reads_asked[context] = {group, std::move(rps)};
  }
  p.reads_queued.clear();
}

// Confirmed reads whose index this node has applied are answered.
void answer_reads(Proposals& p, const cluster::RaftHost& host) {
  for (auto it = p.reads_confirmed.begin(); it != p.reads_confirmed.end();) {
    if (host.applied_of(it->group) < it->index) {
      ++it;
      continue;
    }
    for (auto& rp : it->waiting) rp.deliver(uint64_t{it->index});
    it = p.reads_confirmed.erase(it);
  }
}

// A group's log or state could not be written: none of the node's groups can be trusted further.
void stop(RaftHostSelf* self, const Error& why) {
  auto& st = self->state;
  spdlog::error("raft: {}; the node's groups stop", why.message);
  for (auto& [key, p] : st.proposals->pending) p.rp.deliver(failure(why.message));
  st.proposals->pending.clear();
  for (auto& h : st.held) h.rp.deliver(failure(why.message));
  st.held.clear();
  for (auto& [group, rps] : st.removals) {
    for (auto& rp : rps) rp.deliver(failure(why.message));
  }
  st.removals.clear();
  self->quit(caf::exit_reason::unhandled_exception);
}

void flush(RaftHostSelf* self) {
  auto& st = self->state;
  ask_reads(*st.proposals, *st.host);
  auto send = [self](std::map<raft::NodeId, std::vector<transport::GroupMessage>> batches) {
    auto& st = self->state;
    for (auto& [to, messages] : batches) {
      transport::RaftBatchHeader header{st.config.host.node, st.config.incarnation, to};
      self->send(st.config.transport, send_frame_atom::value, to,
                 transport::encode_batch(header, messages));
    }
  };
  // The round's applied entries are written, and their proposals answered, before the round's
  // fsync of newer entries (RaftHost::process_ready's `applied_early`): an answer waits for the
  // commit, not for the next save. The second call covers groups that installed a snapshot.
  auto applied = [self] {
    auto& st = self->state;
    if (st.config.round_applied) st.config.round_applied();
    auto& p = *st.proposals;
    for (uint64_t group : p.now_serving) {
      if (st.config.leadership) st.config.leadership(group, st.config.host.node, true);
    }
    p.now_serving.clear();
    for (auto& a : p.answers) {
      if (a.index != 0) {
        a.rp.deliver(a.index);
      } else {
        a.rp.deliver(failure("leadership changed before the entry committed; retry"));
        if (auto* c = st.config.counters)
          c->proposals_failed.fetch_add(1, std::memory_order_relaxed);
      }
    }
    p.answers.clear();
  };
  auto out = st.host->process_ready(send, applied);
  applied();
  if (!out) return stop(self, out.error());
  if (st.config.counters != nullptr && st.host->last_round().groups > 0) {
    st.config.counters->rounds.fetch_add(1, std::memory_order_relaxed);
  }
  answer_reads(*st.proposals, *st.host);
  send(std::move(*out));
}

// Frames, proposals and ticks only mark the host dirty; one flush message, queued behind whatever
// is already in the mailbox, then handles all their Readies together: a burst of proposals and
// acknowledgements costs one save round (one fsync) instead of one each.
void request_flush(RaftHostSelf* self) {
  if (self->state.flush_queued) return;
  self->state.flush_queued = true;
  self->send(self, flush_atom::value);
}

std::string describe(const cluster::RaftHost& host, uint64_t group) {
  auto s = host.state_of(group);
  if (!s) return "not hosted";
  return "leader=" + std::to_string(s->leader) + " role=" + raft::to_string(s->role) +
         " term=" + std::to_string(host.term_of(group).value_or(0)) +
         " snapshot=" + std::to_string(host.snapshot_index(group)) +
         (host.installing(group) ? " installing" : "");
}

// Stops hosting `group` (remove_group_atom); not hosted is success.
caf::error remove_now(RaftHostSelf* self, uint64_t group) {
  auto& st = self->state;
  auto storage = st.host->remove_group(group);
  if (!storage) return caf::none;  // not hosted: nothing to remove
  fail_pending(*st.proposals, group,
               "this node left group " + std::to_string(group) + "; retry on its leader");
  st.proposals->serving.erase(group);
  if (st.config.leadership) st.config.leadership(group, raft::kNoNode, false);
  if (st.config.dropped) {
    if (auto s = st.config.dropped(group, std::move(*storage)); !s) {
      return failure(s.error().message);
    }
  }
  return caf::none;
}

// Removals that waited for a group's snapshot install, once its round is finished.
void remove_installed(RaftHostSelf* self) {
  auto& st = self->state;
  for (auto it = st.removals.begin(); it != st.removals.end();) {
    if (st.host->installing(it->first)) {
      ++it;
      continue;
    }
    auto e = remove_now(self, it->first);
    for (auto& rp : it->second) {
      if (e) {
        rp.deliver(e);
      } else {
        rp.deliver(true);
      }
    }
    it = st.removals.erase(it);
  }
}

// Why a proposal or change was not taken, with the leader this node knows when it does not lead.
caf::error not_proposed(RaftHostSelf* self, uint64_t group, const Error& error) {
  if (error.code != ErrorCode::unavailable) return failure(error.message);
  auto s = self->state.host->state_of(group);
  return failure("node " + std::to_string(self->state.config.host.node) + " does not lead group " +
                 std::to_string(group) +
                 (s && s->leader != raft::kNoNode ? "; leader is node " + std::to_string(s->leader)
                                                  : "; no leader known"));
}

// Answers with the entry's index once this node has applied it, or with why it was not proposed.
caf::result<uint64_t> wait_for_apply(RaftHostSelf* self, uint64_t group,
                                     Result<raft::Index> index) {
  auto& st = self->state;
  if (!index) return not_proposed(self, group, index.error());
  auto rp = self->make_response_promise<uint64_t>();
  st.proposals->pending[{group, *index}] = PendingProposal{*st.host->term_of(group), rp};
  request_flush(self);
  return rp;
}

// Proposes `h`: pending until applied when the leader takes it; held while this node leads but
// refuses proposals (it is handing the leadership over: until the hand-over is done or abandoned,
// an election timeout at most); failed, with the leader this node knows, otherwise.
void try_propose(RaftHostSelf* self, HeldProposal h) {
  auto& st = self->state;
  if (st.host->handing_over(h.group)) {
    st.held.push_back(std::move(h));
    return;
  }
  auto index = st.host->propose(h.group, std::move(h.data));
  if (!index) {
    h.rp.deliver(not_proposed(self, h.group, index.error()));
    return;
  }
  st.proposals->pending[{h.group, *index}] =
      PendingProposal{*st.host->term_of(h.group), caf::response_promise(h.rp)};
  request_flush(self);
}

// Proposals held during a hand-over, tried again.
void retry_held(RaftHostSelf* self) {
  auto& st = self->state;
  if (st.held.empty()) return;
  std::vector<HeldProposal> held;
  held.swap(st.held);
  for (auto& h : held) try_propose(self, std::move(h));
}

// Compacts every group whose log grew by `snapshot_entries` applied entries since its snapshot,
// to its state: nothing is copied (a snapshot's data is made when a follower needs one).
void compact_due(RaftHostSelf* self) {
  auto& st = self->state;
  if (!st.config.compacts || !st.config.checkpoint_of || st.config.snapshot_entries == 0) return;
  for (uint64_t g : st.host->groups()) {
    if (!st.config.compacts(g) || st.host->installing(g)) continue;
    const raft::Index applied = st.host->applied_of(g);
    if (applied < st.host->snapshot_index(g) + st.config.snapshot_entries) continue;
    if (auto s = st.host->compact_to_state(g); !s) {
      spdlog::warn("raft group {}: compaction at {} failed: {}", g, applied, s.error().message);
    }
  }
}

// Hosts `group` with its storage.
Status add_and_start(cluster::RaftHost& host, const RaftHostActorConfig& config, uint64_t group,
                     const std::vector<raft::NodeId>& bootstrap) {
  auto storage = config.storage_for(group);
  if (!storage) {
    return make_error(ErrorCode::unavailable,
                      "the log of raft group " + std::to_string(group) + " cannot be opened");
  }
  raft::Index applied = 0;
  if (config.applied_for) {
    auto a = config.applied_for(group);
    if (!a) return a.error();
    applied = *a;
  }
  return host.add_group(group, std::move(storage), bootstrap, applied);
}

caf::behavior raft_host_actor(RaftHostSelf* self, std::shared_ptr<cluster::RaftHost> host,
                              RaftHostActorConfig config) {
  self->state.host = std::move(host);
  self->state.config = std::move(config);
  // A checkpoint for a follower is read by a detached actor of its own, not on this actor's
  // thread: a large shard would otherwise stall every group of the node (heartbeats included)
  // for as long as it is read. The actor system waits for it on shutdown, so the database it
  // reads outlives it.
  self->state.host->set_checkpoint_runner(
      [self](uint64_t group, raft::Index index, cluster::RaftHost::MakeFn make) {
        auto host_actor = caf::actor_cast<caf::actor>(self);
        self->system().spawn<caf::detached>(
            [host_actor, group, index, make](caf::event_based_actor* job) {
              auto data = make();
              const bool ok = data.ok();
              job->send(host_actor, checkpoint_made_atom::value, group, uint64_t{index}, ok,
                        ok ? std::move(*data) : data.error().message);
            });
      });
  // A snapshot from a leader is saved and installed by a detached actor too, for the same reason;
  // it keeps the host, whose group it reads, alive until it is done.
  self->state.host->set_install_runner(
      [self](uint64_t group, raft::Index index, cluster::RaftHost::InstallFn install) {
        auto host_actor = caf::actor_cast<caf::actor>(self);
        std::shared_ptr<cluster::RaftHost> keep = self->state.host;
        self->system().spawn<caf::detached>(
            [host_actor, keep, group, index, install](caf::event_based_actor* job) {
              Status s;
              try {
                s = install();
              } catch (const std::exception& e) {  // bad_alloc for a large one: still an answer
                s = make_error(ErrorCode::internal, std::string("the install threw: ") + e.what());
              }
              job->send(host_actor, install_done_atom::value, group, uint64_t{index}, s.ok(),
                        s.ok() ? std::string() : s.error().message);
            });
      });
  self->send(self, raft_tick_atom::value);
  return {
      [=](install_done_atom, uint64_t group, uint64_t index, bool ok, const std::string& why) {
        Status result;
        if (!ok) result = make_error(ErrorCode::data_loss, why);
        if (auto s = self->state.host->install_done(group, index, std::move(result)); !s) {
          if (ok) {
            spdlog::warn("raft group {}: the install at index {} is not used: {}", group, index,
                         s.error().message);
            return;
          }
          return stop(self, s.error());
        }
        request_flush(self);
      },
      [=](checkpoint_made_atom, uint64_t group, uint64_t index, bool ok, std::string& data) {
        const size_t bytes = data.size();
        Result<std::string> made =
            ok ? Result<std::string>(std::move(data))
               : Result<std::string>(make_error(ErrorCode::unavailable, data));
        if (auto s = self->state.host->checkpoint_made(group, index, std::move(made)); !s) {
          spdlog::warn("raft group {}: the checkpoint at index {} is not used: {}", group, index,
                       s.error().message);
          return;
        }
        spdlog::info("raft group {}: made a checkpoint at index {} ({} bytes) for a follower",
                     group, index, bytes);
      },
      [=](frame_atom, uint64_t from, uint64_t, const std::string& bytes) {
        auto batch = transport::decode_batch(bytes);
        if (!batch) {
          spdlog::warn("raft: dropped a frame from node {}: {}", from, batch.error().message);
          return;
        }
        if (batch->header.from_node != from) {
          spdlog::warn("raft: node {} sent a batch signed as node {}", from,
                       batch->header.from_node);
          return;
        }
        if (auto s = self->state.host->step(*batch); !s) {
          spdlog::warn("raft: {}", s.error().message);
          return;
        }
        request_flush(self);
      },
      [=](peer_change_atom, uint32_t, uint64_t, uint64_t) {
        // Liveness is the failure detector's business; Raft's own timers drive elections.
      },
      [=](propose_atom, uint64_t group, std::string& data) -> caf::result<uint64_t> {
        auto rp = self->make_response_promise<uint64_t>();
        try_propose(self, HeldProposal{group, std::move(data), rp});
        return rp;
      },
      [=](conf_change_atom, uint64_t group, uint8_t type, uint64_t node) -> caf::result<uint64_t> {
        if (type > static_cast<uint8_t>(raft::ConfChangeType::remove_node)) {
          return failure("unknown membership change type " + std::to_string(type));
        }
        raft::ConfChange change{static_cast<raft::ConfChangeType>(type), node};
        return wait_for_apply(self, group, self->state.host->propose_conf_change(group, change));
      },
      [=](compact_atom, uint64_t group, uint64_t index, std::string& data) -> caf::result<bool> {
        if (auto s = self->state.host->compact(group, index, std::move(data)); !s) {
          return failure(s.error().message);
        }
        return true;
      },
      [=](add_group_atom, uint64_t group,
          const std::vector<uint64_t>& voters) -> caf::result<bool> {
        auto& st = self->state;
        if (auto waiting = st.removals.find(group); waiting != st.removals.end()) {
          // Placed here again while its removal waited for an install: it stays.
          for (auto& rp : waiting->second) {
            rp.deliver(failure("group " + std::to_string(group) + " was added again"));
          }
          st.removals.erase(waiting);
        }
        if (st.host->hosts(group)) return true;
        std::vector<raft::NodeId> boot(voters.begin(), voters.end());
        if (auto s = add_and_start(*st.host, st.config, group, boot); !s) {
          return failure(s.error().message);
        }
        request_flush(self);
        return true;
      },
      [=](remove_group_atom, uint64_t group) -> caf::result<bool> {
        auto& st = self->state;
        if (st.host->installing(group)) {
          // The install reads the group's storage until it is done; the removal waits for it.
          auto rp = self->make_response_promise<bool>();
          st.removals[group].push_back(rp);
          return rp;
        }
        if (auto e = remove_now(self, group)) return e;
        retry_held(self);  // proposals held for the group now fail: it is not hosted
        return true;
      },
      [=](read_index_atom, uint64_t group) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (!st.host->hosts(group)) {
          return failure("raft group " + std::to_string(group) + " is not hosted on this node");
        }
        auto rp = self->make_response_promise<uint64_t>();
        st.proposals->reads_queued[group].push_back(caf::response_promise(rp));
        request_flush(self);
        return rp;
      },
      [=](group_views_atom) -> GroupViewsPtr {
        auto& host = *self->state.host;
        auto out = std::make_shared<std::map<uint64_t, cluster::RaftHost::GroupView>>();
        for (uint64_t g : host.groups()) {
          if (auto v = host.view_of(g)) out->emplace(g, std::move(*v));
        }
        return out;
      },
      [=](transfer_atom, uint64_t group, uint64_t to) {
        if (self->state.host->transfer_leadership(group, to)) request_flush(self);
      },
      [=](raft_state_atom, uint64_t group) { return describe(*self->state.host, group); },
      [=](flush_atom) {
        self->state.flush_queued = false;
        // A round stalls every group of the node, heartbeats included: a slow one is logged
        // (storage logs its own slow writes and fsyncs, so the two lines together say where).
        const auto start = std::chrono::steady_clock::now();
        flush(self);
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        if (took >= std::chrono::seconds(1)) {  // nca-bench soak counts these lines
          if (auto* c = self->state.config.counters) {
            c->slow_rounds.fetch_add(1, std::memory_order_relaxed);
          }
          const auto& p = self->state.host->last_round();
          spdlog::warn(
              "raft: a round of this node's groups took {} ms; their heartbeats and "
              "acknowledgements waited for it (Readies and unsynced saves {} ms, sending early "
              "messages {} ms, applying {} ms, fsync {} ms, the rest {} ms; {} groups, {} entries "
              "saved, {} applied, {} messages carrying {} entries)",
              took.count(), p.ready_and_save_us / 1000, p.send_early_us / 1000, p.apply_us / 1000,
              p.sync_us / 1000, p.finish_us / 1000, p.groups, p.entries_saved, p.entries_applied,
              p.messages, p.message_entries);
        }
        if (!self->state.removals.empty()) remove_installed(self);
        retry_held(self);
      },
      [=](raft_tick_atom) {
        retry_held(self);
        compact_due(self);
        self->state.host->tick();
        request_flush(self);
        self->delayed_send(self, self->state.config.tick, raft_tick_atom::value);
      },
  };
}

}  // namespace

Result<caf::actor> spawn_raft_host(caf::actor_system& sys, RaftHostActorConfig config) {
  if (!config.transport || !config.storage_for) {
    return make_error(ErrorCode::invalid_argument, "raft host needs a transport and storages");
  }
  // The host is built here, so a group that cannot start is an error for the caller rather than a
  // dead actor.
  auto proposals = std::make_shared<Proposals>();
  auto user_apply = config.apply;
  auto leadership = config.leadership;
  auto host = std::make_shared<cluster::RaftHost>(
      config.host,
      [proposals, user_apply, leadership](uint64_t group, const raft::Entry& e) {
        if (user_apply) user_apply(group, e);
        if (leadership && proposals->host != nullptr && proposals->serving.count(group) == 0) {
          auto s = proposals->host->state_of(group);
          if (s && s->role == raft::Role::leader && proposals->host->term_of(group) == e.term) {
            proposals->serving.insert(group);
            proposals->now_serving.push_back(group);
          }
        }
        auto it = proposals->pending.find({group, e.index});
        if (it == proposals->pending.end()) return;
        proposals->answers.push_back(Proposals::Answer{
            std::move(it->second.rp), it->second.term == e.term ? uint64_t{e.index} : 0});
        proposals->pending.erase(it);
      },
      [proposals, leadership](uint64_t group, const raft::SoftState& s) {
        proposals->serving.erase(group);
        // As etcd: "no leader" is remembered too, so a re-election of the same node counts.
        auto& last = proposals->last_leader[group];
        if (s.leader != raft::kNoNode && s.leader != last && proposals->counters != nullptr) {
          proposals->counters->leader_changes.fetch_add(1, std::memory_order_relaxed);
        }
        last = s.leader;
        if (leadership) leadership(group, s.leader, false);
        if (s.role == raft::Role::leader) return;
        fail_pending(*proposals, group,
                     "this node lost the leadership of group " + std::to_string(group) +
                         "; retry on the leader");
      },
      config.restore);
  proposals->host = host.get();
  proposals->counters = config.counters;
  if (config.checkpoint_of) host->set_checkpoint_fn(config.checkpoint_of);
  if (config.adopt) host->set_adopt_fn(config.adopt);
  host->set_read_fn([proposals](uint64_t group, uint64_t context, raft::Index index) {
    auto it = proposals->reads_asked.find(context);
    if (it == proposals->reads_asked.end() || it->second.first != group) return;
    proposals->reads_confirmed.push_back({group, index, std::move(it->second.second)});
    proposals->reads_asked.erase(it);
  });
  for (uint64_t g : config.groups) {
    if (auto s = add_and_start(*host, config, g, config.bootstrap_voters); !s) return s.error();
  }
  auto actor = sys.spawn([host, proposals, config](RaftHostSelf* self) mutable {
    self->state.proposals = proposals;
    return raft_host_actor(self, host, std::move(config));
  });
  return actor;
}

}  // namespace nca::actors
