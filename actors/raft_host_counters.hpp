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
  std::atomic<uint64_t> rounds{0};  // flushes that handled at least one group's Ready
  // Rounds of a second or more; each is also logged with where its time went.
  std::atomic<uint64_t> slow_rounds{0};
  // A group's leader became a node other than the one this node last knew (as etcd's
  // leader_changes_seen_total): an election that the same node wins again is not counted.
  std::atomic<uint64_t> leader_changes{0};
  // Proposals accepted by this node as leader that failed before they committed (it lost the
  // leadership); the SDK retries them with the same request id.
  std::atomic<uint64_t> proposals_failed{0};
};

}  // namespace nca::actors
