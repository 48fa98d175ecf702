#include "runtime/http_embedder.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/hashing_embedder.hpp"
#include "runtime/httplib.hpp"
#include "runtime/vector_math.hpp"

namespace nca {
namespace {

using json = nlohmann::json;

constexpr size_t kDim = 16;

// What the fake server does with the next requests.
enum class Mode { normal, wrong_dim, malformed, hang, missing_item, duplicate_index, huge_value };

// An OpenAI-compatible /v1/embeddings endpoint on 127.0.0.1 (an OS-chosen port) in a thread. It
// embeds with the hashing embedder, scales the vectors by 3 (the client must normalise) and lists
// them in reverse order with their indices (the client must reorder).
class FakeEmbeddingServer {
 public:
  FakeEmbeddingServer() {
    server_.Post("/v1/embeddings",
                 [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() only works once the accept loop runs; wait for it with a deadline.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  }

  ~FakeEmbeddingServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    release_cv_.notify_all();
    server_.stop();
    thread_.join();
  }

  bool running() const { return port_ > 0 && server_.is_running(); }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void set_mode(Mode mode) {
    std::lock_guard<std::mutex> lock(mu_);
    mode_ = mode;
  }
  // The next `count` requests get `status` with a small error body.
  void fail_next(int count, int status) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_count_ = count;
    fail_status_ = status;
  }
  int requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<size_t> batch_sizes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_sizes_;
  }
  std::string last_authorization() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_authorization_;
  }
  bool last_had_authorization() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_had_authorization_;
  }
  json last_request() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mu_);
    ++requests_;
    last_had_authorization_ = req.has_header("Authorization");
    last_authorization_ = req.get_header_value("Authorization");
    last_request_ = json::parse(req.body, nullptr, false);
    if (fail_count_ > 0) {
      --fail_count_;
      res.status = fail_status_;
      res.set_content("{\"error\":\"try later\"}", "application/json");
      return;
    }
    if (mode_ == Mode::hang) {
      // Held until the fixture is torn down: the client must give up on its own timeout.
      release_cv_.wait(lock, [this] { return released_; });
      res.status = 500;
      return;
    }
    if (mode_ == Mode::malformed) {
      res.set_content("{\"data\": [ {\"index\": 0, \"embedding\": [0.1, ", "application/json");
      return;
    }
    const json& input = last_request_["input"];
    batch_sizes_.push_back(input.size());
    const size_t dim = mode_ == Mode::wrong_dim ? kDim + 1 : kDim;
    HashingEmbedder model(dim);
    json data = json::array();
    for (size_t i = input.size(); i-- > 0;) {
      std::vector<float> v = model.embed_one(input[i].get<std::string>());
      json embedding = json::array();
      for (float x : v) embedding.push_back(3.0 * x);
      if (mode_ == Mode::huge_value) embedding[0] = 1e39;
      const size_t index = (mode_ == Mode::duplicate_index) ? 0 : i;
      data.push_back({{"object", "embedding"}, {"index", index}, {"embedding", embedding}});
    }
    if (mode_ == Mode::missing_item && !data.empty()) data.erase(data.begin());
    res.set_content(json{{"object", "list"}, {"data", data}}.dump(), "application/json");
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  mutable std::mutex mu_;
  std::condition_variable release_cv_;
  bool released_ = false;
  Mode mode_ = Mode::normal;
  int fail_count_ = 0;
  int fail_status_ = 503;
  int requests_ = 0;
  std::vector<size_t> batch_sizes_;
  std::string last_authorization_;
  bool last_had_authorization_ = false;
  json last_request_;
};

class HttpEmbedderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.running()); }

  EmbedderOptions options() const {
    EmbedderOptions o;
    o.kind = "http";
    o.dim = kDim;
    o.url = server_.base_url();
    o.model = "test-model";
    o.timeout_us = 5'000'000;
    o.retries = 3;
    o.batch_size = 3;
    return o;
  }

  std::unique_ptr<HttpEmbedder> make(const EmbedderOptions& o) {
    auto made = HttpEmbedder::create(o);
    EXPECT_TRUE(made.ok()) << made.error().to_string();
    return made.ok() ? std::move(made).value() : nullptr;
  }

  FakeEmbeddingServer server_;
};

