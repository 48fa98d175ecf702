#include "runtime/http_embedder.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/httplib.hpp"
#include "runtime/vector_math.hpp"

namespace nca {
namespace {

using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{1000};
constexpr size_t kSnippetBytes = 200;
constexpr std::string_view kEmbeddingsPath = "/v1/embeddings";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The start of a response body, printable, for error messages.
std::string snippet(const std::string& body) {
  std::string out = body.substr(0, kSnippetBytes);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (body.size() > kSnippetBytes) out += "...";
  return out;
}

bool retryable_status(int status) { return status == 429 || (status >= 500 && status <= 599); }

}  // namespace

Result<std::unique_ptr<HttpEmbedder>> HttpEmbedder::create(const EmbedderOptions& options) {
  auto bad = [](std::string message) { return make_error(ErrorCode::invalid_argument, message); };
  if (options.dim == 0) return bad("embedder dim must be at least 1");
  if (options.batch_size == 0) return bad("embedder batch-size must be at least 1");
  if (options.retries < 0) return bad("embedder retries must not be negative");
  if (options.timeout_us <= 0) return bad("embedder timeout must be positive");
  const std::string& url = options.url;
  const size_t scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return bad(
        "embedder url must start with http:// or https:// (e.g. http://127.0.0.1:8080), got '" +
        url + "'");
  }
  const size_t path_start = url.find('/', scheme_end + 3);
  std::string origin = url.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "" : url.substr(path_start);
  if (origin.size() <= scheme_end + 3) return bad("embedder url has no host: '" + url + "'");
  if (url.find_first_of(" \t\r\n?#") != std::string::npos) {
    return bad("embedder url must not contain spaces, a query or a fragment: '" + url + "'");
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  // Accept the base (http://h:p), an OpenAI-style base ending in /v1, or the full endpoint.
  if (!ends_with(path, kEmbeddingsPath)) {
    path += ends_with(path, "/v1") ? "/embeddings" : std::string(kEmbeddingsPath);
  }
  {
    httplib::Client probe(origin);
    if (!probe.is_valid()) return bad("embedder url is not usable: '" + url + "'");
  }
  return std::unique_ptr<HttpEmbedder>(
      new HttpEmbedder(options, std::move(origin), std::move(path)));
}

HttpEmbedder::HttpEmbedder(EmbedderOptions options, std::string origin, std::string path)
    : options_(std::move(options)), origin_(std::move(origin)), path_(std::move(path)) {}

std::string HttpEmbedder::name() const {
  return "http:" + (options_.model.empty() ? endpoint() : options_.model);
}

Result<std::vector<std::vector<float>>> HttpEmbedder::embed(const std::vector<std::string>& texts) {
  try {
    return embed_unguarded(texts);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::internal, "embedding via " + endpoint() + " failed: " + e.what());
  }
}

