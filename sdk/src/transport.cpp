#include "sdk/src/transport.hpp"

#include "sdk/src/route_cache.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/logger.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

#include "proto/wire.hpp"

namespace nca::sdk {

namespace {

using Micros = std::chrono::microseconds;

// Settings measured on this project's machines (docs: DESIGN.md, appendix): the sharing scheduler
// wakes for sparse request/response traffic in tens of microseconds where work stealing sleeps ~1
// ms; one worker is enough because each call only hands bytes to the middleman; heartbeats let
// the middleman notice a node that vanished without closing its socket.
class ClientSystemConfig : public caf::actor_system_config {
 public:
  ClientSystemConfig() {
    set("scheduler.policy", caf::atom("sharing"));
    // Every call runs in one actor (OpRunner), which one thread at a time can run anyway; a second
    // worker only hands it back and forth. In 10 alternating pairs of nca-bench events (SDK path),
    // one worker made 9,640 events/s on average against 8,740 with two, and varied less
    // (docs/benchmarks.md, session 29).
    set("scheduler.max-threads", size_t{1});
    set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds(500)});
    load<caf::io::middleman>();
  }
};

// CAF 0.17's spawn (and the actor_system constructor) store the system's logger in a thread_local
// of the calling thread, and ~actor_system waits until every thread has let go of it. A user thread
// that called the client and outlives it would hang the client's destructor forever, so every entry
// point that may run on a user thread releases it again on the way out. (The library is built with
// logging compiled out, so no thread loses log output by this.)
class ReleaseThreadLogger {
 public:
  ReleaseThreadLogger() = default;
  ~ReleaseThreadLogger() { caf::logger::set_current_actor_system(nullptr); }
  ReleaseThreadLogger(const ReleaseThreadLogger&) = delete;
  ReleaseThreadLogger& operator=(const ReleaseThreadLogger&) = delete;
};

int64_t to_ms(Micros d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

// Why a connect attempt failed, in words a user can act on.
std::string describe_connect_error(caf::actor_system& system, const caf::error& err,
                                   Micros timeout) {
  if (err == caf::sec::cannot_connect_to_node) {
    const caf::message& context = err.context();
    if (context.size() > 0 && context.match_element<std::string>(0)) {
      const std::string& what = context.get_as<std::string>(0);
      if (what == "ip_connect failed") return "connection refused";
      return what;
    }
    return "connection refused";
  }
  if (err == caf::sec::request_timeout) {
    return "no handshake within " + std::to_string(to_ms(timeout)) + " ms (is it an nca-node?)";
  }
  return system.render(err);
}

std::string describe_send_error(caf::actor_system& system, const caf::error& err) {
  if (err == caf::sec::request_receiver_down) return "the node's api actor is gone";
  return system.render(err);
}

}  // namespace

constexpr std::chrono::seconds kUnreachableFor{30};

namespace {
class SendOp;
}  // namespace

struct Transport::Shared {
  Shared(std::vector<Endpoint> endpoints_in, TransportOptions options_in)
      : endpoints(std::move(endpoints_in)), options(options_in) {
    ReleaseThreadLogger release_logger;
    options.max_attempts = std::max(1, options.max_attempts);
    system = std::make_unique<caf::actor_system>(config);
    middleman = system->middleman().actor_handle();
  }

  struct Link {
    caf::actor actor;
    size_t index = 0;
  };

  Link current() {
    std::lock_guard<std::mutex> lock(mu);
    return Link{connected, connected_index};
  }
  size_t preferred_index() {
    std::lock_guard<std::mutex> lock(mu);
    return preferred;
  }
  void adopt(const caf::actor& actor, size_t index) {
    std::lock_guard<std::mutex> lock(mu);
    if (closed) return;
    connected = actor;
    connected_index = index;
    preferred = index;
  }
  // Forgets a connection that failed, unless another call already replaced it; the next connect
  // starts at the following address, so a dead node is not retried first.
  void drop(const caf::actor& actor, size_t index) {
    std::lock_guard<std::mutex> lock(mu);
    if (connected == actor) connected = caf::actor{};
    if (preferred == index) preferred = (index + 1) % endpoints.size();
  }
  caf::actor route_link(const std::string& address) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = route_links.find(address);
    return it == route_links.end() ? caf::actor{} : it->second;
  }
  void add_route_link(const std::string& address, const caf::actor& actor) {
    std::lock_guard<std::mutex> lock(mu);
    if (!closed) route_links[address] = actor;
  }
  void drop_route_link(const std::string& address, const caf::actor& actor) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = route_links.find(address);
    if (it != route_links.end() && (!actor || it->second == actor)) route_links.erase(it);
  }

  const std::vector<Endpoint> endpoints;
  TransportOptions options;
  ClientSystemConfig config;
  std::unique_ptr<caf::actor_system> system;
  caf::io::middleman_actor middleman;

  std::mutex mu;  // guards everything below
  bool closed = false;
  caf::actor connected;
  size_t connected_index = 0;
  size_t preferred = 0;
  uint64_t last_op_id = 0;
  caf::actor runner;                                        // runs every op (OpRunner)
  std::vector<std::shared_ptr<SendOp>> pending;             // handed to the runner, not started yet
  std::unordered_map<std::string, caf::actor> route_links;  // by "host:port"
  // Routed nodes that could not be connected to, and until when no route to them is learned: a
  // node whose address is not reachable from the client would otherwise cost a connect timeout
  // every time a reply names it again.
  std::unordered_map<std::string, SteadyTime> unreachable;
  RouteCache routes;  // thread-safe on its own
};

