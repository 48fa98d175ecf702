// `nca-bench http`: recall and remember over the HTTP/JSON gateway with keep-alive from loopback
// clients, at several concurrencies, against the same calls through the C++ SDK in the same run.
//
// Order of the run: generate a clustered data set (bench/dataset.hpp); start a node and its HTTP
// gateway in-process (both on port 0, data in a temp directory); seed one persona with --n memories
// through the SDK and wait until its LTM index holds them all; then for each concurrency C of
// --concurrency: recall over HTTP, recall over the SDK; then the same for remember (remember grows
// the index, so every recall cell sees the same --n items).
//
// One cell: C client threads, each with its own connection (an httplib::Client with keep-alive, or
// an nca::Client), each warmed up with a few untimed calls that also check the reply's shape, then
// all calls back to back for --seconds. Recall is a VECTOR search (k 10, LTM, no reinforcement,
// client-supplied query embeddings from a pool); remember stores a new LTM memory with a
// client-supplied embedding. HTTP request bodies are JSON the client builds per call; the timing of
// an HTTP call covers sending it and receiving the whole reply body, not parsing the reply's JSON
// (the SDK's timing includes its protobuf parse, a fraction of a microsecond for these replies).
//
// The gateway holds one worker thread per open connection, so it gets as many threads as the
// largest concurrency (--http-threads 0).
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "actors/node.hpp"
#include "bench/bench_util.hpp"
#include "bench/dataset.hpp"
#include "bench/subcommands.hpp"
#include "config/schema.hpp"
#include "http/http_gateway.hpp"
#include "nca/client.hpp"
#include "runtime/allocator/thread_cache_allocator.hpp"
#include "runtime/httplib.hpp"

