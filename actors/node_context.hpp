// actors/node_context.hpp: what every actor of one node shares.
//
// Owned by the Node; actors hold a shared_ptr so it outlives every actor. Members are either
// immutable after start (settings, policy, models, paths), thread-safe by contract (Db, Clock,
// IdGenerator, Embedder used only through the embed worker when it blocks), or atomics.
#pragma once

#include <caf/actor.hpp>

#include <atomic>
#include <memory>
#include <string>

#include "actors/raft_host_counters.hpp"
#include "cluster/routing/shard_routes.hpp"
#include "config/settings.hpp"
#include "runtime/authenticator.hpp"
#include "runtime/clock.hpp"
#include "runtime/embedder.hpp"
#include "runtime/event_policy.hpp"
#include "runtime/health.hpp"
#include "runtime/ids.hpp"
#include "runtime/memory_policy.hpp"
#include "storage/db.hpp"

namespace nca::actors {

class PersonaDirectory;

struct NodeCounters {
  std::atomic<uint64_t> live_item_actors{0};
  std::atomic<uint64_t> live_personas{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> request_errors{0};
  std::atomic<uint64_t> index_rebuilds{0};
  std::atomic<uint64_t> indices_warmed{0};  // personas whose indices a follower refreshed
  std::atomic<uint64_t> corrupt_records{0};
  std::atomic<uint64_t> events_published{0};
  std::atomic<uint64_t> events_delivered{0};
  // Durable writes of event state by the router: a publish, delivery, ack... (several changes, and
  // a delivery to a poll parked for the change that readied it, share one).
  std::atomic<uint64_t> event_writes{0};
  std::atomic<uint64_t> events_acked{0};
  std::atomic<uint64_t> events_dead_lettered{0};
  std::atomic<uint64_t> event_memory_errors{0};
  // Persona actors stopped because this node lost their shard's leadership (fencing).
  std::atomic<uint64_t> personas_evicted{0};
  // Shard checkpoints this replica installed (it had fallen behind its leader's compacted log).
  std::atomic<uint64_t> shard_snapshots_installed{0};
  std::atomic<uint64_t> shard_copies_dropped{0};  // replicas this node left, their records deleted
  std::atomic<uint64_t> requests_forwarded{0};    // client requests sent on to a shard's leader
  // Requests refused before they reached any data (DESIGN §8), by reason.
  std::atomic<uint64_t> refused_unauthenticated{0};
  std::atomic<uint64_t> refused_permission{0};
  std::atomic<uint64_t> refused_rate{0};
  std::atomic<uint64_t> refused_size{0};    // a request, content, metadata or batch too large
  std::atomic<uint64_t> refused_count{0};   // personas, memories or events in flight at a limit
  std::atomic<uint64_t> refused_memory{0};  // the node was under memory pressure
};

struct NodeContext {
  config::Settings settings;
  MemoryPolicy policy;
  HealthModel health;
  const Clock* clock = nullptr;
  std::unique_ptr<IdGenerator> ids;
  std::unique_ptr<storage::Db> db;
  std::unique_ptr<Embedder> embedder;
  caf::actor embed_worker;  // runs a blocking embedder off the scheduler threads
  std::string node_id;
  uint64_t incarnation = 0;
  std::string index_dir;
  TimeUs request_timeout_us = 10 * kUsPerSecond;
  TimeUs idle_timeout_us = 60 * kUsPerSecond;
  PersonaDirectory* directory = nullptr;
  caf::actor router;     // the event router (actors/event_router.hpp)
  caf::actor warmer;     // follower index warmer (actors/index_warmer.hpp); invalid: off
  caf::actor archiver;   // shard backups and restores (actors/shard_archiver.hpp)
  caf::actor transport;  // the peer transport (actors/peer_transport.hpp)
  caf::actor raft;       // the node's Raft groups (actors/raft_host_actor.hpp)
  caf::actor metadata;   // the metadata group's shell (actors/metadata_actor.hpp)
  caf::actor api;        // the node's front door (actors/api_actor.hpp)
  EventPolicy events;
  NodeCounters counters;
  RaftHostCounters raft_counters;  // the node's Raft host (actors/raft_host_actor.hpp)
  // Checks client credentials (thread-safe: the HTTP gateway shares it). Null only in tests that
  // build a context by hand: then every client is an admin of every tenant.
  std::shared_ptr<Authenticator> auth;
  // Null on a standalone node (no cluster.seeds), which serves every persona from its own RocksDB.
  // Otherwise persona writes go through their shard's Raft group, and only the shard's caught-up
  // leader serves a persona (docs/cluster.md).
  std::unique_ptr<cluster::ShardRoutes> routes;
  // Set first thing when the node stops: requests get a transport-level error from then on, so
  // clients resend them to another node instead of receiving "shutting down" as an answer.
  std::atomic<bool> stopping{false};
  bool replicated() const { return routes != nullptr; }
  // cluster.read-consistency = linearizable: reads wait for a quorum to confirm the leadership.
  bool linearizable_reads = true;
};

using NodeContextPtr = std::shared_ptr<NodeContext>;

}  // namespace nca::actors
