// `nca-bench events`: the event life cycle of one in-process node under load, publish -> assign ->
// deliver -> ack, with concurrent publishers and workers, in-process (through the api actor) and
// through the SDK over loopback, against the rate of raw RocksDB synced single-key writes with the
// same number of threads as there are workers, all in the same run.
//
// Order of the run: raw RocksDB baseline (first, while nothing else writes to the disk); then each
// path on a node of its own: start a node in a new temp directory, create the personas (each with
// three skills at different proficiencies, a customer relationship and a capacity, so the routing
// score has work to do), run the phase, stop the node and remove its directory. A node's cost per
// event grows with what it stores (every event leaves a memory), so a path that ran second on the
// first path's node, as until session 30, started with that path's events and memories and was
// measured slower for it; now both start from the same state.
//
// One phase. Workers start first and long-poll next_event for their personas; then publishers
// publish the events (one publish call per --publish-batch events) and each worker acks what it
// received with the deliveries' attempt numbers. A worker takes up to --worker-batch events per
// next_event (default: the personas' capacity, all a persona may hold) and acks them in one
// ack_batch; --worker-batch 1 uses the single-event next_event and ack. A window bounds the events
// published but not yet acked (--window, default twice the workers): publishers wait for room, so
// the node is measured under a steady load instead of a backlog, and the delivery latency (from
// just before the publish call to the moment the worker has the event, stamped by the publisher in
// the event's metadata) is the pipeline's, not the length of a queue the benchmark built. events/s
// counts from the first publish to the last ack. Every event must be acked once; a second delivery
// of an acked event is counted as a redelivery. The phase has a deadline (--timeout-s).
//
// Workers and publishers are loops of asynchronous calls, not threads: in-process, the calls leave
// from --drivers actors in the node's own actor system (an agent inside the node's process would
// be an actor); through the SDK, they are the client's asynchronous calls, whose callbacks run
// on the client's own actor (ClientOptions::inline_callbacks: they only record and start the next
// call; --sdk-inline-callbacks 0 hands them to the client's callback thread instead). So the
// benchmark's own threads do not compete with the node for the two cores by the hundred, and each
// loop still waits for its call before the next, as an agent would.
//
// Publishers: as many as workers by default (at most 256), the concurrency the raw baseline's
// writers get. Each waits for its publish call before the next, so P publishers cap the rate at
// P x publish-batch / (publish latency): with 16 (the default until session 30) the SDK path was
// bound by that round trip with a quarter of the two cores idle, and its client had fewer
// concurrent publishes to merge into one request.
//
// Workers: one per persona by default (each long-polls its own persona, as an agent process
// would). More workers than personas share personas round-robin; fewer workers than personas poll
// their personas in turn without waiting and park in a short long poll after a round without
// events.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/program_options.hpp>
#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "actors/node.hpp"
#include "bench/bench_util.hpp"
#include "bench/raw_rocksdb.hpp"
#include "bench/subcommands.hpp"
#include "config/schema.hpp"
#include "nca/client.hpp"
#include "proto/wire.hpp"
#include "runtime/allocator/thread_cache_allocator.hpp"
#include "storage/db.hpp"

namespace nca::bench::events_bench {

// One in-process call handed to a driver actor (see InprocCaller).
struct InprocCall {
  uint32_t method = 0;
  std::string bytes;
  std::function<void(Result<pb::Response>)> done;
};
using InprocCallPtr = std::shared_ptr<InprocCall>;
using call_atom = caf::atom_constant<caf::atom("bcall")>;

}  // namespace nca::bench::events_bench

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::bench::events_bench::InprocCallPtr)

