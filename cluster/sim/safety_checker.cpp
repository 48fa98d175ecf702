#include "cluster/sim/safety_checker.hpp"

#include <algorithm>

namespace nca::raft::sim {
namespace {

std::string node_str(NodeId id) { return "node " + std::to_string(id); }

Error violation(const std::string& property, const std::string& detail) {
  return make_error(ErrorCode::internal, property + " violated: " + detail);
}

}  // namespace

Status SafetyChecker::check_step(const std::vector<const Raft*>& live) {
  for (const Raft* r : live) {
    if (r->role() != Role::leader) continue;
    auto [it, fresh] = leaders_.emplace(r->term(), r->id());
    if (!fresh && it->second != r->id()) {
      return violation("election safety", node_str(it->second) + " and " + node_str(r->id()) +
                                              " both led term " + std::to_string(r->term()));
    }
  }
  std::vector<bool> changed(live.size());
  for (size_t i = 0; i < live.size(); ++i) {
    const RaftLog& log = live[i]->log();
    // Every (index, term) of the log, hashed: a rewrite anywhere in the log changes a term (a
    // rewrite that kept every term would need two leaders in one term: election safety).
    uint64_t terms = 1469598103934665603ull;
    for (Index k = log.first_index() - 1; k <= log.last_index(); ++k) {
      terms = (terms ^ log.term_or_zero(k)) * 1099511628211ull;
    }
    std::vector<uint64_t> summary = {log.first_index(), log.last_index(), terms, log.committed()};
    auto& previous = log_summary_[live[i]->id()];
    changed[i] = previous != summary;
    previous = std::move(summary);
  }
  for (size_t i = 0; i < live.size(); ++i) {
    for (size_t j = i + 1; j < live.size(); ++j) {
      if (!changed[i] && !changed[j]) continue;
      Status s = check_log_matching(*live[i], *live[j]);
      if (!s.ok()) return s;
    }
  }
  for (const Raft* r : live) {
    Status s = record_commits(*r);
    if (!s.ok()) return s;
  }
  for (const Raft* r : live) {
    if (r->role() != Role::leader) continue;
    Status s = check_leader_completeness(*r);
    if (!s.ok()) return s;
  }
  return Status{};
}

Status SafetyChecker::check_log_matching(const Raft& a, const Raft& b) const {
  const RaftLog& la = a.log();
  const RaftLog& lb = b.log();
  Index lo = std::max(la.first_index(), lb.first_index()) - 1;
  Index hi = std::min(la.last_index(), lb.last_index());
  if (hi <= lo) return Status{};
  // The highest index where both have an entry of the same term...
  Index h = hi;
  while (h > lo && la.term_or_zero(h) != lb.term_or_zero(h)) --h;
  if (h == lo) return Status{};
  // ...and everything before it must be identical.
  auto ea = la.slice(lo + 1, h + 1, UINT64_MAX);
  auto eb = lb.slice(lo + 1, h + 1, UINT64_MAX);
  if (!ea.ok() || !eb.ok() || ea->size() != eb->size()) {
    return violation("log matching", "cannot read the logs of " + node_str(a.id()) + " and " +
                                         node_str(b.id()) + " up to " + std::to_string(h));
  }
  for (size_t k = 0; k < ea->size(); ++k) {
    if ((*ea)[k] != (*eb)[k]) {
      return violation("log matching",
                       node_str(a.id()) + " and " + node_str(b.id()) + " agree on index " +
                           std::to_string(h) + " (term " + std::to_string(la.term_or_zero(h)) +
                           ") but differ at index " + std::to_string((*ea)[k].index) + " (terms " +
                           std::to_string((*ea)[k].term) + " and " + std::to_string((*eb)[k].term) +
                           ")");
    }
  }
  return Status{};
}

Status SafetyChecker::record_commits(const Raft& node) {
  const RaftLog& log = node.log();
  Index& recorded = recorded_commit_[node.id()];
  // After a restart the commit index may start lower; whatever it covers again is re-checked.
  recorded = std::min(recorded, log.committed());
  Index from = std::max(recorded + 1, log.first_index());
  if (from <= log.committed()) {
    auto entries = log.slice(from, log.committed() + 1, UINT64_MAX);
    if (!entries.ok()) {
      return violation("log matching", node_str(node.id()) + " commits " +
                                           std::to_string(log.committed()) +
                                           " but cannot read its log: " + entries.error().message);
    }
    for (const Entry& e : *entries) {
      auto [it, fresh] = committed_.emplace(e.index, Committed{e.term, e.data, node.term()});
      if (fresh) continue;
      if (it->second.term != e.term || it->second.data != e.data) {
        return violation("state-machine safety",
                         node_str(node.id()) + " committed term " + std::to_string(e.term) +
                             " at index " + std::to_string(e.index) + " where term " +
                             std::to_string(it->second.term) + " was committed before");
      }
      it->second.observed_term = std::min(it->second.observed_term, node.term());
    }
  }
  recorded = std::max(recorded, log.committed());
  return Status{};
}

Status SafetyChecker::check_leader_completeness(const Raft& leader) {
  const RaftLog& log = leader.log();
  auto key = std::make_pair(leader.id(), leader.term());
  auto [cursor, fresh] = leader_checked_.emplace(key, 0);
  Index from = std::max(cursor->second + 1, log.first_index());
  for (auto it = committed_.lower_bound(from); it != committed_.end(); ++it) {
    const Committed& c = it->second;
    if (c.observed_term >= leader.term()) continue;  // committed after this leader's election
    if (it->first > log.last_index() || log.term_or_zero(it->first) != c.term) {
      return violation("leader completeness",
                       node_str(leader.id()) + " leads term " + std::to_string(leader.term()) +
                           " without entry " + std::to_string(it->first) + " (term " +
                           std::to_string(c.term) + "), committed by term " +
                           std::to_string(c.observed_term));
    }
  }
  if (!committed_.empty()) cursor->second = std::max(cursor->second, committed_.rbegin()->first);
  return Status{};
}

Status SafetyChecker::on_apply(NodeId node, const Entry& entry) {
  Index& last = last_applied_[node];
  if (entry.index != last + 1) {
    return violation("state-machine safety", node_str(node) + " applied index " +
                                                 std::to_string(entry.index) + " after " +
                                                 std::to_string(last));
  }
  last = entry.index;
  auto [it, fresh] = applied_.emplace(entry.index, std::make_pair(entry.term, entry.data));
  if (!fresh && (it->second.first != entry.term || it->second.second != entry.data)) {
    return violation("state-machine safety", node_str(node) + " applied term " +
                                                 std::to_string(entry.term) + " at index " +
                                                 std::to_string(entry.index) +
                                                 " where another node applied "
                                                 "term " +
                                                 std::to_string(it->second.first));
  }
  return Status{};
}

void SafetyChecker::on_restore(NodeId node, Index index) { last_applied_[node] = index; }

}  // namespace nca::raft::sim
