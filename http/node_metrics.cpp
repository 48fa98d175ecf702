#include "http/node_metrics.hpp"

#include <rocksdb/db.h>

#include <iterator>

#include "http/cluster_metrics.hpp"
#include "proto/wire.hpp"
#include "runtime/allocator/thread_cache_allocator.hpp"
#include "storage/column_family.hpp"

namespace nca::http {
namespace {

const char* tier_label(pb::Tier t) {
  switch (t) {
    case pb::STM:
      return "stm";
    case pb::MTM:
      return "mtm";
    case pb::LTM:
      return "ltm";
    default:
      return "unspecified";
  }
}

uint64_t int_property(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const std::string& name) {
  uint64_t v = 0;
  bool ok = cf != nullptr ? db->GetIntProperty(cf, name, &v) : db->GetIntProperty(name, &v);
  return ok ? v : 0;
}

double map_number(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) return 0;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  return end == it->second.c_str() ? 0 : v;
}

void collect_rocksdb(actors::Node& node, NodeFigures& out) {
  auto* db = node.context().db.get();
  if (db == nullptr) {
    out.errors.push_back("storage is closed");
    return;
  }
  rocksdb::DB* raw = db->raw();
  out.db_size_bytes = db->approximate_size();
  out.running_compactions =
      int_property(raw, nullptr, rocksdb::DB::Properties::kNumRunningCompactions);
  out.running_flushes = int_property(raw, nullptr, rocksdb::DB::Properties::kNumRunningFlushes);
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  for (auto cf : storage::kAllCfs) {
    auto* handle = db->handle(cf);
    if (handle == nullptr) continue;
    ColumnFamilyFigures f;
    f.name = storage::cf_name(cf);
    f.estimate_num_keys = int_property(raw, handle, rocksdb::DB::Properties::kEstimateNumKeys);
    f.live_sst_bytes = int_property(raw, handle, rocksdb::DB::Properties::kLiveSstFilesSize);
    f.total_sst_bytes = int_property(raw, handle, rocksdb::DB::Properties::kTotalSstFilesSize);
    f.memtable_bytes = int_property(raw, handle, rocksdb::DB::Properties::kCurSizeAllMemTables);
    f.pending_compaction_bytes =
        int_property(raw, handle, rocksdb::DB::Properties::kEstimatePendingCompactionBytes);
    if (int_property(raw, handle, rocksdb::DB::Properties::kCompactionPending) != 0) {
      out.compaction_pending = true;
    }
    std::map<std::string, std::string> stats;
    if (raw->GetMapProperty(handle, rocksdb::DB::Properties::kCFStats, &stats)) {
      f.compactions = map_number(stats, "compaction.Sum.CompCount");
      f.compaction_read_bytes = map_number(stats, "compaction.Sum.ReadGB") * kGiB;
      f.compaction_write_bytes = map_number(stats, "compaction.Sum.WriteGB") * kGiB;
      f.compaction_seconds = map_number(stats, "compaction.Sum.CompSec");
    }
    out.column_families.push_back(std::move(f));
  }
}

void collect_counters(actors::Node& node, NodeFigures& out) {
  const auto& r = node.context().raft_counters;
  out.raft_counters = {
      {"rounds", r.rounds.load()},
      {"slow_rounds", r.slow_rounds.load()},
      {"leader_changes", r.leader_changes.load()},
      {"proposals_failed", r.proposals_failed.load()},
  };
  if (const auto* db = node.context().db.get()) {
    out.durable_writes = db->io().durable_writes.snapshot();
    out.slow_storage_operations = db->io().slow_operations.load();
    out.write_stalls = db->io().write_stalls.load();
  }
  const auto& c = node.context().counters;
  out.node_counters = {
      {"live_item_actors", c.live_item_actors.load()},
      {"live_personas", c.live_personas.load()},
      {"requests", c.requests.load()},
      {"request_errors", c.request_errors.load()},
      {"index_rebuilds", c.index_rebuilds.load()},
      {"corrupt_records", c.corrupt_records.load()},
      {"events_published", c.events_published.load()},
      {"events_delivered", c.events_delivered.load()},
      {"event_writes", c.event_writes.load()},
      {"events_acked", c.events_acked.load()},
      {"events_dead_lettered", c.events_dead_lettered.load()},
      {"event_memory_errors", c.event_memory_errors.load()},
      {"refused_unauthenticated", c.refused_unauthenticated.load()},
      {"refused_permission", c.refused_permission.load()},
      {"refused_rate", c.refused_rate.load()},
      {"refused_size", c.refused_size.load()},
      {"refused_count", c.refused_count.load()},
      {"refused_memory", c.refused_memory.load()},
      {"personas_evicted", c.personas_evicted.load()},
      {"shard_snapshots_installed", c.shard_snapshots_installed.load()},
      {"shard_copies_dropped", c.shard_copies_dropped.load()},
      {"requests_forwarded", c.requests_forwarded.load()},
      {"indices_warmed", c.indices_warmed.load()},
  };
}

constexpr std::chrono::seconds kClusterStatusTimeout{2};

uint64_t value_of(const std::map<std::string, uint64_t>& m, const std::string& name) {
  auto it = m.find(name);
  return it == m.end() ? 0 : it->second;
}

// A histogram family from a LatencyHistogram snapshot (cumulative buckets, as the format wants).
MetricFamily histogram(std::string name, std::string help,
                       const storage::LatencyHistogram::Snapshot& s) {
  MetricFamily f{std::move(name), MetricType::histogram, std::move(help), {}};
  if (s.buckets.size() != s.bounds.size() + 1) return f;  // no figures: no samples, left out
  // _count from the buckets, not s.count: read while others record, the two may differ by one.
  add_histogram(f, {}, s.bounds, s.buckets, s.sum_seconds);
  return f;
}

// One request of the node to itself (`body` fills it in), or nullopt with `what` and the reason
// added to `errors`.
template <class Body>
std::optional<pb::Response> ask(NodeCalls& calls, SteadyTime deadline, Body body, const char* what,
                                std::vector<std::string>& errors) {
  pb::Request request;
  request.mutable_header()->set_schema_version(wire::kSchemaVersion);
  body(request);
  auto response = calls.call(request, deadline, NodeCalls::Caller::node);
  if (response.status().code() == pb::OK) return response;
  errors.push_back(std::string(what) + ": " + response.status().message());
  return std::nullopt;
}

uint64_t counter(const NodeFigures& f, const std::string& name) {
  return value_of(f.node_counters, name);
}

MetricFamily family(std::string name, MetricType type, std::string help) {
  return MetricFamily{std::move(name), type, std::move(help), {}};
}

}  // namespace

