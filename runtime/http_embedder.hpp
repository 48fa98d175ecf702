// runtime/http_embedder.hpp: embeddings from an OpenAI-compatible HTTP endpoint.
//
// HttpEmbedder posts {"model": ..., "input": [texts...]} to `{url}/v1/embeddings` (llama.cpp,
// Ollama, vLLM, TEI and OpenAI all speak it) and reads {"data": [{"index": i, "embedding": [...]},
// ...]}, ordering results by index. Texts go in batches of batch_size; each request has connect,
// read and write timeouts of timeout_us. Connection failures, 429 and 5xx are retried up to
// `retries` times with exponential backoff (50 ms doubling, at most 1 s per wait). Results are
// checked (count, indices, dimension, finite values) and L2-normalised.
//
// Errors name the endpoint and what was wrong: unavailable (unreachable, or still 429/5xx after the
// retries), deadline_exceeded (no answer within timeout_us; not retried, so a hung server costs one
// timeout), invalid_argument (the server rejected the request with a 4xx, or its vectors have
// another dimension than the node's), unauthenticated / permission_denied (401 / 403), internal
// (malformed JSON, missing or duplicate items, non-finite values).
//
// Thread-safe: each embed() call uses its own client, one connection per batch. embed() blocks for
// I/O (is_blocking() is true): run it off the actor threads.
#pragma once

#include <memory>

#include "runtime/embedder.hpp"

namespace nca {

class HttpEmbedder final : public Embedder {
 public:
  // invalid_argument for a URL that is not http(s)://host[:port][/path], dim 0, batch_size 0,
  // negative retries or a timeout that is not positive.
  static Result<std::unique_ptr<HttpEmbedder>> create(const EmbedderOptions& options);

  size_t dim() const override { return options_.dim; }
  std::string name() const override;
  bool is_blocking() const override { return true; }
  Result<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts) override;

  // The full URL requests go to, e.g. "http://127.0.0.1:8080/v1/embeddings".
  std::string endpoint() const { return origin_ + path_; }

 private:
  HttpEmbedder(EmbedderOptions options, std::string origin, std::string path);
  // embed() without the catch-all that turns an unexpected exception into an error.
  Result<std::vector<std::vector<float>>> embed_unguarded(const std::vector<std::string>& texts);

  EmbedderOptions options_;
  std::string origin_;  // scheme://host[:port]
  std::string path_;    // /.../v1/embeddings
};

}  // namespace nca
