// tests/cluster/raft/raft_entry.hpp: builds a normal Raft log entry for tests, shared by the raft
// test files (they are built as one unity translation unit, so each cannot define its own copy).
#pragma once

#include <string>
#include <utility>

#include "cluster/raft/types.hpp"

namespace nca::raft::test_support {

// A normal entry at `index` of `term` carrying `data`.
inline Entry entry(Term term, Index index, std::string data = "") {
  return Entry{term, index, EntryType::normal, std::move(data)};
}

}  // namespace nca::raft::test_support