NodeFigures collect_node_figures(actors::Node& node, NodeCalls& calls, SteadyTime deadline) {
  NodeFigures out;
  auto& ctx = node.context();
  out.node_id = ctx.node_id;
  out.version = NCA_VERSION_STRING;
  out.incarnation = ctx.incarnation;
  out.running_actors = node.system().registry().running();
  out.allocator = alloc::name();
  const alloc::Stats heap = alloc::stats();
  out.allocator_free_bytes = heap.free_bytes;
  out.allocator_mapped_bytes = heap.regions * alloc::kRegionBytes;
  collect_counters(node, out);

  if (auto r = ask(
          calls, deadline, [](pb::Request& q) { q.mutable_stats(); }, "node stats", out.errors)) {
    out.node_stats = r->stats();
  }
  auto personas = calls.persona_stats(deadline);
  if (personas) {
    out.personas = std::move(*personas);
  } else {
    out.errors.push_back("persona stats: " + personas.error().message);
  }
  auto events = calls.event_stats(deadline);
  if (events && *events) {
    out.events = **events;
  } else if (!events) {
    out.errors.push_back("event stats: " + events.error().message);
  }
  // The status waits on the Raft host, which a slow round or a disk stall holds up: a short bound
  // of its own keeps the rest of the scrape (the slow-round and disk figures among it) in time.
  const SteadyTime cluster_deadline =
      std::min(deadline, std::chrono::steady_clock::now() + kClusterStatusTimeout);
  if (auto r = ask(
          calls, cluster_deadline, [](pb::Request& q) { q.mutable_cluster_status(); },
          "cluster status", out.errors)) {
    out.cluster = r->cluster_status();
    if (!out.cluster->shards_unavailable().empty()) {
      out.errors.push_back("cluster status: " + out.cluster->shards_unavailable());
    }
  }
  collect_rocksdb(node, out);
  return out;
}

