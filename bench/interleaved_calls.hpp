// bench/interleaved_calls.hpp: in-process calls to a node's api actor, made by an actor inside the
// node's own actor system and interleaved query by query with a baseline engine.
//
// Why an actor: a caller on a foreign thread (a scoped actor) pays two OS thread wake-ups per call,
// about 100 us on this VM, that belong to the caller's threading and not to the node. The driver
// sends the next request from the previous reply's handler, so with one scheduler worker the whole
// call runs on that worker with no wake-up, as it does for a component living in the node. Why
// interleaved: this VM's speed drifts by 20-30% over tens of seconds; running query q on the node
// and then on the baseline, on the same worker thread, exposes both to the same drift and caches.
//
// Every query runs twice: the first pass is untimed (warm-up), the second is timed. Each call has
// `call_timeout`; the whole run fails with the first error or timeout. Not thread-safe; the
// functions in InterleavedQueries are called on the actor's worker thread, one at a time.
#pragma once

#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_util.hpp"
#include "nca/result.hpp"

namespace nca::bench {

struct InterleavedQueries {
  size_t count = 0;
  uint32_t method = 0;  // nca.pb.Request body case of every request
  // The serialized nca.pb.Request of query q (its cost is part of the node's time, as for a
  // client).
  std::function<std::string(size_t q)> request;
  // Checks the serialized nca.pb.Response of query q and extracts its result rows.
  std::function<Status(const std::string& reply, std::vector<int64_t>* rows)> reply_rows;
  // Runs query q on the baseline and returns its rows; empty: no baseline, only the node is timed.
  std::function<std::vector<int64_t>(size_t q)> baseline;
};

struct InterleavedResult {
  Latencies node, baseline;
  std::vector<std::vector<int64_t>> node_rows, baseline_rows;
};

Result<InterleavedResult> run_interleaved(caf::actor_system& sys, const caf::actor& api,
                                          const InterleavedQueries& queries,
                                          std::chrono::milliseconds call_timeout);

}  // namespace nca::bench