std::vector<std::string> numbered_texts(size_t n) {
  std::vector<std::string> texts;
  for (size_t i = 0; i < n; ++i) texts.push_back("memory number " + std::to_string(i) + " about x");
  return texts;
}

TEST_F(HttpEmbedderTest, BatchesRequestsAndOrdersResultsByIndex) {
  auto embedder = make(options());
  ASSERT_NE(embedder, nullptr);
  const auto texts = numbered_texts(10);
  auto out = embedder->embed(texts);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(server_.requests(), 4);  // ceil(10 / 3)
  EXPECT_EQ(server_.batch_sizes(), (std::vector<size_t>{3, 3, 3, 1}));
  EXPECT_EQ(server_.last_request()["model"], "test-model");
  HashingEmbedder reference(kDim);
  ASSERT_EQ(out->size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto expected = reference.embed_one(texts[i]);
    ASSERT_EQ((*out)[i].size(), kDim);
    for (size_t d = 0; d < kDim; ++d) EXPECT_NEAR((*out)[i][d], expected[d], 1e-5) << i;
    EXPECT_NEAR(l2_norm((*out)[i].data(), kDim), 1.0, 1e-5);
  }
  EXPECT_TRUE(embedder->is_blocking());
  EXPECT_EQ(embedder->name(), "http:test-model");
  EXPECT_EQ(embedder->dim(), kDim);
}