namespace nca::bench {
namespace http_bench {
namespace {

namespace po = boost::program_options;

constexpr size_t kK = 10;
constexpr size_t kWarmupCalls = 5;
constexpr size_t kSeedBatch = 500;
constexpr const char* kPersona = "bench-http";
constexpr auto kCallTimeout = std::chrono::seconds(30);

struct HttpBenchOptions {
  size_t n = 10000;
  size_t dim = 384;
  size_t queries = 256;
  std::vector<size_t> concurrency = {1, 4, 16};
  size_t headline = 4;
  double seconds = 2.0;
  size_t max_calls = 1000000;  // per cell, on top of --seconds
  size_t http_threads = 0;     // 0: the largest concurrency
  size_t threads = 0;
  uint64_t seed = 42;
  bool json = false;
};

// One cell: a path (http or sdk) doing one operation at one concurrency.
struct Cell {
  bool ran = false;
  size_t calls = 0;
  double seconds = NAN;
  double per_s = NAN;
  double p50_us = NAN, p99_us = NAN;
};

// Results per operation and path, indexed like options.concurrency.
struct Results {
  std::vector<Cell> http_recall, sdk_recall, http_remember, sdk_remember;
  double seed_per_s = NAN;
  size_t http_threads = 0;
  double load_start = -1, load_end = -1;
};

// ---- options -----------------------------------------------------------------------------------

std::optional<HttpBenchOptions> parse_options(const std::vector<std::string>& args,
                                              int* exit_code) {
  HttpBenchOptions o;
  std::string concurrency = "1,4,16";
  po::options_description desc("nca-bench http options");
  desc.add_options()("help,h", "print this help")("n", po::value<size_t>(&o.n)->default_value(o.n),
                                                  "memories seeded before the recall cells")(
      "dim", po::value<size_t>(&o.dim)->default_value(o.dim), "embedding dimension")(
      "queries", po::value<size_t>(&o.queries)->default_value(o.queries),
      "query embeddings in the pool the clients cycle through")(
      "concurrency", po::value<std::string>(&concurrency)->default_value(concurrency),
      "client thread counts, comma-separated (each thread has its own keep-alive connection)")(
      "headline", po::value<size_t>(&o.headline)->default_value(o.headline),
      "the concurrency of the headline keys and the target (one of --concurrency)")(
      "seconds", po::value<double>(&o.seconds)->default_value(o.seconds),
      "duration of one cell (one path, one operation, one concurrency)")(
      "max-calls", po::value<size_t>(&o.max_calls)->default_value(o.max_calls),
      "calls of one cell, at most")(
      "http-threads", po::value<size_t>(&o.http_threads)->default_value(o.http_threads),
      "the gateway's worker threads (0: the largest concurrency; a connection holds one)")(
      "threads", po::value<size_t>(&o.threads)->default_value(o.threads),
      "scheduler threads of the node (0: one per core)")(
      "seed", po::value<uint64_t>(&o.seed)->default_value(o.seed), "data set seed")(
      "json", po::bool_switch(&o.json), "print one JSON object instead of a table");
  auto vm = parse_subcommand_args("http", desc, args, exit_code);
  if (!vm) return std::nullopt;
  auto bad = [&](const std::string& msg) {
    std::cerr << "nca-bench http: " << msg << "\n";
    *exit_code = 2;
    return std::nullopt;
  };
  if (o.n < kK || o.n > 10000000) return bad("--n must be in 10..10000000");
  if (o.dim < 2 || o.dim > 4096) return bad("--dim must be in 2..4096");
  if (o.queries < 1 || o.queries > 100000) return bad("--queries must be in 1..100000");
  if (!parse_count_list(concurrency, 256, &o.concurrency)) {
    return bad("--concurrency must be up to 16 comma-separated numbers in 1..256, e.g. 1,4,16");
  }
  if ((*vm)["headline"].defaulted() &&
      std::find(o.concurrency.begin(), o.concurrency.end(), o.headline) == o.concurrency.end()) {
    o.headline = *std::max_element(o.concurrency.begin(), o.concurrency.end());
  }
  if (std::find(o.concurrency.begin(), o.concurrency.end(), o.headline) == o.concurrency.end()) {
    return bad("--headline must be one of --concurrency");
  }
  if (!(o.seconds >= 0.05 && o.seconds <= 3600)) return bad("--seconds must be in 0.05..3600");
  if (o.max_calls < 1) return bad("--max-calls must be at least 1");
  if (o.http_threads > 1024) return bad("--http-threads must be in 0..1024");
  if (o.threads > 256) return bad("--threads must be in 0..256");
  return o;
}

// ---- the calls ---------------------------------------------------------------------------------

// What every client needs, built once and read by all threads.
struct Workload {
  Dataset data;
  std::vector<std::string> query_json;      // one search body per query
  std::vector<std::string> embedding_json;  // the queries' embeddings as JSON arrays, for remember
  std::vector<pb::RecallRequest> query_pb;
};

std::string json_floats(const float* v, size_t dim) {
  nlohmann::json a = nlohmann::json::array();
  for (size_t i = 0; i < dim; ++i) a.push_back(v[i]);
  return a.dump();
}

Workload make_workload(const HttpBenchOptions& o) {
  DatasetOptions dopt;
  dopt.n = o.n;
  dopt.queries = o.queries;
  dopt.dim = o.dim;
  dopt.clusters = std::max<size_t>(1, std::min<size_t>(100, o.n / 100));
  dopt.intrinsic_dim = std::min<size_t>(dopt.intrinsic_dim, o.dim);
  dopt.seed = o.seed;
  Workload w;
  w.data = make_clustered_dataset(dopt);
  for (size_t q = 0; q < w.data.query_count(); ++q) {
    std::string emb = json_floats(w.data.query(q), w.data.dim);
    w.query_json.push_back(R"({"query_embedding":)" + emb + R"(,"k":)" + std::to_string(kK) +
                           R"(,"tiers":["LTM"],"mode":"VECTOR","spread":false,)" +
                           R"("no_reinforce":true})");
    w.embedding_json.push_back(std::move(emb));
    pb::RecallRequest r;
    r.set_persona_id(kPersona);
    r.mutable_query_embedding()->Add(w.data.query(q), w.data.query(q) + w.data.dim);
    r.set_k(kK);
    r.add_tiers(pb::LTM);
    r.set_mode(pb::VECTOR);
    r.set_spread(false);
    r.set_no_reinforce(true);
    w.query_pb.push_back(std::move(r));
  }
  return w;
}

enum class Op { recall, remember };

// One client connection making one call at a time; each thread of a cell owns one. `check` asks
// for the reply's content to be verified as well (warm-up calls), not only its status.
class Caller {
 public:
  virtual ~Caller() = default;
  virtual Status call(Op op, size_t seq, bool check) = 0;
};

class HttpCaller : public Caller {
 public:
  HttpCaller(uint16_t port, const Workload& w, size_t thread)
      : cli_("127.0.0.1", port), w_(w), thread_(thread) {
    cli_.set_keep_alive(true);
    // cpp-httplib writes a request's headers and body in separate sends: with Nagle's algorithm on,
    // the body waits for the server's delayed ACK and every call takes 40 ms more.
    cli_.set_tcp_nodelay(true);
    cli_.set_connection_timeout(5);
    cli_.set_read_timeout(kCallTimeout.count());
    cli_.set_write_timeout(kCallTimeout.count());
  }