namespace nca::bench {
namespace events_bench {
namespace {

namespace po = boost::program_options;

constexpr size_t kSkills = 8;      // skill0 .. skill7; every persona has three of them
constexpr size_t kCustomers = 16;  // event senders; persona i relates to customer i % kCustomers
constexpr uint32_t kMultiPersonaWaitMs = 2;  // a multi-persona worker's park after an empty round
constexpr auto kCallMargin = std::chrono::seconds(30);  // on top of a long poll's wait
constexpr const char* kSeqKey = "bench_seq";
constexpr const char* kStampKey = "bench_published_us";

struct EventsOptions {
  size_t personas = 100;
  size_t events = 100000;
  size_t workers = 0;     // 0: one per persona
  size_t publishers = 0;  // 0: as many as workers (at most 256)
  size_t publish_batch = 1;
  size_t worker_batch = 0;  // 0: the personas' capacity
  size_t drivers = 2;       // in-process: actors issuing the calls
  size_t window = 0;        // 0: twice the workers
  size_t capacity = 4;
  uint32_t wait_ms = 1000;
  size_t threads = 0;
  bool inproc = true;
  bool sdk = true;
  bool sdk_coalesce = true;          // ClientOptions::coalesce_event_calls
  bool sdk_inline_callbacks = true;  // ClientOptions::inline_callbacks
  size_t raw_writes = 0;             // 0: as many as --events
  size_t raw_value_bytes = 256;
  double timeout_s = 900;
  bool json = false;
};

// One path's measurements; NaN where the path did not run (printed as null).
struct PathResult {
  bool ran = false;
  double events_per_s = NAN;
  double seconds = NAN;
  double deliver_p50_us = NAN, deliver_p99_us = NAN;
  double publish_p50_us = NAN, publish_p99_us = NAN;
  double ack_p50_us = NAN, ack_p99_us = NAN;
  double storage_syncs_per_event = NAN;
  // CPU of the whole benchmark process (node, SDK client and drivers) per event.
  double cpu_us_per_event = NAN;
  size_t deliveries = 0;
  size_t redeliveries = 0;
  // next_event calls per event delivered: how many events a worker's poll finds, inverted.
  double polls_per_event = NAN;
};

struct Results {
  PathResult inproc;
  PathResult sdk;
  RawRocksdbSyncResult raw;
  double raw_cpu_us_per_write = NAN;
  double load_start = -1, load_end = -1;
};

// ---- options -----------------------------------------------------------------------------------

std::optional<EventsOptions> parse_options(const std::vector<std::string>& args, int* exit_code) {
  EventsOptions o;
  std::string paths = "inproc,sdk";
  po::options_description desc("nca-bench events options");
  desc.add_options()("help,h", "print this help")(
      "personas", po::value<size_t>(&o.personas)->default_value(o.personas),
      "personas created (skills, a relationship, --capacity)")(
      "events", po::value<size_t>(&o.events)->default_value(o.events), "events per path")(
      "workers", po::value<size_t>(&o.workers)->default_value(o.workers),
      "worker threads doing next_event -> ack (0: one per persona); also the raw RocksDB "
      "baseline's writer threads")(
      "publishers", po::value<size_t>(&o.publishers)->default_value(o.publishers),
      "publisher loops, each waiting for its publish call (0: as many as workers, at most "
      "256; too few make the round trip the limit)")(
      "publish-batch", po::value<size_t>(&o.publish_batch)->default_value(o.publish_batch),
      "events per publish call")(
      "worker-batch", po::value<size_t>(&o.worker_batch)->default_value(o.worker_batch),
      "events a worker takes per next_event and acks per call (0: --capacity, all a persona "
      "may hold; 1: the single-event calls)")(
      "drivers", po::value<size_t>(&o.drivers)->default_value(o.drivers),
      "in-process: driver actors issuing the calls")(
      "window", po::value<size_t>(&o.window)->default_value(o.window),
      "events published but not yet acked, at most (0: twice the workers)")(
      "capacity", po::value<size_t>(&o.capacity)->default_value(o.capacity),
      "each persona's capacity (events in flight)")(
      "wait-ms", po::value<uint32_t>(&o.wait_ms)->default_value(o.wait_ms),
      "next_event long-poll wait of a worker")(
      "sdk-coalesce", po::value<bool>(&o.sdk_coalesce)->default_value(o.sdk_coalesce),
      "SDK path: the client merges concurrent publishes and acks (ClientOptions::"
      "coalesce_event_calls); 0 sends every call alone")(
      "sdk-inline-callbacks",
      po::value<bool>(&o.sdk_inline_callbacks)->default_value(o.sdk_inline_callbacks),
      "SDK path: the loops' callbacks run on the client's actor (ClientOptions::"
      "inline_callbacks); 0 runs them on the client's callback thread")(
      "threads", po::value<size_t>(&o.threads)->default_value(o.threads),
      "scheduler threads of the node under test (0: one per core)")(
      "paths", po::value<std::string>(&paths)->default_value(paths),
      "which paths to measure: inproc, sdk, both (inproc,sdk) or none (raw RocksDB only)")(
      "raw-writes", po::value<size_t>(&o.raw_writes)->default_value(o.raw_writes),
      "synced Puts of the raw RocksDB baseline (0: as many as --events)")(
      "raw-value-bytes", po::value<size_t>(&o.raw_value_bytes)->default_value(o.raw_value_bytes),
      "value size of the raw RocksDB baseline")(
      "timeout-s", po::value<double>(&o.timeout_s)->default_value(o.timeout_s),
      "deadline of one phase (and of the raw baseline), seconds")(
      "json", po::bool_switch(&o.json), "print one JSON object instead of a table");
  auto vm = parse_subcommand_args("events", desc, args, exit_code);
  if (!vm) return std::nullopt;
  auto bad = [&](const std::string& msg) {
    std::cerr << "nca-bench events: " << msg << "\n";
    *exit_code = 2;
    return std::nullopt;
  };
  if (paths == "none") {
    o.inproc = o.sdk = false;
  } else if (paths == "inproc") {
    o.sdk = false;
  } else if (paths == "sdk") {
    o.inproc = false;
  } else if (paths != "inproc,sdk" && paths != "sdk,inproc" && paths != "both") {
    return bad("--paths must be inproc, sdk, inproc,sdk, both or none");
  }
  if (o.personas < 1 || o.personas > 10000) return bad("--personas must be in 1..10000");
  if (o.events < 1 || o.events > 100000000) return bad("--events must be in 1..100000000");
  if (o.workers > 4096) return bad("--workers must be in 0..4096");
  if (o.workers == 0) o.workers = std::min<size_t>(o.personas, 4096);
  if (o.publishers > 256) return bad("--publishers must be in 0..256");
  if (o.publishers == 0) o.publishers = std::min<size_t>(o.workers, 256);
  if (o.publish_batch < 1 || o.publish_batch > 100000) {
    return bad("--publish-batch must be in 1..100000");
  }
  if (o.window == 0) o.window = std::max(2 * o.workers, o.publish_batch);
  if (o.window < o.publish_batch) {
    return bad(
        "--window must be at least --publish-batch (a publisher waits for room for a "
        "whole batch)");
  }
  if (o.capacity < 1 || o.capacity > 100000) return bad("--capacity must be in 1..100000");
  if (o.worker_batch == 0) o.worker_batch = std::min<size_t>(o.capacity, 1000);
  if (o.worker_batch > 1000) return bad("--worker-batch must be in 0..1000 (events.max-batch)");
  if (o.drivers < 1 || o.drivers > 64) return bad("--drivers must be in 1..64");
  if (o.wait_ms > 30000) return bad("--wait-ms must be in 0..30000");
  if (o.threads > 256) return bad("--threads must be in 0..256");
  if (o.raw_writes == 0) o.raw_writes = o.events;
  if (o.raw_value_bytes < 1 || o.raw_value_bytes > (1u << 20)) {
    return bad("--raw-value-bytes must be in 1..1048576");
  }
  if (!(o.timeout_s >= 1 && o.timeout_s <= 86400)) return bad("--timeout-s must be in 1..86400");
  return o;
}

// ---- the node and the callers ------------------------------------------------------------------

config::Settings node_settings(const EventsOptions& o, const std::string& data_dir) {
  config::Settings s = config::defaults();
  s.node.data_dir = data_dir;
  s.node.listen = "127.0.0.1:0";
  s.scheduler.threads = static_cast<int64_t>(o.threads);
  s.events.max_batch = std::max<int64_t>(
      s.events.max_batch, static_cast<int64_t>(std::max(o.publish_batch, o.worker_batch)));
  // Consolidation would run on the events' memories while the benchmark measures the queue.
  s.lymphatic.enabled = false;
  s.log.level = "warn";
  return s;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Issues requests without blocking a thread: `done` gets the whole Response (status OK) or the
// error, on whatever thread the path delivers replies on (one of the node's scheduler threads
// in-process, the SDK client's actor or callback thread over the SDK). Thread-safe. Every request
// is answered (a reply or an error); the phase's deadline bounds the wait for those that never are.
class AsyncCaller {
 public:
  using Done = std::function<void(Result<pb::Response>)>;
  virtual ~AsyncCaller() = default;
  // `wait` is how long the node may legitimately hold the request (a long poll).
  virtual void call(const pb::Request& req, std::chrono::milliseconds wait, Done done) = 0;

  // A blocking call for the set-up (not from a reply's thread).
  Result<pb::Response> call_sync(const pb::Request& req) {
    auto promise = std::make_shared<std::promise<Result<pb::Response>>>();
    auto future = promise->get_future();
    call(req, std::chrono::milliseconds(0),
         [promise](Result<pb::Response> r) { promise->set_value(std::move(r)); });
    return future.get();
  }
};

Result<pb::Response> response_of(const std::string& bytes) {
  pb::Response resp;
  if (!resp.ParseFromString(bytes)) {
    return make_error(ErrorCode::internal, "unparseable reply from the api actor");
  }
  if (resp.status().code() != pb::OK) {
    return make_error(static_cast<ErrorCode>(resp.status().code()), resp.status().message());
  }
  return resp;
}

// Through the api actor, as the SDK's envelope arrives there, from driver actors in the node's own
// actor system: an agent running inside the node's process would be an actor too, and no thread
// blocks per call. Requests carry no CAF timeout (the phase deadline bounds them), so the timer
// thread is not part of what is measured.
class InprocCaller : public AsyncCaller {
 public:
  InprocCaller(actors::Node& node, size_t drivers) : node_(node) {
    caf::actor api = node.api();
    for (size_t i = 0; i < std::max<size_t>(1, drivers); ++i) {
      drivers_.push_back(node.system().spawn([api](caf::event_based_actor* self) -> caf::behavior {
        return {[self, api](call_atom, InprocCallPtr c) {
          self->request(api, caf::infinite, wire::envelope_atom::value, c->method, c->bytes)
              .then([c](uint32_t, const std::string& reply) { c->done(response_of(reply)); },
                    [self, c](caf::error& e) {
                      c->done(make_error(ErrorCode::unavailable,
                                         "api actor did not answer: " + self->system().render(e)));
                    });
        }};
      }));
    }
  }
  ~InprocCaller() override {
    for (auto& d : drivers_) caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
  }

  void call(const pb::Request& req, std::chrono::milliseconds, Done done) override {
    auto c = std::make_shared<InprocCall>();
    c->method = static_cast<uint32_t>(req.body_case());
    c->bytes = req.SerializeAsString();
    c->done = std::move(done);
    caf::anon_send(drivers_[next_.fetch_add(1) % drivers_.size()], call_atom::value, std::move(c));
  }

 private:
  actors::Node& node_;
  std::vector<caf::actor> drivers_;
  std::atomic<size_t> next_{0};
};

// Through one shared SDK client and its asynchronous calls; the client's request timeout covers
// the longest long poll plus kCallMargin.
class SdkCaller : public AsyncCaller {
 public:
  explicit SdkCaller(Client& client) : client_(client) {}
  void call(const pb::Request& req, std::chrono::milliseconds, Done done) override {
    client_.call_async(req, std::move(done));
  }

 private:
  Client& client_;
};

// A node that predates the events API answers its methods with "unknown method": say so plainly.
Error explain(const std::string& what, const Error& e) {
  std::string msg = what + " failed: " + e.to_string();
  if (e.code == ErrorCode::invalid_argument &&
      e.message.find("unknown method") != std::string::npos) {
    msg += " (this node does not serve the events API of issue #4 yet)";
  }
  return make_error(e.code, msg);
}

std::string persona_id(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "bench-p%04zu", i);
  return buf;
}

std::string skill(size_t i) { return "skill" + std::to_string(i % kSkills); }
std::string customer(size_t i) { return "customer-" + std::to_string(i % kCustomers); }

// Persona i: its main skill at 0.9, two more at 0.6 and 0.3, and a customer it likes, so routing
// weighs skill match, affinity and load rather than taking the first persona with room.
pb::Persona persona_profile(size_t i, size_t capacity) {
  pb::Persona p;
  p.set_id(persona_id(i));
  p.set_name("bench persona " + std::to_string(i));
  p.set_role("worker");
  p.set_description("nca-bench events worker persona");
  (*p.mutable_skills())[skill(i)] = 0.9;
  (*p.mutable_skills())[skill(i + 3)] = 0.6;
  (*p.mutable_skills())[skill(i + 5)] = 0.3;
  p.add_responsibilities("bench tasks");
  p.add_traits("prompt");
  auto& rel = (*p.mutable_relationships())[customer(i)];
  rel.set_relation("customer");
  rel.set_affinity(0.5);
  p.set_capacity(static_cast<uint32_t>(capacity));
  p.set_status(pb::PERSONA_ACTIVE);
  return p;
}

Status create_personas(AsyncCaller& caller, const EventsOptions& o) {
  for (size_t i = 0; i < o.personas; ++i) {
    pb::Request req;
    *req.mutable_create_persona()->mutable_persona() = persona_profile(i, o.capacity);
    auto resp = caller.call_sync(req);
    if (!resp) return explain("create_persona " + persona_id(i), resp.error());
  }
  return {};
}

// The event with sequence number `seq`: one required skill, a sender, and the bench's metadata.
void fill_event(size_t seq, int64_t stamp_us, pb::EventInput* e) {
  e->set_topic("bench.task");
  e->set_priority(pb::NORMAL);
  e->set_payload("{\"seq\":" + std::to_string(seq) + "}");
  (*e->mutable_metadata())[kSeqKey] = std::to_string(seq);
  (*e->mutable_metadata())[kStampKey] = std::to_string(stamp_us);
  e->add_required_skills(skill(seq));
  e->set_from(customer(seq));
}

bool parse_u64(const std::string& text, uint64_t* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == nullptr || *end != '\0') return false;
  *out = v;
  return true;
}

// ---- one phase ---------------------------------------------------------------------------------

struct LoopSamples {
  std::vector<double> deliver_us;
  std::vector<double> ack_us;
  std::vector<double> publish_us;
};

// The personas worker w of `workers` serves (see the file comment).
std::vector<std::string> personas_of(size_t w, size_t workers, size_t personas) {
  std::vector<std::string> out;
  if (workers >= personas) {
    out.push_back(persona_id(w % personas));
  } else {
    for (size_t p = w; p < personas; p += workers) out.push_back(persona_id(p));
  }
  return out;
}

// One phase: worker loops (next_event -> ack -> next_event ...) and publisher loops (publish ->
// publish ...), each a chain of asynchronous calls, so the benchmark needs no thread per loop.
// Each loop has at most one call out at a time, so its own fields are touched by one callback at a
// time (the caller's reply delivery orders them). Shared state: atomics, and the window, the parked
// publishers and the first error under mu. Callbacks hold the Phase by shared_ptr.
class Phase : public std::enable_shared_from_this<Phase> {
 public:
  Phase(const EventsOptions& o, AsyncCaller& caller)
      : o_(o), caller_(caller), acked_(new std::atomic<uint8_t>[o.events]), free_(o.window) {
    for (size_t i = 0; i < o.events; ++i) acked_[i].store(0, std::memory_order_relaxed);
    workers_.resize(o.workers);
    for (size_t w = 0; w < o.workers; ++w) workers_[w].mine = personas_of(w, o.workers, o.personas);
    publishers_.resize(o.publishers);
    for (size_t p = 0; p < o.publishers; ++p) {
      publishers_[p].next = o.events * p / o.publishers;
      publishers_[p].last = o.events * (p + 1) / o.publishers;
    }
  }

