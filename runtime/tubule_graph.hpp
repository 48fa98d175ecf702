// runtime/tubule_graph.hpp: the neural tubules of one persona (DESIGN §2): weighted undirected
// links between item ids that form through sessions, co-retrieval (Hebbian) and explicit calls,
// decay unless consolidated, and carry spreading activation during recall.
//
// Strength is stored as (strength, last_activated) and decayed lazily: s(t) = s·exp(−decay·hours)
// unless the stored strength is at or above consolidate_at, which freezes it. Every mutation
// returns the tubules it changed or removed (one entry per tubule, its final state, sorted by (a,
// b)) so the caller can persist exactly those; the graph itself never touches storage. Outputs are
// sorted, so runs are deterministic. TubuleGraph is not thread-safe: one owner (the persona's
// actor) uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nca/result.hpp"
#include "runtime/clock.hpp"

namespace nca {

struct TubuleParams {
  double session_strength = 0.3;  // strength of a link to the previous item of the same session
  double hebbian_rate = 0.1;      // s ← s + rate·(1 − s) for items recalled together
  double decay_per_hour = 0.01;
  double consolidate_at = 0.7;  // at or above: no decay
  double prune_below = 0.05;
  size_t max_per_item = 50;
  double spread_min = 0.2;  // tubules weaker than this carry no activation
  double spread_factor = 0.5;
};

// One undirected link; a < b always.
struct Tubule {
  std::string a, b;
  double strength = 0;  // the value at last_activated_us
  TimeUs last_activated_us = 0;
  uint64_t activations = 0;

  bool consolidated(double consolidate_at = TubuleParams{}.consolidate_at) const {
    return strength >= consolidate_at;
  }
};

struct TubuleChange {
  Tubule tubule;
  bool removed = false;
};

struct TubuleNeighbour {
  std::string id;
  double strength = 0;  // decayed to the time asked
};

// An item reached by spreading activation: what it received in total and the hit that gave the
// most.
struct SpreadActivation {
  std::string id;
  double activation = 0;
  std::string source;
};

class TubuleGraph {
 public:
  explicit TubuleGraph(TubuleParams params = {}) : p_(params) {}

  const TubuleParams& params() const { return p_; }
  size_t size() const { return tubules_.size(); }
  // Number of tubules touching `id`.
  size_t degree(const std::string& id) const;
  // The tubule between a and b (either order), or null.
  const Tubule* find(const std::string& a, const std::string& b) const;
  // Every tubule, sorted by (a, b): what a caller saves or compares.
  std::vector<Tubule> all() const;

  // Strength at `now`: decayed since last activation unless consolidated; times before it are no
  // time.
  double strength_at(const Tubule& t, TimeUs now) const;

  // Installs a tubule as stored (on load): no decay, no cap. Rejects self-links, empty ids and
  // strengths outside [0, 1].
  Status restore(Tubule t);

  // Explicit or session link: the strength becomes max(current decayed, strength), stamped now.
  Result<std::vector<TubuleChange>> link(const std::string& a, const std::string& b,
                                         double strength, TimeUs now);
  // A link to the previous item of the same session, at params().session_strength.
  Result<std::vector<TubuleChange>> link_session(const std::string& previous,
                                                 const std::string& current, TimeUs now) {
    return link(previous, current, p_.session_strength, now);
  }
  // Hebbian update for every pair of items returned together: s ← s + rate·(1 − s) on the decayed
  // value (a new pair starts from 0). Empty and repeated ids are ignored.
  std::vector<TubuleChange> hebbian(const std::vector<std::string>& co_retrieved, TimeUs now);
  // Removes the link; nothing when absent.
  std::vector<TubuleChange> unlink(const std::string& a, const std::string& b);
  // Neighbours with decayed strengths, strongest first (ties: id).
  std::vector<TubuleNeighbour> neighbours(const std::string& id, TimeUs now) const;
  // Drops every link of `id` (the item was forgotten or deleted).
  std::vector<TubuleChange> remove_item(const std::string& id);
  // `keep` absorbs `gone`'s tubules (after a merge): on overlap the stronger decayed value wins and
  // activations add up; a link between the two disappears. The cap applies to every item touched.
  Result<std::vector<TubuleChange>> merge_into(const std::string& keep, const std::string& gone,
                                               TimeUs now);
  // Removes tubules whose decayed strength is below prune_below.
  std::vector<TubuleChange> prune(TimeUs now);
  // One-hop spreading activation: each hit passes score·strength·spread_factor to each neighbour
  // linked at strength ≥ spread_min. Items among the hits receive nothing. Sorted by activation
  // (desc), then id.
  // `to_hits`: hits also receive activation from other hits (measured better on LoCoMo: related
  // evidence ranked together rises together).
  std::vector<SpreadActivation> spread(const std::vector<std::pair<std::string, double>>& hits,
                                       TimeUs now, bool to_hits = false) const;

 private:
  using Key = std::pair<std::string, std::string>;
  using Changes = std::map<Key, TubuleChange>;

  static Key key_of(const std::string& a, const std::string& b);
  Status check_pair(const std::string& a, const std::string& b) const;
  void insert(Tubule t);
  void erase(const Key& k, Changes* changes);
  void enforce_cap(const std::string& id, TimeUs now, Changes* changes);
  static std::vector<TubuleChange> flatten(const Changes& changes);

  TubuleParams p_;
  std::map<Key, Tubule> tubules_;
  std::unordered_map<std::string, std::set<std::string>> adjacency_;
};

}  // namespace nca
