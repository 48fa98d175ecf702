#include "config/schema.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <type_traits>
#include <utility>
#include <variant>

#include "config/values.hpp"

namespace nca::config {
namespace {

// A pointer to the Settings field that holds one key.
using FieldRef =
    std::variant<std::string*, bool*, int64_t*, double*, uint64_t*, std::vector<std::string>*>;
using Accessor = std::function<FieldRef(Settings&)>;

enum class Kind { string, boolean, integer, real, duration, size, list, choice };

const char* type_name(Kind kind) {
  switch (kind) {
    case Kind::string:
      return "string";
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "int";
    case Kind::real:
      return "double";
    case Kind::duration:
      return "duration";
    case Kind::size:
      return "size";
    case Kind::list:
      return "list";
    case Kind::choice:
      return "enum";
  }
  return "string";
}

constexpr int64_t kIntMax = std::numeric_limits<int64_t>::max();
constexpr TimeUs kDurationMax = 1000LL * 366 * kUsPerDay;
constexpr uint64_t kSizeMax = 1ull << 62;
constexpr uint64_t kKiB = 1ull << 10;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kTiB = 1ull << 40;

// One key: its public spec plus what the parser needs (bounds, choices, where the value lives).
struct Binding {
  KeySpec spec;
  Kind kind = Kind::string;
  int64_t int_min = std::numeric_limits<int64_t>::min();  // int and duration (microseconds)
  int64_t int_max = kIntMax;
  uint64_t size_min = 0;
  uint64_t size_max = kSizeMax;
  double real_min = -std::numeric_limits<double>::max();
  double real_max = std::numeric_limits<double>::max();
  std::vector<std::string> choices;
  std::string range_note;  // appended to the range text, e.g. "0 = none"
  Accessor field;
};

template <class Section, class Field>
Accessor at(Section Settings::*section, Field Section::*field) {
  return [section, field](Settings& s) -> FieldRef { return &((s.*section).*field); };
}

// Fluent construction of one table row.
struct Def {
  Binding b;
  Def& seed(const char* name) {
    b.spec.seed_name = name;
    return *this;
  }
  Def& ints(int64_t lo, int64_t hi) {
    b.int_min = lo;
    b.int_max = hi;
    return *this;
  }
  Def& reals(double lo, double hi) {
    b.real_min = lo;
    b.real_max = hi;
    return *this;
  }
  Def& sizes(uint64_t lo, uint64_t hi) {
    b.size_min = lo;
    b.size_max = hi;
    return *this;
  }
  Def& durations(TimeUs lo, TimeUs hi = kDurationMax) { return ints(lo, hi); }
  Def& one_of(std::vector<std::string> names) {
    b.choices = std::move(names);
    return *this;
  }
  Def& note(const char* text) {
    b.range_note = text;
    return *this;
  }
  Def& secret() {
    b.spec.secret = true;
    return *this;
  }
};

Def key(const char* name, Kind kind, Accessor field, const char* help) {
  Def d;
  d.b.spec.key = name;
  d.b.spec.help = help;
  d.b.kind = kind;
  d.b.field = std::move(field);
  if (kind == Kind::duration) d.durations(1);  // positive unless a row says otherwise
  if (kind == Kind::size) d.sizes(1, kSizeMax);
  return d;
}

// The table. Defaults live in settings.hpp (the in-class initializers); default_text is derived
// from them.
std::vector<Def> rows() {
  using S = Settings;
  const Kind str = Kind::string, boolean = Kind::boolean, integer = Kind::integer,
             real = Kind::real, duration = Kind::duration, size = Kind::size, list = Kind::list,
             choice = Kind::choice;
  return {
      // node
      key("node.id", str, at(&S::node, &NodeSettings::id),
          "This node's unique id; empty: generated at first start and kept in the data dir."),
      key("node.data-dir", str, at(&S::node, &NodeSettings::data_dir),
          "Directory of the node's RocksDB data, snapshots and node id."),
      key("node.listen", str, at(&S::node, &NodeSettings::listen),
          "host:port of the actor (CAF) endpoint that SDK clients and peer nodes connect to.")
          .note("host:port"),
      key("node.dev", boolean, at(&S::node, &NodeSettings::dev),
          "Single-node development mode (--dev): data in ./data unless node.data-dir is set."),
      // http
      key("http.listen", str, at(&S::http, &HttpSettings::listen),
          "host:port of the HTTP/JSON API (/v1/..., /health, /ready, /metrics).")
          .note("host:port"),
      key("http.max-body", size, at(&S::http, &HttpSettings::max_body),
          "Largest accepted HTTP request body.")
          .sizes(kKiB, kGiB),
      key("http.timeout", duration, at(&S::http, &HttpSettings::timeout),
          "Time limit for one HTTP request, reading through replying."),
      key("http.threads", integer, at(&S::http, &HttpSettings::threads),
          "HTTP worker threads (each open connection, long polls included, holds one).")
          .ints(1, 256),
      // cluster
      key("cluster.seeds", list, at(&S::cluster, &ClusterSettings::seeds),
          "Comma-separated host:port of nodes to join through; empty: start or restart alone.")
          .note("comma-separated host:port"),
      key("cluster.voters", integer, at(&S::cluster, &ClusterSettings::voters),
          "Number of nodes that vote in the metadata (Raft) group.")
          .ints(1, 7),
      key("cluster.shards", integer, at(&S::cluster, &ClusterSettings::shards),
          "Number of shards personas are hashed into; fixed when the cluster is created.")
          .ints(1, 4096),
      key("cluster.replication-factor", integer,
          at(&S::cluster, &ClusterSettings::replication_factor),
          "Copies of each shard (leader included), capped by the number of live nodes.")
          .ints(1, 7),
      key("cluster.dead-after", duration, at(&S::cluster, &ClusterSettings::dead_after),
          "A node silent this long is declared dead and its shards move."),
      key("cluster.heartbeat-interval", duration,
          at(&S::cluster, &ClusterSettings::heartbeat_interval),
          "Interval of membership heartbeats between nodes."),
      key("cluster.rebalance-moves", integer, at(&S::cluster, &ClusterSettings::rebalance_moves),
          "Shards that may be moving at once while the cluster rebalances (a node joined, died, or "
          "is decommissioned); more moves finish sooner and load the nodes more.")
          .ints(1, 64),
      key("cluster.read-consistency", str, at(&S::cluster, &ClusterSettings::read_consistency),
          "linearizable: a shard's leader confirms with a quorum that it still leads before it "
          "serves a read (one heartbeat round, shared by the reads that arrive together); leader: "
          "it serves reads at once, and a leader cut off from the others may serve stale reads "
          "until it steps down (an election timeout).")
          .one_of({"linearizable", "leader"}),
      key("cluster.follower-index-refresh", duration,
          at(&S::cluster, &ClusterSettings::follower_index_refresh),
          "How often a node refreshes the saved vector indices of the personas it replicates "
          "but does not lead, so a failover reads a current index instead of rebuilding it; "
          "0: never (a new leader rebuilds or catches up the index when it first serves a "
          "persona).")
          .durations(0)
          .note("0 = never"),
      key("cluster.leader-return-delay", duration,
          at(&S::cluster, &ClusterSettings::leader_return_delay),
          "How long a shard's preferred replica must have been up, unsuspected, before the "
          "shard's leader hands it the leadership back (after a restart the node is still "
          "recovering, and leaderships handed to it at once were lost again to elections); 0: "
          "as soon as its log has caught up.")
          .durations(0)
          .note("0 = at once"),
      key("cluster.fault-injection", boolean, at(&S::cluster, &ClusterSettings::fault_injection),
          "Accept fault-injection commands (nca cluster partition): for tests of a cluster's "
          "failure handling only; never on a cluster that serves users."),
      key("cluster.join-secret", str, at(&S::cluster, &ClusterSettings::join_secret),
          "Shared secret a node must present to join; empty: no check (trusted network only).")
          .secret(),
      key("cluster.advertise", str, at(&S::cluster, &ClusterSettings::advertise),
          "host:port other nodes use to reach this node; empty: node.listen (tls.listen with "
          "tls.enabled).")
          .note("host:port or empty"),
      // raft
      key("raft.tick", duration, at(&S::raft, &RaftSettings::tick), "Raft logical clock tick."),
      key("raft.election-ticks", integer, at(&S::raft, &RaftSettings::election_ticks),
          "Ticks without a leader's heartbeat before a follower starts an election.")
          .ints(2, 1000),
      key("raft.heartbeat-ticks", integer, at(&S::raft, &RaftSettings::heartbeat_ticks),
          "Ticks between a leader's heartbeats; must be below raft.election-ticks.")
          .ints(1, 100),
      key("raft.max-batch", integer, at(&S::raft, &RaftSettings::max_batch),
          "Most log entries sent in one append message.")
          .ints(1, 1000000),
      key("raft.snapshot-entries", integer, at(&S::raft, &RaftSettings::snapshot_entries),
          "Log entries applied since the last snapshot that trigger a new one.")
          .ints(1, 1000000000),
      // memory
      key("memory.dim", integer, at(&S::memory, &MemorySettings::dim),
          "Embedding dimension, cluster-wide; fixed once data exists.")
          .ints(8, 4096)
          .seed("EMBEDDING_DIMENSION"),
      key("memory.stm-ttl", duration, at(&S::memory, &MemorySettings::stm_ttl),
          "Short-term memory lifetime since last access.")
          .seed("STM_TTL"),
      key("memory.mtm-ttl", duration, at(&S::memory, &MemorySettings::mtm_ttl),
          "Medium-term memory lifetime since last access.")
          .seed("MTM_TTL"),
      key("memory.ltm-ttl", duration, at(&S::memory, &MemorySettings::ltm_ttl),
          "Long-term memory lifetime since last access; 0: none.")
          .durations(0)
          .note("0 = none")
          .seed("LTM_TTL"),
      key("memory.stm-capacity", integer, at(&S::memory, &MemorySettings::stm_capacity),
          "Short-term memories per persona before the least healthy go.")
          .ints(1, 1000000000)
          .seed("STM_CAPACITY"),
      key("memory.mtm-capacity", integer, at(&S::memory, &MemorySettings::mtm_capacity),
          "Medium-term memories per persona before the least healthy are demoted.")
          .ints(1, 1000000000)
          .seed("MTM_CAPACITY"),
      key("memory.ltm-capacity", integer, at(&S::memory, &MemorySettings::ltm_capacity),
          "Long-term memories per persona; 0: unlimited.")
          .ints(0, 1000000000000)
          .note("0 = unlimited")
          .seed("LTM_CAPACITY"),
      key("memory.working-size", integer, at(&S::memory, &MemorySettings::working_size),
          "Working-memory capacity: items in a persona's current focus.")
          .ints(1, 100000)
          .seed("WORKING_MEMORY_CAPACITY"),
      key("memory.archive-retention", duration, at(&S::memory, &MemorySettings::archive_retention),
          "How long forgotten and merged items stay restorable in the archive."),
      key("memory.max-content-bytes", size, at(&S::memory, &MemorySettings::max_content_bytes),
          "Largest memory content (UTF-8 bytes).")
          .sizes(1, 16 * kMiB),
      key("memory.max-batch", integer, at(&S::memory, &MemorySettings::max_batch),
          "Most memories in one batch add.")
          .ints(1, 100000),
      key("memory.default-importance", real, at(&S::memory, &MemorySettings::default_importance),
          "Importance of a memory whose caller gives none.")
          .reals(0, 1),
      key("memory.max-tags", integer, at(&S::memory, &MemorySettings::max_tags),
          "Most tags on one memory.")
          .ints(0, 10000),
      key("memory.max-metadata", integer, at(&S::memory, &MemorySettings::max_metadata),
          "Most metadata entries on one memory.")
          .ints(0, 10000),
      // health
      key("health.initial-base", real, at(&S::health, &HealthSettings::initial_base),
          "Initial health = base + scale * importance.")
          .reals(0, 100),
      key("health.initial-scale", real, at(&S::health, &HealthSettings::initial_scale),
          "Initial health = base + scale * importance.")
          .reals(0, 100),
      key("health.decay-stm", real, at(&S::health, &HealthSettings::decay_stm),
          "Exponential health decay rate per hour in short-term memory.")
          .reals(0, 10)
          .seed("HEALTH_DECAY_RATE_STM"),
      key("health.decay-mtm", real, at(&S::health, &HealthSettings::decay_mtm),
          "Exponential health decay rate per hour in medium-term memory.")
          .reals(0, 10)
          .seed("HEALTH_DECAY_RATE_MTM"),
      key("health.decay-ltm", real, at(&S::health, &HealthSettings::decay_ltm),
          "Exponential health decay rate per hour in long-term memory.")
          .reals(0, 10)
          .seed("HEALTH_DECAY_RATE_LTM"),
      key("health.promote", real, at(&S::health, &HealthSettings::promote),
          "Health at or above which consolidation moves an item one tier up.")
          .reals(0, 100)
          .seed("PROMOTION_THRESHOLD"),
      key("health.demote", real, at(&S::health, &HealthSettings::demote),
          "Health below which consolidation moves an item one tier down (forgets it in STM).")
          .reals(0, 100)
          .seed("DEMOTION_THRESHOLD"),
      key("health.reinforce", real, at(&S::health, &HealthSettings::reinforce),
          "Share of the way to 100 that one access adds to health.")
          .reals(0, 1),
      // lymphatic
      key("lymphatic.interval", duration, at(&S::lymphatic, &LymphaticSettings::interval),
          "Time between consolidation ticks of a persona.")
          .seed("LYMPHATIC_INTERVAL"),
      key("lymphatic.batch-size", integer, at(&S::lymphatic, &LymphaticSettings::batch_size),
          "Most items one consolidation tick examines.")
          .ints(1, 100000)
          .seed("LYMPHATIC_BATCH_SIZE"),
      key("lymphatic.merge-threshold", real, at(&S::lymphatic, &LymphaticSettings::merge_threshold),
          "Cosine similarity at or above which near-duplicates merge (lowered by temperature).")
          .reals(0, 1)
          .seed("CONSOLIDATION_SIMILARITY_THRESHOLD"),
      key("lymphatic.enabled", boolean, at(&S::lymphatic, &LymphaticSettings::enabled),
          "Run periodic consolidation (on-demand consolidation works either way)."),
      // tubules
      key("tubules.threshold", real, at(&S::tubules, &TubulesSettings::threshold),
          "Tubules weaker than this are pruned.")
          .reals(0, 1)
          .seed("TUBULE_PRUNE_THRESHOLD"),
      key("tubules.consolidate", real, at(&S::tubules, &TubulesSettings::consolidate),
          "Tubules at or above this strength stop decaying.")
          .reals(0, 1),
      key("tubules.max-connections", integer, at(&S::tubules, &TubulesSettings::max_connections),
          "Most tubules per item; the weakest goes first.")
          .ints(1, 10000)
          .seed("TUBULE_MAX_CONNECTIONS"),
      key("tubules.session-strength", real, at(&S::tubules, &TubulesSettings::session_strength),
          "Initial strength of the link between consecutive items of one session.")
          .reals(0, 1),
      key("tubules.hebbian-rate", real, at(&S::tubules, &TubulesSettings::hebbian_rate),
          "Hebbian learning rate for items recalled together: s += rate * (1 - s).")
          .reals(0, 1),
      key("tubules.decay", real, at(&S::tubules, &TubulesSettings::decay),
          "Exponential tubule decay rate per hour.")
          .reals(0, 10)
          .seed("TUBULE_DECAY_RATE"),
      key("tubules.spread-min", real, at(&S::tubules, &TubulesSettings::spread_min),
          "Weakest tubule that spreading activation follows.")
          .reals(0, 1),
      key("tubules.spread-factor", real, at(&S::tubules, &TubulesSettings::spread_factor),
          "Share of a hit's score passed to each tubule neighbour.")
          .reals(0, 1),
      key("tubules.session-window", integer, at(&S::tubules, &TubulesSettings::session_window),
          "A new item of a session links to this many of the session's previous items (0: none).")
          .ints(0, 16),
      // annealing
      key("annealing.schedule", choice, at(&S::annealing, &AnnealingSettings::schedule),
          "How the consolidation temperature is set: fixed, adaptive (memory pressure) or "
          "progressive (idle time).")
          .one_of({"fixed", "adaptive", "progressive"})
          .seed("ANNEALING_SCHEDULE"),
      key("annealing.intensity", real, at(&S::annealing, &AnnealingSettings::intensity),
          "Annealing intensity I; the temperature is I times the schedule's factor.")
          .reals(0, 1.5)
          .seed("ANNEALING_INTENSITY"),
      key("annealing.max-temperature", real, at(&S::annealing, &AnnealingSettings::max_temperature),
          "Upper bound of the consolidation temperature.")
          .reals(0, 1.5),
      // recall
      key("recall.default-k", integer, at(&S::recall, &RecallSettings::default_k),
          "Results of a recall whose caller gives no k.")
          .ints(1, 1000),
      key("recall.max-k", integer, at(&S::recall, &RecallSettings::max_k),
          "Largest k a recall may ask for.")
          .ints(1, 100000),
      key("recall.mode", choice, at(&S::recall, &RecallSettings::mode),
          "Default retrieval: vector, lexical (BM25) or hybrid (both, fused).")
          .one_of({"vector", "lexical", "hybrid"}),
      key("recall.spread", boolean, at(&S::recall, &RecallSettings::spread),
          "Spread activation along tubules by default."),
      key("recall.rrf-k", real, at(&S::recall, &RecallSettings::rrf_k),
          "k of reciprocal-rank fusion: 1 / (k + rank).")
          .reals(1, 10000),
      key("recall.health-weight", real, at(&S::recall, &RecallSettings::health_weight),
          "Weight of health in the final score: fused * (1 - w + w * health / 100).")
          .reals(0, 1),
      key("recall.overfetch", integer, at(&S::recall, &RecallSettings::overfetch),
          "Candidates fetched per retriever, as a multiple of k.")
          .ints(1, 100),
      key("recall.vector-weight", real, at(&S::recall, &RecallSettings::vector_weight),
          "Weight of the vector ranking in hybrid fusion (0.3 suits the offline hashing embedder; "
          "use 1 with a semantic embedder).")
          .reals(0, 10),
      key("recall.lexical-weight", real, at(&S::recall, &RecallSettings::lexical_weight),
          "Weight of the lexical (BM25) ranking in hybrid fusion.")
          .reals(0, 10),
      // index
      key("index.m", integer, at(&S::index, &IndexSettings::m), "HNSW: links per node.")
          .ints(2, 128),
      key("index.ef-construction", integer, at(&S::index, &IndexSettings::ef_construction),
          "HNSW: candidate list size while inserting.")
          .ints(8, 4096),
      key("index.ef-search", integer, at(&S::index, &IndexSettings::ef_search),
          "HNSW: candidate list size while searching (raised to k when smaller).")
          .ints(1, 4096),
      key("index.rebuild-deleted-ratio", real, at(&S::index, &IndexSettings::rebuild_deleted_ratio),
          "Share of deleted entries at which an index is rebuilt.")
          .reals(0.01, 1),
      key("index.initial-capacity", integer, at(&S::index, &IndexSettings::initial_capacity),
          "Initial element capacity of a new index (it grows as needed).")
          .ints(16, 100000000),
      key("index.exact-below", integer, at(&S::index, &IndexSettings::exact_below),
          "A tier index with fewer vectors than this is a flat array searched exactly; the HNSW "
          "graph is built when it reaches this size. 0: always HNSW.")
          .ints(0, 1000000),
      key("index.stm-exact-below", integer, at(&S::index, &IndexSettings::stm_exact_below),
          "The same for short-term memory, which takes a write per event and overshoots "
          "memory.stm-capacity between lymphatic ticks.")
          .ints(0, 1000000),
      key("index.save-interval", duration, at(&S::index, &IndexSettings::save_interval),
          "How often an active persona's tier saves its vector index when it changed by a "
          "quarter since its last save, so a restart after a crash (or a node that takes its "
          "shards' leadership back) reads a recent index instead of rebuilding it; 0: only when "
          "the persona stops.")
          .durations(0)
          .note("0 = only when the persona stops"),
      // actors
      key("actors.idle-timeout", duration, at(&S::actors, &ActorsSettings::idle_timeout),
          "An idle persona actor is passivated (its state stays on disk) after this long."),
      key("actors.request-timeout", duration, at(&S::actors, &ActorsSettings::request_timeout),
          "Time limit for one request between actors."),
      // embedder
      key("embedder.kind", choice, at(&S::embedder, &EmbedderSettings::kind),
          "hashing (offline, deterministic) or http (OpenAI-compatible /v1/embeddings).")
          .one_of({"hashing", "http"}),
      key("embedder.url", str, at(&S::embedder, &EmbedderSettings::url),
          "Base URL of the embeddings server; required when embedder.kind = http."),
      key("embedder.model", str, at(&S::embedder, &EmbedderSettings::model),
          "Model name sent to the embeddings server."),
      key("embedder.api-key", str, at(&S::embedder, &EmbedderSettings::api_key),
          "Bearer token for the embeddings server; empty: none.")
          .secret(),
      key("embedder.timeout", duration, at(&S::embedder, &EmbedderSettings::timeout),
          "Time limit for one embeddings request."),
      key("embedder.retries", integer, at(&S::embedder, &EmbedderSettings::retries),
          "Retries of a failed embeddings request.")
          .ints(0, 20),
      key("embedder.batch-size", integer, at(&S::embedder, &EmbedderSettings::batch_size),
          "Most texts in one embeddings request.")
          .ints(1, 4096),
      // events
      key("events.lease", duration, at(&S::events, &EventsSettings::lease),
          "How long a persona holds an assigned event before it is offered again."),
      key("events.max-attempts", integer, at(&S::events, &EventsSettings::max_attempts),
          "Deliveries of an event before it is dead-lettered.")
          .ints(1, 1000),
      key("events.default-capacity", integer, at(&S::events, &EventsSettings::default_capacity),
          "Events a persona works on at once unless it says otherwise.")
          .ints(1, 100000),
      key("events.aging", duration, at(&S::events, &EventsSettings::aging),
          "Waiting time after which an event's priority is raised one step."),
      key("events.max-wait", duration, at(&S::events, &EventsSettings::max_wait),
          "Longest a next_event long poll waits for an event."),
      key("events.retention", duration, at(&S::events, &EventsSettings::retention),
          "How long an acked event stays readable by id."),
      key("events.max-batch", integer, at(&S::events, &EventsSettings::max_batch),
          "Most events in one publish.")
          .ints(1, 100000),
      key("events.max-payload-bytes", integer, at(&S::events, &EventsSettings::max_payload_bytes),
          "Largest event payload (JSON text).")
          .ints(16, 64 * 1024 * 1024),
      key("events.memory-delay", duration, at(&S::events, &EventsSettings::memory_delay),
          "How long the memories of a persona's assignments wait to be written together (one "
          "persona write for all that arrive meanwhile); 0: each batch goes as soon as the "
          "previous one is written.")
          .durations(0, 10 * kUsPerSecond)
          .note("0 = at once"),
      // auth
      key("auth.enabled", boolean, at(&S::auth, &AuthSettings::enabled),
          "Require credentials (API key or JWT) on the HTTP API and SDK connections."),
      key("auth.api-keys-file", str, at(&S::auth, &AuthSettings::api_keys_file),
          "File of API keys and the tenants they may use."),
      key("auth.jwt-secret", str, at(&S::auth, &AuthSettings::jwt_secret),
          "HMAC secret for HS256 JWTs; empty: JWTs are not accepted.")
          .secret(),
      // tls
      key("tls.enabled", boolean, at(&S::tls, &TlsSettings::enabled),
          "Mutual TLS between nodes: peers link only through tls.listen, each presenting a "
          "certificate signed by tls.ca; needs tls.cert, tls.key and tls.ca."),
      key("tls.listen", str, at(&S::tls, &TlsSettings::listen),
          "host:port of the TLS port peers link through (port 0: any free port); with "
          "tls.enabled, cluster.seeds and cluster.advertise name this port."),
      key("tls.cert", str, at(&S::tls, &TlsSettings::cert),
          "PEM certificate (chain) of this node, signed by the cluster CA."),
      key("tls.key", str, at(&S::tls, &TlsSettings::key), "PEM private key of tls.cert."),
      key("tls.ca", str, at(&S::tls, &TlsSettings::ca),
          "PEM certificate of the cluster CA, the only issuer trusted for peers (pinned: CAF "
          "checks no host names)."),
      key("tls.passphrase", str, at(&S::tls, &TlsSettings::passphrase),
          "Passphrase of tls.key, if it is encrypted.")
          .secret(),
      // log
      key("log.level", choice, at(&S::log, &LogSettings::level), "Lowest log level written.")
          .one_of({"trace", "debug", "info", "warn", "error", "off"}),
      key("log.format", choice, at(&S::log, &LogSettings::format),
          "Log lines as text or as one JSON object per line.")
          .one_of({"text", "json"}),
      // scheduler
      key("scheduler.policy", choice, at(&S::scheduler, &SchedulerSettings::policy),
          "CAF scheduler policy.")
          .one_of({"sharing", "stealing"}),
      key("scheduler.threads", integer, at(&S::scheduler, &SchedulerSettings::threads),
          "Actor worker threads; 0: number of cores.")
          .ints(0, 256)
          .note("0 = number of cores"),
      // storage
      key("storage.sync", boolean, at(&S::storage, &StorageSettings::sync),
          "fsync the write-ahead log before acknowledging a write (survives power loss)."),
      key("storage.block-cache", size, at(&S::storage, &StorageSettings::block_cache),
          "RocksDB block cache.")
          .sizes(kMiB, kTiB),
      key("storage.write-buffer", size, at(&S::storage, &StorageSettings::write_buffer),
          "RocksDB memtable size per column family.")
          .sizes(64 * kKiB, 64 * kGiB),
      // limits
      key("limits.request-bytes", size, at(&S::limits, &LimitsSettings::request_bytes),
          "Largest request message (SDK or HTTP).")
          .sizes(kKiB, kGiB),
      key("limits.personas-per-tenant", integer,
          at(&S::limits, &LimitsSettings::personas_per_tenant),
          "Most personas one tenant may create.")
          .ints(1, 1000000000000),
      key("limits.memories-per-persona", integer,
          at(&S::limits, &LimitsSettings::memories_per_persona),
          "Most memories one persona may hold, all tiers together.")
          .ints(1, 1000000000000),
      key("limits.rate-per-tenant", real, at(&S::limits, &LimitsSettings::rate_per_tenant),
          "Sustained requests per second per tenant; 0: off.")
          .reals(0, 1e9)
          .note("0 = off"),
      key("limits.burst-per-tenant", integer, at(&S::limits, &LimitsSettings::burst_per_tenant),
          "Requests a tenant may send at once above its rate.")
          .ints(1, 1000000000),
      key("limits.events-per-tenant", integer, at(&S::limits, &LimitsSettings::events_per_tenant),
          "Most events one tenant may have published and not yet acknowledged (pending, in "
          "flight or dead-lettered).")
          .ints(1, 1000000000000),
      key("limits.memory-high", size, at(&S::limits, &LimitsSettings::memory_high),
          "Resident memory above which the node refuses new writes (reads go on); 0: 85% of the "
          "cgroup limit or physical RAM.")
          .sizes(0, 1ull << 50)
          .note("0 = automatic"),
  };
}

std::string range_text(const Binding& b) {
  std::string text;
  auto bounded = [](auto lo, auto hi, auto fmt, auto max) {
    if (hi >= max) return ">= " + fmt(lo);
    return fmt(lo) + ".." + fmt(hi);
  };
  switch (b.kind) {
    case Kind::integer:
      text = bounded(
          b.int_min, b.int_max, [](int64_t v) { return std::to_string(v); }, kIntMax);
      break;
    case Kind::real:
      text = bounded(b.real_min, b.real_max, format_double, std::numeric_limits<double>::max());
      break;
    case Kind::duration:
      if (b.int_min == 1 && b.int_max >= kDurationMax) {
        text = "> 0";
      } else {
        text = bounded(b.int_min, b.int_max, format_duration, kDurationMax);
      }
      break;
    case Kind::size:
      text = bounded(b.size_min, b.size_max, format_size, kSizeMax);
      break;
    case Kind::choice:
      for (const std::string& c : b.choices) text += (text.empty() ? "" : ", ") + c;
      break;
    case Kind::boolean:
      text = "true, false";
      break;
    case Kind::list:
      break;
    case Kind::string:
      break;
  }
  if (!b.range_note.empty()) text += text.empty() ? b.range_note : " (" + b.range_note + ")";
  return text;
}

struct Table {
  std::vector<Binding> bindings;
  std::vector<KeySpec> specs;
  std::map<std::string, size_t> by_key;
};

std::string canonical_text(const Binding& b, const Settings& s);

const Table& table() {
  static const Table t = [] {
    Table built;
    Settings defaults_struct;
    for (Def& d : rows()) {
      Binding& b = d.b;
      b.spec.type = type_name(b.kind);
      b.spec.env_name = env_name_for(b.spec.key);
      b.spec.range = range_text(b);
      b.spec.default_text = canonical_text(b, defaults_struct);
      built.by_key[b.spec.key] = built.bindings.size();
      built.specs.push_back(b.spec);
      built.bindings.push_back(std::move(b));
    }
    return built;
  }();
  return t;
}

const Binding* find_binding(const std::string& key) {
  const Table& t = table();
  auto it = t.by_key.find(key);
  return it == t.by_key.end() ? nullptr : &t.bindings[it->second];
}

std::string canonical_text(const Binding& b, const Settings& s) {
  // The accessor needs a mutable Settings only to form a pointer; nothing is written here.
  FieldRef ref = b.field(const_cast<Settings&>(s));
  switch (b.kind) {
    case Kind::string:
    case Kind::choice:
      return *std::get<std::string*>(ref);
    case Kind::boolean:
      return *std::get<bool*>(ref) ? "true" : "false";
    case Kind::integer:
      return std::to_string(*std::get<int64_t*>(ref));
    case Kind::real:
      return format_double(*std::get<double*>(ref));
    case Kind::duration:
      return format_duration(*std::get<int64_t*>(ref));
    case Kind::size:
      return format_size(*std::get<uint64_t*>(ref));
    case Kind::list:
      return format_list(*std::get<std::vector<std::string>*>(ref));
  }
  return {};
}

Status value_error(const Binding& b, const std::string& value, const std::string& origin,
                   const std::string& reason) {
  std::string shown = b.spec.secret ? "(hidden)" : quote_for_message(value);
  return make_error(ErrorCode::invalid_argument,
                    "config: " + b.spec.key + " = " + shown + " from " + origin + ": " + reason);
}

Status out_of_range(const Binding& b, const std::string& value, const std::string& origin) {
  return value_error(b, value, origin, "out of range (allowed " + b.spec.range + ")");
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

const std::vector<KeySpec>& schema() { return table().specs; }

const KeySpec* find_key(const std::string& key) {
  const Table& t = table();
  auto it = t.by_key.find(key);
  return it == t.by_key.end() ? nullptr : &t.specs[it->second];
}

std::string env_name_for(const std::string& key) {
  std::string name = "NCA_";
  for (char c : key) {
    name += (c == '.' || c == '-') ? '_'
                                   : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::string closest_key(const std::string& key) {
  std::string lowered;
  for (char c : key) {
    lowered += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string best;
  size_t best_distance = std::max<size_t>(2, key.size() / 4) + 1;
  for (const KeySpec& spec : schema()) {
    size_t d = edit_distance(lowered, spec.key);
    if (d < best_distance) {
      best_distance = d;
      best = spec.key;
    }
  }
  return best;
}

Settings defaults() { return Settings{}; }

Status set(Settings& s, const std::string& key, const std::string& value, Source source) {
  return set_from(s, key, value, to_string(source));
}

Status set_from(Settings& s, const std::string& key, const std::string& value,
                const std::string& origin) {
  const Binding* found = find_binding(key);
  if (found == nullptr) {
    std::string hint = closest_key(key);
    return make_error(ErrorCode::invalid_argument,
                      "config: unknown key " + quote_for_message(key) + " from " + origin +
                          (hint.empty() ? "" : " (did you mean " + hint + "?)"));
  }
  const Binding& b = *found;
  if (value.find_first_of(std::string("\n\r\0", 3)) != std::string::npos) {
    return value_error(b, value, origin, "contains a line break or NUL character");
  }
  FieldRef ref = b.field(s);
  switch (b.kind) {
    case Kind::string:
      *std::get<std::string*>(ref) = value;
      return {};
    case Kind::list:
      *std::get<std::vector<std::string>*>(ref) = parse_list(value);
      return {};
    case Kind::choice: {
      std::string lowered;
      for (char c : value) {
        lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      size_t b_ = 0, e_ = lowered.size();
      while (b_ < e_ && std::isspace(static_cast<unsigned char>(lowered[b_]))) ++b_;
      while (e_ > b_ && std::isspace(static_cast<unsigned char>(lowered[e_ - 1]))) --e_;
      lowered = lowered.substr(b_, e_ - b_);
      if (std::find(b.choices.begin(), b.choices.end(), lowered) == b.choices.end()) {
        return value_error(b, value, origin, "not one of " + b.spec.range);
      }
      *std::get<std::string*>(ref) = lowered;
      return {};
    }
    case Kind::boolean: {
      Result<bool> v = parse_bool(value);
      if (!v) return value_error(b, value, origin, v.error().message);
      *std::get<bool*>(ref) = *v;
      return {};
    }
    case Kind::integer: {
      Result<int64_t> v = parse_int(value);
      if (!v) return value_error(b, value, origin, v.error().message);
      if (*v < b.int_min || *v > b.int_max) return out_of_range(b, value, origin);
      *std::get<int64_t*>(ref) = *v;
      return {};
    }
    case Kind::real: {
      Result<double> v = parse_double(value);
      if (!v) return value_error(b, value, origin, v.error().message);
      if (*v < b.real_min || *v > b.real_max) return out_of_range(b, value, origin);
      *std::get<double*>(ref) = *v;
      return {};
    }
    case Kind::duration: {
      Result<TimeUs> v = parse_duration(value);
      if (!v) return value_error(b, value, origin, v.error().message);
      if (*v < b.int_min || *v > b.int_max) return out_of_range(b, value, origin);
      *std::get<int64_t*>(ref) = *v;
      return {};
    }
    case Kind::size: {
      Result<uint64_t> v = parse_size(value);
      if (!v) return value_error(b, value, origin, v.error().message);
      if (*v < b.size_min || *v > b.size_max) return out_of_range(b, value, origin);
      *std::get<uint64_t*>(ref) = *v;
      return {};
    }
  }
  return {};
}

Result<std::string> get(const Settings& s, const std::string& key) {
  const Binding* b = find_binding(key);
  if (b == nullptr) {
    return make_error(ErrorCode::not_found, "config: unknown key " + quote_for_message(key));
  }
  return canonical_text(*b, s);
}

bool operator==(const Settings& a, const Settings& b) {
  for (const Binding& binding : table().bindings) {
    FieldRef ra = binding.field(const_cast<Settings&>(a));
    FieldRef rb = binding.field(const_cast<Settings&>(b));
    bool same = std::visit(
        [&rb](auto* pa) {
          using Ptr = decltype(pa);
          return *pa == *std::get<Ptr>(rb);
        },
        ra);
    if (!same) return false;
  }
  return true;
}

Status validate(const Settings& s, const std::map<std::string, Source>& sources) {
  std::vector<std::string> problems;
  auto describe = [&](const std::string& key) {
    auto it = sources.find(key);
    Source source = it == sources.end() ? Source::default_value : it->second;
    const Binding* b = find_binding(key);
    std::string text = canonical_text(*b, s);
    std::string shown =
        b->kind == Kind::string || b->kind == Kind::list ? quote_for_message(text) : text;
    return key + " = " + shown + " (" + to_string(source) + ")";
  };
  auto require = [&](bool ok, const std::string& message) {
    if (!ok) problems.push_back("config: " + message);
  };

  require(s.memory.stm_capacity > 0, describe("memory.stm-capacity") + " must be above 0");
  require(s.health.demote < s.health.promote,
          describe("health.demote") + " must be below " + describe("health.promote"));
  require(s.cluster.replication_factor <= 7,
          describe("cluster.replication-factor") + " must be at most 7");
  require(s.raft.heartbeat_ticks < s.raft.election_ticks,
          describe("raft.heartbeat-ticks") + " must be below " + describe("raft.election-ticks"));
  require(
      s.cluster.heartbeat_interval < s.cluster.dead_after,
      describe("cluster.heartbeat-interval") + " must be below " + describe("cluster.dead-after"));
  require(s.recall.default_k <= s.recall.max_k,
          describe("recall.default-k") + " must not exceed " + describe("recall.max-k"));
  require(s.tubules.threshold < s.tubules.consolidate,
          describe("tubules.threshold") + " must be below " + describe("tubules.consolidate"));
  require(s.embedder.kind != "http" || !s.embedder.url.empty(),
          describe("embedder.kind") + " requires embedder.url (the embeddings server's base URL)");
  require(!s.tls.enabled || (!s.tls.cert.empty() && !s.tls.key.empty() && !s.tls.ca.empty()),
          describe("tls.enabled") +
              " requires tls.cert, tls.key and tls.ca (scripts/gen-certs "
              "makes development ones)");
  require(
      !s.tls.enabled || s.tls.listen != s.node.listen ||
          (s.tls.listen.size() > 2 && s.tls.listen.compare(s.tls.listen.size() - 2, 2, ":0") == 0),
      describe("tls.listen") + " must differ from node.listen: peers use their own port");
  for (const char* key : {"node.listen", "http.listen", "cluster.advertise", "tls.listen"}) {
    std::string value = *get(s, key);
    if (std::string(key) == "cluster.advertise" && value.empty()) continue;
    Status ok = check_host_port(value);
    require(ok.ok(), describe(key) + ": " + (ok ? "" : ok.error().message));
  }
  for (const std::string& seed : s.cluster.seeds) {
    Status ok = check_host_port(seed);
    require(ok.ok(), describe("cluster.seeds") + ": seed " + quote_for_message(seed) + " is " +
                         (ok ? "" : ok.error().message));
  }
  if (problems.empty()) return {};
  std::string message;
  for (const std::string& p : problems) message += (message.empty() ? "" : "\n") + p;
  return make_error(ErrorCode::invalid_argument, message);
}

}  // namespace nca::config