  void start_workers() {
    for (size_t w = 0; w < workers_.size(); ++w) poll(w);
  }
  void start_publishers() {
    for (size_t p = 0; p < publishers_.size(); ++p) publish(p);
  }

  // Waits until every event is acked, a call failed or `deadline_s` passed; then stops the loops
  // and waits (up to the longest long poll plus the call margin) for the calls still out.
  void run(const std::string& name, double deadline_s) {
    Stopwatch phase;
    double next_report_s = 5;
    std::unique_lock<std::mutex> lock(mu_);
    while (!error_ && acked_count_.load() < o_.events && phase.elapsed_s() < deadline_s) {
      cv_.wait_for(lock, std::chrono::milliseconds(200));
      if (phase.elapsed_s() >= next_report_s) {
        next_report_s += 5;
        progress("  " + name + ": " + std::to_string(acked_count_.load()) + " / " +
                 std::to_string(o_.events) + " acked");
      }
    }
    stop_ = true;
    progress("  " + name + ": stopping workers (each returns within its " +
             std::to_string(o_.wait_ms) + " ms long poll)");
    auto until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(o_.wait_ms) + kCallMargin;
    cv_.wait_until(lock, until, [&] { return outstanding_ == 0; });
  }

  std::optional<Error> error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }
  size_t outstanding() {
    std::lock_guard<std::mutex> lock(mu_);
    return outstanding_;
  }
  size_t acked() const { return acked_count_.load(); }
  size_t deliveries() const { return deliveries_.load(); }
  size_t redeliveries() const { return redeliveries_.load(); }
  size_t polls() const { return polls_.load(); }
  int64_t start_us() const { return start_us_.load(); }
  int64_t end_us() const { return end_us_.load(); }
  template <class F>
  void for_each_samples(F f) const {
    for (const auto& w : workers_) f(w.samples);
    for (const auto& p : publishers_) f(p.samples);
  }