Result<std::vector<std::vector<float>>> HttpEmbedder::embed_unguarded(
    const std::vector<std::string>& texts) {
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  if (texts.empty()) return out;

  const std::string url = endpoint();
  httplib::Client client(origin_);
  const auto timeout = std::chrono::microseconds(options_.timeout_us);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  // A fresh connection per batch: cpp-httplib servers (llama.cpp's among them) leave Nagle on, and
  // a reused connection then stalls each response on the peer's delayed ACK (~40 ms per batch).
  client.set_keep_alive(false);
  client.set_tcp_nodelay(true);
  httplib::Headers headers;
  if (!options_.api_key.empty()) headers.emplace("Authorization", "Bearer " + options_.api_key);

  for (size_t begin = 0; begin < texts.size(); begin += options_.batch_size) {
    const size_t end = std::min(texts.size(), begin + options_.batch_size);
    const size_t n = end - begin;
    json request = json::object();
    if (!options_.model.empty()) request["model"] = options_.model;
    request["input"] = json::array();
    for (size_t i = begin; i < end; ++i) request["input"].push_back(texts[i]);
    // Invalid UTF-8 in a text is replaced rather than thrown: the server embeds what it can read.
    const std::string body = request.dump(-1, ' ', false, json::error_handler_t::replace);

    std::string response_body;
    auto backoff = kFirstBackoff;
    for (int attempt = 0;; ++attempt) {
      const bool last = attempt >= options_.retries;
      const auto started = SteadyClock::now();
      auto res = client.Post(path_, headers, body, "application/json");
      if (!res) {
        const httplib::Error err = res.error();
        const bool timed_out = (err == httplib::Error::Read || err == httplib::Error::Write) &&
                               SteadyClock::now() - started >= timeout * 9 / 10;
        if (timed_out) {
          return make_error(ErrorCode::deadline_exceeded,
                            "embedding server at " + url + " did not answer within " +
                                std::to_string(options_.timeout_us / 1000) + " ms");
        }
        const bool transient = err == httplib::Error::Connection ||
                               err == httplib::Error::ConnectionTimeout ||
                               err == httplib::Error::Read || err == httplib::Error::Write ||
                               err == httplib::Error::SSLConnection;
        if (!transient || last) {
          return make_error(transient ? ErrorCode::unavailable : ErrorCode::internal,
                            "cannot reach embedding server at " + url + ": " +
                                httplib::to_string(err) + " (after " + std::to_string(attempt + 1) +
                                " attempts)");
        }
      } else if (res->status == 200) {
        response_body = std::move(res->body);
        break;
      } else if (!retryable_status(res->status) || last) {
        const int status = res->status;
        const ErrorCode code = retryable_status(status)          ? ErrorCode::unavailable
                               : status == 401                   ? ErrorCode::unauthenticated
                               : status == 403                   ? ErrorCode::permission_denied
                               : (status >= 400 && status < 500) ? ErrorCode::invalid_argument
                                                                 : ErrorCode::internal;
        return make_error(code, "embedding server at " + url + " answered HTTP " +
                                    std::to_string(status) + " (after " +
                                    std::to_string(attempt + 1) +
                                    " attempts): " + snippet(res->body));
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }

    const json parsed = json::parse(response_body, nullptr, /*allow_exceptions=*/false);
    auto bad_response = [&](const std::string& what) {
      return make_error(ErrorCode::internal, "embedding server at " + url + " " + what);
    };
    if (parsed.is_discarded()) {
      return bad_response("returned malformed JSON: " + snippet(response_body));
    }
    const auto data = parsed.is_object() ? parsed.find("data") : parsed.end();
    if (!parsed.is_object() || data == parsed.end() || !data->is_array()) {
      return bad_response("returned no \"data\" array: " + snippet(response_body));
    }
    if (data->size() != n) {
      return bad_response("returned " + std::to_string(data->size()) + " embeddings for " +
                          std::to_string(n) + " texts");
    }
    std::vector<std::vector<float>> batch(n);
    std::vector<bool> filled(n, false);
    for (size_t pos = 0; pos < n; ++pos) {
      const json& item = (*data)[pos];
      if (!item.is_object()) return bad_response("returned a data item that is not an object");
      size_t index = pos;
      if (auto it = item.find("index"); it != item.end()) {
        if (!it->is_number_unsigned() || it->get<uint64_t>() >= n) {
          return bad_response("returned data item index " + it->dump() + " outside 0.." +
                              std::to_string(n - 1));
        }
        index = static_cast<size_t>(it->get<uint64_t>());
      }
      if (filled[index]) {
        return bad_response("returned index " + std::to_string(index) + " twice");
      }
      const auto emb = item.find("embedding");
      if (emb == item.end() || !emb->is_array()) {
        return bad_response("returned data item " + std::to_string(index) +
                            " without an \"embedding\" array");
      }
      if (emb->size() != options_.dim) {
        return make_error(ErrorCode::invalid_argument,
                          "embedding server at " + url + " returned embeddings of dimension " +
                              std::to_string(emb->size()) + "; this node's memory.dim is " +
                              std::to_string(options_.dim) +
                              " (use a model of that dimension, or set memory.dim to match)");
      }
      std::vector<float>& v = batch[index];
      v.resize(options_.dim);
      for (size_t d = 0; d < options_.dim; ++d) {
        const json& x = (*emb)[d];
        if (!x.is_number()) {
          return bad_response("returned a non-number in embedding " + std::to_string(index));
        }
        // Checked in double: a value beyond float's range must not be narrowed (undefined).
        const double value = x.get<double>();
        if (!std::isfinite(value) || std::fabs(value) > std::numeric_limits<float>::max()) {
          return bad_response("returned a non-finite value in embedding " + std::to_string(index));
        }
        v[d] = static_cast<float>(value);
      }
      l2_normalize(v);
      filled[index] = true;
    }
    for (auto& v : batch) out.push_back(std::move(v));
  }
  return out;
}

}  // namespace nca
