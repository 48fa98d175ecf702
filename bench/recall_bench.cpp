// `nca-bench recall`: ingest rate, recall latency and recall quality of one in-process node,
// through the SDK over loopback and through the api actor directly, against raw hnswlib, FAISS HNSW
// and a raw CAF round trip, all in the same run with the same data and the same M / ef settings.
//
// Order of the run: generate the data; exact ground truth; build the raw hnswlib index (its insert
// rate, on a quiet machine); start a node in a temp directory; ingest through the SDK (timing ends
// when the tier's index holds every item, not at the last acknowledgement, because indexing runs
// after the write is durable) and take the RSS delta; ingest the same items into a second persona
// through the api actor; in-process recall from an actor in the node, each query followed by the
// same query on raw hnswlib (bench/interleaved_calls.hpp says why); in-process recall from a
// blocking caller; recall over the SDK; stop the node; raw hnswlib alone; FAISS HNSW; raw CAF round
// trip. Every latency phase first runs the queries once untimed, so each engine is measured warm.
#include <rocksdb/db.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/program_options.hpp>
#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "actors/node.hpp"
#include "bench/bench_util.hpp"
#include "bench/caf_rtt.hpp"
#include "bench/dataset.hpp"
#include "bench/faiss_baseline.hpp"
#include "bench/interleaved_calls.hpp"
#include "bench/raw_hnswlib.hpp"
#include "bench/subcommands.hpp"
#include "config/schema.hpp"
#include "nca/client.hpp"
#include "proto/wire.hpp"
#include "runtime/allocator/thread_cache_allocator.hpp"
#include "storage/column_family.hpp"

