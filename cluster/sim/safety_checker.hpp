// cluster/sim/safety_checker.hpp: Raft's safety properties, checked after every simulated step.
//
// Contract: the simulator reports what it sees — the live nodes after each step, every entry a
// node applies, every snapshot a node installs — and each call returns an error naming the
// violated property and the evidence:
//   election safety      at most one leader per term;
//   log matching         two logs with an entry of the same index and term agree on everything
//                        up to it;
//   leader completeness  an entry committed by the time term T was current is in the log of every
//                        leader of a later term;
//   state-machine safety no two nodes apply different entries at one index, and each node applies
//                        indices in order without gaps.
// "Committed" is what any node's commit index covers (and what it applies). Thread-safety: none.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cluster/raft/raft.hpp"

namespace nca::raft::sim {

class SafetyChecker {
 public:
  Status check_step(const std::vector<const Raft*>& live);
  Status on_apply(NodeId node, const Entry& entry);
  // The node's state machine now starts after `index` (a snapshot install, or a restart from one).
  void on_restore(NodeId node, Index index);

  size_t committed_entries() const { return committed_.size(); }
  size_t leaders_seen() const { return leaders_.size(); }

 private:
  struct Committed {
    Term term = 0;
    std::string data;
    Term observed_term = 0;  // the lowest term at which a node saw it committed
  };
  Status check_log_matching(const Raft& a, const Raft& b) const;
  Status record_commits(const Raft& node);
  Status check_leader_completeness(const Raft& leader);

  std::map<Term, NodeId> leaders_;
  std::map<Index, Committed> committed_;
  std::map<NodeId, Index> recorded_commit_;
  std::map<std::pair<NodeId, Term>, Index> leader_checked_;  // (leader, term) -> index checked
  std::map<Index, std::pair<Term, std::string>> applied_;
  // A summary of each node's log (bounds, commit, a hash of every entry's term) at the last check:
  // pairs whose logs both kept their summary are not compared again (the comparison copies the
  // logs and dominated the simulator's time).
  std::map<NodeId, std::vector<uint64_t>> log_summary_;
  std::map<NodeId, Index> last_applied_;
};

}  // namespace nca::raft::sim
