// actors/raft_host_counters.hpp: what a node's Raft host has done since the node started, for
// /metrics (http/node_metrics.hpp). The Raft host actor increments them on its thread; a scrape
// reads them from any other.
//
// Thread-safety: atomics, relaxed (each counter on its own; no order between them is promised).
// Ownership: the node's context owns them; the Raft host actor holds a pointer for its lifetime.
#pragma once

#include <atomic>
#include <cstdint>

namespace nca::actors {

struct RaftHostCounters {
  // Flushes that handled at least one group's Ready (a save and an fsync when it carried entries or
  // a new term or vote; heartbeats and acknowledgements alone write nothing).
  std::atomic<uint64_t> rounds{0};
  // Rounds of a second or more; each is also logged with where its time went.
  std::atomic<uint64_t> slow_rounds{0};
  // A group came to have a leader other than the last one this node knew, "none" included (as
  // etcd's leader_changes_seen_total): the first leader counts, and so does the same node winning
  // again after an interval without a leader.
  std::atomic<uint64_t> leader_changes{0};
  // Proposals (writes and configuration changes, of any group) that this node accepted as the
  // group's leader and that failed before they committed here: it lost the leadership, or the
  // entry committed in another term. Clients retry writes with the same request id.
  std::atomic<uint64_t> proposals_failed{0};
};

}  // namespace nca::actors
