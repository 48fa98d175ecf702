#include "cluster/raft/raft_log.hpp"

#include <algorithm>
#include <string>

namespace nca::raft {

RaftLog::RaftLog(const LogStorage* storage) : storage_(storage) {}

Status RaftLog::init(Index commit) {
  Index first = storage_->first_index();
  Index last = storage_->last_index();
  if (first == 0 || last + 1 < first) {
    return make_error(ErrorCode::data_loss, "raft log bounds are inconsistent (first " +
                                                std::to_string(first) + ", last " +
                                                std::to_string(last) + ")");
  }
  if (commit > last) {
    return make_error(ErrorCode::data_loss, "raft hard state commits " + std::to_string(commit) +
                                                " beyond the last log index " +
                                                std::to_string(last));
  }
  unstable_offset_ = last + 1;
  applied_ = first - 1;
  committed_ = std::max(commit, first - 1);
  return Status{};
}

Index RaftLog::first_index() const {
  if (unstable_snapshot_) return unstable_snapshot_->meta.index + 1;
  return storage_->first_index();
}

Index RaftLog::last_index() const {
  if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->meta.index;
  return storage_->last_index();
}

Term RaftLog::last_term() const { return term_or_zero(last_index()); }

Result<Term> RaftLog::term(Index index) const {
  Index dummy = first_index() - 1;
  if (index < dummy) {
    return make_error(ErrorCode::not_found,
                      "raft entry " + std::to_string(index) + " is compacted");
  }
  if (index > last_index()) {
    return make_error(ErrorCode::invalid_argument,
                      "raft entry " + std::to_string(index) + " is beyond the last index");
  }
  if (unstable_snapshot_ && index == unstable_snapshot_->meta.index) {
    return unstable_snapshot_->meta.term;
  }
  if (index >= unstable_offset_ && index < unstable_offset_ + unstable_.size()) {
    return unstable_[index - unstable_offset_].term;
  }
  return storage_->term(index);
}

Term RaftLog::term_or_zero(Index index) const {
  auto t = term(index);
  return t.ok() ? *t : 0;
}

bool RaftLog::match_term(Index index, Term term) const {
  auto t = this->term(index);
  return t.ok() && *t == term;
}

bool RaftLog::is_up_to_date(Index last_index, Term last_term) const {
  Term mine = this->last_term();
  return last_term > mine || (last_term == mine && last_index >= this->last_index());
}

Result<std::optional<Index>> RaftLog::maybe_append(Index index, Term log_term, Index leader_commit,
                                                   const std::vector<Entry>& entries) {
  if (!match_term(index, log_term)) return std::optional<Index>{};
  Index last_new = index + entries.size();
  // The first entry we do not have (a term mismatch or past our end).
  size_t first_new = entries.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!match_term(entries[i].index, entries[i].term)) {
      first_new = i;
      break;
    }
  }
  if (first_new < entries.size()) {
    Index conflict = entries[first_new].index;
    if (conflict <= committed_) {
      return make_error(ErrorCode::internal, "raft entry " + std::to_string(conflict) +
                                                 " conflicts with the committed log (committed " +
                                                 std::to_string(committed_) + ")");
    }
    append(std::vector<Entry>(entries.begin() + first_new, entries.end()));
  }
  commit_to(std::min(leader_commit, last_new));
  return std::optional<Index>{last_new};
}

void RaftLog::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  Index after = entries.front().index;
  if (after == unstable_offset_ + unstable_.size()) {
    unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  } else if (after <= unstable_offset_) {
    // Replaces everything unstable, and (once saved) the storage's suffix from `after` on.
    unstable_offset_ = after;
    unstable_ = entries;
  } else {
    unstable_.resize(after - unstable_offset_);
    unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  }
}

Result<std::vector<Entry>> RaftLog::slice(Index lo, Index hi, uint64_t max_bytes) const {
  if (lo < first_index()) {
    return make_error(ErrorCode::not_found, "raft entry " + std::to_string(lo) + " is compacted");
  }
  if (hi > last_index() + 1 || lo > hi) {
    return make_error(ErrorCode::invalid_argument, "raft log range [" + std::to_string(lo) + ", " +
                                                       std::to_string(hi) + ") is out of bounds");
  }
  std::vector<Entry> out;
  if (lo == hi) return out;
  uint64_t bytes = 0;
  if (lo < unstable_offset_) {
    auto stored = storage_->entries(lo, std::min(hi, unstable_offset_), max_bytes);
    if (!stored.ok()) return stored.error();
    out = std::move(*stored);
    for (const Entry& e : out) bytes += e.data.size();
    if (out.empty() || out.back().index + 1 < std::min(hi, unstable_offset_)) return out;
  }
  for (Index i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const Entry& e = unstable_[i - unstable_offset_];
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

void RaftLog::commit_to(Index index) {
  if (index > committed_) committed_ = std::min(index, last_index());
}

bool RaftLog::maybe_commit(Index index, Term term) {
  if (index > committed_ && term_or_zero(index) == term) {
    commit_to(index);
    return true;
  }
  return false;
}

void RaftLog::applied_to(Index index) {
  if (index > applied_) applied_ = std::min(index, committed_);
}

void RaftLog::stable_to(Index index, Term term) {
  if (index < unstable_offset_ || index >= unstable_offset_ + unstable_.size()) return;
  // A newer append may have replaced the entry since the Ready was handed out.
  if (unstable_[index - unstable_offset_].term != term) return;
  unstable_.erase(unstable_.begin(), unstable_.begin() + (index + 1 - unstable_offset_));
  unstable_offset_ = index + 1;
}

void RaftLog::stable_snapshot_to(Index index) {
  if (unstable_snapshot_ && unstable_snapshot_->meta.index == index) unstable_snapshot_.reset();
}

Index RaftLog::stable_last_index() const {
  if (unstable_snapshot_) return 0;
  if (!unstable_.empty()) return unstable_offset_ - 1;
  return storage_->last_index();
}

void RaftLog::restore(const Snapshot& snapshot) {
  committed_ = snapshot.meta.index;
  unstable_snapshot_ = snapshot;
  unstable_.clear();
  unstable_offset_ = snapshot.meta.index + 1;
}

}  // namespace nca::raft