 private:
  struct WorkerLoop {
    std::vector<std::string> mine;
    size_t turn = 0;
    size_t empty_in_a_row = 0;
    LoopSamples samples;
  };
  struct PublisherLoop {
    size_t next = 0, last = 0;
    LoopSamples samples;
  };

  void fail(Error e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_) error_ = std::move(e);
    stop_ = true;
    cv_.notify_all();
  }

  // Every call goes through here, so the phase knows when the last reply is in.
  void issue(const pb::Request& req, std::chrono::milliseconds wait, AsyncCaller::Done done) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++outstanding_;
    }
    auto self = shared_from_this();
    caller_.call(req, wait, [self, done = std::move(done)](Result<pb::Response> r) {
      done(std::move(r));
      std::lock_guard<std::mutex> lock(self->mu_);
      if (--self->outstanding_ == 0) self->cv_.notify_all();
    });
  }

  void poll(size_t w) {
    if (stop_.load()) return;
    WorkerLoop& loop = workers_[w];
    const std::string& persona = loop.mine[loop.turn % loop.mine.size()];
    ++loop.turn;
    uint32_t wait = o_.wait_ms;
    if (loop.mine.size() > 1) {
      wait =
          loop.empty_in_a_row >= loop.mine.size() ? std::min(o_.wait_ms, kMultiPersonaWaitMs) : 0;
    }
    pb::Request next;
    next.mutable_next_event()->set_persona_id(persona);
    next.mutable_next_event()->set_wait_ms(wait);
    // --worker-batch 1 keeps the single-event form (reply in `event`, a plain ack).
    if (o_.worker_batch > 1)
      next.mutable_next_event()->set_max_events(static_cast<uint32_t>(o_.worker_batch));
    polls_++;
    issue(next, std::chrono::milliseconds(wait),
          [this, w, persona](Result<pb::Response> r) { on_events(w, persona, std::move(r)); });
  }

  void on_events(size_t w, const std::string& persona, Result<pb::Response> resp) {
    if (!resp) return fail(explain("next_event for " + persona, resp.error()));
    const int64_t got_us = now_us();
    WorkerLoop& loop = workers_[w];
    std::vector<const pb::Event*> events;
    const auto& reply = resp->next_event();
    if (reply.has_event()) events.push_back(&reply.event());
    for (const auto& e : reply.events()) events.push_back(&e);
    if (events.empty()) {
      ++loop.empty_in_a_row;
      return poll(w);
    }
    loop.empty_in_a_row = 0;
    std::vector<uint64_t> seqs;
    pb::Request ack;
    for (const pb::Event* ev : events) {
      deliveries_++;
      uint64_t seq = 0;
      uint64_t stamp = 0;
      auto seq_it = ev->metadata().find(kSeqKey);
      auto stamp_it = ev->metadata().find(kStampKey);
      if (seq_it == ev->metadata().end() || stamp_it == ev->metadata().end() ||
          !parse_u64(seq_it->second, &seq) || !parse_u64(stamp_it->second, &stamp) ||
          seq >= o_.events) {
        return fail(make_error(ErrorCode::internal,
                               "event " + ev->id() + " delivered to " + persona +
                                   " lacks the benchmark's metadata (" + kSeqKey + ", " +
                                   kStampKey + "): the node lost or changed it"));
      }
      loop.samples.deliver_us.push_back(static_cast<double>(got_us - static_cast<int64_t>(stamp)));
      seqs.push_back(seq);
      pb::AckRequest* a =
          o_.worker_batch > 1 ? ack.mutable_ack_batch()->add_acks() : ack.mutable_ack();
      a->set_event_id(ev->id());
      a->set_attempt(ev->attempts());
    }
    const int64_t sent_us = now_us();
    const std::string first = events.front()->id();
    issue(ack, std::chrono::milliseconds(0),
          [this, w, seqs = std::move(seqs), sent_us, first](Result<pb::Response> r) {
            on_acked(w, seqs, sent_us, first, std::move(r));
          });
  }

  void on_acked(size_t w, const std::vector<uint64_t>& seqs, int64_t sent_us,
                const std::string& first, Result<pb::Response> resp) {
    WorkerLoop& loop = workers_[w];
    loop.samples.ack_us.push_back(static_cast<double>(now_us() - sent_us));
    if (!resp) return fail(explain("ack of " + first, resp.error()));
    for (const auto& outcome : resp->ack_batch().results()) {
      if (outcome.status().code() != pb::OK) {
        return fail(explain("ack of " + outcome.event().id(),
                            make_error(static_cast<ErrorCode>(outcome.status().code()),
                                       outcome.status().message())));
      }
    }
    size_t fresh = 0;
    for (uint64_t seq : seqs) {
      if (acked_[seq].exchange(1) != 0) {
        redeliveries_++;
      } else {
        ++fresh;
      }
    }
    release(fresh);
    if (fresh > 0 && acked_count_.fetch_add(fresh) + fresh == o_.events) {
      end_us_ = now_us();
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
    poll(w);
  }

  // Frees window room for `k` events and restarts the publishers that waited for it.
  void release(size_t k) {
    std::vector<size_t> parked;
    {
      std::lock_guard<std::mutex> lock(mu_);
      free_ += k;
      parked.swap(parked_);
    }
    for (size_t p : parked) publish(p);
  }

  void publish(size_t p) {
    PublisherLoop& loop = publishers_[p];
    size_t begin = 0, end = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_.load() || loop.next >= loop.last) return;
      const size_t k = std::min(o_.publish_batch, loop.last - loop.next);
      if (free_ < k) {
        parked_.push_back(p);  // release() restarts it
        return;
      }
      free_ -= k;
      begin = loop.next;
      end = begin + k;
      loop.next = end;
    }
    pb::Request req;
    auto* body = req.mutable_publish();
    const int64_t stamp = now_us();
    int64_t expected = 0;
    start_us_.compare_exchange_strong(expected, stamp);
    for (size_t seq = begin; seq < end; ++seq) fill_event(seq, stamp, body->add_events());
    issue(req, std::chrono::milliseconds(0),
          [this, p, stamp, n = end - begin](Result<pb::Response> r) {
            publishers_[p].samples.publish_us.push_back(static_cast<double>(now_us() - stamp));
            if (!r) return fail(explain("publish", r.error()));
            if (static_cast<size_t>(r->publish().events_size()) != n) {
              return fail(make_error(ErrorCode::internal,
                                     "publish of " + std::to_string(n) + " events replied with " +
                                         std::to_string(r->publish().events_size())));
            }
            publish(p);
          });
  }

  const EventsOptions& o_;
  AsyncCaller& caller_;
  std::unique_ptr<std::atomic<uint8_t>[]> acked_;  // by sequence number
  std::vector<WorkerLoop> workers_;
  std::vector<PublisherLoop> publishers_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> acked_count_{0};
  std::atomic<size_t> deliveries_{0};
  std::atomic<size_t> redeliveries_{0};
  std::atomic<size_t> polls_{0};
  std::atomic<int64_t> start_us_{0};
  std::atomic<int64_t> end_us_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  size_t free_;                 // window room
  std::vector<size_t> parked_;  // publishers waiting for room
  size_t outstanding_ = 0;      // calls not answered yet
  std::optional<Error> error_;
};

