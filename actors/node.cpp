#include "actors/node.hpp"

#include <spdlog/spdlog.h>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "actors/api_actor.hpp"
#include "actors/event_router.hpp"
#include "actors/index_warmer.hpp"
#include "actors/messages.hpp"
#include "actors/metadata_actor.hpp"
#include "actors/peer_transport.hpp"
#include "actors/persona_directory.hpp"
#include "actors/raft_host_actor.hpp"
#include "actors/shard_archiver.hpp"
#include "cluster/membership/node_number.hpp"
#include "cluster/metadata/membership_planner.hpp"
#include "cluster/routing/shard_entry.hpp"
#include "runtime/protobuf_log.hpp"
#include "runtime/tls_credentials.hpp"
#include "storage/keys.hpp"
#include "storage/raft_log_store.hpp"
#include "storage/replicated_apply.hpp"
#include "storage/shard_snapshot.hpp"

namespace nca::actors {
namespace {

constexpr auto kSaveTimeout = std::chrono::seconds(60);

class NodeCafConfig : public caf::actor_system_config {
 public:
  explicit NodeCafConfig(const config::Settings& s) {
    load<caf::io::middleman>();
    if (s.tls.enabled) {
      // Any of these set makes CAF require and verify a peer certificate on every TLS connection,
      // in both directions, against tls.ca alone (no system store): the cluster CA is pinned.
      load<caf::openssl::manager>();
      openssl_certificate = s.tls.cert;
      openssl_key = s.tls.key;
      openssl_passphrase = s.tls.passphrase;
      openssl_cafile = s.tls.ca;
    }
    // Work sharing answers sparse requests in tens of microseconds; work stealing sleeps idle
    // workers and adds about a millisecond (measured, see docs/benchmarks.md).
    set("scheduler.policy",
        s.scheduler.policy == "stealing" ? caf::atom("stealing") : caf::atom("sharing"));
    // CAF 0.17's own default is max(cores, 4): on two cores that is four workers contending for
    // the shared queue (and the group committer's core). 0 means the number of cores, as the
    // setting's documentation says.
    size_t threads = s.scheduler.threads > 0 ? static_cast<size_t>(s.scheduler.threads)
                                             : std::max(1u, std::thread::hardware_concurrency());
    set("scheduler.max-threads", threads);
    set("middleman.heartbeat-interval",
        caf::timespan{std::chrono::microseconds(s.cluster.heartbeat_interval)});
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

// Stages a committed entry of a shard group for this replica's RocksDB, in the round's one write
// (storage::ApplyRound). An entry no replica can apply (a newer kind, bytes that are not a persona
// write) is skipped identically everywhere, and its index recorded; a RocksDB failure leaves the
// index behind, so the entry is applied again after a restart. `item_personas` (null: not
// wanted) gets the personas whose items the entry changes.
void stage_shard_entry(storage::ApplyRound& round, uint64_t group, const raft::Entry& e,
                       std::vector<std::string>* item_personas) {
  auto entry = cluster::decode_shard_entry(e.data);
  std::string_view rep = entry ? entry->payload : std::string_view{};
  if (!entry) {
    spdlog::error("raft group {}: entry {} skipped: {}", group, e.index, entry.error().message);
  }
  const auto shard = group_shard(group);
  auto s = round.add(group, shard, e.index, rep, item_personas);
  if (!s && s.error().code == ErrorCode::invalid_argument) {
    spdlog::error("raft group {}: entry {} skipped: {}", group, e.index, s.error().message);
    s = round.add(group, shard, e.index, "");
  }
  if (!s) spdlog::critical("raft group {}: {}", group, s.error().message);
}

// What a round of applied entries leaves for after its write: the personas whose items changed on
// a follower, for the index warmer.
struct AppliedRound {
  explicit AppliedRound(storage::Db& db) : round(db) {}
  storage::ApplyRound round;
  std::vector<std::string> warm;
};

PeerTransportConfig transport_config(const config::Settings& s, const NodeContext& ctx) {
  PeerTransportConfig c;
  c.node_id = membership::node_number(ctx.node_id);
  c.incarnation = ctx.incarnation;
  c.join_secret = s.cluster.join_secret;
  c.tls = s.tls.enabled;
  c.heartbeat_interval =
      std::chrono::milliseconds(std::max<TimeUs>(1, s.cluster.heartbeat_interval / 1000));
  // Three missed heartbeats make a peer suspected; cluster.dead-after makes it dead.
  c.detector.suspect_after_us = 3 * s.cluster.heartbeat_interval;
  c.detector.dead_after_us = s.cluster.dead_after;
  c.clock = ctx.clock;
  c.forward_timeout = std::chrono::milliseconds(std::max<TimeUs>(1, ctx.request_timeout_us / 1000));
  return c;
}

// The metadata Raft group (group 0) and its shell. One node founds the cluster: the node without
// seeds, or, when every node lists the same seeds (compose, Kubernetes), the one whose advertised
// address is the first seed. On its first start the group is bootstrapped with it as the only
// voter, and the metadata leader adds every node that links with it (docs/cluster.md). Any other
// node hosts the group empty and learns everything from the leader's log. After a restart the
// group resumes from its log.
Status start_metadata_group(caf::actor_system& sys, const config::Settings& s,
                            const std::string& advertise, NodeContext& ctx) {
  const uint64_t self = membership::node_number(ctx.node_id);
  MetadataActorConfig mc;
  mc.node = self;
  mc.incarnation = ctx.incarnation;
  mc.advertise = advertise;
  mc.voters = static_cast<size_t>(s.cluster.voters);
  mc.shards = static_cast<uint32_t>(s.cluster.shards);
  mc.replication_factor = static_cast<uint32_t>(s.cluster.replication_factor);
  mc.tick = std::chrono::milliseconds(std::max<TimeUs>(1, 2 * s.raft.tick / 1000));
  mc.request_timeout = std::chrono::microseconds(ctx.request_timeout_us);
  mc.transport = ctx.transport;
  mc.snapshot_entries = static_cast<uint64_t>(s.raft.snapshot_entries);
  mc.place_shards = !s.cluster.seeds.empty();
  mc.rebalance_concurrency = static_cast<size_t>(s.cluster.rebalance_moves);
  mc.leader_return_delay = std::chrono::microseconds(s.cluster.leader_return_delay);
  auto replay = storage::RaftLogStore::persisted_commit(ctx.db.get(), kMetadataGroup);
  if (!replay) return replay.error();
  mc.replay_until = *replay;
  if (mc.place_shards) {
    ctx.routes =
        std::make_unique<cluster::ShardRoutes>(self, static_cast<uint32_t>(s.cluster.shards));
    cluster::ShardRoutes* routes = ctx.routes.get();
    mc.shards_placed = [routes](uint32_t shards,
                                const std::vector<std::vector<uint64_t>>& replicas) {
      routes->set_shard_count(shards);
      for (uint32_t s = 0; s < replicas.size(); ++s) routes->set_replicas(s, replicas[s]);
    };
  }
  ctx.metadata = spawn_metadata_actor(sys, mc);

  RaftHostActorConfig rc;
  rc.host.node = self;
  rc.host.election_tick = static_cast<int>(s.raft.election_ticks);
  rc.host.heartbeat_tick = static_cast<int>(s.raft.heartbeat_ticks);
  rc.host.seed = ctx.incarnation * 0x9E3779B97F4A7C15ull ^ self;
  rc.incarnation = ctx.incarnation;
  rc.tick = std::chrono::milliseconds(std::max<TimeUs>(1, s.raft.tick / 1000));
  rc.transport = ctx.transport;
  rc.groups = {kMetadataGroup};
  if (metadata::founds_cluster(s.cluster.seeds, advertise)) rc.bootstrap_voters = {self};
  storage::Db* db = ctx.db.get();
  auto open_error = std::make_shared<std::string>();
  rc.storage_for = [db, open_error](uint64_t group) -> std::unique_ptr<raft::LogStorage> {
    // A node may replicate dozens of shards: each shard log's tail cache gets a small share
    // (64 shards x 1 MiB), the metadata log the default.
    storage::RaftLogStore::Options cache;
    if (group != kMetadataGroup) {
      cache.cache_entries = 256;
      cache.cache_bytes = 1 << 20;
    }
    auto store = storage::RaftLogStore::open(db, group, cache);
    if (!store) {
      *open_error = store.error().message;
      return nullptr;
    }
    return std::move(*store);
  };
  caf::actor meta = ctx.metadata;
  caf::actor warmer = ctx.warmer;
  cluster::ShardRoutes* warm_routes = ctx.routes.get();
  auto applied_round = std::make_shared<AppliedRound>(*db);
  rc.apply = [meta, warmer, warm_routes, applied_round](uint64_t group, const raft::Entry& e) {
    if (group == kMetadataGroup) {
      if (e.type != raft::EntryType::normal) return;
      caf::anon_send(meta, meta_apply_atom::value, uint64_t{e.index}, e.data);
      return;
    }
    if (e.type != raft::EntryType::normal || e.data.empty()) {
      // A conf change or a leader's no-op changes no record, but its index is recorded: the
      // shard's applied index must be the one Raft applied, since a compaction (to the shard's
      // state) and a checkpoint for a follower are taken at Raft's applied index.
      auto s = applied_round->round.add(group, group_shard(group), e.index, "");
      if (!s) spdlog::critical("raft group {}: {}", group, s.error().message);
      return;
    }
    // A follower notes whose items changed, for the index warmer.
    const bool warm = warmer && !warm_routes->serving(group_shard(group));
    stage_shard_entry(applied_round->round, group, e, warm ? &applied_round->warm : nullptr);
  };
  rc.round_applied = [warmer, applied_round] {
    if (auto s = applied_round->round.write(); !s) {
      spdlog::critical("raft: {}", s.error().message);
    }
    auto& warm = applied_round->warm;
    if (warm.empty()) return;
    std::sort(warm.begin(), warm.end());
    warm.erase(std::unique(warm.begin(), warm.end()), warm.end());
    caf::anon_send(warmer, warm_dirty_atom::value,
                   std::make_shared<const std::vector<std::string>>(std::move(warm)));
    warm.clear();
  };
  rc.applied_for = [db](uint64_t group) -> Result<raft::Index> {
    if (group == kMetadataGroup) return raft::Index{0};  // the map is rebuilt from the log
    return storage::applied_index(*db, group);
  };
  if (ctx.routes) {
    cluster::ShardRoutes* routes = ctx.routes.get();
    PersonaDirectory* directory = ctx.directory;
    NodeContext* node_ctx = &ctx;
    rc.leadership = [routes, directory, self, node_ctx](uint64_t group, raft::NodeId leader,
                                                        bool serving) {
      if (group == kMetadataGroup) return;
      auto shard = group_shard(group);
      // Leadership changes are logged where they happen, once each (the node's replicas of a
      // shard's group report every soft-state change): whoever reads the logs after a request
      // failed with "no leader" finds who led the shard and when.
      if (serving) {
        if (!routes->serving(shard)) spdlog::info("shard {}: this node leads it and serves", shard);
        routes->set_serving(shard);
        // The shard may hold tenants' events: the router rebuilds their queues from this node's
        // copy, which now includes everything committed before.
        if (node_ctx->router) caf::anon_send(node_ctx->router, reload_atom::value);
        return;
      }
      const uint64_t before = routes->known_leader(shard);
      if (before != leader || (routes->serving(shard) && leader != self)) {
        spdlog::info("shard {}: {}", shard,
                     leader == 0 ? std::string("no leader known (an election may be running)")
                                 : "node " + std::to_string(leader) + " leads it");
      }
      routes->set_leader(shard, leader);
      // Fencing: a node that no longer leads the shard drops its personas at once; their
      // unanswered writes already failed with the lost leadership.
      if (leader != self && directory != nullptr) directory->evict_shard(shard);
    };
  }
  const auto shards = static_cast<uint32_t>(s.cluster.shards);
  NodeCounters* counters = &ctx.counters;
  // A shard's checkpoint installed (counted and logged), or why not.
  auto installed = [counters](uint64_t group, const raft::Snapshot& snap, Status s) -> Status {
    if (!s) {
      return make_error(s.error().code,
                        "raft group " + std::to_string(group) +
                            ": installing the shard's checkpoint failed: " + s.error().message);
    }
    counters->shard_snapshots_installed++;
    spdlog::info("raft group {}: installed the shard's checkpoint at index {} ({} bytes)", group,
                 snap.meta.index, snap.data.size());
    return {};
  };
  // A snapshot stored in the group's log: one the node finds there when it starts, or one from a
  // leader that the metadata group stores whole (its state lives in the metadata actor).
  rc.restore = [meta, db, shards, installed](uint64_t group, const raft::Snapshot& snap) -> Status {
    if (group == kMetadataGroup) {
      caf::anon_send(meta, meta_restore_atom::value, uint64_t{snap.meta.index}, snap.data);
      return {};
    }
    return installed(
        group, snap,
        storage::restore_shard(*db, group_shard(group), shards, group, snap.meta.index, snap.data));
  };
  // A shard's checkpoint from a leader (off the Raft host's thread): the shard's records replace
  // this replica's in the same write as the log's snapshot record (RaftLogStore::save_as_state),
  // so the blob is written once and not kept.
  rc.adopt = [db, shards, installed](uint64_t group, raft::LogStorage& storage,
                                     const raft::HardState* hard_state,
                                     const std::vector<raft::Entry>& entries,
                                     const raft::Snapshot& snap) -> Result<bool> {
    auto* store = dynamic_cast<storage::RaftLogStore*>(&storage);
    if (group == kMetadataGroup || store == nullptr) return false;
    auto batch = storage::restore_shard_batch(*db, group_shard(group), shards, group,
                                              snap.meta.index, snap.data);
    Status s = batch ? store->save_as_state(hard_state, entries, snap.meta, std::move(*batch))
                     : Status(batch.error());
    if (auto done = installed(group, snap, std::move(s)); !done) return done.error();
    return true;
  };
  // A shard that moved away: its log, applied index and records go (the personas were evicted
  // when the host reported no leader). A crash in between leaves records no group refers to; a
  // later replica of the shard replaces them from the leader's checkpoint or log.
  rc.dropped = [db, shards, counters](uint64_t group,
                                      std::unique_ptr<raft::LogStorage> storage) -> Status {
    storage.reset();
    if (auto s = storage::RaftLogStore::destroy(db, group); !s) return s;
    if (auto s = storage::drop_shard(*db, group_shard(group), shards); !s) return s;
    counters->shard_copies_dropped++;
    spdlog::info("raft group {}: this node left the shard; its copy is dropped", group);
    return {};
  };
  rc.snapshot_entries = static_cast<uint64_t>(s.raft.snapshot_entries);
  rc.compacts = [](uint64_t group) { return group != kMetadataGroup; };  // it compacts its own
  rc.checkpoint_of = [db, shards](uint64_t group) -> Result<cluster::RaftHost::PinnedCheckpoint> {
    if (group == kMetadataGroup) {
      return make_error(ErrorCode::not_found, "the metadata actor snapshots group 0 itself");
    }
    // The records and the applied index read at one view, so they agree however the shard is
    // written while the records are read (off the Raft host's thread).
    auto pinned = storage::pin_shard(*db, group_shard(group), shards, group);
    if (!pinned) return pinned.error();
    return cluster::RaftHost::PinnedCheckpoint{pinned->applied_index, std::move(pinned->dump)};
  };
  rc.counters = &ctx.raft_counters;
  auto raft = spawn_raft_host(sys, std::move(rc));
  if (!raft) {
    return make_error(raft.error().code,
                      "cannot start the metadata group: " +
                          (open_error->empty() ? raft.error().message : *open_error));
  }
  ctx.raft = *raft;
  caf::anon_send(ctx.metadata, set_raft_atom::value, ctx.raft);
  caf::anon_send(ctx.transport, listener_atom::value, ctx.raft);
  return {};
}

Result<std::string> node_identity(storage::Db& db, const std::string& configured, IdGenerator& ids,
                                  uint64_t* incarnation) {
  std::string id = configured;
  auto stored = db.get(storage::Cf::meta, storage::node_meta_key("id"));
  if (!stored) return stored.error();
  if (stored->has_value() && id.empty()) id = **stored;
  if (stored->has_value() && **stored != id) {
    return make_error(ErrorCode::invalid_argument,
                      "node.id is '" + id + "' but the data directory belongs to node '" +
                          **stored + "'; use that id or another data directory");
  }
  if (id.empty()) id = "node-" + ids.uuid_v7().substr(0, 13);
  auto inc = db.get(storage::Cf::meta, storage::node_meta_key("incarnation"));
  if (!inc) return inc.error();
  uint64_t n = 0;
  if (inc->has_value()) n = std::strtoull((*inc)->c_str(), nullptr, 10);
  *incarnation = n + 1;
  auto batch = db.batch();
  batch.put(storage::Cf::meta, storage::node_meta_key("id"), id);
  batch.put(storage::Cf::meta, storage::node_meta_key("incarnation"), std::to_string(*incarnation));
  if (auto s = db.commit(std::move(batch)); !s) return s.error();
  return id;
}

}  // namespace

Result<std::pair<std::string, uint16_t>> parse_host_port(const std::string& text,
                                                         const std::string& what) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return make_error(ErrorCode::invalid_argument,
                      what + " '" + text + "' is not host:port (e.g. 127.0.0.1:7420)");
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  unsigned long port = std::strtoul(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port > 65535) {
    return make_error(ErrorCode::invalid_argument,
                      what + " '" + text + "' has an invalid port (0..65535)");
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

Result<std::unique_ptr<Node>> Node::start(const config::Settings& settings, const Clock* clock) {
  install_protobuf_log_handler();
  std::unique_ptr<Node> node(new Node());
  auto listen = parse_host_port(settings.node.listen, "node.listen");
  if (!listen) return listen.error();
  auto peer_listen = parse_host_port(settings.tls.listen, "tls.listen");
  if (!peer_listen) return peer_listen.error();
  if (settings.tls.enabled) {
    auto ok = check_tls_credentials(
        {settings.tls.cert, settings.tls.key, settings.tls.ca, settings.tls.passphrase});
    if (!ok) return ok.error();
  }

  std::error_code ec;
  std::filesystem::create_directories(settings.node.data_dir, ec);
  if (ec) {
    return make_error(
        ErrorCode::invalid_argument,
        "cannot create node.data-dir '" + settings.node.data_dir + "': " + ec.message());
  }
  auto ctx = std::make_shared<NodeContext>();
  ctx->clock = clock != nullptr ? clock : &node->system_clock_;
  // Credentials first: a node that cannot check them must not start at all.
  auto auth = Authenticator::create(
      {settings.auth.enabled, settings.auth.api_keys_file, settings.auth.jwt_secret}, ctx->clock);
  if (!auth) return auth.error();
  ctx->auth = std::move(*auth);
  ctx->settings = settings;
  ctx->policy = policy_from(settings);
  ctx->health = HealthModel(ctx->policy.health);
  ctx->ids = std::make_unique<IdGenerator>(*ctx->clock);
  ctx->index_dir = settings.node.data_dir + "/index";
  ctx->request_timeout_us = settings.actors.request_timeout;
  ctx->linearizable_reads = settings.cluster.read_consistency == "linearizable";
  ctx->idle_timeout_us = settings.actors.idle_timeout;

  storage::Db::Options dbo;
  dbo.path = settings.node.data_dir + "/db";
  dbo.sync = settings.storage.sync;
  dbo.block_cache_bytes = settings.storage.block_cache;
  dbo.write_buffer_bytes = settings.storage.write_buffer;
  auto db = storage::Db::open(dbo);
  if (!db) return db.error();
  ctx->db = std::move(*db);

  auto id = node_identity(*ctx->db, settings.node.id, *ctx->ids, &ctx->incarnation);
  if (!id) return id.error();
  ctx->node_id = *id;

  EmbedderOptions eo;
  eo.kind = settings.embedder.kind;
  eo.dim = ctx->policy.dim;
  eo.url = settings.embedder.url;
  eo.model = settings.embedder.model;
  eo.api_key = settings.embedder.api_key;
  eo.timeout_us = settings.embedder.timeout;
  eo.retries = static_cast<int>(settings.embedder.retries);
  eo.batch_size = static_cast<size_t>(settings.embedder.batch_size);
  auto embedder = make_embedder(eo);
  if (!embedder) return embedder.error();
  ctx->embedder = std::move(*embedder);

  node->cfg_ = std::make_unique<NodeCafConfig>(settings);
  node->sys_ = std::make_unique<caf::actor_system>(*node->cfg_);
  node->directory_ = std::make_unique<PersonaDirectory>(*node->sys_, ctx);
  ctx->directory = node->directory_.get();
  if (ctx->embedder->is_blocking()) ctx->embed_worker = spawn_embed_worker(*node->sys_, ctx);
  node->ctx_ = ctx;
  ctx->events = event_policy_from(settings);
  ctx->router = spawn_event_router(*node->sys_, ctx);
  ctx->archiver = spawn_shard_archiver(*node->sys_, ctx);
  if (!settings.cluster.seeds.empty() && settings.cluster.follower_index_refresh > 0) {
    ctx->warmer = spawn_index_warmer(
        *node->sys_, ctx, std::chrono::microseconds(settings.cluster.follower_index_refresh));
  }
  ctx->transport = spawn_peer_transport(*node->sys_, transport_config(settings, *ctx));
  node->api_ = spawn_api(*node->sys_, ctx);
  ctx->api = node->api_;
  caf::anon_send(ctx->transport, api_atom::value, node->api_);

  const std::string& host = listen->first;
  auto port =
      caf::io::publish(node->api_, listen->second, host.empty() ? nullptr : host.c_str(), true);
  if (!port) {
    std::string why = node->sys_->render(port.error());
    (void)node->stop();
    return make_error(ErrorCode::unavailable,
                      "cannot listen on node.listen " + settings.node.listen + ": " + why);
  }
  node->port_ = *port;
  std::string peer_host = host;
  uint16_t peer_port = node->port_;
  if (settings.tls.enabled) {
    peer_host = peer_listen->first;
    auto bound = caf::openssl::publish(ctx->transport, peer_listen->second,
                                       peer_host.empty() ? nullptr : peer_host.c_str(), true);
    if (!bound) {
      std::string why = node->sys_->render(bound.error());
      (void)node->stop();
      return make_error(ErrorCode::unavailable,
                        "cannot listen on tls.listen " + settings.tls.listen + ": " + why);
    }
    node->peer_port_ = peer_port = *bound;
  }
  // Peers reach this node at cluster.advertise, or at its (peer) listen address (a wildcard host
  // is useless to a peer: loopback then, and operators of real clusters set cluster.advertise).
  std::string advertise = settings.cluster.advertise;
  if (advertise.empty()) {
    advertise =
        (peer_host.empty() || peer_host == "0.0.0.0" ? std::string("127.0.0.1") : peer_host) + ":" +
        std::to_string(peer_port);
  }
  caf::anon_send(ctx->transport, advertise_atom::value, advertise);
  // Clients reach this node on node.listen; a wildcard host is told as the advertised one.
  const std::string client_host =
      host.empty() || host == "0.0.0.0" ? advertise.substr(0, advertise.rfind(':')) : host;
  caf::anon_send(ctx->transport, served_by_atom::value,
                 client_host + ":" + std::to_string(node->port_));
  if (auto s = start_metadata_group(*node->sys_, settings, advertise, *ctx); !s) {
    (void)node->stop();
    return s.error();
  }
  for (const auto& seed : settings.cluster.seeds) {
    caf::anon_send(ctx->transport, add_seed_atom::value, seed);
  }
  spdlog::info("node {} (incarnation {}) serving on {}:{} with data in {}", ctx->node_id,
               ctx->incarnation, host, node->port_, settings.node.data_dir);
  if (settings.tls.enabled) {
    spdlog::info("peers link by mutual TLS on {}:{} (advertised as {}), trusting only {}",
                 peer_host, node->peer_port_, advertise, settings.tls.ca);
  } else if (!settings.cluster.seeds.empty()) {
    spdlog::warn(
        "tls.enabled is off: node-to-node traffic is not encrypted or authenticated by "
        "certificate{}",
        settings.cluster.join_secret.empty() ? ", and no cluster.join-secret is set" : "");
  }
  return node;
}

Status Node::stop() {
  if (stopped_) return {};
  stopped_ = true;
  if (ctx_) ctx_->stopping = true;
  Status result;
  if (sys_) {
    if (api_ && port_ != 0) {
      // Best effort: the port closes with the system anyway.
      caf::scoped_actor self{*sys_};
      self->request(sys_->middleman().actor_handle(), std::chrono::seconds(5),
                    caf::unpublish_atom::value, caf::actor_cast<caf::actor_addr>(api_), port_)
          .receive([]() {}, [](caf::error&) {});
    }
    if (ctx_ && ctx_->router && directory_) {
      // Memories of assignments wait up to events.memory-delay to share a persona write: they are
      // written before the personas stop.
      caf::scoped_actor self{*sys_};
      self->request(ctx_->router, std::chrono::microseconds(ctx_->request_timeout_us),
                    drain_memories_atom::value)
          .receive([](bool) {},
                   [](caf::error& e) {
                     spdlog::warn(
                         "event memories not all written before the stop ({}); those of "
                         "in-flight and just-acked events are written at the next start",
                         caf::to_string(e));
                   });
    }
    if (ctx_) {
      // The metadata actor and the Raft host before the transport they send through.
      for (caf::actor* a : {&ctx_->router, &ctx_->warmer, &ctx_->archiver, &ctx_->metadata,
                            &ctx_->raft, &ctx_->transport}) {
        if (*a) caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
        *a = caf::actor{};
      }
    }
    if (directory_) {
      caf::scoped_actor self{*sys_};
      size_t failed = 0;
      for (auto& persona : directory_->all()) {
        self->request(persona, kSaveTimeout, save_atom::value)
            .receive([&](bool ok) { failed += ok ? 0 : 1; }, [&](caf::error&) { ++failed; });
      }
      if (failed > 0) {
        spdlog::warn("{} personas did not save their indices; they are rebuilt on the next start",
                     failed);
      }
      for (auto& persona : directory_->all()) {
        caf::anon_send_exit(persona, caf::exit_reason::user_shutdown);
      }
    }
    if (api_) caf::anon_send_exit(api_, caf::exit_reason::user_shutdown);
    if (ctx_ && ctx_->embed_worker) {
      caf::anon_send_exit(ctx_->embed_worker, caf::exit_reason::user_shutdown);
    }
    if (directory_) directory_->close();
    api_ = caf::actor{};
    if (ctx_) ctx_->api = caf::actor{};
    if (ctx_) ctx_->embed_worker = caf::actor{};
    sys_.reset();  // waits for every actor to finish
  }
  directory_.reset();
  if (ctx_) {
    ctx_->directory = nullptr;
    ctx_->db.reset();  // drains pending commits, closes RocksDB
  }
  return result;
}

Node::~Node() { (void)stop(); }

}  // namespace nca::actors
