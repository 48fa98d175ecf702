// cluster/sim/linearizability.hpp: a linearizability checker for a key-value store's client
// history.
//
// The Raft simulator records every client operation it issues against the replicated KV state
// machine (invocation time, reply time, observed value) and, at the end of a run, asks this checker
// whether some total order of those operations explains every reply while respecting real time.
// That is the property a Raft-backed store promises; a "no" means a safety bug (lost or stale
// writes, split brain), not a liveness hiccup.
//
// The checker follows Porcupine (Athalye): the history is split by key (a register per key is
// P-compositional, so the whole history is linearizable iff every key's sub-history is), and each
// key is searched with the Wing & Gong / Lowe (WGL) algorithm: a depth-first search over the
// call/return events with memoization of (set of linearized ops, register value).
//
// Pure function of its input, no global state: safe to call from any number of threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nca::raft::sim {

// One client operation as the simulator saw it. Times are logical and only their order matters.
//
// Real-time order: operation a precedes operation b iff a completed and a.ret < b.call. Intervals
// that touch (a.ret == b.call) count as concurrent, so a simulator that delivers a reply and issues
// the client's next call in the same tick is never accused of a violation it did not commit.
struct KvOperation {
  enum class Kind : uint8_t { put, get };

  uint64_t client = 0;  // only reported in explanations; the checker does not need it
  Kind kind = Kind::get;
  std::string key;
  std::string value;  // put: the value written; get: the value observed ("" = absent)
  uint64_t call = 0;  // logical time the client invoked it
  uint64_t ret = 0;   // logical time the reply arrived (ignored when !completed)
  bool completed =
      true;  // false: no reply (timeout/crash) — the op may or may not have taken effect
};

enum class Linearizability {
  ok,         // every key's sub-history has a linearization
  violation,  // some key's sub-history has none (or the history is malformed)
  unknown,    // no violation found, but the search budget ran out on at least one key
};

struct LinearizabilityReport {
  Linearizability verdict = Linearizability::ok;
  // On violation: the key whose sub-history has no linearization (for a malformed history, the key
  // of the first malformed operation). On unknown: the first key whose search ran out of budget.
  std::string key;
  // Human-readable: the ops of that key (history index, client, kind, value, call..ret) and the
  // longest linearizable prefix found. Empty when the verdict is ok.
  std::string explanation;
};

// Decides whether `history` is linearizable with respect to a map of independent registers: every
// key starts absent (""), put sets it, get returns it.
//
// Incomplete gets are ignored (they have no observable effect). An incomplete put may take effect
// at any point after its call, or never (its return is treated as +infinity).
//
// A completed operation with ret < call, or a kind outside put/get, makes the history malformed:
// the verdict is violation and the explanation starts with "malformed history".
//
// max_search_steps bounds the DFS steps spent on each key (one step = one event visited), so the
// cost is bounded by keys * max_search_steps even for adversarial histories. A key that exhausts it
// yields unknown unless another key has a violation (violation wins: it is the more useful answer).
// Memory grows with the number of memoized states, at most one per step.
LinearizabilityReport check_kv_history(const std::vector<KvOperation>& history,
                                       uint64_t max_search_steps = 10'000'000);

}  // namespace nca::raft::sim