  Status call(Op op, size_t seq, bool check) override {
    const bool recall = op == Op::recall;
    std::string body;
    if (!recall) {
      body = R"({"content":"http bench memory )" + std::to_string(thread_) + "-" +
             std::to_string(seq) + R"(","tier":"LTM","embedding":)" +
             w_.embedding_json[seq % w_.embedding_json.size()] + "}";
    }
    static const std::string kSearch = std::string("/v1/personas/") + kPersona + "/memories/search";
    static const std::string kRemember = std::string("/v1/personas/") + kPersona + "/memories";
    auto res =
        recall ? cli_.Post(kSearch, w_.query_json[seq % w_.query_json.size()], "application/json")
               : cli_.Post(kRemember, body, "application/json");
    const char* what = recall ? "HTTP search" : "HTTP remember";
    if (!res) {
      return make_error(ErrorCode::unavailable,
                        std::string(what) + " got no reply: " + httplib::to_string(res.error()));
    }
    const int want = recall ? 200 : 201;
    if (res->status != want) {
      return make_error(ErrorCode::internal, std::string(what) + " answered " +
                                                 std::to_string(res->status) + ": " +
                                                 res->body.substr(0, 300));
    }
    if (check) {
      auto j = nlohmann::json::parse(res->body, nullptr, false);
      const bool ok = recall ? (j.is_object() && j.contains("hits") && j["hits"].is_array() &&
                                j["hits"].size() == kK)
                             : (j.is_object() && j.contains("item"));
      if (!ok) {
        return make_error(ErrorCode::internal, std::string(what) + " replied without the " +
                                                   (recall ? "10 hits" : "item") + ": " +
                                                   res->body.substr(0, 300));
      }
    }
    return {};
  }

 private:
  httplib::Client cli_;
  const Workload& w_;
  size_t thread_;
};

class SdkCaller : public Caller {
 public:
  SdkCaller(std::unique_ptr<Client> client, const Workload& w, size_t thread)
      : client_(std::move(client)), w_(w), thread_(thread) {}

