// http/node_metrics.hpp: the node's figures for /metrics, read at scrape time.
//
// collect_node_figures() gathers what the node knows (node stats through the api actor, stats of
// every active persona, the event router's counts, the node's counters, RocksDB properties, CAF's
// running actors, storage and Raft counters, the cluster status) into a plain NodeFigures, each
// part bounded by the scrape's deadline; a part that fails is left out and named in `errors` (the
// scrape still answers). node_families() turns figures into metric families; it is pure, so tests
// can check the text with promtool on any figures. Memories per tier, index sizes, tubules and
// consolidation counters are sums over the personas active on this node (a persona is activated by
// its first request after the node starts).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "actors/node.hpp"
#include "http/metrics.hpp"
#include "http/node_calls.hpp"
#include "proto/neuroca.pb.h"
#include "storage/latency_histogram.hpp"

namespace nca::http {

struct ColumnFamilyFigures {
  std::string name;
  uint64_t estimate_num_keys = 0;
  uint64_t live_sst_bytes = 0;
  uint64_t total_sst_bytes = 0;
  uint64_t memtable_bytes = 0;
  uint64_t pending_compaction_bytes = 0;
  // Cumulative compaction work since the node started (RocksDB's cfstats "compaction.Sum.*").
  double compactions = 0;
  double compaction_read_bytes = 0;
  double compaction_write_bytes = 0;
  double compaction_seconds = 0;
};

struct NodeFigures {
  std::string node_id;
  std::string version;
  uint64_t incarnation = 0;
  std::optional<pb::StatsReply> node_stats;
  std::optional<NodeCalls::PersonaFigures> personas;
  std::optional<actors::EventStats> events;
  std::map<std::string, uint64_t> node_counters;  // NodeCounters by name
  uint64_t running_actors = 0;
  uint64_t db_size_bytes = 0;
  uint64_t running_compactions = 0;
  uint64_t running_flushes = 0;
  bool compaction_pending = false;
  std::vector<ColumnFamilyFigures> column_families;
  // The node's storage events (storage/slow_io.hpp) and Raft host (actors/raft_host_counters.hpp).
  storage::LatencyHistogram::Snapshot durable_writes;
  uint64_t slow_storage_operations = 0;
  uint64_t write_stalls = 0;
  std::map<std::string, uint64_t> raft_counters;  // RaftHostCounters by name
  std::optional<pb::ClusterStatusReply> cluster;  // what `nca cluster status` shows
  uint64_t http_in_flight = 0;
  // The process's allocator (runtime/allocator): its name, and what it holds.
  std::string allocator;
  uint64_t allocator_free_bytes = 0;
  uint64_t allocator_mapped_bytes = 0;
  std::vector<std::string> errors;  // parts of the scrape that failed
};

NodeFigures collect_node_figures(actors::Node& node, NodeCalls& calls, SteadyTime deadline);

std::vector<MetricFamily> node_families(const NodeFigures& figures);

}  // namespace nca::http
