// runtime/rank_fusion.cpp: see rank_fusion.hpp.
#include "runtime/rank_fusion.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace nca {

std::vector<Fused> rrf(const std::vector<std::vector<uint64_t>>& lists,
                       const std::vector<double>& weights, double k) {
  if (!std::isfinite(k) || k < 0) k = 60;
  std::vector<Fused> fused;
  std::unordered_map<uint64_t, size_t> slot;  // doc -> index in fused
  for (size_t i = 0; i < lists.size(); ++i) {
    double weight = i < weights.size() ? weights[i] : 1.0;
    if (!std::isfinite(weight) || weight < 0) weight = 0;
    const auto& list = lists[i];
    // Ranks beyond 2^32 - 1 cannot be recorded; no recall list comes near that.
    const size_t n = std::min<size_t>(list.size(), std::numeric_limits<uint32_t>::max());
    for (size_t pos = 0; pos < n; ++pos) {
      auto [it, inserted] = slot.emplace(list[pos], fused.size());
      if (inserted) fused.push_back(Fused{list[pos], 0.0, std::vector<uint32_t>(lists.size(), 0)});
      Fused& f = fused[it->second];
      if (f.ranks[i] != 0) continue;  // repeated within this list: the first rank stands
      const auto rank = static_cast<uint32_t>(pos + 1);
      f.ranks[i] = rank;
      f.score += weight / (k + static_cast<double>(rank));
    }
  }
  std::sort(fused.begin(), fused.end(), [](const Fused& x, const Fused& y) {
    return x.score > y.score || (x.score == y.score && x.doc < y.doc);
  });
  return fused;
}

}  // namespace nca
