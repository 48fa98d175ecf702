// cluster/sim/set_history.hpp: checks a client history of grow-only sets (a persona's memories:
// remember adds one, list reads them all) for what linearizability demands of it.
//
// Per set (sets are independent), with every add of a distinct element:
//   1. a read sees only elements whose add was invoked before the read returned (no phantom);
//   2. a read sees every element whose add completed before the read was invoked (no lost or stale
//      write);
//   3. the sets the completed reads saw form a chain under inclusion (two reads never disagree in
//      both directions: no split brain);
//   4. a read that follows another in real time sees a superset of it (no read goes back).
// Together these are what a linearizable grow-only set must satisfy; the per-item register check
// (linearizability.hpp) covers each element's own history.
//
// Pure function of its input; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nca::raft::sim {

struct SetOperation {
  enum class Kind : uint8_t { add, read };
  uint64_t client = 0;
  Kind kind = Kind::read;
  std::string set;                    // which set (a persona)
  std::string element;                // add: the element (a memory id)
  std::vector<std::string> elements;  // read: what it saw
  uint64_t call = 0;
  uint64_t ret = 0;
  bool completed =
      true;  // an incomplete add may or may not have happened; incomplete reads count not
};

struct SetHistoryReport {
  bool ok = true;
  std::string set;          // the first set with a violation
  std::string explanation;  // which rule, which read, which element
  size_t reads = 0;         // completed reads checked
};

SetHistoryReport check_grow_only_sets(const std::vector<SetOperation>& history);

}  // namespace nca::raft::sim
