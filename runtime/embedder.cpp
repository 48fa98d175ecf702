#include "runtime/embedder.hpp"

#include "runtime/hashing_embedder.hpp"
#include "runtime/http_embedder.hpp"

namespace nca {

Embedder::~Embedder() = default;

namespace {

// Far beyond any real model (the largest common ones use 4096); keeps a typo from allocating
// gigabytes.
constexpr size_t kMaxDim = 65536;

}  // namespace

Result<std::unique_ptr<Embedder>> make_embedder(const EmbedderOptions& options) {
  if (options.dim == 0 || options.dim > kMaxDim) {
    return make_error(ErrorCode::invalid_argument, "embedder dim must be between 1 and " +
                                                       std::to_string(kMaxDim) + ", got " +
                                                       std::to_string(options.dim));
  }
  if (options.kind == "hashing") {
    return std::unique_ptr<Embedder>(std::make_unique<HashingEmbedder>(options.dim));
  }
  if (options.kind == "http") {
    auto http = HttpEmbedder::create(options);
    if (!http.ok()) return http.error();
    return std::unique_ptr<Embedder>(std::move(http).value());
  }
  return make_error(ErrorCode::invalid_argument,
                    "unknown embedder kind '" + options.kind + "'; use hashing or http");
}

}  // namespace nca