// Runs one phase: workers first, then publishers; waits for every ack, a failure or the deadline.
Status run_phase(const std::string& name, const EventsOptions& o, AsyncCaller& caller,
                 const std::function<uint64_t()>& storage_syncs, PathResult* out) {
  progress(name + ": " + std::to_string(o.events) + " events, " + std::to_string(o.workers) +
           " workers (up to " + std::to_string(o.worker_batch) + " events per next_event), " +
           std::to_string(o.publishers) + " publishers (batches of " +
           std::to_string(o.publish_batch) + "), window " + std::to_string(o.window));
  auto phase = std::make_shared<Phase>(o, caller);
  const double cpu_before = self_cpu_seconds();
  phase->start_workers();
  const uint64_t syncs_before = storage_syncs();
  phase->start_publishers();
  phase->run(name, o.timeout_s);
  const uint64_t syncs_after = storage_syncs();
  const double cpu_after = self_cpu_seconds();
  if (auto e = phase->error()) return *e;
  if (phase->acked() < o.events) {
    return make_error(ErrorCode::deadline_exceeded,
                      name + ": only " + std::to_string(phase->acked()) + " of " +
                          std::to_string(o.events) + " events acked within " +
                          std::to_string(o.timeout_s) + " s (" +
                          std::to_string(phase->deliveries()) + " deliveries)");
  }
  if (size_t left = phase->outstanding(); left > 0) {
    return make_error(ErrorCode::deadline_exceeded, name + ": " + std::to_string(left) +
                                                        " calls still unanswered after the " +
                                                        "phase (a reply the node never sent)");
  }
  Latencies deliver, ack, publish;
  phase->for_each_samples([&](const LoopSamples& s) {
    for (double v : s.deliver_us) deliver.add(v);
    for (double v : s.ack_us) ack.add(v);
    for (double v : s.publish_us) publish.add(v);
  });
  out->ran = true;
  out->seconds = static_cast<double>(phase->end_us() - phase->start_us()) / 1e6;
  out->events_per_s = static_cast<double>(o.events) / out->seconds;
  out->deliver_p50_us = deliver.percentile(50);
  out->deliver_p99_us = deliver.percentile(99);
  out->ack_p50_us = ack.percentile(50);
  out->ack_p99_us = ack.percentile(99);
  out->publish_p50_us = publish.percentile(50);
  out->publish_p99_us = publish.percentile(99);
  out->deliveries = phase->deliveries();
  out->redeliveries = phase->redeliveries();
  if (phase->deliveries() > 0) {
    out->polls_per_event =
        static_cast<double>(phase->polls()) / static_cast<double>(phase->deliveries());
  }
  out->storage_syncs_per_event =
      static_cast<double>(syncs_after - syncs_before) / static_cast<double>(o.events);
  out->cpu_us_per_event = (cpu_after - cpu_before) * 1e6 / static_cast<double>(o.events);
  progress("  " + name + ": " + std::to_string(static_cast<int64_t>(out->events_per_s)) +
           " events/s, delivery p50 " + std::to_string(static_cast<int64_t>(out->deliver_p50_us)) +
           " us, p99 " + std::to_string(static_cast<int64_t>(out->deliver_p99_us)) + " us");
  return {};
}

