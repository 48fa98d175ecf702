#include "cluster/raft/memory_storage.hpp"

#include <algorithm>
#include <string>

namespace nca::raft {

MemoryStorage::MemoryStorage() : log_(1) {}

Result<InitialState> MemoryStorage::initial_state() const {
  return InitialState{hard_state_, conf_};
}

Index MemoryStorage::first_index() const { return log_[0].index + 1; }

Index MemoryStorage::last_index() const { return log_[0].index + log_.size() - 1; }

Result<std::vector<Entry>> MemoryStorage::entries(Index lo, Index hi, uint64_t max_bytes) const {
  if (lo < first_index()) {
    return make_error(ErrorCode::not_found, "raft log entry " + std::to_string(lo) +
                                                " is compacted (first index " +
                                                std::to_string(first_index()) + ")");
  }
  if (hi > last_index() + 1 || lo > hi) {
    return make_error(ErrorCode::invalid_argument,
                      "raft log range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          ") is past the last index " + std::to_string(last_index()));
  }
  std::vector<Entry> out;
  out.reserve(std::min<Index>(hi - lo, 1024));
  uint64_t bytes = 0;
  for (Index i = lo; i < hi; ++i) {
    const Entry& e = log_[i - log_[0].index];
    bytes += e.data.size();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

Result<Term> MemoryStorage::term(Index index) const {
  if (index < log_[0].index) {
    return make_error(ErrorCode::not_found,
                      "raft log entry " + std::to_string(index) + " is compacted");
  }
  if (index > last_index()) {
    return make_error(ErrorCode::invalid_argument, "raft log entry " + std::to_string(index) +
                                                       " is past the last index " +
                                                       std::to_string(last_index()));
  }
  return log_[index - log_[0].index].term;
}

Result<Snapshot> MemoryStorage::snapshot() const { return snapshot_; }

Status MemoryStorage::save(const HardState* hard_state, const std::vector<Entry>& entries,
                           const Snapshot* snapshot) {
  Index base = snapshot != nullptr ? snapshot->meta.index : log_[0].index;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].index != entries[0].index + i) {
      return make_error(ErrorCode::invalid_argument, "raft entries to save are not contiguous");
    }
  }
  Index last = snapshot != nullptr ? snapshot->meta.index : last_index();
  if (!entries.empty() && (entries[0].index <= base || entries[0].index > last + 1)) {
    return make_error(ErrorCode::invalid_argument, "raft entries to save start at " +
                                                       std::to_string(entries[0].index) +
                                                       ", outside (" + std::to_string(base) + ", " +
                                                       std::to_string(last + 1) + "]");
  }
  if (snapshot != nullptr) {
    snapshot_ = *snapshot;
    conf_ = snapshot->meta.conf;
    log_.assign(1, Entry{snapshot->meta.term, snapshot->meta.index, EntryType::normal, {}});
  }
  if (!entries.empty()) {
    log_.resize(entries[0].index - log_[0].index);
    log_.insert(log_.end(), entries.begin(), entries.end());
  }
  if (hard_state != nullptr) hard_state_ = *hard_state;
  return Status{};
}

Status MemoryStorage::compact(const Snapshot& snapshot) {
  Index index = snapshot.meta.index;
  if (index <= log_[0].index) {
    return make_error(ErrorCode::conflict, "raft snapshot at " + std::to_string(index) +
                                               " is not newer than the current one at " +
                                               std::to_string(log_[0].index));
  }
  if (index > last_index()) {
    return make_error(ErrorCode::invalid_argument, "raft snapshot at " + std::to_string(index) +
                                                       " is past the last index " +
                                                       std::to_string(last_index()));
  }
  std::vector<Entry> kept;
  kept.reserve(last_index() - index + 1);
  kept.push_back(Entry{log_[index - log_[0].index].term, index, EntryType::normal, {}});
  for (Index i = index + 1; i <= last_index(); ++i) kept.push_back(log_[i - log_[0].index]);
  log_ = std::move(kept);
  snapshot_ = snapshot;
  conf_ = snapshot.meta.conf;
  return Status{};
}

}  // namespace nca::raft