  Status call(Op op, size_t seq, bool check) override {
    if (op == Op::recall) {
      auto r = client_->recall(w_.query_pb[seq % w_.query_pb.size()]);
      if (!r) return make_error(r.error().code, "SDK recall: " + r.error().to_string());
      if (check && static_cast<size_t>(r->hits_size()) != kK) {
        return make_error(ErrorCode::internal,
                          "SDK recall returned " + std::to_string(r->hits_size()) + " hits");
      }
      return {};
    }
    pb::MemoryInput in;
    in.set_content("sdk bench memory " + std::to_string(thread_) + "-" + std::to_string(seq));
    in.set_tier(pb::LTM);
    const float* e = w_.data.query(seq % w_.data.query_count());
    in.mutable_embedding()->Add(e, e + w_.data.dim);
    auto r = client_->remember(kPersona, std::move(in));
    if (!r) return make_error(r.error().code, "SDK remember: " + r.error().to_string());
    if (check && r->item().id().empty()) {
      return make_error(ErrorCode::internal, "SDK remember replied without an item id");
    }
    return {};
  }

 private:
  std::unique_ptr<Client> client_;
  const Workload& w_;
  size_t thread_;
};

using CallerFactory = std::function<Result<std::unique_ptr<Caller>>(size_t thread)>;

// Runs one cell: makes and warms up `c` callers on this thread, then runs them on `c` threads until
// --seconds or --max-calls; the first failure stops the cell.
Status run_cell(const std::string& name, const HttpBenchOptions& o, size_t c, Op op,
                const CallerFactory& make_caller, Cell* out) {
  std::vector<std::unique_ptr<Caller>> callers;
  for (size_t t = 0; t < c; ++t) {
    auto made = make_caller(t);
    if (!made) return make_error(made.error().code, name + ": " + made.error().to_string());
    for (size_t i = 0; i < kWarmupCalls; ++i) {
      // Warm-up sequence numbers are far from the timed ones: remember contents stay unique.
      if (auto s = (*made)->call(op, (size_t{1} << 40) + i, true); !s) return s;
    }
    callers.push_back(std::move(*made));
  }
  std::atomic<size_t> calls{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::optional<Error> error;
  std::vector<std::vector<double>> samples(c);
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>(o.seconds));
  Stopwatch cell;
  std::vector<std::thread> threads;
  for (size_t t = 0; t < c; ++t) {
    threads.emplace_back([&, t] {
      for (size_t seq = t;; seq += c) {
        if (stop.load() || std::chrono::steady_clock::now() >= end) return;
        if (calls.fetch_add(1) >= o.max_calls) return;
        Stopwatch sw;
        Status s = callers[t]->call(op, seq, false);
        if (!s) {
          std::lock_guard<std::mutex> lock(mu);
          if (!error) error = s.error();
          stop = true;
          return;
        }
        samples[t].push_back(sw.elapsed_us());
      }
    });
  }
  for (auto& th : threads) th.join();
  const double seconds = cell.elapsed_s();
  if (error) return make_error(error->code, name + ": " + error->to_string());
  Latencies all;
  for (const auto& s : samples) {
    for (double v : s) all.add(v);
  }
  if (all.size() == 0) return make_error(ErrorCode::internal, name + ": no call completed");
  out->ran = true;
  out->calls = all.size();
  out->seconds = seconds;
  out->per_s = static_cast<double>(all.size()) / seconds;
  out->p50_us = all.percentile(50);
  out->p99_us = all.percentile(99);
  std::ostringstream line;
  line << "  " << name << ": " << out->calls << " calls, " << std::fixed << std::setprecision(0)
       << out->per_s << "/s, p50 " << out->p50_us << " us, p99 " << out->p99_us << " us";
  progress(line.str());
  return {};
}

// ---- the node ----------------------------------------------------------------------------------

config::Settings node_settings(const HttpBenchOptions& o, const std::string& data_dir,
                               size_t http_threads) {
  config::Settings s = config::defaults();
  s.node.data_dir = data_dir;
  s.node.listen = "127.0.0.1:0";
  s.http.listen = "127.0.0.1:0";
  s.http.threads = static_cast<int64_t>(http_threads);
  s.http.timeout = 30 * kUsPerSecond;
  s.memory.dim = static_cast<int64_t>(o.dim);
  s.memory.max_batch = std::max<int64_t>(s.memory.max_batch, static_cast<int64_t>(kSeedBatch));
  s.scheduler.threads = static_cast<int64_t>(o.threads);
  // Consolidation would change the data while the benchmark runs.
  s.lymphatic.enabled = false;
  s.log.level = "warn";
  return s;
}

Result<std::unique_ptr<Client>> connect_sdk(uint16_t port) {
  ClientOptions copt;
  copt.request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kCallTimeout);
  return Client::connect({"127.0.0.1:" + std::to_string(port)}, copt);
}