namespace {

// What a SendOp needs of the actor that runs it besides the actor itself.
class OpHost {
 public:
  virtual ~OpHost() = default;
  // Monitors `actor` once for all ops: its down_msg reaches every op (SendOp::on_down).
  virtual void watch(const caf::actor& actor) = 0;
  // The op with this id is finished and can go.
  virtual void done(uint64_t id) = 0;
};

// One send (or, with connect_only, one connect) and its retries, run by the transport's OpRunner.
// All methods but abandon() run in that actor's context, one at a time.
class SendOp : public std::enable_shared_from_this<SendOp> {
 public:
  using Done = std::function<void(Result<RawReply>)>;

  using Prepare = std::function<std::optional<PreparedSend>()>;

  SendOp(std::shared_ptr<Transport::Shared> shared, uint64_t id, uint32_t method, std::string bytes,
         SteadyTime deadline, bool connect_only, std::string route_key, Done done)
      : shared_(std::move(shared)),
        id_(id),
        method_(method),
        bytes_(std::move(bytes)),
        deadline_(deadline),
        connect_only_(connect_only),
        route_key_(std::move(route_key)),
        done_(std::move(done)) {}

  // A send whose envelope `prepare` makes when the op starts (Transport::send_when_ready).
  SendOp(std::shared_ptr<Transport::Shared> shared, uint64_t id, Prepare prepare)
      : shared_(std::move(shared)), id_(id), connect_only_(false), prepare_(std::move(prepare)) {}

  uint64_t id() const { return id_; }

  void start(caf::event_based_actor* self, OpHost* host) {
    self_ = self;
    host_ = host;
    if (!take_prepared()) return host_->done(id_);
    if (connect_only_) {
      connect_round();
    } else {
      if (!route_key_.empty()) route_ = shared_->routes.find(route_key_);
      attempt();
    }
  }

  // An actor the runner watches went down: this op fails over if it was waiting on it.
  void on_down(const caf::down_msg& msg) {
    if (!target_ || msg.source != target_.address()) return;
    transport_failed(target_index_, "the node's api actor is gone");
  }

  // The runner terminated (client closing): fail the call unless it already completed.
  void abandon() {
    if (!take_prepared()) return;
    complete(make_error(ErrorCode::unavailable, "the client was closed before the call completed"));
  }

 private:
  Micros remaining() const {
    return std::chrono::duration_cast<Micros>(deadline_ - std::chrono::steady_clock::now());
  }
  // The index of a send to the route's node rather than to one of the client's addresses.
  static constexpr size_t kRouted = static_cast<size_t>(-1);

  // Runs a late send's prepare (once); false when it has nothing to send.
  bool take_prepared() {
    if (!prepare_) return !completed_;
    Prepare prepare = std::move(prepare_);
    prepare_ = nullptr;
    std::optional<PreparedSend> send = prepare();
    if (!send) {
      completed_ = true;
      return false;
    }
    method_ = send->method;
    bytes_ = std::move(send->bytes);
    deadline_ = send->deadline;
    route_key_ = std::move(send->route_key);
    done_ = std::move(send->done);
    return true;
  }

  std::string address(size_t index) const {
    return index == kRouted ? route_->to_string() : shared_->endpoints[index].to_string();
  }

  void attempt() {
    if (remaining().count() <= 0) return finish(deadline_error("before the request was sent"));
    if (route_) {
      if (caf::actor linked = shared_->route_link(route_->to_string())) {
        return send_to(linked, kRouted);
      }
      return connect_route();
    }
    Transport::Shared::Link link = shared_->current();
    if (!link.actor) return connect_round();
    send_to(link.actor, link.index);
  }