std::vector<MetricFamily> node_families(const NodeFigures& f) {
  std::vector<MetricFamily> out;
  auto info = family("nca_node_info", MetricType::gauge,
                     "This node: its id and version (value is always 1).");
  info.add({{"node_id", f.node_id}, {"version", f.version}}, 1);
  out.push_back(std::move(info));
  out.push_back(single("nca_node_incarnation", MetricType::gauge,
                       "Starts of this node's data directory, this one included.",
                       static_cast<double>(f.incarnation)));

  if (f.node_stats) {
    out.push_back(single("nca_personas", MetricType::gauge,
                         "Personas with a stored profile on this node.",
                         static_cast<double>(f.node_stats->personas())));
    out.push_back(single("nca_memory_records_estimate", MetricType::gauge,
                         "RocksDB's estimate of stored memory records (all personas).",
                         static_cast<double>(f.node_stats->items())));
  }
  out.push_back(single("nca_active_personas", MetricType::gauge,
                       "Persona actors running on this node.",
                       static_cast<double>(counter(f, "live_personas"))));
  out.push_back(single("nca_live_item_actors", MetricType::gauge,
                       "Memory item actors running (activated on demand, passivated when idle).",
                       static_cast<double>(counter(f, "live_item_actors"))));
  out.push_back(single("nca_caf_running_actors", MetricType::gauge,
                       "Actors running in the node's actor system (all kinds).",
                       static_cast<double>(f.running_actors)));
  auto allocator = family("nca_allocator_info", MetricType::gauge,
                          "The allocator serving the node's C++ objects: thread-cache (the "
                          "project's) or system (NEUROCA_ALLOCATOR=system); value is always 1.");
  allocator.add({{"allocator", f.allocator}}, 1);
  out.push_back(std::move(allocator));
  out.push_back(single("nca_allocator_free_bytes", MetricType::gauge,
                       "Bytes of freed objects the allocator keeps for reuse: resident, never "
                       "returned to the kernel, and not counted by the memory guard.",
                       static_cast<double>(f.allocator_free_bytes)));
  out.push_back(single("nca_allocator_mapped_bytes", MetricType::gauge,
                       "Address space the allocator has mapped for small objects (2 MiB regions; "
                       "only the pages it touched are resident).",
                       static_cast<double>(f.allocator_mapped_bytes)));

  if (f.personas) {
    std::map<std::string, pb::TierStats> tiers;
    uint64_t tubules = 0;
    uint64_t archived = 0;
    pb::ConsolidationCounters sum;
    for (const auto& p : f.personas->personas) {
      for (const auto& t : p.tiers()) {
        auto& acc = tiers[tier_label(t.tier())];
        acc.set_items(acc.items() + t.items());
        acc.set_index_size(acc.index_size() + t.index_size());
        acc.set_index_deleted(acc.index_deleted() + t.index_deleted());
        acc.set_index_backlog(acc.index_backlog() + t.index_backlog());
      }
      tubules += p.tubules();
      archived += p.archived();
      const auto& c = p.consolidation();
      sum.set_ticks(sum.ticks() + c.ticks());
      sum.set_checked(sum.checked() + c.checked());
      sum.set_promoted(sum.promoted() + c.promoted());
      sum.set_demoted(sum.demoted() + c.demoted());
      sum.set_forgotten(sum.forgotten() + c.forgotten());
      sum.set_merged(sum.merged() + c.merged());
      sum.set_capacity_evicted(sum.capacity_evicted() + c.capacity_evicted());
      sum.set_tubules_pruned(sum.tubules_pruned() + c.tubules_pruned());
      sum.set_archive_expired(sum.archive_expired() + c.archive_expired());
    }
    auto memories = family("nca_memories", MetricType::gauge,
                           "Memories per tier, summed over the personas active on this node.");
    auto index = family("nca_index_entries", MetricType::gauge,
                        "Entries in the tiers' vector indices, over the active personas.");
    auto deleted = family("nca_index_deleted_entries", MetricType::gauge,
                          "Entries marked deleted in the vector indices (reclaimed on rebuild).");
    auto backlog = family("nca_index_backlog", MetricType::gauge,
                          "Batches of acknowledged changes not yet applied to the vector indices.");
    for (const char* t : {"stm", "mtm", "ltm"}) {
      auto it = tiers.find(t);
      const pb::TierStats empty;
      const pb::TierStats& s = it == tiers.end() ? empty : it->second;
      memories.add({{"tier", t}}, static_cast<double>(s.items()));
      index.add({{"tier", t}}, static_cast<double>(s.index_size()));
      deleted.add({{"tier", t}}, static_cast<double>(s.index_deleted()));
      backlog.add({{"tier", t}}, static_cast<double>(s.index_backlog()));
    }
    out.push_back(std::move(memories));
    out.push_back(std::move(index));
    out.push_back(std::move(deleted));
    out.push_back(std::move(backlog));
    out.push_back(single("nca_archived_memories", MetricType::gauge,
                         "Forgotten or merged memories kept in the archive, over active personas.",
                         static_cast<double>(archived)));
    out.push_back(single("nca_tubules", MetricType::gauge,
                         "Neural tubules (links between memories), over the active personas.",
                         static_cast<double>(tubules)));
    out.push_back(single("nca_consolidation_ticks_total", MetricType::counter,
                         "Lymphatic (consolidation) ticks run, over the active personas.",
                         static_cast<double>(sum.ticks())));
    auto actions = family("nca_consolidation_actions_total", MetricType::counter,
                          "What consolidation did, by action, over the active personas.");
    actions.add({{"action", "checked"}}, static_cast<double>(sum.checked()));
    actions.add({{"action", "promoted"}}, static_cast<double>(sum.promoted()));
    actions.add({{"action", "demoted"}}, static_cast<double>(sum.demoted()));
    actions.add({{"action", "forgotten"}}, static_cast<double>(sum.forgotten()));
    actions.add({{"action", "merged"}}, static_cast<double>(sum.merged()));
    actions.add({{"action", "capacity_evicted"}}, static_cast<double>(sum.capacity_evicted()));
    actions.add({{"action", "tubules_pruned"}}, static_cast<double>(sum.tubules_pruned()));
    actions.add({{"action", "archive_expired"}}, static_cast<double>(sum.archive_expired()));
    out.push_back(std::move(actions));
    out.push_back(single("nca_persona_stats_unanswered", MetricType::gauge,
                         "Active personas whose stats did not arrive for this scrape.",
                         static_cast<double>(f.personas->unanswered)));
  }

  if (f.events) {
    auto events = family("nca_events", MetricType::gauge,
                         "Events held by the event router, by tenant, state and priority.");
    for (const auto& c : f.events->counts) {
      events.add(
          {{"tenant", c.tenant},
           {"state", pb::EventState_IsValid(c.state) ? pb::EventState_Name(c.state) : "?"},
           {"priority",
            pb::EventPriority_IsValid(c.priority) ? pb::EventPriority_Name(c.priority) : "?"}},
          static_cast<double>(c.count));
    }
    out.push_back(std::move(events));
    out.push_back(single("nca_events_acked_retained", MetricType::gauge,
                         "Acknowledged event records still kept (events.retention).",
                         static_cast<double>(f.events->acked_retained)));
  }
  struct CounterMetric {
    const char* counter;  // NodeCounters field
    const char* metric;
    const char* help;
  };
  const CounterMetric kCounters[] = {
      {"events_published", "nca_events_published_total", "Events published to this node."},
      {"events_delivered", "nca_events_delivered_total", "Event deliveries to workers."},
      {"event_writes", "nca_event_writes_total",
       "Durable writes of event state (changes that happen together share one)."},
      {"events_acked", "nca_events_acked_total", "Events acknowledged by workers."},
      {"events_dead_lettered", "nca_events_dead_lettered_total",
       "Events moved to the dead-letter list."},
      {"event_memory_errors", "nca_event_memory_errors_total",
       "Event memories that could not be written."},
      {"requests", "nca_api_requests_total", "Requests the api actor received (SDK and HTTP)."},
      {"request_errors", "nca_api_request_errors_total",
       "Requests the api actor refused as malformed."},
      {"index_rebuilds", "nca_index_rebuilds_total", "Vector indices rebuilt from storage."},
      {"corrupt_records", "nca_corrupt_records_total",
       "Corrupt records found (each is skipped and reported)."},
      {"personas_evicted", "nca_personas_fenced_total",
       "Persona actors stopped because this node lost their shard's leadership."},
      {"shard_snapshots_installed", "nca_shard_snapshots_installed_total",
       "Shard checkpoints this node installed (it was behind its leader's compacted log)."},
      {"shard_copies_dropped", "nca_shard_copies_dropped_total",
       "Shard replicas this node left, their records deleted."},
      {"requests_forwarded", "nca_requests_forwarded_total",
       "Client requests this node forwarded to a shard's leader."},
      {"indices_warmed", "nca_follower_indices_warmed_total",
       "Persona indices a follower refreshed from replicated writes."},
  };
  for (const auto& c : kCounters) {
    out.push_back(
        single(c.metric, MetricType::counter, c.help, static_cast<double>(counter(f, c.counter))));
  }
  {
    auto refused = family("nca_requests_refused_total", MetricType::counter,
                          "Requests refused before they touched any data, by reason (DESIGN 8).");
    const std::pair<const char*, const char*> kReasons[] = {
        {"unauthenticated", "refused_unauthenticated"},
        {"permission_denied", "refused_permission"},
        {"rate_limited", "refused_rate"},
        {"too_large", "refused_size"},
        {"over_count", "refused_count"},
        {"memory_pressure", "refused_memory"},
    };
    for (const auto& [reason, name] : kReasons) {
      refused.add({{"reason", reason}}, static_cast<double>(counter(f, name)));
    }
    out.push_back(std::move(refused));
  }
  if (f.node_stats) {
    const auto& c = f.node_stats->counters();
    auto get = [&](const char* k) {
      auto it = c.find(k);
      return it == c.end() ? 0.0 : static_cast<double>(it->second);
    };
    out.push_back(single("nca_storage_syncs_total", MetricType::counter,
                         "WAL fsyncs (group commit: one per group of writes).",
                         get("storage_syncs")));
    out.push_back(single("nca_storage_commits_total", MetricType::counter,
                         "Write batches committed to RocksDB.", get("storage_commits")));
  }
  out.push_back(histogram("nca_storage_durable_write_duration_seconds",
                          "Time of each synced write or WAL fsync (group commits and Raft log "
                          "syncs; a synced group commit includes its write).",
                          f.durable_writes));
  out.push_back(single("nca_storage_slow_operations_total", MetricType::counter,
                       "Storage writes, group commits and fsyncs that took a second or more "
                       "(each is logged).",
                       static_cast<double>(f.slow_storage_operations)));
  out.push_back(single("nca_rocksdb_write_stalls_total", MetricType::counter,
                       "Times a column family's writes became delayed or stopped by RocksDB "
                       "(each is logged).",
                       static_cast<double>(f.write_stalls)));
  out.push_back(single("nca_raft_rounds_total", MetricType::counter,
                       "Rounds of the Raft host that handled some group's news (one save and one "
                       "fsync for all of them when they carry entries).",
                       static_cast<double>(value_of(f.raft_counters, "rounds"))));
  out.push_back(single("nca_raft_slow_rounds_total", MetricType::counter,
                       "Raft rounds of a second or more: heartbeats waited (each is logged).",
                       static_cast<double>(value_of(f.raft_counters, "slow_rounds"))));
  out.push_back(single("nca_raft_leader_changes_seen_total", MetricType::counter,
                       "Times a hosted group's leader became another node than the last known.",
                       static_cast<double>(value_of(f.raft_counters, "leader_changes"))));
  out.push_back(single("nca_raft_proposals_failed_total", MetricType::counter,
                       "Proposals (writes, configuration changes) this node accepted as a group's "
                       "leader that failed before committing (leadership lost; clients retry).",
                       static_cast<double>(value_of(f.raft_counters, "proposals_failed"))));
  if (f.cluster) {
    auto cluster = cluster_families(*f.cluster);
    std::move(cluster.begin(), cluster.end(), std::back_inserter(out));
  }

  out.push_back(single("nca_rocksdb_size_bytes", MetricType::gauge,
                       "Approximate size of the node's RocksDB on disk.",
                       static_cast<double>(f.db_size_bytes)));
  out.push_back(single("nca_rocksdb_running_compactions", MetricType::gauge,
                       "RocksDB compactions running now.",
                       static_cast<double>(f.running_compactions)));
  out.push_back(single("nca_rocksdb_running_flushes", MetricType::gauge,
                       "RocksDB memtable flushes running now.",
                       static_cast<double>(f.running_flushes)));
  out.push_back(single("nca_rocksdb_compaction_pending", MetricType::gauge,
                       "1 when some column family needs a compaction.",
                       f.compaction_pending ? 1 : 0));
  struct CfMetric {
    const char* name;
    MetricType type;
    const char* help;
    double (*get)(const ColumnFamilyFigures&);
  };
  const CfMetric kCfMetrics[] = {
      {"nca_rocksdb_estimated_keys", MetricType::gauge, "Estimated keys per column family.",
       [](const ColumnFamilyFigures& c) { return static_cast<double>(c.estimate_num_keys); }},
      {"nca_rocksdb_live_sst_bytes", MetricType::gauge,
       "Bytes of the SST files of the current version, per column family.",
       [](const ColumnFamilyFigures& c) { return static_cast<double>(c.live_sst_bytes); }},
      {"nca_rocksdb_sst_bytes", MetricType::gauge,
       "Bytes of all SST files (also obsolete ones not yet deleted), per column family.",
       [](const ColumnFamilyFigures& c) { return static_cast<double>(c.total_sst_bytes); }},
      {"nca_rocksdb_memtable_bytes", MetricType::gauge, "Memtable bytes per column family.",
       [](const ColumnFamilyFigures& c) { return static_cast<double>(c.memtable_bytes); }},
      {"nca_rocksdb_pending_compaction_bytes", MetricType::gauge,
       "Estimated bytes compaction must rewrite, per column family.",
       [](const ColumnFamilyFigures& c) {
         return static_cast<double>(c.pending_compaction_bytes);
       }},
      {"nca_rocksdb_compactions_total", MetricType::counter,
       "Compactions since the node started, per column family.",
       [](const ColumnFamilyFigures& c) { return c.compactions; }},
      {"nca_rocksdb_compaction_read_bytes_total", MetricType::counter,
       "Bytes read by compactions since the node started, per column family.",
       [](const ColumnFamilyFigures& c) { return c.compaction_read_bytes; }},
      {"nca_rocksdb_compaction_written_bytes_total", MetricType::counter,
       "Bytes written by compactions since the node started, per column family.",
       [](const ColumnFamilyFigures& c) { return c.compaction_write_bytes; }},
      {"nca_rocksdb_compaction_seconds_total", MetricType::counter,
       "Time spent in compactions since the node started, per column family.",
       [](const ColumnFamilyFigures& c) { return c.compaction_seconds; }},
  };
  for (const auto& m : kCfMetrics) {
    auto fam = family(m.name, m.type, m.help);
    for (const auto& cf : f.column_families) fam.add({{"cf", cf.name}}, m.get(cf));
    out.push_back(std::move(fam));
  }
  out.push_back(single("nca_http_requests_in_flight", MetricType::gauge,
                       "HTTP requests being handled now (this scrape included).",
                       static_cast<double>(f.http_in_flight)));
  out.push_back(single("nca_metrics_scrape_errors", MetricType::gauge,
                       "Parts of this scrape that could not be read (see the node's log).",
                       static_cast<double>(f.errors.size())));
  return out;
}

}  // namespace nca::http