// One path on a node of its own: a new temp directory, the personas created in-process, the
// phase, the node stopped and its directory removed. Each path starts from the same state, so its
// numbers do not depend on whether the other path ran before it on the same node.
Status run_path_on_fresh_node(const EventsOptions& o, bool sdk_path, PathResult* out) {
  TempDir dir("nca-bench-events");
  if (dir.path().empty()) return make_error(ErrorCode::unavailable, "cannot create a temp dir");
  auto started = actors::Node::start(node_settings(o, dir.path() + "/node"));
  if (!started) return started.error();
  std::unique_ptr<actors::Node> node = std::move(*started);
  progress("node up on 127.0.0.1:" + std::to_string(node->port()) + ", data in " + dir.path());
  auto storage_syncs = [&node] { return node->context().db->sync_count(); };

  Status s;
  {
    InprocCaller inproc(*node, o.drivers);
    progress("creating " + std::to_string(o.personas) + " personas");
    s = create_personas(inproc, o);
    if (s && !sdk_path) s = run_phase("in-process", o, inproc, storage_syncs, out);
  }
  if (s && sdk_path) {
    ClientOptions copt;
    copt.request_timeout = std::chrono::milliseconds(o.wait_ms) + kCallMargin;
    copt.coalesce_event_calls = o.sdk_coalesce;
    copt.inline_callbacks = o.sdk_inline_callbacks;
    auto connected = Client::connect({"127.0.0.1:" + std::to_string(node->port())}, copt);
    if (!connected) {
      s = connected.error();
    } else {
      std::unique_ptr<Client> client = std::move(*connected);
      SdkCaller sdk(*client);
      s = run_phase("sdk", o, sdk, storage_syncs, out);
    }
  }
  progress("stopping the node");
  Status stopped = node->stop();
  if (!s) return s;
  return stopped;
}

