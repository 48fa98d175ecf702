#include "actors/metadata_actor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "actors/peer_transport.hpp"
#include "actors/raft_host_actor.hpp"
#include "cluster/metadata/cluster_map.hpp"
#include "cluster/metadata/leader_preference.hpp"
#include "cluster/metadata/membership_planner.hpp"
#include "cluster/metadata/node_uptime.hpp"
#include "cluster/metadata/rebalancer.hpp"
#include "cluster/metadata/shard_reconciler.hpp"
#include "proto/neuroca.pb.h"

namespace nca::actors {
namespace {

using meta_tick_atom = caf::atom_constant<caf::atom("metatick")>;

struct MetadataState {
  MetadataActorConfig config;
  std::unique_ptr<metadata::ClusterMap> map;
  caf::actor raft;
  bool step_in_flight = false;        // a command or membership change not yet applied or failed
  bool tick_in_flight = false;        // the views of this tick are being gathered
  cluster::RaftHost::GroupView view;  // as of the last tick
  uint64_t snapshot_index = 0;        // the map's index in the group's latest snapshot
  bool compacting = false;            // a compaction asked and not answered yet
  std::set<uint32_t> shards_asked;    // shards whose group this node asked the Raft host to host
  std::map<uint32_t, std::chrono::steady_clock::time_point> handed_over;  // last transfer asked
  metadata::NodeUptime uptime;     // peers' uninterrupted time up, from the transport's status
  std::set<uint32_t> reconciling;  // shards with a membership change or report under way
  std::set<uint32_t> dropping;     // shards whose group this node is leaving
  // Shards whose drop failed: asked again until it succeeds, unless the map places them here
  // again first (then they are hosted again, not skipped as already asked).
  std::set<uint32_t> drop_failed;
  uint64_t applied = 0;  // the highest metadata index applied (or restored)
  static inline const char* name = "nca.metadata";
};

using MetadataSelf = caf::stateful_actor<MetadataState>;

// A replica this close to its group's commit index counts as caught up (for /ready and status).
constexpr uint64_t kCaughtUpLag = 16;

std::vector<metadata::NodeSighting> sightings_of(const pb::ClusterStatusReply& status) {
  std::vector<metadata::NodeSighting> out;
  for (const auto& p : status.peers()) {
    out.push_back(metadata::NodeSighting{p.node(), p.incarnation(), p.address(),
                                         p.linked() && p.state() == "alive", p.state() == "dead"});
  }
  return out;
}

std::string role_in(const raft::ConfState& conf, uint64_t node) {
  if (raft::is_voter(conf, node)) return "voter";
  if (raft::is_learner(conf, node)) return "learner";
  return "none";
}

void carry_out(MetadataSelf* self, const metadata::MembershipStep& step) {
  auto& st = self->state;
  st.step_in_flight = true;
  spdlog::info("cluster: {}", step.why);
  auto done = [self](const std::string& what, const caf::error* err) {
    self->state.step_in_flight = false;
    if (err != nullptr) {
      spdlog::info("cluster: {} did not go through ({}); planned again on the next tick", what,
                   self->system().render(*err));
    }
  };
  const std::string what = step.why;
  if (step.kind == metadata::MembershipStep::Kind::command) {
    self->request(st.raft, st.config.request_timeout, propose_atom::value, kMetadataGroup,
                  step.command.SerializeAsString())
        .then([done, what](uint64_t) { done(what, nullptr); },
              [done, what](caf::error& e) { done(what, &e); });
  } else {
    self->request(st.raft, st.config.request_timeout, conf_change_atom::value, kMetadataGroup,
                  static_cast<uint8_t>(step.change.type), uint64_t{step.change.node})
        .then([done, what](uint64_t) { done(what, nullptr); },
              [done, what](caf::error& e) { done(what, &e); });
  }
}

// The map's shards, with this node's view of the groups it hosts (`views` may be null).
void add_shards(const MetadataState& st,
                const std::map<uint64_t, cluster::RaftHost::GroupView>* views,
                pb::ClusterStatusReply& status) {
  for (uint32_t s = 0; s < st.map->shard_count(); ++s) {
    const pb::ShardAssignment* a = st.map->shard(s);
    if (a == nullptr) continue;
    auto* out = status.add_shards();
    out->set_shard(s);
    *out->mutable_replicas() = a->replicas();
    out->set_epoch(a->epoch());
    out->set_settled_epoch(a->settled_epoch());
    out->set_leader(a->leader_hint());
    out->set_role("none");
    if (views == nullptr) continue;
    auto it = views->find(shard_group(s));
    if (it == views->end()) continue;
    const cluster::RaftHost::GroupView& v = it->second;
    out->set_hosted(true);
    out->set_leader(v.known_leader);
    out->set_role(role_in(v.conf, st.config.node));
    out->set_commit_index(v.commit_index);
    out->set_applied_index(v.applied_index);
    out->set_caught_up(raft::is_voter(v.conf, st.config.node) && v.known_leader != 0 &&
                       v.applied_index + kCaughtUpLag >= v.commit_index);
    if (v.leader) {
      uint64_t lag = 0;
      for (const auto& [node, match] : v.match) {
        if (v.last_index > match) lag = std::max<uint64_t>(lag, v.last_index - match);
      }
      out->set_lag(lag);
    }
  }
}

// Asks the Raft host to host the group of every shard this node is a replica of. The first
// placement (epoch 1) bootstraps the group with its replicas, the same list on each of them.
bool replaying(const MetadataState& st) { return st.applied < st.config.replay_until; }

void host_shards(MetadataSelf* self) {
  auto& st = self->state;
  if (!st.raft || !st.map->has_shards() || replaying(st)) return;
  if (st.config.shards_placed) {
    std::vector<std::vector<uint64_t>> replicas(st.map->shard_count());
    for (uint32_t s = 0; s < st.map->shard_count(); ++s) {
      if (const pb::ShardAssignment* a = st.map->shard(s)) {
        replicas[s].assign(a->replicas().begin(), a->replicas().end());
      }
    }
    st.config.shards_placed(st.map->shard_count(), replicas);
  }
  for (uint32_t s = 0; s < st.map->shard_count(); ++s) {
    const pb::ShardAssignment* a = st.map->shard(s);
    if (a == nullptr || st.shards_asked.count(s) != 0) continue;
    if (std::find(a->replicas().begin(), a->replicas().end(), st.config.node) ==
        a->replicas().end()) {
      continue;
    }
    std::vector<uint64_t> voters;
    if (a->epoch() == 1) voters.assign(a->replicas().begin(), a->replicas().end());
    st.shards_asked.insert(s);
    self->request(st.raft, st.config.request_timeout, add_group_atom::value, shard_group(s), voters)
        .then([](bool) {},
              [self, s](caf::error& e) {
                spdlog::warn("cluster: shard {} cannot start here ({}); tried again later", s,
                             self->system().render(e));
                self->state.shards_asked.erase(s);
              });
  }
}

// Leaves the group of every shard the map no longer places here, once the shard has settled (its
// group's configuration no longer includes this node: until then this node may still be needed
// for a majority).
void drop_shards(MetadataSelf* self) {
  auto& st = self->state;
  if (!st.raft || !st.map->has_shards() || replaying(st)) return;
  std::set<uint32_t> candidates = st.shards_asked;
  candidates.insert(st.drop_failed.begin(), st.drop_failed.end());
  for (uint32_t s : candidates) {
    const pb::ShardAssignment* a = st.map->shard(s);
    const bool placed_here = a != nullptr && std::find(a->replicas().begin(), a->replicas().end(),
                                                       st.config.node) != a->replicas().end();
    if (placed_here) st.drop_failed.erase(s);  // host_shards takes it from here
    if (a == nullptr || st.dropping.count(s) != 0 || a->settled_epoch() < a->epoch() ||
        placed_here) {
      continue;
    }
    st.dropping.insert(s);
    spdlog::info("cluster: shard {} moved away from this node (epoch {}); dropping its copy", s,
                 a->epoch());
    self->request(st.raft, st.config.request_timeout, remove_group_atom::value, shard_group(s))
        .then(
            [self, s](bool) {
              self->state.dropping.erase(s);
              self->state.shards_asked.erase(s);
              self->state.drop_failed.erase(s);
            },
            [self, s](caf::error& e) {
              // The group may be gone already (the copy's deletion failed, or the answer was
              // late): not "asked" any more, so a map that places the shard here again hosts it.
              self->state.dropping.erase(s);
              self->state.shards_asked.erase(s);
              self->state.drop_failed.insert(s);
              spdlog::warn("cluster: shard {} could not be dropped ({}); tried again later", s,
                           self->system().render(e));
            });
  }
}

// A metadata command from this node: proposed when this node leads the metadata group, else
// forwarded to the leader it knows through the peer transport (a ClusterAdminRequest its api actor
// hands to its own metadata actor). `done` runs once, with or without success.
void submit(MetadataSelf* self, const pb::MetaCommand& command, std::function<void(bool)> done) {
  auto& st = self->state;
  if (st.view.leader) {
    self->request(st.raft, st.config.request_timeout, propose_atom::value, kMetadataGroup,
                  command.SerializeAsString())
        .then([done](uint64_t) { done(true); }, [done](caf::error&) { done(false); });
    return;
  }
  if (st.view.known_leader == 0 || command.body_case() != pb::MetaCommand::kShardSettled) {
    done(false);
    return;
  }
  pb::Request req;
  req.mutable_header()->set_schema_version(1);
  auto* settled = req.mutable_cluster_admin()->mutable_shard_settled();
  settled->set_shard(command.shard_settled().shard());
  settled->set_epoch(command.shard_settled().epoch());
  self->request(st.config.transport, st.config.request_timeout, forward_atom::value,
                st.view.known_leader, static_cast<uint32_t>(pb::Request::kClusterAdmin),
                req.SerializeAsString())
      .then(
          [done](uint32_t, const std::string& bytes) {
            pb::Response resp;
            done(resp.ParseFromString(bytes) && resp.status().code() == pb::OK);
          },
          [done](caf::error&) { done(false); });
}

// On every shard this node leads, the next step that makes the shard's group match the map
// (cluster/metadata/shard_reconciler.hpp); one step per shard at a time.
void reconcile_shards(MetadataSelf* self,
                      const std::map<uint64_t, cluster::RaftHost::GroupView>& views) {
  auto& st = self->state;
  for (const auto& [group, v] : views) {
    if (group == kMetadataGroup || !v.leader) continue;
    const uint32_t s = group_shard(group);
    const pb::ShardAssignment* a = st.map->shard(s);
    if (a == nullptr || st.reconciling.count(s) != 0) continue;
    metadata::MetadataGroupView gv;
    gv.leader = true;
    gv.conf = v.conf;
    gv.last_index = v.last_index;
    gv.match = v.match;
    const auto step = metadata::next_shard_step(*a, gv, st.config.node);
    if (step.kind == metadata::ShardStep::Kind::none) continue;
    spdlog::info("cluster: {}", step.why);
    st.reconciling.insert(s);
    auto finish = [self, s, why = step.why](bool ok) {
      self->state.reconciling.erase(s);
      if (!ok) spdlog::info("cluster: {} did not go through; planned again", why);
    };
    switch (step.kind) {
      case metadata::ShardStep::Kind::conf_change:
        self->request(st.raft, st.config.request_timeout, conf_change_atom::value, group,
                      static_cast<uint8_t>(step.change.type), uint64_t{step.change.node})
            .then([finish](uint64_t) { finish(true); }, [finish](caf::error&) { finish(false); });
        break;
      case metadata::ShardStep::Kind::transfer:
        self->send(st.raft, transfer_atom::value, group, step.to);
        // The transfer finishes (or is abandoned) within an election timeout; the next ticks
        // see the outcome. A second ask meanwhile is refused by Raft, which is harmless.
        finish(true);
        break;
      case metadata::ShardStep::Kind::settled: {
        pb::MetaCommand c;
        c.set_schema_version(1);
        c.mutable_shard_settled()->set_shard(s);
        c.mutable_shard_settled()->set_epoch(a->epoch());
        submit(self, c, finish);
        break;
      }
      case metadata::ShardStep::Kind::none:
        break;
    }
  }
}

// The shards whose last change is not carried out yet.
size_t unsettled_shards(const metadata::ClusterMap& map) {
  size_t n = 0;
  for (uint32_t s = 0; s < map.shard_count(); ++s) {
    const pb::ShardAssignment* a = map.shard(s);
    if (a != nullptr && a->settled_epoch() < a->epoch()) ++n;
  }
  return n;
}

// Leadership goes to each shard's preferred leader (cluster/metadata/leader_preference.hpp): a
// leader that is not the preferred one hands over once that voter has caught up, at most every
// few seconds per shard (a transfer that did not happen is abandoned by Raft after an election
// timeout).
void prefer_leaders(MetadataSelf* self,
                    const std::map<uint64_t, cluster::RaftHost::GroupView>& views) {
  auto& st = self->state;
  const auto now = std::chrono::steady_clock::now();
  for (uint32_t s = 0; s < st.map->shard_count(); ++s) {
    const pb::ShardAssignment* a = st.map->shard(s);
    if (a == nullptr || a->replicas().empty()) continue;
    auto v = views.find(shard_group(s));
    if (v == views.end()) continue;
    const uint64_t preferred = hand_over_target(
        *st.map, *a, v->second, st.config.node,
        [&](uint64_t node) { return st.uptime.up_for(node, st.config.leader_return_delay, now); });
    if (preferred == 0) continue;
    auto last = st.handed_over.find(s);
    if (last != st.handed_over.end() && now - last->second < std::chrono::seconds(3)) continue;
    st.handed_over[s] = now;
    spdlog::info("shard {}: handing the leadership to node {}, its preferred replica", s,
                 preferred);
    self->send(st.raft, transfer_atom::value, shard_group(s), preferred);
  }
}

// Gathers the groups' views (one request for all of them) and the transport's peers; then, on the
// shards this node leads, prefers the preferred replicas, and for the metadata group plans (and,
// leading, acts).
void on_tick(MetadataSelf* self) {
  auto& st = self->state;
  if (!st.raft || st.tick_in_flight) return;
  st.tick_in_flight = true;
  self->request(st.raft, st.config.request_timeout, group_views_atom::value)
      .then(
          [self](GroupViewsPtr views) {
            auto& st = self->state;
            if (views) {
              auto meta = views->find(kMetadataGroup);
              if (meta != views->end()) st.view = meta->second;
              if (st.map->has_shards()) {
                reconcile_shards(self, *views);
                prefer_leaders(self, *views);
              }
            }
            self->request(st.config.transport, st.config.request_timeout,
                          cluster_status_atom::value)
                .then(
                    [self](const std::string& bytes) {
                      auto& st = self->state;
                      st.tick_in_flight = false;
                      pb::ClusterStatusReply status;
                      if (!status.ParseFromString(bytes)) return;
                      st.uptime.observe(sightings_of(status), std::chrono::steady_clock::now());
                      if (st.step_in_flight) return;
                      metadata::MetadataGroupView group;
                      group.leader = st.view.leader;
                      group.conf = st.view.conf;
                      group.last_index = st.view.last_index;
                      group.match = st.view.match;
                      metadata::NodeSighting me{st.config.node, st.config.incarnation,
                                                st.config.advertise, true};
                      metadata::MembershipPlannerOptions options;
                      options.voters = st.config.voters;
                      options.place_shards = st.config.place_shards;
                      auto step =
                          metadata::next_step(*st.map, group, me, sightings_of(status), options);
                      if (step.kind != metadata::MembershipStep::Kind::none) {
                        carry_out(self, step);
                        return;
                      }
                      if (!group.leader || !st.config.place_shards || !st.map->has_shards() ||
                          unsettled_shards(*st.map) >= st.config.rebalance_concurrency) {
                        return;
                      }
                      if (auto move = metadata::next_move(*st.map, st.map->replication_factor())) {
                        metadata::MembershipStep m;
                        m.kind = metadata::MembershipStep::Kind::command;
                        m.command.set_schema_version(1);
                        *m.command.mutable_set_shard() = move->next;
                        m.why = "rebalance: " + metadata::to_string(*move);
                        carry_out(self, m);
                      }
                    },
                    [self](caf::error&) { self->state.tick_in_flight = false; });
          },
          [self](caf::error&) { self->state.tick_in_flight = false; });
}

// Every snapshot_entries entries, the log up to `index` (just applied, no-ops included) becomes a
// snapshot of the map. The Raft host refuses when it has applied more meanwhile; the next entry
// tries again.
void maybe_compact(MetadataSelf* self, uint64_t index) {
  auto& st = self->state;
  if (!st.raft || st.compacting || st.config.snapshot_entries == 0 ||
      index < st.snapshot_index + st.config.snapshot_entries) {
    return;
  }
  st.compacting = true;
  self->request(st.raft, st.config.request_timeout, compact_atom::value, kMetadataGroup, index,
                st.map->snapshot())
      .then(
          [self, index](bool) {
            self->state.compacting = false;
            self->state.snapshot_index = index;
            spdlog::info("cluster: metadata log compacted up to {}", index);
          },
          [self](caf::error&) { self->state.compacting = false; });
}

caf::behavior metadata_actor(MetadataSelf* self, MetadataActorConfig config) {
  auto& st = self->state;
  st.map = std::make_unique<metadata::ClusterMap>(config.shards, config.replication_factor);
  st.config = std::move(config);
  self->send(self, meta_tick_atom::value);
  return {
      [=](set_raft_atom, caf::actor raft) { self->state.raft = std::move(raft); },
      [=](meta_apply_atom, uint64_t index, const std::string& data) {
        auto& st = self->state;
        st.applied = std::max(st.applied, index);
        if (data.empty()) return;  // a leader's no-op
        if (auto s = st.map->apply(index, data); !s) {
          spdlog::info("cluster: metadata entry {} refused: {}", index, s.error().message);
        }
        maybe_compact(self, index);
        host_shards(self);
        drop_shards(self);
      },
      [=](meta_restore_atom, uint64_t index, const std::string& data) {
        auto& st = self->state;
        auto restored = metadata::ClusterMap::restore(data);
        if (!restored) {
          // The snapshot was written by this code from a map it applied; a bad one is corruption.
          spdlog::error("cluster: the metadata snapshot at {} does not restore: {}", index,
                        restored.error().message);
          return;
        }
        *st.map = std::move(*restored);
        st.snapshot_index = std::max(st.snapshot_index, index);
        st.applied = std::max(st.applied, index);
        host_shards(self);
        drop_shards(self);
      },
      [=](meta_tick_atom) {
        host_shards(self);  // again after a refusal
        drop_shards(self);
        on_tick(self);
        self->delayed_send(self, self->state.config.tick, meta_tick_atom::value);
      },
      [=](meta_command_atom,
          const std::string& bytes) -> caf::result<uint64_t, uint64_t, std::string> {
        auto& st = self->state;
        pb::MetaCommand c;
        if (!c.ParseFromString(bytes) || c.body_case() == pb::MetaCommand::BODY_NOT_SET) {
          return {uint64_t{0}, uint64_t{0}, std::string("the command does not parse")};
        }
        if (c.body_case() == pb::MetaCommand::kDrain ||
            c.body_case() == pb::MetaCommand::kUndrain) {
          const uint64_t node = c.body_case() == pb::MetaCommand::kDrain ? c.drain() : c.undrain();
          if (st.map->member(node) == nullptr) {
            return {uint64_t{0}, uint64_t{0},
                    "node " + std::to_string(node) +
                        " is not a member of the cluster (see nca cluster status)"};
          }
        }
        if (!st.view.leader) return {uint64_t{0}, uint64_t{st.view.known_leader}, std::string()};
        auto rp = self->make_response_promise<uint64_t, uint64_t, std::string>();
        self->request(st.raft, st.config.request_timeout, propose_atom::value, kMetadataGroup,
                      c.SerializeAsString())
            .then([rp](uint64_t index) mutable { rp.deliver(index, uint64_t{0}, std::string()); },
                  [rp](caf::error& e) mutable { rp.deliver(e); });
        return rp;
      },
      [=](cluster_status_atom) -> caf::result<std::string> {
        auto& st = self->state;
        auto rp = self->make_response_promise<std::string>();
        auto fill = [self](pb::ClusterStatusReply& status) {
          auto& st = self->state;
          for (const auto& m : st.map->members()) {
            auto* out = status.add_members();
            out->set_node(m.node());
            out->set_address(m.address());
            out->set_incarnation(m.incarnation());
            out->set_dead(m.dead());
            out->set_draining(m.draining());
            out->set_metadata_role(role_in(st.view.conf, m.node()));
          }
          status.set_metadata_applied_index(st.map->applied_index());
          status.set_metadata_snapshot_index(st.snapshot_index);
        };
        self->request(st.config.transport, st.config.request_timeout, cluster_status_atom::value)
            .then(
                [self, rp, fill](const std::string& bytes) mutable {
                  pb::ClusterStatusReply status;
                  (void)status.ParseFromString(bytes);  // an empty view, at worst
                  fill(status);
                  status.set_metadata_leader(self->state.view.known_leader);
                  auto& st = self->state;
                  if (!st.raft || !st.map->has_shards()) {
                    rp.deliver(status.SerializeAsString());
                    return;
                  }
                  self->request(st.raft, st.config.request_timeout, group_views_atom::value)
                      .then(
                          [self, rp, status](GroupViewsPtr views) mutable {
                            add_shards(self->state, views.get(), status);
                            rp.deliver(status.SerializeAsString());
                          },
                          [self, rp, status](caf::error& e) mutable {
                            add_shards(self->state, nullptr, status);
                            status.set_shards_unavailable("this node's Raft host did not answer: " +
                                                          caf::to_string(e));
                            rp.deliver(status.SerializeAsString());
                          });
                },
                [rp](caf::error& e) mutable { rp.deliver(e); });
        return rp;
      },
  };
}

}  // namespace

caf::actor spawn_metadata_actor(caf::actor_system& sys, MetadataActorConfig config) {
  return sys.spawn(metadata_actor, std::move(config));
}

}  // namespace nca::actors
