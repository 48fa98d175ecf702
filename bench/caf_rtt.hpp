// bench/caf_rtt.hpp: the floor of any remote call: a CAF 0.17 request/response round trip over
// loopback between two actor systems, with no work on either side.
//
// A server system publishes an echo actor on an OS-chosen loopback port; a client system connects
// through its middleman actor (connect_atom, never the blocking middleman().remote_actor()) and
// sends the node's envelope shape (envelope_atom, method, bytes) -> (method, bytes) one request at
// a time. Both systems use the sharing scheduler, as the node and the SDK do.
#pragma once

#include <cstddef>
#include <string>

#include "bench/bench_util.hpp"
#include "nca/result.hpp"

namespace nca::bench {

struct CafRttOptions {
  size_t round_trips = 1000;
  size_t warmup = 100;
  size_t payload_bytes = 1600;  // about a recall request with a 384-float query
};

// Round-trip latencies in microseconds, or why the measurement could not run.
Result<Latencies> measure_caf_rtt(const CafRttOptions& options);

}  // namespace nca::bench