Status run_node_phases(const EventsOptions& o, Results* r) {
  if (o.inproc) {
    if (Status s = run_path_on_fresh_node(o, false, &r->inproc); !s) return s;
  }
  if (o.sdk) return run_path_on_fresh_node(o, true, &r->sdk);
  return {};
}

Status run_raw_baseline(const EventsOptions& o, Results* r) {
  TempDir dir("nca-bench-rawdb");
  if (dir.path().empty()) return make_error(ErrorCode::unavailable, "cannot create a temp dir");
  RawRocksdbSyncOptions ropt;
  ropt.threads = o.workers;
  ropt.writes = o.raw_writes;
  ropt.value_bytes = o.raw_value_bytes;
  ropt.max_seconds = o.timeout_s;
  progress("raw RocksDB: " + std::to_string(ropt.writes) + " synced single-key Puts on " +
           std::to_string(ropt.threads) + " threads");
  const double cpu_before = self_cpu_seconds();
  auto raw = measure_raw_rocksdb_sync_writes(dir.path() + "/db", ropt);
  if (!raw) return raw.error();
  r->raw = *raw;
  if (raw->writes > 0) {
    r->raw_cpu_us_per_write =
        (self_cpu_seconds() - cpu_before) * 1e6 / static_cast<double>(raw->writes);
  }
  progress("  " + std::to_string(static_cast<int64_t>(raw->writes_per_s)) + " writes/s (" +
           std::to_string(raw->writes) + " in " + std::to_string(raw->seconds) + " s)");
  return {};
}

// ---- output ------------------------------------------------------------------------------------

// events/s of a path against a third of the raw synced-write rate (an event is three durable state
// changes: published, delivered, acked).
bool target_met(const PathResult& p, const Results& r) {
  return p.ran && p.events_per_s >= r.raw.writes_per_s / 3.0;
}

// The headline keys are the SDK path's (what an agent process sees); in-process when only that ran.
const PathResult& headline(const Results& r) { return r.sdk.ran ? r.sdk : r.inproc; }

void path_json(const std::string& prefix, const PathResult& p, nlohmann::ordered_json* j) {
  (*j)["events_" + prefix + "_per_s"] = json_number(p.events_per_s);
  (*j)["deliver_" + prefix + "_p50_us"] = json_number(p.deliver_p50_us);
  (*j)["deliver_" + prefix + "_p99_us"] = json_number(p.deliver_p99_us);
  (*j)["publish_" + prefix + "_p50_us"] = json_number(p.publish_p50_us);
  (*j)["publish_" + prefix + "_p99_us"] = json_number(p.publish_p99_us);
  (*j)["ack_" + prefix + "_p50_us"] = json_number(p.ack_p50_us);
  (*j)["ack_" + prefix + "_p99_us"] = json_number(p.ack_p99_us);
  (*j)["storage_syncs_per_event_" + prefix] = json_number(p.storage_syncs_per_event, 3);
  (*j)["cpu_us_per_event_" + prefix] = json_number(p.cpu_us_per_event);
  (*j)["redeliveries_" + prefix] = p.redeliveries;
  (*j)["polls_per_event_" + prefix] = json_number(p.polls_per_event, 3);
  (*j)["seconds_" + prefix] = json_number(p.seconds, 3);
}