  // A connection of its own to the route's node, kept for the sends that follow.
  void connect_route() {
    Micros timeout = std::min<Micros>(shared_->options.connect_timeout, remaining());
    auto op = shared_from_this();
    self_
        ->request(shared_->middleman, timeout, caf::connect_atom::value, route_->host, route_->port)
        .then(
            [op](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
              if (!ptr) return op->give_up_route(caf::actor{});
              auto actor = caf::actor_cast<caf::actor>(std::move(ptr));
              op->shared_->add_route_link(op->route_->to_string(), actor);
              op->send_to(actor, kRouted);
            },
            [op](caf::error&) { op->give_up_route(caf::actor{}); });
  }

  // The route's node cannot be reached: forget the route; this send goes the usual way.
  void give_up_route(const caf::actor& failed) {
    const std::string address = route_->to_string();
    if (!failed) {  // not even connected
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->unreachable[address] = std::chrono::steady_clock::now() + kUnreachableFor;
    }
    shared_->routes.forget(route_key_, address);
    shared_->drop_route_link(address, failed);
    route_.reset();
    attempt();
  }

  void connect_round() {
    round_start_ = shared_->preferred_index();
    tried_ = 0;
    connect_failures_.clear();
    connect_next();
  }

  void connect_next() {
    size_t count = shared_->endpoints.size();
    if (tried_ == count)
      return finish(make_error(ErrorCode::unavailable, connect_failure_message()));
    Micros left = remaining();
    if (left.count() <= 0) return finish(deadline_error("while connecting"));
    size_t index = (round_start_ + tried_) % count;
    ++tried_;
    Micros timeout = std::min<Micros>(shared_->options.connect_timeout, left);
    const Endpoint& endpoint = shared_->endpoints[index];
    auto op = shared_from_this();
    self_
        ->request(shared_->middleman, timeout, caf::connect_atom::value, endpoint.host,
                  endpoint.port)
        .then(
            [op, index](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
              op->on_connected(index, std::move(ptr));
            },
            [op, index, timeout](caf::error& err) { op->on_connect_failed(index, err, timeout); });
  }

  void on_connected(size_t index, caf::strong_actor_ptr ptr) {
    if (!ptr) {
      connect_failures_.push_back(address(index) + ": no actor is published there");
      return connect_next();
    }
    auto actor = caf::actor_cast<caf::actor>(std::move(ptr));
    shared_->adopt(actor, index);
    if (connect_only_) return finish(RawReply{0, std::string(), address(index)});
    send_to(actor, index);
  }

  void on_connect_failed(size_t index, const caf::error& err, Micros timeout) {
    // A connect cut short by the call's deadline (not by connect_timeout) means the deadline
    // expired.
    if (err == caf::sec::request_timeout && timeout < shared_->options.connect_timeout) {
      return finish(deadline_error("while connecting to " + address(index)));
    }
    connect_failures_.push_back(address(index) + ": " +
                                describe_connect_error(*shared_->system, err, timeout));
    connect_next();
  }

  void send_to(const caf::actor& actor, size_t index) {
    Micros left = remaining();
    if (left.count() <= 0) return finish(deadline_error("before the request was sent"));
    ++attempts_;
    uint64_t attempt = attempts_;
    target_ = actor;
    target_index_ = index;
    // A request already on the wire when its node dies gets no reply at all; the monitor turns that
    // into a transport failure now instead of a timeout at the deadline.
    host_->watch(actor);
    auto op = shared_from_this();
    self_->request(actor, left, wire::envelope_atom::value, method_, bytes_)
        .then(
            [op, attempt, index](uint32_t method, std::string& bytes) {
              if (op->is_stale(attempt)) return;
              op->finish(RawReply{method, std::move(bytes), op->address(index)});
            },
            [op, attempt, index, left](caf::error& err) {
              if (op->is_stale(attempt)) return;
              op->on_send_failed(index, err, left);
            });
  }

  // A reply (or error) for an attempt already given up on, after its target went down.
  bool is_stale(uint64_t attempt) const {
    return attempt != static_cast<uint64_t>(attempts_) || !target_;
  }

  void on_send_failed(size_t index, const caf::error& err, Micros timeout) {
    if (err == caf::sec::request_timeout) {
      return finish(make_error(
          ErrorCode::deadline_exceeded,
          "no reply from " + address(index) + " within " + std::to_string(to_ms(timeout)) + " ms"));
    }
    if (err == caf::sec::unexpected_response) {
      return finish(make_error(ErrorCode::internal, "malformed reply from " + address(index) +
                                                        ": not a (method, bytes) envelope"));
    }
    transport_failed(index, describe_send_error(*shared_->system, err));
  }

