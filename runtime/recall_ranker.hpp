// runtime/recall_ranker.hpp: hybrid recall's ranking (DESIGN §2, Recall steps 3–6) as pure functions.
//
// fuse(): reciprocal-rank fusion of the vector and lexical lists (a list absent in the mode counts as
// empty), normalised so the best possible fused score is 1, then blended with health:
//   score = fused · (1 − w + w · health/100).
// add_spread(): one-hop spreading activation results become candidates scored by their activation.
// finish(): best k by score (ties: lower id). Deterministic; no I/O; thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nca {

enum class RankMode { vector, lexical, hybrid };

struct RankParams {
  double rrf_k = 60;
  double vector_weight = 1.0;
  double lexical_weight = 1.0;
  double health_weight = 0.15;
};

struct RankedHit {
  std::string id;
  double score = 0;
  double fused = 0;
  double activation = 0;
  double similarity = 0;
  double health = 0;
  uint32_t vector_rank = 0;   // 1-based; 0: not in the vector list
  uint32_t lexical_rank = 0;  // 1-based; 0: not in the lexical list
  std::string via;            // for items reached only through a tubule: where the activation came from
};

struct ScoredId {
  std::string id;
  double score = 0;  // similarity (vector) or BM25 (lexical)
};

// `health_of(id)` gives the item's health now, or nullopt when the item must not be returned (filtered
// out, gone). Lists are best first.
std::vector<RankedHit> fuse(const std::vector<ScoredId>& vector_list,
                            const std::vector<ScoredId>& lexical_list, RankMode mode,
                            const RankParams& params,
                            const std::function<std::optional<double>(const std::string&)>& health_of);

struct SpreadHit {
  std::string id;
  double activation = 0;
  std::string source;
};

// Adds items reached through tubules that are not already ranked; `health_of` filters them as above.
void add_spread(std::vector<RankedHit>& ranked, const std::vector<SpreadHit>& reached,
                const std::function<std::optional<double>(const std::string&)>& health_of);

void sort_and_truncate(std::vector<RankedHit>& ranked, size_t k);

}  // namespace nca
