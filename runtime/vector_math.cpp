#include "runtime/vector_math.hpp"

#include <cmath>
#include <string>

namespace nca {

double l2_norm(const float* v, size_t n) {
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += static_cast<double>(v[i]) * v[i];
  return std::sqrt(sum);
}

void l2_normalize(float* v, size_t n) {
  const double norm = l2_norm(v, n);
  // A zero (or non-finite) norm has no direction: leave the values as they are.
  if (!(norm > 0.0) || !std::isfinite(norm)) return;
  const double inv = 1.0 / norm;
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(v[i] * inv);
}

void l2_normalize(std::vector<float>& v) { l2_normalize(v.data(), v.size()); }

float dot(const float* a, const float* b, size_t n) {
  // Four independent accumulators let the compiler vectorise without -ffast-math reassociation.
  float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

Status validate_embedding(const std::vector<float>& v, size_t dim, std::string_view what) {
  return validate_embedding(v.data(), v.size(), dim, what);
}

Status validate_embedding(const float* v, size_t n, size_t dim, std::string_view what) {
  const std::string name(what);
  if (n != dim) {
    return make_error(ErrorCode::invalid_argument, name + " has " + std::to_string(n) +
                                                       " values; this node's memory.dim is " +
                                                       std::to_string(dim));
  }
  bool all_zero = true;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(v[i])) {
      return make_error(ErrorCode::invalid_argument, name + " has NaN at position " +
                                                         std::to_string(i) +
                                                         "; every value must be a finite number");
    }
    if (std::isinf(v[i])) {
      return make_error(ErrorCode::invalid_argument, name + " has an infinite value at position " +
                                                         std::to_string(i) +
                                                         "; every value must be a finite number");
    }
    if (v[i] != 0.f) all_zero = false;
  }
  if (all_zero) {
    return make_error(ErrorCode::invalid_argument,
                      name +
                          " is all zeros; it has no direction to compare (send a real "
                          "embedding, or omit it to let the node embed the content)");
  }
  return Status();
}

}  // namespace nca