namespace nca::bench {
namespace recall_bench {
namespace {

namespace po = boost::program_options;

constexpr size_t kK = 10;
constexpr uint64_t kIndexSeed = 100;  // VectorIndex's level-generator seed: same graph shape
constexpr const char* kSdkPersona = "bench-sdk";
constexpr const char* kInprocPersona = "bench-inproc";
constexpr auto kCallTimeout = std::chrono::seconds(60);

struct RecallOptions {
  size_t n = 100000;
  size_t dim = 384;
  size_t queries = 1000;
  uint64_t seed = 42;
  size_t m = 16;
  size_t ef_construction = 200;
  size_t ef_search = 100;
  size_t threads = 1;
  size_t batch = 500;
  size_t clusters = 100;
  std::string exact = "brute";
  bool faiss = true;
  bool json = false;
};

// Everything measured; NaN where a baseline was not available (printed as null).
struct Results {
  double ingest_sdk_per_s = NAN;
  double ingest_inproc_per_s = NAN;
  double raw_hnswlib_insert_per_s = NAN;
  double faiss_hnsw_insert_per_s = NAN;  // on faiss_build_threads threads
  unsigned faiss_build_threads = 0;
  double recall_inproc_p50_us = NAN, recall_inproc_p99_us = NAN;
  double recall_inproc_blocking_p50_us = NAN, recall_inproc_blocking_p99_us = NAN;
  double recall_sdk_p50_us = NAN, recall_sdk_p99_us = NAN;
  double recall_hybrid_tubules_p50_us = NAN, recall_hybrid_tubules_p99_us = NAN;
  double raw_hnswlib_p50_us = NAN,
         raw_hnswlib_p99_us = NAN;  // interleaved with the in-process recall
  double raw_hnswlib_solo_p50_us = NAN, raw_hnswlib_solo_p99_us = NAN;  // alone, node stopped
  double faiss_hnsw_p50_us = NAN, faiss_hnsw_p99_us = NAN;
  double raw_caf_rtt_p50_us = NAN, raw_caf_rtt_p99_us = NAN;
  double recall_at_10 = NAN;
  double recall_at_10_inproc = NAN;
  double raw_hnswlib_recall_at_10 = NAN;
  double faiss_hnsw_recall_at_10 = NAN;
  double bytes_per_item = NAN;
  double rss_before_bytes = NAN, rss_after_bytes = NAN;
  std::string ground_truth;
  double load_start = -1, load_end = -1;
  double storage_settle_s = NAN;
};

// ---- options -----------------------------------------------------------------------------------

std::optional<RecallOptions> parse_options(const std::vector<std::string>& args, int* exit_code) {
  RecallOptions o;
  po::options_description desc("nca-bench recall options");
  desc.add_options()("help,h", "print this help")("n", po::value<size_t>(&o.n)->default_value(o.n),
                                                  "items stored")(
      "dim", po::value<size_t>(&o.dim)->default_value(o.dim), "embedding dimension")(
      "queries", po::value<size_t>(&o.queries)->default_value(o.queries),
      "recall queries per engine (held-out points near the clusters)")(
      "seed", po::value<uint64_t>(&o.seed)->default_value(o.seed), "data generator seed")(
      "m", po::value<size_t>(&o.m)->default_value(o.m), "HNSW M, for the node and every baseline")(
      "ef-construction", po::value<size_t>(&o.ef_construction)->default_value(o.ef_construction),
      "HNSW efConstruction")(
      "ef-search", po::value<size_t>(&o.ef_search)->default_value(o.ef_search), "HNSW efSearch")(
      "threads", po::value<size_t>(&o.threads)->default_value(o.threads),
      "scheduler threads of the node under test (0: one per core); the baselines run on one "
      "thread")("batch", po::value<size_t>(&o.batch)->default_value(o.batch),
                "memories per remember_batch call")(
      "clusters", po::value<size_t>(&o.clusters)->default_value(o.clusters),
      "clusters in the synthetic data")(
      "exact", po::value<std::string>(&o.exact)->default_value(o.exact),
      "ground truth: brute (SIMD brute force, every core) or faiss (IndexFlatIP; slow with the "
      "reference BLAS Debian's libfaiss links by default)")(
      "no-faiss", "skip the FAISS HNSW baseline (its build is the slowest part of a run)")(
      "json", po::bool_switch(&o.json), "print one JSON object instead of a table");
  auto vm = parse_subcommand_args("recall", desc, args, exit_code);
  if (!vm) return std::nullopt;
  o.faiss = vm->count("no-faiss") == 0;
  auto bad = [&](const std::string& msg) {
    std::cerr << "nca-bench recall: " << msg << "\n";
    *exit_code = 2;
    return std::nullopt;
  };
  if (o.n < kK) return bad("--n must be at least " + std::to_string(kK));
  if (o.dim < 2 || o.dim > 65536) return bad("--dim must be in 2..65536");
  if (o.queries < 1) return bad("--queries must be at least 1");
  if (o.m < 2 || o.m > 256) return bad("--m must be in 2..256");
  if (o.ef_construction < 1) return bad("--ef-construction must be at least 1");
  if (o.ef_search < 1) return bad("--ef-search must be at least 1");
  if (o.threads > 256) return bad("--threads must be in 0..256");
  if (o.batch < 1 || o.batch > 10000) return bad("--batch must be in 1..10000");
  if (o.clusters < 1 || o.clusters > o.n) return bad("--clusters must be in 1..n");
  if (o.exact != "brute" && o.exact != "faiss") return bad("--exact must be brute or faiss");
  if (o.exact == "faiss" && !faiss_baseline::available()) {
    return bad("--exact faiss: this nca-bench was built without FAISS");
  }
  return o;
}

// ---- the node ----------------------------------------------------------------------------------

config::Settings node_settings(const RecallOptions& o, const std::string& data_dir) {
  config::Settings s = config::defaults();
  s.node.data_dir = data_dir;
  s.node.listen = "127.0.0.1:0";
  s.memory.dim = static_cast<int64_t>(o.dim);
  s.memory.max_batch = std::max<int64_t>(s.memory.max_batch, static_cast<int64_t>(o.batch));
  s.index.m = static_cast<int64_t>(o.m);
  s.index.ef_construction = static_cast<int64_t>(o.ef_construction);
  s.index.ef_search = static_cast<int64_t>(o.ef_search);
  s.scheduler.threads = static_cast<int64_t>(o.threads);
  // Consolidation would merge near-duplicates while the benchmark runs: the data must stay fixed.
  s.lymphatic.enabled = false;
  s.log.level = "warn";
  return s;
}

// A few words from a 2,000-word synthetic vocabulary (fixed per row) and the row number last, so
// BM25 postings have realistic lengths (about 0.3% of the items per word) for the hybrid
// measurement.
std::string words_of(size_t i, size_t count) {
  uint64_t x = 0x9E3779B97F4A7C15ull * (i + 1);
  std::string out;
  for (size_t w = 0; w < count; ++w) {
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    out += "w" + std::to_string(x % 2000) + " ";
  }
  return out;
}

std::string content_of(size_t i) { return words_of(i, 6) + "bench item " + std::to_string(i); }

// The row number a hit came from, parsed back from its content; -1 if it is not a bench item.
int64_t row_of(const pb::RecallHit& hit) {
  const std::string& c = hit.item().content();
  auto space = c.rfind(' ');
  if (space == std::string::npos) return -1;
  char* end = nullptr;
  long long v = std::strtoll(c.c_str() + space + 1, &end, 10);
  return (end != nullptr && *end == '\0') ? v : -1;
}

// The client-side work of one batch, identical for both ingest paths.
std::vector<pb::MemoryInput> batch_inputs(const Dataset& data, size_t first, size_t last) {
  std::vector<pb::MemoryInput> inputs(last - first);
  for (size_t i = first; i < last; ++i) {
    auto& in = inputs[i - first];
    in.set_content(content_of(i));
    in.set_tier(pb::LTM);  // LTM has no TTL and no cap: nothing is demoted or forgotten
    in.mutable_embedding()->Add(data.row(i), data.row(i) + data.dim);
  }
  return inputs;
}

pb::RecallRequest recall_request(const Dataset& data, size_t q) {
  pb::RecallRequest r;
  r.set_persona_id(kSdkPersona);
  r.mutable_query_embedding()->Add(data.query(q), data.query(q) + data.dim);
  r.set_k(kK);
  r.add_tiers(pb::LTM);
  r.set_mode(pb::VECTOR);
  r.set_spread(false);
  r.set_no_reinforce(true);  // every query sees the same index and the same health values
  return r;
}

// Sends one request through the api actor of the node, as the SDK's envelope does, and waits.
class InprocCaller {
 public:
  explicit InprocCaller(actors::Node& node) : node_(node), self_(node.system()) {}

