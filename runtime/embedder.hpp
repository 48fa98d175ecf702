// runtime/embedder.hpp: turns texts into embeddings.
//
// An Embedder maps each text to a float vector of dim() values, L2-normalised, so that the inner
// product of two results is their cosine similarity. Two embedders with the same name() and dim()
// produce comparable vectors; an index built with one must be rebuilt when either changes.
//
// Implementations must be safe to call from several threads at once. is_blocking() tells callers
// whether embed() may wait on I/O: a blocking embedder is run off the actor threads.
//
// A text with no words (empty or only punctuation) may embed to the zero vector; callers that store
// or search with the result validate it (validate_embedding in runtime/vector_math.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nca/result.hpp"

namespace nca {

class Embedder {
 public:
  virtual ~Embedder();
  virtual size_t dim() const = 0;
  // Identifies the vector space, e.g. "hashing-v1" or "http:nomic-embed-text".
  virtual std::string name() const = 0;
  // True when embed() may block on I/O (callers then run it off the actor threads).
  virtual bool is_blocking() const = 0;
  // One L2-normalised vector per text, in the order of `texts`.
  virtual Result<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts) = 0;
};

struct EmbedderOptions {
  std::string kind = "hashing";  // "hashing" (offline, deterministic) or "http" (OpenAI-compatible)
  size_t dim = 384;
  std::string url;      // http: base URL (http://host:port) or the full .../v1/embeddings URL
  std::string model;    // http: the "model" field of the request; omitted when empty
  std::string api_key;  // http: sent as "Authorization: Bearer <key>" when not empty
  int64_t timeout_us = 10'000'000;  // http: connect, read and write timeout of each request
  int retries = 3;                  // http: extra attempts on connection errors, 429 and 5xx
  size_t batch_size = 64;           // http: texts per request
};

// invalid_argument (naming the option) for an unknown kind, dim 0, an http embedder without a URL,
// or a timeout, retry count or batch size out of range.
Result<std::unique_ptr<Embedder>> make_embedder(const EmbedderOptions& options);

}  // namespace nca