TEST_F(HttpEmbedderTest, NoTextsMeansNoRequest) {
  auto embedder = make(options());
  ASSERT_NE(embedder, nullptr);
  auto out = embedder->embed({});
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(HttpEmbedderTest, SendsTheBearerTokenOnlyWhenConfigured) {
  auto plain = make(options());
  ASSERT_TRUE(plain->embed({"hi"}).ok());
  EXPECT_FALSE(server_.last_had_authorization());

  EmbedderOptions o = options();
  o.api_key = "s3cret";
  auto authed = make(o);
  ASSERT_TRUE(authed->embed({"hi"}).ok());
  EXPECT_EQ(server_.last_authorization(), "Bearer s3cret");
}

TEST_F(HttpEmbedderTest, RetriesAfter503And429ThenSucceeds) {
  auto embedder = make(options());
  server_.fail_next(1, 503);
  auto out = embedder->embed({"one", "two"});
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(out->size(), 2u);
  EXPECT_EQ(server_.requests(), 2);

  server_.fail_next(2, 429);
  out = embedder->embed({"three"});
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  EXPECT_EQ(server_.requests(), 5);
}

TEST_F(HttpEmbedderTest, GivesUpAfterTheRetriesAsUnavailable) {
  EmbedderOptions o = options();
  o.retries = 2;
  auto embedder = make(o);
  server_.fail_next(100, 503);
  auto out = embedder->embed({"one"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.code(), ErrorCode::unavailable);
  EXPECT_EQ(server_.requests(), 3);
  EXPECT_NE(out.error().message.find(embedder->endpoint()), std::string::npos);
  EXPECT_NE(out.error().message.find("503"), std::string::npos);
}

TEST_F(HttpEmbedderTest, ClientErrorsAreNotRetried) {
  auto embedder = make(options());
  server_.fail_next(1, 400);
  auto out = embedder->embed({"one"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.code(), ErrorCode::invalid_argument);
  EXPECT_NE(out.error().message.find("try later"), std::string::npos);  // the server's own words
  EXPECT_EQ(server_.requests(), 1);

  server_.fail_next(1, 401);
  out = embedder->embed({"one"});
  EXPECT_EQ(out.code(), ErrorCode::unauthenticated);
  EXPECT_EQ(server_.requests(), 2);
}

TEST_F(HttpEmbedderTest, ASilentServerIsDeadlineExceeded) {
  EmbedderOptions o = options();
  o.timeout_us = 300'000;
  auto embedder = make(o);
  server_.set_mode(Mode::hang);
  auto out = embedder->embed({"one"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.code(), ErrorCode::deadline_exceeded) << out.error().to_string();
  EXPECT_NE(out.error().message.find(embedder->endpoint()), std::string::npos);
  EXPECT_EQ(server_.requests(), 1);  // a timeout is not retried
}

TEST_F(HttpEmbedderTest, WrongDimensionIsInvalidArgument) {
  auto embedder = make(options());
  server_.set_mode(Mode::wrong_dim);
  auto out = embedder->embed({"one"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.code(), ErrorCode::invalid_argument);
  EXPECT_NE(out.error().message.find("dimension 17"), std::string::npos) << out.error().message;
  EXPECT_NE(out.error().message.find("memory.dim is 16"), std::string::npos);
  EXPECT_NE(out.error().message.find(embedder->endpoint()), std::string::npos);
}

TEST_F(HttpEmbedderTest, MalformedJsonIsInternal) {
  auto embedder = make(options());
  server_.set_mode(Mode::malformed);
  auto out = embedder->embed({"one"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.code(), ErrorCode::internal);
  EXPECT_NE(out.error().message.find("malformed JSON"), std::string::npos);
  EXPECT_NE(out.error().message.find(embedder->endpoint()), std::string::npos);
}

TEST_F(HttpEmbedderTest, MissingDuplicateOrNonFiniteItemsAreErrors) {
  auto embedder = make(options());
  server_.set_mode(Mode::missing_item);
  auto out = embedder->embed({"one", "two"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.code(), ErrorCode::internal);
  EXPECT_NE(out.error().message.find("returned 1 embeddings for 2 texts"), std::string::npos);

  server_.set_mode(Mode::duplicate_index);
  out = embedder->embed({"one", "two"});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("twice"), std::string::npos);

  server_.set_mode(Mode::huge_value);
  out = embedder->embed({"one"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.code(), ErrorCode::internal);
  EXPECT_NE(out.error().message.find("non-finite"), std::string::npos);
}

TEST(HttpEmbedderConnectionTest, RefusedConnectionIsUnavailable) {
  // A bound socket that never listens: connecting to its port is refused, and no one else can take
  // the port while the test runs.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);

  EmbedderOptions o;
  o.kind = "http";
  o.dim = kDim;
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.retries = 1;
  o.timeout_us = 2'000'000;
  auto made = make_embedder(o);
  ASSERT_TRUE(made.ok()) << made.error().to_string();
  auto out = (*made)->embed({"one"});
  ::close(fd);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.code(), ErrorCode::unavailable) << out.error().to_string();
  EXPECT_NE(out.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
  EXPECT_NE(out.error().message.find("2 attempts"), std::string::npos);
}

TEST(HttpEmbedderUrlTest, AcceptsBaseV1AndFullEndpoint) {
  EmbedderOptions o;
  o.kind = "http";
  o.dim = kDim;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/embeddings"},
      {"http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1/embeddings"},
      {"http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1/embeddings"},
      {"http://127.0.0.1:8080/v1/embeddings", "http://127.0.0.1:8080/v1/embeddings"},
      {"http://localhost:11434/api/", "http://localhost:11434/api/v1/embeddings"},
      {"https://embed.example:443", "https://embed.example:443/v1/embeddings"},
  };
  for (const auto& [url, endpoint] : cases) {
    o.url = url;
    auto made = HttpEmbedder::create(o);
    ASSERT_TRUE(made.ok()) << url << ": " << made.error().to_string();
    EXPECT_EQ((*made)->endpoint(), endpoint);
  }
  for (const char* bad : {"", "127.0.0.1:8080", "ftp://host", "http://", "http:///v1",
                          "http://host/v1?x=1", "http://ho st"}) {
    o.url = bad;
    auto made = HttpEmbedder::create(o);
    ASSERT_FALSE(made.ok()) << bad;
    EXPECT_EQ(made.code(), ErrorCode::invalid_argument) << bad;
  }
  o.url = "http://127.0.0.1:8080";
  o.batch_size = 0;
  EXPECT_EQ(HttpEmbedder::create(o).code(), ErrorCode::invalid_argument);
  o.batch_size = 8;
  o.timeout_us = 0;
  EXPECT_EQ(HttpEmbedder::create(o).code(), ErrorCode::invalid_argument);
  o.timeout_us = 1000;
  o.retries = -1;
  EXPECT_EQ(HttpEmbedder::create(o).code(), ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace nca