nlohmann::ordered_json to_json(const EventsOptions& o, const Results& r) {
  const PathResult& h = headline(r);
  nlohmann::ordered_json j;
  j["benchmark"] = "events";
  j["allocator"] = alloc::name();  // see runtime/allocator
  j["personas"] = o.personas;
  j["events"] = o.events;
  j["workers"] = o.workers;
  j["publishers"] = o.publishers;
  j["publish_batch"] = o.publish_batch;
  j["worker_batch"] = o.worker_batch;
  j["drivers"] = o.drivers;
  j["window"] = o.window;
  j["capacity"] = o.capacity;
  j["wait_ms"] = o.wait_ms;
  j["threads"] = o.threads;
  j["sdk_coalesce"] = o.sdk_coalesce;
  j["sdk_inline_callbacks"] = o.sdk_inline_callbacks;
  j["headline_path"] = r.sdk.ran ? "sdk" : (r.inproc.ran ? "inproc" : "none");
  j["events_per_s"] = json_number(h.events_per_s);
  j["deliver_p50_us"] = json_number(h.deliver_p50_us);
  j["deliver_p99_us"] = json_number(h.deliver_p99_us);
  j["cpu_us_per_event"] = json_number(h.cpu_us_per_event);
  path_json("inproc", r.inproc, &j);
  path_json("sdk", r.sdk, &j);
  j["raw_rocksdb_sync_writes_per_s"] = json_number(r.raw.writes_per_s);
  j["raw_rocksdb_sync_p50_us"] = json_number(r.raw.p50_us);
  j["raw_rocksdb_sync_p99_us"] = json_number(r.raw.p99_us);
  j["raw_rocksdb_writes"] = r.raw.writes;
  j["raw_rocksdb_threads"] = o.workers;
  j["raw_rocksdb_cpu_us_per_write"] = json_number(r.raw_cpu_us_per_write);
  j["events_over_raw_writes"] = json_number(h.events_per_s / r.raw.writes_per_s, 3);
  j["nproc"] = online_cpus();
  j["cpu"] = cpu_model();
  j["loadavg_1m_start"] = json_number(r.load_start, 2);
  j["loadavg_1m_end"] = json_number(r.load_end, 2);
  j["target_events_per_s_met"] = target_met(h, r);
  j["target_events_inproc_per_s_met"] = target_met(r.inproc, r);
  return j;
}

void print_table(const EventsOptions& o, const Results& r) {
  auto yes = [](bool b) { return std::string(b ? "yes" : "NO"); };
  const std::string raw = "raw RocksDB " + table_number(r.raw.writes_per_s);
  std::vector<TableRow> rows = {
      {"events_sdk_per_s", table_number(r.sdk.events_per_s), raw, ">= 1/3 x raw RocksDB",
       r.sdk.ran ? yes(target_met(r.sdk, r)) : ""},
      {"events_inproc_per_s", table_number(r.inproc.events_per_s), raw, ">= 1/3 x raw RocksDB",
       r.inproc.ran ? yes(target_met(r.inproc, r)) : ""},
      {"deliver_sdk_p50_us", table_number(r.sdk.deliver_p50_us),
       "p99 " + table_number(r.sdk.deliver_p99_us), "", ""},
      {"deliver_inproc_p50_us", table_number(r.inproc.deliver_p50_us),
       "p99 " + table_number(r.inproc.deliver_p99_us), "", ""},
      {"publish_sdk_p50_us", table_number(r.sdk.publish_p50_us),
       "p99 " + table_number(r.sdk.publish_p99_us), "", ""},
      {"publish_inproc_p50_us", table_number(r.inproc.publish_p50_us),
       "p99 " + table_number(r.inproc.publish_p99_us), "", ""},
      {"ack_sdk_p50_us", table_number(r.sdk.ack_p50_us), "p99 " + table_number(r.sdk.ack_p99_us),
       "", ""},
      {"ack_inproc_p50_us", table_number(r.inproc.ack_p50_us),
       "p99 " + table_number(r.inproc.ack_p99_us), "", ""},
      {"storage_syncs_per_event", table_number(r.sdk.storage_syncs_per_event, 3),
       "in-process " + table_number(r.inproc.storage_syncs_per_event, 3), "", ""},
      {"polls_per_event", table_number(r.sdk.polls_per_event, 3),
       "in-process " + table_number(r.inproc.polls_per_event, 3), "", ""},
      {"cpu_us_per_event", table_number(r.sdk.cpu_us_per_event),
       "in-process " + table_number(r.inproc.cpu_us_per_event) + ", raw write " +
           table_number(r.raw_cpu_us_per_write),
       "", ""},
      {"raw_rocksdb_sync_writes_per_s", table_number(r.raw.writes_per_s),
       "Put p50 " + table_number(r.raw.p50_us) + " us, p99 " + table_number(r.raw.p99_us) + " us",
       "", ""},
  };
  std::cout << "nca-bench events: personas=" << o.personas << " events=" << o.events
            << " workers=" << o.workers << " publishers=" << o.publishers
            << " publish_batch=" << o.publish_batch << " worker_batch=" << o.worker_batch
            << " window=" << o.window << " capacity=" << o.capacity << " wait_ms=" << o.wait_ms
            << " threads=" << o.threads << " (raw RocksDB: " << r.raw.writes << " synced Puts on "
            << o.workers << " threads)\n"
            << machine_line(r.load_start, r.load_end) << "\n";
  print_rows(rows);
}

int run(const std::vector<std::string>& args) {
  int exit_code = 0;
  auto parsed = parse_options(args, &exit_code);
  if (!parsed) return exit_code;
  const EventsOptions& o = *parsed;

  send_node_logs_to_stderr();

  Results r;
  r.load_start = load_average_1m();
  if (auto s = run_raw_baseline(o, &r); !s) {
    std::cerr << "nca-bench events: " << s.error().to_string() << "\n";
    return 1;
  }
  if (o.inproc || o.sdk) {
    if (auto s = run_node_phases(o, &r); !s) {
      std::cerr << "nca-bench events: the node benchmark failed: " << s.error().to_string() << "\n";
      return 1;
    }
  }
  r.load_end = load_average_1m();
  return print_result(
      o.json, [&] { return to_json(o, r).dump(); }, [&] { print_table(o, r); });
}

}  // namespace
}  // namespace events_bench

int run_events(const std::vector<std::string>& args) { return events_bench::run(args); }

}  // namespace nca::bench
