// config/settings.hpp: the typed, effective configuration of one node.
//
// Settings is plain data: one nested struct per section, one field per key of config/schema.hpp,
// named after the key with '-' turned into '_' (memory.stm-ttl -> s.memory.stm_ttl). The in-class
// initializers are the defaults; schema_test checks they agree with the schema's default texts.
// Units are fixed by type: durations are microseconds (nca::TimeUs), sizes are bytes, enums are
// their lower-case names. A Settings is a value: copy it freely; it is as thread-safe as any const
// struct once built.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/clock.hpp"

namespace nca::config {

struct NodeSettings {
  std::string id;  // empty: generated at first start, kept in the data dir
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:7420";  // CAF (actor) port
  bool dev = false;
};

struct HttpSettings {
  std::string listen = "127.0.0.1:7480";
  uint64_t max_body = 8ull << 20;
  TimeUs timeout = 10 * kUsPerSecond;
  int64_t threads = 16;
};

struct ClusterSettings {
  std::vector<std::string> seeds;
  int64_t voters = 3;
  int64_t shards = 64;
  int64_t replication_factor = 3;
  TimeUs dead_after = 30 * kUsPerSecond;
  TimeUs heartbeat_interval = 500'000;
  int64_t rebalance_moves = 4;
  std::string read_consistency = "linearizable";
  bool fault_injection = false;
  TimeUs follower_index_refresh = 10 * kUsPerSecond;
  TimeUs leader_return_delay = 3 * kUsPerSecond;
  std::string join_secret;
  std::string advertise;  // empty: node.listen, or tls.listen with tls.enabled
};

struct RaftSettings {
  TimeUs tick = 100'000;
  int64_t election_ticks = 10;
  int64_t heartbeat_ticks = 1;
  int64_t max_batch = 256;
  int64_t snapshot_entries = 10000;
};

struct MemorySettings {
  int64_t dim = 384;
  TimeUs stm_ttl = 3 * kUsPerHour;
  TimeUs mtm_ttl = 14 * kUsPerDay;
  TimeUs ltm_ttl = 0;  // 0: no TTL
  int64_t stm_capacity = 1000;
  int64_t mtm_capacity = 10000;
  int64_t ltm_capacity = 0;  // 0: unlimited
  int64_t working_size = 100;
  TimeUs archive_retention = 30 * kUsPerDay;
  uint64_t max_content_bytes = 64ull << 10;
  int64_t max_batch = 1000;
  double default_importance = 0.5;
  int64_t max_tags = 64;
  int64_t max_metadata = 64;
};

struct HealthSettings {
  double initial_base = 40;
  double initial_scale = 40;
  double decay_stm = 0.05;
  double decay_mtm = 0.01;
  double decay_ltm = 0.001;
  double promote = 80;
  double demote = 20;
  double reinforce = 0.2;
};

struct LymphaticSettings {
  TimeUs interval = 300 * kUsPerSecond;
  int64_t batch_size = 100;
  double merge_threshold = 0.95;
  bool enabled = true;
};

struct TubulesSettings {
  double threshold = 0.05;
  double consolidate = 0.7;
  int64_t max_connections = 50;
  double session_strength = 0.3;
  double hebbian_rate = 0.1;
  double decay = 0.01;
  // 0.2, not DESIGN's 0.3: session links are formed at 0.3 and decay at once, so at 0.3 they would
  // never carry activation; at 0.2 an unreinforced session link spreads for about 40 hours.
  double spread_min = 0.2;
  double spread_factor = 0.5;
  int64_t session_window = 2;
};

struct AnnealingSettings {
  std::string schedule = "adaptive";  // fixed | adaptive | progressive
  double intensity = 0.5;
  double max_temperature = 1.5;
};

struct RecallSettings {
  int64_t default_k = 10;
  int64_t max_k = 1000;
  std::string mode = "hybrid";  // vector | lexical | hybrid
  bool spread = true;
  double rrf_k = 60;
  double health_weight = 0.15;
  int64_t overfetch = 4;
  // 0.3: with the offline hashing embedder the dense ranking is much weaker than BM25 (LoCoMo: R@10
  // 0.29 vs 0.61), so it refines rather than leads; with a semantic embedder (embedder.kind=http)
  // use 1.
  double vector_weight = 0.3;
  double lexical_weight = 1.0;
};

struct IndexSettings {
  int64_t m = 16;
  int64_t ef_construction = 200;
  int64_t ef_search = 100;
  double rebuild_deleted_ratio = 0.2;
  int64_t initial_capacity = 1024;
  int64_t exact_below = 1024;
  int64_t stm_exact_below = 8192;
  TimeUs save_interval = 10 * kUsPerSecond;
};

struct ActorsSettings {
  TimeUs idle_timeout = 60 * kUsPerSecond;
  TimeUs request_timeout = 10 * kUsPerSecond;
};

struct EmbedderSettings {
  std::string kind = "hashing";  // hashing | http
  std::string url;
  std::string model;
  std::string api_key;
  TimeUs timeout = 10 * kUsPerSecond;
  int64_t retries = 3;
  int64_t batch_size = 64;
};

struct EventsSettings {
  TimeUs lease = 60 * kUsPerSecond;
  int64_t max_attempts = 5;
  int64_t default_capacity = 4;
  TimeUs aging = 30 * kUsPerSecond;
  TimeUs max_wait = 30 * kUsPerSecond;
  TimeUs retention = 7 * kUsPerDay;
  int64_t max_batch = 1000;
  int64_t max_payload_bytes = 256 * 1024;
  TimeUs memory_delay = 50'000;  // 50 ms
};

struct AuthSettings {
  bool enabled = false;
  std::string api_keys_file;
  std::string jwt_secret;
};

struct TlsSettings {
  bool enabled = false;
  std::string listen = "127.0.0.1:7421";  // the peers' TLS port
  std::string cert;
  std::string key;
  std::string ca;
  std::string passphrase;
};

struct LogSettings {
  std::string level = "info";   // trace | debug | info | warn | error | off
  std::string format = "text";  // text | json
};

struct SchedulerSettings {
  std::string policy = "sharing";  // sharing | stealing
  int64_t threads = 0;             // 0: number of cores
};

struct StorageSettings {
  bool sync = true;
  uint64_t block_cache = 256ull << 20;
  uint64_t write_buffer = 64ull << 20;
};

struct LimitsSettings {
  uint64_t request_bytes = 16ull << 20;
  int64_t personas_per_tenant = 100000;
  int64_t memories_per_persona = 10000000;
  double rate_per_tenant = 0;  // requests per second; 0: off
  int64_t burst_per_tenant = 1000;
  int64_t events_per_tenant = 1000000;  // published and not yet acknowledged
  uint64_t memory_high = 0;  // resident bytes above which writes are refused; 0: 85% of the limit
};

struct Settings {
  NodeSettings node;
  HttpSettings http;
  ClusterSettings cluster;
  RaftSettings raft;
  MemorySettings memory;
  HealthSettings health;
  LymphaticSettings lymphatic;
  TubulesSettings tubules;
  AnnealingSettings annealing;
  RecallSettings recall;
  IndexSettings index;
  ActorsSettings actors;
  EmbedderSettings embedder;
  EventsSettings events;
  AuthSettings auth;
  TlsSettings tls;
  LogSettings log;
  SchedulerSettings scheduler;
  StorageSettings storage;
  LimitsSettings limits;
};

// Field-by-field equality over every schema key (defined in schema.cpp, which knows every field).
bool operator==(const Settings& a, const Settings& b);
inline bool operator!=(const Settings& a, const Settings& b) { return !(a == b); }

}  // namespace nca::config
