// cluster/raft/memory_storage.hpp: a LogStorage kept in memory, for tests and the simulator.
//
// Contract: as LogStorage; "durable" means "in this object", so the simulator models a crash by
// keeping the object and dropping what was never passed to save(). The log is a vector whose
// element 0 is a dummy entry standing for the snapshot (index and term of the last compacted
// entry). Thread-safety: none; one owner thread. Ownership: plain value, copyable (a copy is an
// independent storage, which the simulator uses to snapshot a node's disk).
#pragma once

#include <vector>

#include "cluster/raft/log_storage.hpp"

namespace nca::raft {

class MemoryStorage final : public LogStorage {
 public:
  MemoryStorage();

  Result<InitialState> initial_state() const override;
  Result<std::vector<Entry>> entries(Index lo, Index hi, uint64_t max_bytes) const override;
  Result<Term> term(Index index) const override;
  Index first_index() const override;
  Index last_index() const override;
  Result<Snapshot> snapshot() const override;
  Status save(const HardState* hard_state, const std::vector<Entry>& entries,
              const Snapshot* snapshot) override;
  Status compact(const Snapshot& snapshot) override;

  const HardState& hard_state() const { return hard_state_; }

 private:
  HardState hard_state_;
  ConfState conf_;          // as of the snapshot (or bootstrap)
  Snapshot snapshot_;       // meta.index == log_[0].index
  std::vector<Entry> log_;  // log_[0]: dummy (snapshot index/term)
};

}  // namespace nca::raft