Result<uint64_t> ltm_index_size(Client& client) {
  auto stats = client.stats(kPersona);
  if (!stats) return stats.error();
  for (const auto& p : stats->persona()) {
    for (const auto& t : p.tiers()) {
      if (t.tier() == pb::LTM) return t.index_size();
    }
  }
  return make_error(ErrorCode::internal, "stats reply has no LTM tier");
}

Status seed(Client& client, const Dataset& data, double* per_s) {
  const size_t n = data.size();
  progress("seeding " + std::to_string(n) + " memories (dim " + std::to_string(data.dim) +
           ") through the SDK");
  Stopwatch sw;
  for (size_t first = 0; first < n; first += kSeedBatch) {
    const size_t last = std::min(n, first + kSeedBatch);
    std::vector<pb::MemoryInput> batch(last - first);
    for (size_t i = first; i < last; ++i) {
      auto& in = batch[i - first];
      in.set_content("seeded memory " + std::to_string(i));
      in.set_tier(pb::LTM);  // LTM has no TTL and no cap: nothing is demoted or forgotten
      in.mutable_embedding()->Add(data.row(i), data.row(i) + data.dim);
    }
    auto reply = client.remember_batch(kPersona, std::move(batch));
    if (!reply) return make_error(reply.error().code, "seeding: " + reply.error().to_string());
    if (static_cast<size_t>(reply->results_size()) != last - first) {
      return make_error(ErrorCode::internal, "seeding: remember_batch stored " +
                                                 std::to_string(reply->results_size()) + " of " +
                                                 std::to_string(last - first));
    }
  }
  // A stats request reaches the tier after every index change sent before it.
  auto indexed = ltm_index_size(client);
  if (!indexed) return indexed.error();
  if (*indexed != n) {
    return make_error(ErrorCode::internal, "seeding: the LTM index holds " +
                                               std::to_string(*indexed) + " items, expected " +
                                               std::to_string(n));
  }
  *per_s = static_cast<double>(n) / sw.elapsed_s();
  return {};
}

