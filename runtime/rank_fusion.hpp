// runtime/rank_fusion.hpp: reciprocal-rank fusion, the step of hybrid recall that merges the
// vector and the lexical rankings.
//
// rrf() scores each document found in any list as
//
//   score(d) = sum over lists i containing d of weights[i] / (k + rank_i(d))
//
// with rank_i(d) the 1-based position of d in list i. Only ranks matter, never the lists' own
// scores, which is why fusion needs no calibration between cosine similarities and BM25 scores.
// k = 60 is the constant of Cormack, Clarke and Büttcher (SIGIR 2009): it damps the advantage of
// the very first ranks so that agreement between lists outweighs one list's top pick.
//
// Inputs are taken as they come, never rejected: a document repeated within one list counts at its
// best (first) rank; a list without a weight (weights shorter than lists) has weight 1; a negative
// or non-finite weight counts as 0 (the list's ranks are still recorded); a negative or
// non-finite k is replaced by 60.
//
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <vector>

namespace nca {

struct Fused {
  uint64_t doc;
  double score;
  std::vector<uint32_t> ranks;  // 1-based rank of doc in each input list, 0 where absent
};

// Every document of `lists` (each best first), best fused score first; ties by lower doc id.
std::vector<Fused> rrf(const std::vector<std::vector<uint64_t>>& lists,
                       const std::vector<double>& weights, double k = 60);

}  // namespace nca
