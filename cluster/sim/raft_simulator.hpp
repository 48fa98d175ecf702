// cluster/sim/raft_simulator.hpp: randomized, deterministic simulation of a Raft cluster.
//
// Contract: run_simulation(seed, options) builds `nodes` Raft members over a SimNetwork that loses,
// duplicates, reorders and delays messages, cuts links (symmetric and asymmetric partitions),
// crashes nodes and restarts them from what they had persisted (optionally losing a write that was
// not yet synced), jumps nodes' clocks, changes membership and transfers leadership — while clients
// put and get keys of a small KvStateMachine (gets by read-index and through the log). After every
// step the SafetyChecker checks election safety, log matching, leader completeness and
// state-machine safety. At the end the network heals and every node restarts; a leader must then
// commit within `heal_ticks` ticks, and the clients' history must be linearizable.
//
// Everything random comes from one generator seeded with `seed`, and nothing reads a clock, so a
// seed replays exactly; with options.trace the result carries the run's events for debugging.
// Thread-safety: none (each call is independent; runs of different seeds may go in parallel).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nca::raft::sim {

struct SimOptions {
  size_t nodes = 3;
  uint64_t steps = 3000;     // simulated time units before healing
  uint64_t tick_every = 10;  // time units per Raft tick
  size_t clients = 3;
  size_t keys = 3;
  bool faults = true;  // drops, duplicates, partitions, crashes, clock jumps, membership changes
  uint64_t heal_ticks = 200;  // after healing, a leader must commit within this many ticks
  bool trace = false;
  // Test hook: node 1 applies a corrupted copy of the first client entry it applies, which the
  // checker must report (proves the harness can fail).
  bool sabotage_apply = false;
};

struct SimStats {
  uint64_t steps = 0;
  uint64_t messages = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t crashes = 0;
  uint64_t lost_writes = 0;  // unsynced writes lost in a crash
  uint64_t partitions = 0;
  uint64_t leaders = 0;  // distinct (term, leader) pairs
  uint64_t committed = 0;
  uint64_t snapshots_sent = 0;
  uint64_t conf_changes = 0;
  uint64_t transfers = 0;
  uint64_t ops = 0;
  uint64_t ops_completed = 0;
  uint64_t heal_ticks = 0;  // ticks from heal to the first commit
};

struct SimResult {
  bool ok = true;
  uint64_t seed = 0;
  std::string failure;  // the violated property and its evidence
  SimStats stats;
  std::vector<std::string> trace;  // only with options.trace
};

SimResult run_simulation(uint64_t seed, const SimOptions& options);

// One line: "seed S ok: ..." or "seed S FAILED at step N: ...".
std::string describe(const SimResult& result);

}  // namespace nca::raft::sim