Status run_all(const HttpBenchOptions& o, const Workload& w, Results* r) {
  TempDir dir("nca-bench-http");
  if (dir.path().empty()) return make_error(ErrorCode::unavailable, "cannot create a temp dir");
  r->http_threads = o.http_threads > 0
                        ? o.http_threads
                        : *std::max_element(o.concurrency.begin(), o.concurrency.end());
  const config::Settings settings = node_settings(o, dir.path() + "/node", r->http_threads);
  auto started = actors::Node::start(settings);
  if (!started) return started.error();
  std::unique_ptr<actors::Node> node = std::move(*started);
  auto gw = http::HttpGateway::start(settings, *node);
  if (!gw) {
    (void)node->stop();
    return make_error(gw.error().code, "the HTTP gateway did not start: " + gw.error().to_string());
  }
  std::unique_ptr<http::HttpGateway> gateway = std::move(*gw);
  progress("node up on 127.0.0.1:" + std::to_string(node->port()) + ", HTTP on " +
           gateway->address() + " (" + std::to_string(r->http_threads) + " threads), data in " +
           dir.path());

  const uint16_t node_port = node->port();
  const uint16_t http_port = gateway->port();
  CallerFactory http_caller = [&](size_t t) -> Result<std::unique_ptr<Caller>> {
    return std::unique_ptr<Caller>(std::make_unique<HttpCaller>(http_port, w, t));
  };
  CallerFactory sdk_caller = [&](size_t t) -> Result<std::unique_ptr<Caller>> {
    auto client = connect_sdk(node_port);
    if (!client) return client.error();
    return std::unique_ptr<Caller>(std::make_unique<SdkCaller>(std::move(*client), w, t));
  };

  Status s;
  {
    auto client = connect_sdk(node_port);
    s = client ? seed(**client, w.data, &r->seed_per_s) : Status(client.error());
  }
  const size_t cells = o.concurrency.size();
  r->http_recall.resize(cells);
  r->sdk_recall.resize(cells);
  r->http_remember.resize(cells);
  r->sdk_remember.resize(cells);
  for (Op op : {Op::recall, Op::remember}) {
    const std::string what = op == Op::recall ? "recall" : "remember";
    for (size_t i = 0; s && i < cells; ++i) {
      const size_t c = o.concurrency[i];
      progress(what + " at concurrency " + std::to_string(c));
      s = run_cell("http " + what + " x" + std::to_string(c), o, c, op, http_caller,
                   op == Op::recall ? &r->http_recall[i] : &r->http_remember[i]);
      if (!s) break;
      s = run_cell("sdk " + what + " x" + std::to_string(c), o, c, op, sdk_caller,
                   op == Op::recall ? &r->sdk_recall[i] : &r->sdk_remember[i]);
    }
  }
  progress("stopping the gateway and the node");
  gateway->stop(std::chrono::seconds(2));
  gateway.reset();
  Status stopped = node->stop();
  if (!s) return s;
  return stopped;
}

// ---- output ------------------------------------------------------------------------------------

size_t headline_index(const HttpBenchOptions& o) {
  return static_cast<size_t>(std::find(o.concurrency.begin(), o.concurrency.end(), o.headline) -
                             o.concurrency.begin());
}

bool target_met(const Cell& http, const Cell& sdk) {
  return http.ran && sdk.ran && http.p99_us <= 2.0 * sdk.p99_us;
}

nlohmann::ordered_json cell_json(const Cell& c) {
  nlohmann::ordered_json j;
  j["per_s"] = json_number(c.per_s);
  j["p50_us"] = json_number(c.p50_us);
  j["p99_us"] = json_number(c.p99_us);
  j["calls"] = c.calls;
  j["seconds"] = json_number(c.seconds, 3);
  return j;
}

nlohmann::ordered_json to_json(const HttpBenchOptions& o, const Results& r) {
  const size_t h = headline_index(o);
  nlohmann::ordered_json j;
  j["benchmark"] = "http";
  j["allocator"] = alloc::name();  // see runtime/allocator
  j["n"] = o.n;
  j["dim"] = o.dim;
  j["k"] = kK;
  j["concurrency"] = o.concurrency;
  j["headline_concurrency"] = o.headline;
  j["seconds_per_cell"] = o.seconds;
  j["http_threads"] = r.http_threads;
  j["scheduler_threads"] = o.threads;
  j["seed_per_s"] = json_number(r.seed_per_s);
  for (const auto& [prefix, cells] :
       {std::pair<const char*, const std::vector<Cell>*>{"http_recall", &r.http_recall},
        {"sdk_recall", &r.sdk_recall},
        {"http_remember", &r.http_remember},
        {"sdk_remember", &r.sdk_remember}}) {
    const Cell& c = (*cells)[h];
    j[std::string(prefix) + "_per_s"] = json_number(c.per_s);
    j[std::string(prefix) + "_p50_us"] = json_number(c.p50_us);
    j[std::string(prefix) + "_p99_us"] = json_number(c.p99_us);
  }
  j["http_over_sdk_recall_p99"] = json_number(r.http_recall[h].p99_us / r.sdk_recall[h].p99_us, 3);
  j["target_http_recall_p99_met"] = target_met(r.http_recall[h], r.sdk_recall[h]);
  nlohmann::ordered_json by = nlohmann::ordered_json::array();
  for (size_t i = 0; i < o.concurrency.size(); ++i) {
    nlohmann::ordered_json e;
    e["concurrency"] = o.concurrency[i];
    e["http_recall"] = cell_json(r.http_recall[i]);
    e["sdk_recall"] = cell_json(r.sdk_recall[i]);
    e["http_remember"] = cell_json(r.http_remember[i]);
    e["sdk_remember"] = cell_json(r.sdk_remember[i]);
    e["target_http_recall_p99_met"] = target_met(r.http_recall[i], r.sdk_recall[i]);
    by.push_back(std::move(e));
  }
  j["by_concurrency"] = std::move(by);
  j["nproc"] = online_cpus();
  j["cpu"] = cpu_model();
  j["loadavg_1m_start"] = json_number(r.load_start, 2);
  j["loadavg_1m_end"] = json_number(r.load_end, 2);
  return j;
}

