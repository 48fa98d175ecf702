#include "runtime/tubule_graph.hpp"

#include <algorithm>
#include <cmath>

namespace nca {

TubuleGraph::Key TubuleGraph::key_of(const std::string& a, const std::string& b) {
  return a < b ? Key{a, b} : Key{b, a};
}

size_t TubuleGraph::degree(const std::string& id) const {
  auto it = adjacency_.find(id);
  return it == adjacency_.end() ? 0 : it->second.size();
}

const Tubule* TubuleGraph::find(const std::string& a, const std::string& b) const {
  auto it = tubules_.find(key_of(a, b));
  return it == tubules_.end() ? nullptr : &it->second;
}

std::vector<Tubule> TubuleGraph::all() const {
  std::vector<Tubule> out;
  out.reserve(tubules_.size());
  for (const auto& kv : tubules_) out.push_back(kv.second);
  return out;
}

double TubuleGraph::strength_at(const Tubule& t, TimeUs now) const {
  if (t.consolidated(p_.consolidate_at)) return t.strength;
  double hours = static_cast<double>(std::max<TimeUs>(0, now - t.last_activated_us)) / kUsPerHour;
  return std::clamp(t.strength * std::exp(-p_.decay_per_hour * hours), 0.0, 1.0);
}

Status TubuleGraph::check_pair(const std::string& a, const std::string& b) const {
  if (a.empty() || b.empty()) {
    return make_error(ErrorCode::invalid_argument, "a tubule needs two non-empty item ids");
  }
  if (a == b) {
    return make_error(ErrorCode::invalid_argument, "an item cannot be linked to itself: " + a);
  }
  return Status{};
}

void TubuleGraph::insert(Tubule t) {
  Key k = key_of(t.a, t.b);
  t.a = k.first;
  t.b = k.second;
  adjacency_[k.first].insert(k.second);
  adjacency_[k.second].insert(k.first);
  tubules_[k] = std::move(t);
}

void TubuleGraph::erase(const Key& k, Changes* changes) {
  auto it = tubules_.find(k);
  if (it == tubules_.end()) return;
  (*changes)[k] = TubuleChange{it->second, true};
  for (const auto& [from, to] : {std::pair{k.first, k.second}, std::pair{k.second, k.first}}) {
    auto adj = adjacency_.find(from);
    if (adj == adjacency_.end()) continue;
    adj->second.erase(to);
    if (adj->second.empty()) adjacency_.erase(adj);
  }
  tubules_.erase(it);
}

void TubuleGraph::enforce_cap(const std::string& id, TimeUs now, Changes* changes) {
  // Bounded: each pass removes one tubule of `id`.
  while (degree(id) > p_.max_per_item) {
    const auto& others = adjacency_.at(id);
    const Tubule* weakest = nullptr;
    double weakest_s = 0;
    for (const auto& other : others) {
      const Tubule& t = tubules_.at(key_of(id, other));
      double s = strength_at(t, now);
      // Ties go to the least recently activated, then the lowest key, so eviction is deterministic.
      if (weakest == nullptr || s < weakest_s ||
          (s == weakest_s && (t.last_activated_us < weakest->last_activated_us ||
                              (t.last_activated_us == weakest->last_activated_us &&
                               key_of(t.a, t.b) < key_of(weakest->a, weakest->b))))) {
        weakest = &t;
        weakest_s = s;
      }
    }
    erase(key_of(weakest->a, weakest->b), changes);
  }
}

std::vector<TubuleChange> TubuleGraph::flatten(const Changes& changes) {
  std::vector<TubuleChange> out;
  out.reserve(changes.size());
  for (const auto& kv : changes) out.push_back(kv.second);
  return out;
}

Status TubuleGraph::restore(Tubule t) {
  if (auto s = check_pair(t.a, t.b); !s.ok()) return s;
  if (!(t.strength >= 0 && t.strength <= 1)) {
    return make_error(ErrorCode::invalid_argument, "tubule strength must be in [0, 1]");
  }
  insert(std::move(t));
  return Status{};
}

Result<std::vector<TubuleChange>> TubuleGraph::link(const std::string& a, const std::string& b,
                                                    double strength, TimeUs now) {
  if (auto s = check_pair(a, b); !s.ok()) return s.error();
  if (!(strength >= 0 && strength <= 1)) {
    return make_error(ErrorCode::invalid_argument, "tubule strength must be in [0, 1]");
  }
  Key k = key_of(a, b);
  Tubule t;
  auto it = tubules_.find(k);
  if (it != tubules_.end()) {
    t = it->second;
    strength = std::max(strength, strength_at(t, now));
  }
  t.a = k.first;
  t.b = k.second;
  t.strength = strength;
  t.last_activated_us = std::max(now, t.last_activated_us);
  t.activations += 1;
  Changes changes;
  insert(t);
  changes[k] = TubuleChange{t, false};
  enforce_cap(k.first, now, &changes);
  enforce_cap(k.second, now, &changes);
  return flatten(changes);
}

std::vector<TubuleChange> TubuleGraph::hebbian(const std::vector<std::string>& co_retrieved,
                                               TimeUs now) {
  std::vector<std::string> ids;
  for (const auto& id : co_retrieved) {
    if (!id.empty()) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  Changes changes;
  for (size_t i = 0; i < ids.size(); ++i) {
    for (size_t j = i + 1; j < ids.size(); ++j) {
      Key k{ids[i], ids[j]};
      Tubule t;
      double s = 0;
      auto it = tubules_.find(k);
      if (it != tubules_.end()) {
        t = it->second;
        s = strength_at(t, now);
      }
      t.a = k.first;
      t.b = k.second;
      t.strength = std::clamp(s + p_.hebbian_rate * (1.0 - s), 0.0, 1.0);
      t.last_activated_us = std::max(now, t.last_activated_us);
      t.activations += 1;
      insert(t);
      changes[k] = TubuleChange{t, false};
    }
  }
  // Caps apply after all pairs so the result does not depend on the order pairs were visited.
  for (const auto& id : ids) enforce_cap(id, now, &changes);
  return flatten(changes);
}

std::vector<TubuleChange> TubuleGraph::unlink(const std::string& a, const std::string& b) {
  Changes changes;
  erase(key_of(a, b), &changes);
  return flatten(changes);
}

std::vector<TubuleNeighbour> TubuleGraph::neighbours(const std::string& id, TimeUs now) const {
  std::vector<TubuleNeighbour> out;
  auto adj = adjacency_.find(id);
  if (adj == adjacency_.end()) return out;
  for (const auto& other : adj->second) {
    out.push_back({other, strength_at(tubules_.at(key_of(id, other)), now)});
  }
  std::sort(out.begin(), out.end(), [](const TubuleNeighbour& x, const TubuleNeighbour& y) {
    return x.strength != y.strength ? x.strength > y.strength : x.id < y.id;
  });
  return out;
}

std::vector<TubuleChange> TubuleGraph::remove_item(const std::string& id) {
  Changes changes;
  auto adj = adjacency_.find(id);
  if (adj == adjacency_.end()) return {};
  std::vector<std::string> others(adj->second.begin(), adj->second.end());
  for (const auto& other : others) erase(key_of(id, other), &changes);
  return flatten(changes);
}

Result<std::vector<TubuleChange>> TubuleGraph::merge_into(const std::string& keep,
                                                          const std::string& gone, TimeUs now) {
  if (auto s = check_pair(keep, gone); !s.ok()) return s.error();
  Changes changes;
  auto adj = adjacency_.find(gone);
  if (adj == adjacency_.end()) return std::vector<TubuleChange>{};
  std::vector<std::string> others(adj->second.begin(), adj->second.end());
  std::vector<std::string> touched{keep};
  for (const auto& other : others) {
    Tubule old = tubules_.at(key_of(gone, other));
    erase(key_of(gone, other), &changes);
    if (other == keep) continue;
    Key k = key_of(keep, other);
    Tubule t;
    double s = strength_at(old, now);
    TimeUs last = old.last_activated_us;
    auto it = tubules_.find(k);
    if (it != tubules_.end()) {
      t = it->second;
      double existing = strength_at(t, now);
      if (existing >= s) {
        s = existing;
        last = t.last_activated_us;
      }
    }
    // The stronger link keeps its own stamp: merging is not an activation, so it must not reset
    // decay. A decayed value is restamped at now so strength_at stays exact.
    t.a = k.first;
    t.b = k.second;
    bool frozen = s >= p_.consolidate_at;
    t.strength = s;
    t.last_activated_us = frozen ? last : std::max(now, last);
    t.activations += old.activations;
    insert(t);
    changes[k] = TubuleChange{t, false};
    touched.push_back(other);
  }
  for (const auto& id : touched) enforce_cap(id, now, &changes);
  return flatten(changes);
}

std::vector<TubuleChange> TubuleGraph::prune(TimeUs now) {
  std::vector<Key> weak;
  for (const auto& [k, t] : tubules_) {
    if (strength_at(t, now) < p_.prune_below) weak.push_back(k);
  }
  Changes changes;
  for (const auto& k : weak) erase(k, &changes);
  return flatten(changes);
}

std::vector<SpreadActivation> TubuleGraph::spread(
    const std::vector<std::pair<std::string, double>>& hits, TimeUs now, bool to_hits) const {
  std::set<std::string> hit_ids;
  for (const auto& h : hits) hit_ids.insert(h.first);
  struct Received {
    double total = 0;
    double best = -1;
    std::string source;
  };
  std::map<std::string, Received> received;
  for (const auto& [hit, score] : hits) {
    if (!std::isfinite(score)) continue;
    auto adj = adjacency_.find(hit);
    if (adj == adjacency_.end()) continue;
    for (const auto& other : adj->second) {
      if (!to_hits && hit_ids.count(other) != 0) continue;
      double s = strength_at(tubules_.at(key_of(hit, other)), now);
      if (s < p_.spread_min) continue;
      double given = score * s * p_.spread_factor;
      Received& r = received[other];
      r.total += given;
      if (given > r.best || (given == r.best && hit < r.source)) {
        r.best = given;
        r.source = hit;
      }
    }
  }
  std::vector<SpreadActivation> out;
  for (auto& [id, r] : received) out.push_back({id, r.total, r.source});
  std::sort(out.begin(), out.end(), [](const SpreadActivation& x, const SpreadActivation& y) {
    return x.activation != y.activation ? x.activation > y.activation : x.id < y.id;
  });
  return out;
}

}  // namespace nca
