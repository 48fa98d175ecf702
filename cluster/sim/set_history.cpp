#include "cluster/sim/set_history.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

namespace nca::raft::sim {
namespace {

struct Read {
  const SetOperation* op;
  std::set<std::string> seen;
};

std::string describe(const SetOperation& op) {
  return "read by client " + std::to_string(op.client) + " [" + std::to_string(op.call) + ", " +
         std::to_string(op.ret) + "] saw " + std::to_string(op.elements.size()) + " elements";
}

}  // namespace

SetHistoryReport check_grow_only_sets(const std::vector<SetOperation>& history) {
  SetHistoryReport report;
  std::map<std::string, std::unordered_map<std::string, const SetOperation*>> adds;
  std::map<std::string, std::vector<Read>> reads;
  for (const auto& op : history) {
    if (op.kind == SetOperation::Kind::add) {
      adds[op.set][op.element] = &op;
    } else if (op.completed) {
      reads[op.set].push_back(
          Read{&op, std::set<std::string>(op.elements.begin(), op.elements.end())});
    }
  }
  auto fail = [&](const std::string& set, std::string why) {
    report.ok = false;
    report.set = set;
    report.explanation = std::move(why);
    return report;
  };
  for (auto& [set, rs] : reads) {
    report.reads += rs.size();
    const auto& a = adds[set];
    for (const Read& r : rs) {
      for (const auto& e : r.seen) {
        auto it = a.find(e);
        if (it == a.end() || it->second->call > r.op->ret) {
          return fail(set, describe(*r.op) + ", among them '" + e +
                               "', which no add had been invoked for by then");
        }
      }
      for (const auto& [e, add] : a) {
        if (add->completed && add->ret < r.op->call && r.seen.count(e) == 0) {
          return fail(set, describe(*r.op) + ", without '" + e + "', whose add completed at " +
                               std::to_string(add->ret) + ", before the read began");
        }
      }
    }
    std::vector<const Read*> by_size;
    for (const Read& r : rs) by_size.push_back(&r);
    std::sort(by_size.begin(), by_size.end(),
              [](const Read* x, const Read* y) { return x->seen.size() < y->seen.size(); });
    for (size_t i = 1; i < by_size.size(); ++i) {
      const auto& small = by_size[i - 1]->seen;
      const auto& big = by_size[i]->seen;
      if (!std::includes(big.begin(), big.end(), small.begin(), small.end())) {
        return fail(set, "two reads disagree: " + describe(*by_size[i - 1]->op) + " and " +
                             describe(*by_size[i]->op) + " each saw an element the other did not");
      }
    }
    for (const Read& x : rs) {
      for (const Read& y : rs) {
        if (x.op->ret < y.op->call && x.seen.size() > y.seen.size()) {
          return fail(set, "a read went back: " + describe(*x.op) + ", then " + describe(*y.op));
        }
      }
    }
  }
  return report;
}

}  // namespace nca::raft::sim