void print_table(const HttpBenchOptions& o, const Results& r) {
  std::cout << "nca-bench http: n=" << o.n << " dim=" << o.dim << " k=" << kK
            << " seconds_per_cell=" << o.seconds << " http_threads=" << r.http_threads
            << " scheduler_threads=" << o.threads << " headline concurrency=" << o.headline << "\n"
            << machine_line(r.load_start, r.load_end) << "\n";
  std::cout << std::left << std::setw(12) << "concurrency" << std::setw(18) << "call" << std::right
            << std::setw(12) << "calls/s" << std::setw(12) << "p50 us" << std::setw(12) << "p99 us"
            << "\n";
  for (size_t i = 0; i < o.concurrency.size(); ++i) {
    for (const auto& [name, cell] :
         {std::pair<const char*, const Cell*>{"http recall", &r.http_recall[i]},
          {"sdk recall", &r.sdk_recall[i]},
          {"http remember", &r.http_remember[i]},
          {"sdk remember", &r.sdk_remember[i]}}) {
      std::cout << std::left << std::setw(12) << o.concurrency[i] << std::setw(18) << name
                << std::right << std::setw(12) << table_number(cell->per_s) << std::setw(12)
                << table_number(cell->p50_us) << std::setw(12) << table_number(cell->p99_us)
                << "\n";
    }
  }
  const size_t h = headline_index(o);
  const Cell& hr = r.http_recall[h];
  const Cell& sr = r.sdk_recall[h];
  const std::string target = "<= 2 x sdk_recall_p99_us (x" + std::to_string(o.headline) + ")";
  std::vector<TableRow> rows = {
      {"http_recall_p99_us", table_number(hr.p99_us), "sdk " + table_number(sr.p99_us), target,
       target_met(hr, sr) ? "yes" : "NO"},
      {"http_recall_per_s", table_number(hr.per_s), "sdk " + table_number(sr.per_s), "", ""},
  };
  std::cout << "\n";
  print_rows(rows);
}

int run(const std::vector<std::string>& args) {
  int exit_code = 0;
  auto parsed = parse_options(args, &exit_code);
  if (!parsed) return exit_code;
  const HttpBenchOptions& o = *parsed;

  send_node_logs_to_stderr();

  Results r;
  r.load_start = load_average_1m();
  progress("generating " + std::to_string(o.n) + " + " + std::to_string(o.queries) +
           " vectors (dim " + std::to_string(o.dim) + ")");
  const Workload w = make_workload(o);
  if (auto s = run_all(o, w, &r); !s) {
    std::cerr << "nca-bench http: " << s.error().to_string() << "\n";
    return 1;
  }
  r.load_end = load_average_1m();
  return print_result(
      o.json, [&] { return to_json(o, r).dump(); }, [&] { print_table(o, r); });
}

}  // namespace
}  // namespace http_bench

int run_http(const std::vector<std::string>& args) { return http_bench::run(args); }

}  // namespace nca::bench
