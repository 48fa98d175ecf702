#include "runtime/recall_ranker.hpp"

#include <algorithm>
#include <unordered_map>

namespace nca {

std::vector<RankedHit> fuse(const std::vector<ScoredId>& vector_list,
                            const std::vector<ScoredId>& lexical_list, RankMode mode,
                            const RankParams& params,
                            const std::function<std::optional<double>(const std::string&)>& health_of) {
  bool use_vector = mode != RankMode::lexical;
  bool use_lexical = mode != RankMode::vector;
  double wv = use_vector ? params.vector_weight : 0.0;
  double wl = use_lexical ? params.lexical_weight : 0.0;
  double best = (wv + wl) / (params.rrf_k + 1.0);
  std::unordered_map<std::string, size_t> index;
  std::vector<RankedHit> out;
  auto entry = [&](const std::string& id) -> RankedHit& {
    auto [it, inserted] = index.try_emplace(id, out.size());
    if (inserted) {
      out.emplace_back();
      out.back().id = id;
    }
    return out[it->second];
  };
  if (use_vector) {
    for (size_t i = 0; i < vector_list.size(); ++i) {
      RankedHit& h = entry(vector_list[i].id);
      if (h.vector_rank != 0) continue;
      h.vector_rank = static_cast<uint32_t>(i + 1);
      h.similarity = vector_list[i].score;
      h.fused += wv / (params.rrf_k + static_cast<double>(i + 1));
    }
  }
  if (use_lexical) {
    for (size_t i = 0; i < lexical_list.size(); ++i) {
      RankedHit& h = entry(lexical_list[i].id);
      if (h.lexical_rank != 0) continue;
      h.lexical_rank = static_cast<uint32_t>(i + 1);
      h.fused += wl / (params.rrf_k + static_cast<double>(i + 1));
    }
  }
  std::vector<RankedHit> kept;
  kept.reserve(out.size());
  for (auto& h : out) {
    auto health = health_of(h.id);
    if (!health) continue;
    h.health = *health;
    if (best > 0) h.fused /= best;
    h.score = h.fused * (1.0 - params.health_weight + params.health_weight * h.health / 100.0);
    kept.push_back(std::move(h));
  }
  return kept;
}

void add_spread(std::vector<RankedHit>& ranked, const std::vector<SpreadHit>& reached,
                const std::function<std::optional<double>(const std::string&)>& health_of) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < ranked.size(); ++i) index.emplace(ranked[i].id, i);
  for (const auto& r : reached) {
    if (r.activation <= 0) continue;
    auto it = index.find(r.id);
    if (it != index.end()) {
      ranked[it->second].activation += r.activation;
      ranked[it->second].score += r.activation;
      continue;
    }
    auto health = health_of(r.id);
    if (!health) continue;
    RankedHit h;
    h.id = r.id;
    h.health = *health;
    h.activation = r.activation;
    h.score = r.activation;
    h.via = r.source;
    index.emplace(h.id, ranked.size());
    ranked.push_back(std::move(h));
  }
}

void sort_and_truncate(std::vector<RankedHit>& ranked, size_t k) {
  std::sort(ranked.begin(), ranked.end(), [](const RankedHit& a, const RankedHit& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.id < b.id;
  });
  if (ranked.size() > k) ranked.resize(k);
}

}  // namespace nca