  // The transport failed, not the request: reconnect (next address first) and resend the same
  // bytes, whose request id lets the node apply a write once.
  void transport_failed(size_t index, const std::string& why) {
    caf::actor failed = std::move(target_);
    target_ = caf::actor{};
    if (index == kRouted) return give_up_route(failed);
    shared_->drop(failed, index);
    last_send_failure_ = address(index) + ": " + why;
    if (attempts_ >= shared_->options.max_attempts) {
      return finish(make_error(ErrorCode::unavailable, "lost connection to " + last_send_failure_ +
                                                           " (" + std::to_string(attempts_) +
                                                           " attempts)"));
    }
    attempt();
  }

  std::string connect_failure_message() const {
    std::string message;
    if (!last_send_failure_.empty())
      message = "lost connection to " + last_send_failure_ + "; then ";
    if (connect_failures_.size() == 1) {
      message += "cannot connect to " + connect_failures_.front();
    } else {
      message += "cannot connect to any node (";
      for (size_t i = 0; i < connect_failures_.size(); ++i) {
        if (i > 0) message += "; ";
        message += connect_failures_[i];
      }
      message += ")";
    }
    return message + " — is nca-node running?";
  }

  Error deadline_error(const std::string& when) const {
    std::string message = "deadline exceeded " + when;
    if (attempts_ > 0) message += " (after " + std::to_string(attempts_) + " attempts)";
    return make_error(ErrorCode::deadline_exceeded, message);
  }

  void finish(Result<RawReply> result) {
    auto keep = shared_from_this();  // done() drops the runner's reference
    complete(std::move(result));
    host_->done(id_);
  }

  void complete(Result<RawReply> result) {
    if (completed_.exchange(true)) return;
    done_(std::move(result));
  }

  std::shared_ptr<Transport::Shared> shared_;
  const uint64_t id_;
  uint32_t method_ = 0;
  std::string bytes_;
  SteadyTime deadline_;
  const bool connect_only_;
  std::string route_key_;
  std::optional<Endpoint> route_;  // where this send goes first, from the route cache
  Done done_;
  Prepare prepare_;  // a late send's envelope, not made yet
  std::atomic<bool> completed_{false};

  caf::event_based_actor* self_ = nullptr;
  OpHost* host_ = nullptr;
  int attempts_ = 0;
  caf::actor target_;  // the node actor the current attempt waits on; null between attempts
  size_t target_index_ = 0;
  size_t round_start_ = 0;
  size_t tried_ = 0;
  std::vector<std::string> connect_failures_;
  std::string last_send_failure_;
};

using run_ops_atom = caf::atom_constant<caf::atom("runops")>;

// Runs every SendOp of one transport, any number at a time. One long-lived actor rather than one
// per call: a node makes a proxy for every remote actor that sends it a request and asks the
// client's side to report that actor's end, so an actor per call cost both processes a proxy,
// two more messages and registry work on every call. (A class rather than a spawned function:
// CAF 0.17's function actors trip UBSan inside CAF's own headers.)
class OpRunner final : public caf::event_based_actor, public OpHost {
 public:
  OpRunner(caf::actor_config& config, Transport::Shared* shared)
      : caf::event_based_actor(config), shared_(shared) {}

  caf::behavior make_behavior() override {
    attach_functor([this](const caf::error&) { abandon_all(); });
    set_down_handler([this](caf::down_msg& msg) {
      watched_.erase(msg.source);
      std::vector<std::shared_ptr<SendOp>> ops;  // on_down may finish ops, which leave live_
      ops.reserve(live_.size());
      for (auto& entry : live_) ops.push_back(entry.second);
      for (auto& op : ops) op->on_down(msg);
    });
    return {[this](run_ops_atom) { start_pending(); }};
  }

  void watch(const caf::actor& actor) override {
    if (watched_.insert(actor.address()).second) monitor(actor);
  }
  void done(uint64_t id) override { live_.erase(id); }

 private:
  void start_pending() {
    std::vector<std::shared_ptr<SendOp>> ops;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      ops.swap(shared_->pending);
    }
    for (auto& op : ops) {
      live_.emplace(op->id(), op);
      op->start(this, this);
    }
  }

