// runtime/vector_math.hpp: the few vector operations every embedding path shares.
//
// Embeddings are float32 vectors, L2-normalised so that the inner product is the cosine similarity.
// These are pure functions: no state, safe from any thread. validate_embedding() is the one rule
// for an embedding that enters the runtime (from a client or an embedder): it must have exactly the
// node's dimension, only finite values, and not be all zeros (a zero vector has no direction to
// compare).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "nca/result.hpp"

namespace nca {

// Scales `v` to unit length in place. A zero vector stays zero (there is no direction to keep).
void l2_normalize(std::vector<float>& v);

// Same, over a raw buffer of `n` floats.
void l2_normalize(float* v, size_t n);

// Inner product of two buffers of `n` floats (for normalised vectors, the cosine similarity).
float dot(const float* a, const float* b, size_t n);

// Euclidean length of `n` floats, accumulated in double so long vectors keep precision.
double l2_norm(const float* v, size_t n);

// invalid_argument unless `v` has `dim` values, all finite, not all zero. `what` names the vector
// in the message ("embedding", "query embedding", ...), e.g. "embedding has 12 values; this node's
// memory.dim is 384".
Status validate_embedding(const std::vector<float>& v, size_t dim, std::string_view what);
// The same for `n` floats at `v` (no copy).
Status validate_embedding(const float* v, size_t n, size_t dim, std::string_view what);

}  // namespace nca