  Result<pb::Response> call(const pb::Request& req) {
    const uint32_t method = static_cast<uint32_t>(req.body_case());
    std::string bytes = req.SerializeAsString();
    Result<pb::Response> out = make_error(ErrorCode::internal, "no reply");
    self_->request(node_.api(), kCallTimeout, wire::envelope_atom::value, method, std::move(bytes))
        .receive(
            [&](uint32_t, const std::string& reply) {
              pb::Response resp;
              if (!resp.ParseFromString(reply)) {
                out = make_error(ErrorCode::internal, "unparseable reply from the api actor");
              } else if (resp.status().code() != pb::OK) {
                out = make_error(static_cast<ErrorCode>(resp.status().code()),
                                 resp.status().message());
              } else {
                out = std::move(resp);
              }
            },
            [&](caf::error& e) {
              out = make_error(ErrorCode::unavailable,
                               "api actor did not answer: " + node_.system().render(e));
            });
    return out;
  }

 private:
  actors::Node& node_;
  caf::scoped_actor self_;
};

// Items in the persona's LTM vector index, asked through a stats request: it reaches the tier after
// every index change the persona sent before it, so it also waits for indexing to finish.
Result<uint64_t> indexed_items(const Result<pb::StatsReply>& stats) {
  if (!stats) return stats.error();
  for (const auto& p : stats->persona()) {
    for (const auto& t : p.tiers()) {
      if (t.tier() == pb::LTM) return t.index_size();
    }
  }
  return make_error(ErrorCode::internal, "stats reply has no LTM tier");
}

Status expect_indexed(const Result<uint64_t>& got, size_t n, const std::string& persona) {
  if (!got) return got.error();
  if (*got != n) {
    return make_error(ErrorCode::internal, "persona '" + persona + "' indexed " +
                                               std::to_string(*got) + " items, expected " +
                                               std::to_string(n));
  }
  return {};
}

Status ingest_sdk(Client& client, const Dataset& data, size_t batch, double* per_s) {
  const size_t n = data.size();
  Stopwatch sw;
  for (size_t first = 0; first < n; first += batch) {
    size_t last = std::min(n, first + batch);
    auto reply = client.remember_batch(kSdkPersona, batch_inputs(data, first, last));
    if (!reply) return reply.error();
    if (static_cast<size_t>(reply->results_size()) != last - first) {
      return make_error(ErrorCode::internal, "remember_batch stored " +
                                                 std::to_string(reply->results_size()) + " of " +
                                                 std::to_string(last - first));
    }
    if ((first / batch) % 40 == 0 && first > 0) {
      progress("  sdk ingest: " + std::to_string(last) + " / " + std::to_string(n));
    }
  }
  auto indexed = indexed_items(client.stats(kSdkPersona));
  *per_s = static_cast<double>(n) / sw.elapsed_s();
  return expect_indexed(indexed, n, kSdkPersona);
}

Status ingest_inproc(InprocCaller& caller, const Dataset& data, size_t batch, double* per_s) {
  const size_t n = data.size();
  Stopwatch sw;
  for (size_t first = 0; first < n; first += batch) {
    size_t last = std::min(n, first + batch);
    pb::Request req;
    auto* body = req.mutable_remember_batch();
    body->set_persona_id(kInprocPersona);
    for (auto& in : batch_inputs(data, first, last)) *body->add_memories() = std::move(in);
    auto resp = caller.call(req);
    if (!resp) return resp.error();
    if (static_cast<size_t>(resp->remember_batch().results_size()) != last - first) {
      return make_error(ErrorCode::internal, "in-process remember_batch stored too few items");
    }
    if ((first / batch) % 40 == 0 && first > 0) {
      progress("  in-process ingest: " + std::to_string(last) + " / " + std::to_string(n));
    }
  }
  pb::Request stats;
  stats.mutable_stats()->set_persona_id(kInprocPersona);
  auto resp = caller.call(stats);
  Result<pb::StatsReply> reply =
      resp ? Result<pb::StatsReply>(resp->stats()) : Result<pb::StatsReply>(resp.error());
  auto indexed = indexed_items(reply);
  *per_s = static_cast<double>(n) / sw.elapsed_s();
  return expect_indexed(indexed, n, kInprocPersona);
}

std::vector<int64_t> rows_of(const pb::RecallReply& reply) {
  std::vector<int64_t> rows;
  rows.reserve(reply.hits_size());
  for (const auto& h : reply.hits()) rows.push_back(row_of(h));
  return rows;
}

// Runs every query once untimed, then once timed; `one(q, &rows)` performs query q.
template <class OneQuery>
Status timed_queries(size_t nq, OneQuery one, Latencies* lat,
                     std::vector<std::vector<int64_t>>* found) {
  found->assign(nq, {});
  for (size_t q = 0; q < nq; ++q) {
    if (auto s = one(q, &(*found)[q]); !s) return s;
  }
  lat->reserve(nq);
  for (size_t q = 0; q < nq; ++q) {
    Stopwatch sw;
    auto s = one(q, &(*found)[q]);
    lat->add(sw.elapsed_us());
    if (!s) return s;
  }
  return {};
}

// Waits until RocksDB has no flush or compaction running or pending, at most `max_s` seconds, and
// returns how long that took. Ingesting 2n items leaves minutes of compaction behind on 2 cores;
// latencies measured while it runs say more about the compactor than about the read path.
double settle_storage(actors::Node& node, double max_s) {
  storage::Db& db = *node.context().db;
  rocksdb::DB* raw = db.raw();
  Stopwatch sw;
  while (sw.elapsed_s() < max_s) {
    uint64_t busy = 0;
    uint64_t v = 0;
    if (raw->GetIntProperty("rocksdb.num-running-compactions", &v)) busy += v;
    if (raw->GetIntProperty("rocksdb.num-running-flushes", &v)) busy += v;
    for (size_t i = 0; i < storage::kCfCount; ++i) {
      auto* cf = db.handle(static_cast<storage::Cf>(i));
      if (cf == nullptr) continue;
      if (raw->GetIntProperty(cf, "rocksdb.compaction-pending", &v)) busy += v;
      if (raw->GetIntProperty(cf, "rocksdb.mem-table-flush-pending", &v)) busy += v;
    }
    if (busy == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling interval
  }
  return sw.elapsed_s();
}

Status run_node_phase(const RecallOptions& o, const Dataset& data,
                      const std::vector<std::vector<int64_t>>& truth, const RawHnswlib& raw,
                      Results* r) {
  TempDir dir("nca-bench");
  if (dir.path().empty()) return make_error(ErrorCode::unavailable, "cannot create a temp dir");
  auto started = actors::Node::start(node_settings(o, dir.path() + "/node"));
  if (!started) return started.error();
  std::unique_ptr<actors::Node> node = std::move(*started);
  auto connected = Client::connect({"127.0.0.1:" + std::to_string(node->port())});
  if (!connected) return connected.error();
  std::unique_ptr<Client> client = std::move(*connected);
  progress("node up on 127.0.0.1:" + std::to_string(node->port()) + ", data in " + dir.path());

  const uint64_t rss_before = resident_bytes();
  progress("ingest through the SDK (" + std::to_string(data.size()) + " items, batches of " +
           std::to_string(o.batch) + ")");
  if (auto s = ingest_sdk(*client, data, o.batch, &r->ingest_sdk_per_s); !s) return s;
  const uint64_t rss_after = resident_bytes();
  r->rss_before_bytes = static_cast<double>(rss_before);
  r->rss_after_bytes = static_cast<double>(rss_after);
  r->bytes_per_item = (static_cast<double>(rss_after) - static_cast<double>(rss_before)) /
                      static_cast<double>(data.size());
  progress("  " + std::to_string(static_cast<int64_t>(r->ingest_sdk_per_s)) + " items/s");

  // The caller's scoped actor lives in the node's actor system: it must be gone before stop().
  auto caller_ptr = std::make_unique<InprocCaller>(*node);
  InprocCaller& caller = *caller_ptr;
  progress("ingest through the api actor, in-process (persona " + std::string(kInprocPersona) +
           ")");
  if (auto s = ingest_inproc(caller, data, o.batch, &r->ingest_inproc_per_s); !s) return s;
  progress("  " + std::to_string(static_cast<int64_t>(r->ingest_inproc_per_s)) + " items/s");

  progress("waiting for RocksDB flushes and compactions to finish (at most 600 s)");
  r->storage_settle_s = settle_storage(*node, 600);
  progress("  settled after " + std::to_string(static_cast<int64_t>(r->storage_settle_s)) + " s");

  const size_t nq = data.query_count();
  progress("recall in-process from an actor in the node, interleaved with raw hnswlib (" +
           std::to_string(nq) + " queries, k=10)");
  InterleavedQueries iq;
  iq.count = nq;
  iq.method = static_cast<uint32_t>(pb::Request::kRecall);
  iq.request = [&](size_t q) {
    pb::Request req;
    *req.mutable_recall() = recall_request(data, q);
    return req.SerializeAsString();
  };
  iq.reply_rows = [](const std::string& bytes, std::vector<int64_t>* rows) -> Status {
    pb::Response resp;
    if (!resp.ParseFromString(bytes)) {
      return make_error(ErrorCode::internal, "unparseable reply from the api actor");
    }
    if (resp.status().code() != pb::OK) {
      return make_error(static_cast<ErrorCode>(resp.status().code()), resp.status().message());
    }
    *rows = rows_of(resp.recall());
    return {};
  };
  iq.baseline = [&](size_t q) { return raw.search(data.query(q), kK); };
  auto run = run_interleaved(node->system(), node->api(), iq,
                             std::chrono::duration_cast<std::chrono::milliseconds>(kCallTimeout));
  if (!run) return run.error();
  r->recall_inproc_p50_us = run->node.percentile(50);
  r->recall_inproc_p99_us = run->node.percentile(99);
  r->recall_at_10_inproc = recall_at_k(truth, run->node_rows, kK);
  r->raw_hnswlib_p50_us = run->baseline.percentile(50);
  r->raw_hnswlib_p99_us = run->baseline.percentile(99);
  r->raw_hnswlib_recall_at_10 = recall_at_k(truth, run->baseline_rows, kK);
  progress("  node p50 " + std::to_string(static_cast<int64_t>(r->recall_inproc_p50_us)) +
           " us, p99 " + std::to_string(static_cast<int64_t>(r->recall_inproc_p99_us)) +
           " us; raw hnswlib p50 " + std::to_string(static_cast<int64_t>(r->raw_hnswlib_p50_us)) +
           " us, p99 " + std::to_string(static_cast<int64_t>(r->raw_hnswlib_p99_us)) + " us");

  progress("recall in-process from a blocking caller on another thread (scoped actor)");
  Latencies blocking;
  std::vector<std::vector<int64_t>> found;
  auto s = timed_queries(
      nq,
      [&](size_t q, std::vector<int64_t>* rows) -> Status {
        pb::Request req;
        *req.mutable_recall() = recall_request(data, q);
        auto resp = caller.call(req);
        if (!resp) return resp.error();
        *rows = rows_of(resp->recall());
        return {};
      },
      &blocking, &found);
  if (!s) return s;
  r->recall_inproc_blocking_p50_us = blocking.percentile(50);
  r->recall_inproc_blocking_p99_us = blocking.percentile(99);
  progress("  p50 " + std::to_string(static_cast<int64_t>(r->recall_inproc_blocking_p50_us)) +
           " us, p99 " + std::to_string(static_cast<int64_t>(r->recall_inproc_blocking_p99_us)) +
           " us");

  progress("recall through the SDK over loopback");
  Latencies sdk;
  s = timed_queries(
      nq,
      [&](size_t q, std::vector<int64_t>* rows) -> Status {
        auto reply = client->recall(recall_request(data, q));
        if (!reply) return reply.error();
        *rows = rows_of(*reply);
        return {};
      },
      &sdk, &found);
  if (!s) return s;
  r->recall_sdk_p50_us = sdk.percentile(50);
  r->recall_sdk_p99_us = sdk.percentile(99);
  r->recall_at_10 = recall_at_k(truth, found, kK);
  progress("  p50 " + std::to_string(static_cast<int64_t>(r->recall_sdk_p50_us)) + " us, p99 " +
           std::to_string(static_cast<int64_t>(r->recall_sdk_p99_us)) + " us");

  // The same queries in the default mode: hybrid (BM25 over three of a row's words + vector, fused)
  // with tubule spreading, from the same in-process driver, for its cost relative to vector-only
  // recall.
  progress("recall in-process, hybrid with tubules");
  InterleavedQueries hq = iq;
  hq.baseline = nullptr;
  hq.request = [&](size_t q) {
    pb::Request req;
    auto* rr = req.mutable_recall();
    *rr = recall_request(data, q);
    rr->set_mode(pb::HYBRID);
    rr->set_spread(true);
    rr->set_query(words_of((q * 97) % data.size(), 3));
    return req.SerializeAsString();
  };
  auto hybrid =
      run_interleaved(node->system(), node->api(), hq,
                      std::chrono::duration_cast<std::chrono::milliseconds>(kCallTimeout));
  if (!hybrid) return hybrid.error();
  r->recall_hybrid_tubules_p50_us = hybrid->node.percentile(50);
  r->recall_hybrid_tubules_p99_us = hybrid->node.percentile(99);

  client.reset();
  caller_ptr.reset();
  progress("stopping the node");
  return node->stop();
}

// ---- baselines ---------------------------------------------------------------------------------

// Times every query against a baseline index (anything with search(query, k) -> rows) and scores
// it.
template <class Index>
void measure_baseline_searches(const Dataset& data, const std::vector<std::vector<int64_t>>& truth,
                               Index& index, double* p50_us, double* p99_us, double* recall) {
  Latencies lat;
  std::vector<std::vector<int64_t>> found;
  (void)timed_queries(
      data.query_count(),
      [&](size_t q, std::vector<int64_t>* rows) -> Status {
        *rows = index.search(data.query(q), kK);
        return {};
      },
      &lat, &found);
  *p50_us = lat.percentile(50);
  *p99_us = lat.percentile(99);
  *recall = recall_at_k(truth, found, kK);
}

// Built before the node starts, so its insert rate is measured on a quiet machine; it stays alive
// through the node phase as the interleaved baseline.
std::unique_ptr<RawHnswlib> build_raw_hnswlib(const RecallOptions& o, const Dataset& data,
                                              Results* r) {
  progress("raw hnswlib: single-thread addPoint of " + std::to_string(data.size()) + " items");
  auto index =
      std::make_unique<RawHnswlib>(data.dim, data.size(), o.m, o.ef_construction, kIndexSeed);
  Stopwatch sw;
  for (size_t i = 0; i < data.size(); ++i) index->add(data.row(i), i);
  r->raw_hnswlib_insert_per_s = static_cast<double>(data.size()) / sw.elapsed_s();
  index->set_ef(std::max(o.ef_search, kK));
  return index;
}

void run_faiss_hnsw(const RecallOptions& o, const Dataset& data,
                    const std::vector<std::vector<int64_t>>& truth, Results* r) {
  if (!faiss_baseline::available() || !o.faiss) {
    progress(o.faiss ? "FAISS: not in this build, skipped" : "FAISS: skipped (--no-faiss)");
    return;
  }
  // Debian's libfaiss computes inner products with its scalar reference kernel, which makes a
  // single-thread build of 100,000 items take tens of minutes: the graph is built on every core
  // (build speed is not compared), searches run on one thread like every other engine.
  const unsigned build_threads = online_cpus();
  progress("FAISS IndexHNSWFlat (inner product): add " + std::to_string(data.size()) + " on " +
           std::to_string(build_threads) + " threads");
  FaissHnsw index(data.dim, o.m, o.ef_construction);
  faiss_baseline::use_threads(static_cast<int>(build_threads));
  Stopwatch sw;
  index.add(data.base.data(), data.size());
  r->faiss_hnsw_insert_per_s = static_cast<double>(data.size()) / sw.elapsed_s();
  r->faiss_build_threads = build_threads;
  faiss_baseline::use_threads(1);
  index.set_ef_search(std::max(o.ef_search, kK));
  measure_baseline_searches(data, truth, index, &r->faiss_hnsw_p50_us, &r->faiss_hnsw_p99_us,
                            &r->faiss_hnsw_recall_at_10);
}

// ---- output ------------------------------------------------------------------------------------

struct Targets {
  bool ingest_sdk;
  bool recall_inproc_p99;
  bool recall_sdk_p50;
  bool recall_at_10;
};

Targets check_targets(const Results& r) {
  return Targets{
      r.ingest_sdk_per_s >= 0.7 * r.raw_hnswlib_insert_per_s,
      r.recall_inproc_p99_us <= 1.5 * r.raw_hnswlib_p99_us,
      r.recall_sdk_p50_us <= 2.0 * (r.raw_hnswlib_p50_us + r.raw_caf_rtt_p50_us),
      r.recall_at_10 >= 0.95,
  };
}

nlohmann::ordered_json to_json(const RecallOptions& o, const Results& r, const Targets& t) {
  nlohmann::ordered_json j;
  j["benchmark"] = "recall";
  j["allocator"] = alloc::name();  // see runtime/allocator
  j["n"] = o.n;
  j["dim"] = o.dim;
  j["queries"] = o.queries;
  j["k"] = kK;
  j["seed"] = o.seed;
  j["m"] = o.m;
  j["ef_construction"] = o.ef_construction;
  j["ef_search"] = o.ef_search;
  j["threads"] = o.threads;
  j["batch"] = o.batch;
  j["clusters"] = o.clusters;
  j["intrinsic_dim"] = DatasetOptions{}.intrinsic_dim;
  j["ingest_sdk_per_s"] = json_number(r.ingest_sdk_per_s);
  j["ingest_inproc_per_s"] = json_number(r.ingest_inproc_per_s);
  j["raw_hnswlib_insert_per_s"] = json_number(r.raw_hnswlib_insert_per_s);
  j["faiss_hnsw_insert_per_s"] = json_number(r.faiss_hnsw_insert_per_s);
  j["faiss_hnsw_build_threads"] = r.faiss_build_threads;
  j["recall_inproc_p50_us"] = json_number(r.recall_inproc_p50_us);
  j["recall_inproc_p99_us"] = json_number(r.recall_inproc_p99_us);
  j["recall_inproc_blocking_p50_us"] = json_number(r.recall_inproc_blocking_p50_us);
  j["recall_inproc_blocking_p99_us"] = json_number(r.recall_inproc_blocking_p99_us);
  j["recall_hybrid_tubules_p50_us"] = json_number(r.recall_hybrid_tubules_p50_us);
  j["recall_hybrid_tubules_p99_us"] = json_number(r.recall_hybrid_tubules_p99_us);
  j["hybrid_tubules_over_vector_p50"] =
      json_number(r.recall_hybrid_tubules_p50_us / r.recall_inproc_p50_us, 3);
  j["target_hybrid_latency_met"] = r.recall_hybrid_tubules_p50_us <= 1.3 * r.recall_inproc_p50_us;
  j["recall_sdk_p50_us"] = json_number(r.recall_sdk_p50_us);
  j["recall_sdk_p99_us"] = json_number(r.recall_sdk_p99_us);
  j["raw_hnswlib_p50_us"] = json_number(r.raw_hnswlib_p50_us);
  j["raw_hnswlib_p99_us"] = json_number(r.raw_hnswlib_p99_us);
  j["raw_hnswlib_solo_p50_us"] = json_number(r.raw_hnswlib_solo_p50_us);
  j["raw_hnswlib_solo_p99_us"] = json_number(r.raw_hnswlib_solo_p99_us);
  j["faiss_hnsw_p50_us"] = json_number(r.faiss_hnsw_p50_us);
  j["faiss_hnsw_p99_us"] = json_number(r.faiss_hnsw_p99_us);
  j["raw_caf_rtt_p50_us"] = json_number(r.raw_caf_rtt_p50_us);
  j["raw_caf_rtt_p99_us"] = json_number(r.raw_caf_rtt_p99_us);
  j["recall_at_10"] = json_number(r.recall_at_10, 4);
  j["recall_at_10_inproc"] = json_number(r.recall_at_10_inproc, 4);
  j["raw_hnswlib_recall_at_10"] = json_number(r.raw_hnswlib_recall_at_10, 4);
  j["faiss_hnsw_recall_at_10"] = json_number(r.faiss_hnsw_recall_at_10, 4);
  j["bytes_per_item"] = json_number(r.bytes_per_item, 0);
  j["rss_before_bytes"] = json_number(r.rss_before_bytes, 0);
  j["rss_after_bytes"] = json_number(r.rss_after_bytes, 0);
  j["storage_settle_s"] = json_number(r.storage_settle_s);
  j["ground_truth"] = r.ground_truth;
  j["faiss"] = faiss_baseline::available() && o.faiss;
  j["nproc"] = online_cpus();
  j["cpu"] = cpu_model();
  j["loadavg_1m_start"] = json_number(r.load_start, 2);
  j["loadavg_1m_end"] = json_number(r.load_end, 2);
  j["target_ingest_sdk_met"] = t.ingest_sdk;
  j["target_recall_inproc_p99_met"] = t.recall_inproc_p99;
  j["target_recall_sdk_p50_met"] = t.recall_sdk_p50;
  j["target_recall_at_10_met"] = t.recall_at_10;
  return j;
}

void print_table(const RecallOptions& o, const Results& r, const Targets& t) {
  auto yes = [](bool b) { return std::string(b ? "yes" : "NO"); };
  std::vector<TableRow> rows = {
      {"ingest_sdk_per_s", table_number(r.ingest_sdk_per_s),
       "raw hnswlib " + table_number(r.raw_hnswlib_insert_per_s), ">= 0.7 x raw hnswlib",
       yes(t.ingest_sdk)},
      {"ingest_inproc_per_s", table_number(r.ingest_inproc_per_s),
       "raw hnswlib " + table_number(r.raw_hnswlib_insert_per_s), "", ""},
      {"faiss_hnsw_insert_per_s", table_number(r.faiss_hnsw_insert_per_s),
       "on " + std::to_string(r.faiss_build_threads) + " threads", "", ""},
      {"recall_inproc_p50_us", table_number(r.recall_inproc_p50_us),
       "raw hnswlib " + table_number(r.raw_hnswlib_p50_us), "", ""},
      {"recall_inproc_p99_us", table_number(r.recall_inproc_p99_us),
       "raw hnswlib " + table_number(r.raw_hnswlib_p99_us), "<= 1.5 x raw hnswlib p99",
       yes(t.recall_inproc_p99)},
      {"recall_inproc_blocking_p50_us", table_number(r.recall_inproc_blocking_p50_us),
       "p99 " + table_number(r.recall_inproc_blocking_p99_us), "", ""},
      {"raw_hnswlib_solo_p50_us", table_number(r.raw_hnswlib_solo_p50_us),
       "p99 " + table_number(r.raw_hnswlib_solo_p99_us), "", ""},
      {"recall_sdk_p50_us", table_number(r.recall_sdk_p50_us),
       "hnswlib+CAF rtt " + table_number(r.raw_hnswlib_p50_us + r.raw_caf_rtt_p50_us),
       "<= 2 x (hnswlib p50 + CAF rtt p50)", yes(t.recall_sdk_p50)},
      {"recall_sdk_p99_us", table_number(r.recall_sdk_p99_us), "", "", ""},
      {"recall_hybrid_tubules_p50_us", table_number(r.recall_hybrid_tubules_p50_us),
       "vector " + table_number(r.recall_inproc_p50_us), "<= 1.3 x vector p50",
       yes(r.recall_hybrid_tubules_p50_us <= 1.3 * r.recall_inproc_p50_us)},
      {"recall_hybrid_tubules_p99_us", table_number(r.recall_hybrid_tubules_p99_us),
       "vector " + table_number(r.recall_inproc_p99_us), "", ""},
      {"faiss_hnsw_p50_us", table_number(r.faiss_hnsw_p50_us),
       "p99 " + table_number(r.faiss_hnsw_p99_us), "", ""},
      {"raw_caf_rtt_p50_us", table_number(r.raw_caf_rtt_p50_us),
       "p99 " + table_number(r.raw_caf_rtt_p99_us), "", ""},
      {"recall_at_10", table_number(r.recall_at_10, 4),
       "hnswlib " + table_number(r.raw_hnswlib_recall_at_10, 4) + ", FAISS " +
           table_number(r.faiss_hnsw_recall_at_10, 4),
       ">= 0.95", yes(t.recall_at_10)},
      {"bytes_per_item", table_number(r.bytes_per_item, 0), "", "", ""},
  };
  std::cout << "nca-bench recall: n=" << o.n << " dim=" << o.dim << " queries=" << o.queries
            << " k=" << kK << " M=" << o.m << " efConstruction=" << o.ef_construction
            << " efSearch=" << o.ef_search << " threads=" << o.threads << " batch=" << o.batch
            << " seed=" << o.seed << " (ground truth: " << r.ground_truth << ")\n"
            << machine_line(r.load_start, r.load_end) << "\n";
  print_rows(rows);
}

int run(const std::vector<std::string>& args) {
  int exit_code = 0;
  auto parsed = parse_options(args, &exit_code);
  if (!parsed) return exit_code;
  const RecallOptions& o = *parsed;

  send_node_logs_to_stderr();
  faiss_baseline::use_threads(1);

  progress("generating " + std::to_string(o.n) + " + " + std::to_string(o.queries) +
           " vectors (dim " + std::to_string(o.dim) + ", " + std::to_string(o.clusters) +
           " clusters, seed " + std::to_string(o.seed) + ")");
  DatasetOptions dopt;
  dopt.n = o.n;
  dopt.queries = o.queries;
  dopt.dim = o.dim;
  dopt.clusters = o.clusters;
  dopt.seed = o.seed;
  const Dataset data = make_clustered_dataset(dopt);

  Results r;
  r.load_start = load_average_1m();
  std::vector<std::vector<int64_t>> truth;
  if (o.exact == "faiss") {
    progress("exact top-10 with FAISS IndexFlatIP");
    truth = faiss_baseline::exact_top_k(data.base, data.queries, data.dim, kK);
    r.ground_truth = "faiss IndexFlatIP";
  } else {
    progress("exact top-10 by brute force");
    truth = exact_top_k(data, kK, online_cpus());
    r.ground_truth = "brute force";
  }

  std::unique_ptr<RawHnswlib> raw = build_raw_hnswlib(o, data, &r);
  if (auto s = run_node_phase(o, data, truth, *raw, &r); !s) {
    std::cerr << "nca-bench recall: the node benchmark failed: " << s.error().to_string() << "\n";
    return 1;
  }
  progress("raw hnswlib alone, node stopped");
  double solo_recall = NAN;
  measure_baseline_searches(data, truth, *raw, &r.raw_hnswlib_solo_p50_us,
                            &r.raw_hnswlib_solo_p99_us, &solo_recall);
  raw.reset();
  run_faiss_hnsw(o, data, truth, &r);

  progress("raw CAF round trip over loopback");
  CafRttOptions copt;
  copt.round_trips = std::max<size_t>(1000, o.queries);
  copt.payload_bytes = o.dim * sizeof(float) + 32;
  auto rtt = measure_caf_rtt(copt);
  if (!rtt) {
    std::cerr << "nca-bench recall: " << rtt.error().to_string() << "\n";
    return 1;
  }
  r.raw_caf_rtt_p50_us = rtt->percentile(50);
  r.raw_caf_rtt_p99_us = rtt->percentile(99);

  r.load_end = load_average_1m();
  const Targets t = check_targets(r);
  return print_result(
      o.json, [&] { return to_json(o, r, t).dump(); }, [&] { print_table(o, r, t); });
}

}  // namespace
}  // namespace recall_bench

int run_recall(const std::vector<std::string>& args) { return recall_bench::run(args); }

}  // namespace nca::bench