  // The runner ends with the client, or if an op threw: either way later calls could not run,
  // so they fail at once as calls on a closed client.
  void abandon_all() {
    std::vector<std::shared_ptr<SendOp>> ops;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->closed = true;
      ops.swap(shared_->pending);
    }
    for (auto& entry : live_) ops.push_back(entry.second);
    live_.clear();
    for (auto& op : ops) op->abandon();
  }

  Transport::Shared* shared_;  // outlives the actor: ~Transport waits for it to end
  std::unordered_map<uint64_t, std::shared_ptr<SendOp>> live_;
  std::set<caf::actor_addr> watched_;
};

// Hands an op (made under the lock by `make`, given its id) to the runner; `refuse` runs instead,
// on this thread, when the transport is closed.
template <class Make, class Refuse>
void start_op(const std::shared_ptr<Transport::Shared>& shared, Make make, Refuse refuse) {
  ReleaseThreadLogger release_logger;
  caf::actor runner;
  {
    std::unique_lock<std::mutex> lock(shared->mu);
    if (shared->closed) {
      lock.unlock();
      refuse();
      return;
    }
    uint64_t id = ++shared->last_op_id;
    // Registered under the lock that ~Transport takes, so the runner abandons every op it must
    // fail, started or not.
    shared->pending.push_back(make(id));
    // The runner takes the whole list per message: only the op that found it empty needs to send
    // one (the others join a list whose message is queued, or about to be).
    if (shared->pending.size() == 1) runner = shared->runner;
  }
  if (runner) caf::anon_send(runner, run_ops_atom::value);
}

void start_op(const std::shared_ptr<Transport::Shared>& shared, uint32_t method, std::string bytes,
              SteadyTime deadline, bool connect_only, std::string route_key, SendOp::Done done) {
  // Exactly one of the two lambdas runs.
  start_op(
      shared,
      [&](uint64_t id) {
        return std::make_shared<SendOp>(shared, id, method, std::move(bytes), deadline,
                                        connect_only, std::move(route_key), std::move(done));
      },
      [&] { done(make_error(ErrorCode::unavailable, "the client is closed")); });
}

}  // namespace

Transport::Transport(std::vector<Endpoint> endpoints, TransportOptions options)
    : shared_(std::make_shared<Shared>(std::move(endpoints), options)) {
  ReleaseThreadLogger release_logger;
  shared_->runner = shared_->system->spawn<OpRunner>(shared_.get());
}

Transport::~Transport() {
  caf::actor runner;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->closed = true;
    shared_->connected = caf::actor{};
    shared_->route_links.clear();
    runner = std::move(shared_->runner);
  }
  if (runner) caf::anon_send_exit(runner, caf::exit_reason::user_shutdown);
  runner = caf::actor{};
  shared_->middleman = caf::io::middleman_actor{};
  // Waits for the runner to terminate (it fails every call still open through abandon()) and
  // closes sockets.
  shared_->system.reset();
}

Status Transport::connect(SteadyTime deadline) {
  std::promise<Result<RawReply>> promise;
  std::future<Result<RawReply>> future = promise.get_future();
  start_op(shared_, 0, std::string(), deadline, true, std::string(),
           [&promise](Result<RawReply> result) { promise.set_value(std::move(result)); });
  Result<RawReply> result = future.get();
  if (!result.ok()) return result.error();
  return {};
}

void Transport::send(uint32_t method, std::string bytes, SteadyTime deadline, std::string route_key,
                     std::function<void(Result<RawReply>)> done) {
  start_op(shared_, method, std::move(bytes), deadline, false, std::move(route_key),
           std::move(done));
}

void Transport::send_when_ready(std::function<std::optional<PreparedSend>()> prepare) {
  start_op(
      shared_,
      [&](uint64_t id) { return std::make_shared<SendOp>(shared_, id, std::move(prepare)); },
      [&] {
        if (std::optional<PreparedSend> send = prepare()) {
          send->done(make_error(ErrorCode::unavailable, "the client is closed"));
        }
      });
}

void Transport::learn_route(const std::string& route_key, const std::string& address,
                            ShardHint shard) {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    auto it = shared_->unreachable.find(address);
    if (it != shared_->unreachable.end()) {
      if (std::chrono::steady_clock::now() < it->second) return;
      shared_->unreachable.erase(it);
    }
  }
  shared_->routes.learn(route_key, address, shard);
}

void Transport::forget_route(const std::string& route_key) { shared_->routes.forget(route_key); }

size_t Transport::routes_known() const { return shared_->routes.size(); }

std::string Transport::address() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  size_t index = shared_->connected ? shared_->connected_index : shared_->preferred;
  return shared_->endpoints[index].to_string();
}

}  // namespace nca::sdk
