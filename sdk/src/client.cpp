#include "nca/client.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "proto/wire.hpp"
#include "sdk/src/address.hpp"
#include "sdk/src/call_coalescer.hpp"
#include "sdk/src/callback_executor.hpp"
#include "sdk/src/request_id.hpp"
#include "sdk/src/route_cache.hpp"
#include "sdk/src/transport.hpp"

namespace nca {

namespace {

using sdk::RawReply;
using sdk::SteadyTime;
using Completion = std::function<void(Result<pb::Response>)>;

int64_t system_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The error a reply's status stands for, if it is not OK.
std::optional<Error> status_error(const pb::Response& response, const std::string& from) {
  int code = response.status().code();
  if (code == pb::OK) return std::nullopt;
  if (code < 0 || code > static_cast<int>(ErrorCode::permission_denied)) {
    return make_error(ErrorCode::internal, "node " + from + " returned unknown status code " +
                                               std::to_string(code) + ": " +
                                               response.status().message());
  }
  auto error_code = static_cast<ErrorCode>(code);
  std::string message = response.status().message();
  if (message.empty()) message = std::string("node returned ") + to_string(error_code);
  return make_error(error_code, std::move(message));
}

// Checks one reply against the request it answers; `method` is the request's body field number.
Result<pb::Response> decode_reply(uint32_t method, Result<RawReply> raw) {
  if (!raw.ok()) return raw.error();
  const std::string& from = raw->address;
  if (raw->method != method) {
    return make_error(ErrorCode::internal,
                      "malformed reply from " + from + ": method " + std::to_string(raw->method) +
                          " answers a request for method " + std::to_string(method));
  }
  pb::Response response;
  if (!response.ParseFromString(raw->bytes)) {
    return make_error(ErrorCode::internal, "malformed reply from " + from + ": " +
                                               std::to_string(raw->bytes.size()) +
                                               " bytes that are not an nca.pb.Response");
  }
  if (auto error = status_error(response, from)) return *error;
  if (static_cast<uint32_t>(response.body_case()) != method) {
    return make_error(ErrorCode::internal, "malformed reply from " + from + ": body " +
                                               std::to_string(response.body_case()) +
                                               " answers a request for method " +
                                               std::to_string(method));
  }
  return response;
}

template <class Reply>
Result<Reply> take_body(Result<pb::Response> response, Reply* (pb::Response::*body)()) {
  if (!response.ok()) return response.error();
  Reply reply;
  reply.Swap(((*response).*body)());
  return reply;
}

// Request builders: one per body shape; the typed verbs below are one line each on top of them.
template <class Body>
pb::Request make_request(Body* (pb::Request::*body)(), Body value) {
  pb::Request request;
  ((request).*body)()->Swap(&value);
  return request;
}

pb::ItemRequest item_request(const std::string& id, const std::string& persona = "",
                             const std::string& reason = "") {
  pb::ItemRequest item;
  item.set_id(id);
  item.set_persona_id(persona);
  item.set_reason(reason);
  return item;
}

pb::PersonaIdRequest persona_id_request(const std::string& id) {
  pb::PersonaIdRequest request;
  request.set_persona_id(id);
  return request;
}

pb::PersonaWriteRequest persona_write_request(pb::Persona persona, uint64_t expected_version,
                                              std::vector<std::string> fields) {
  pb::PersonaWriteRequest request;
  request.mutable_persona()->Swap(&persona);
  request.set_expected_version(expected_version);
  for (std::string& field : fields) request.add_fields(std::move(field));
  return request;
}

pb::EventIdRequest event_id_request(const std::string& id) {
  pb::EventIdRequest request;
  request.set_event_id(id);
  return request;
}

// The wire carries the wait in whole milliseconds as a uint32; out-of-range waits are clamped.
uint32_t wait_ms(std::chrono::milliseconds wait) {
  if (wait.count() <= 0) return 0;
  return static_cast<uint32_t>(std::min<int64_t>(wait.count(), UINT32_MAX));
}

// How many inline callbacks (ClientOptions::inline_callbacks) run on this thread, nested: a call
// that would wait for a reply fails inside one instead of waiting for the thread it blocks.
thread_local int inline_callback_depth = 0;

struct InlineCallbackScope {
  InlineCallbackScope() { ++inline_callback_depth; }
  ~InlineCallbackScope() { --inline_callback_depth; }
  InlineCallbackScope(const InlineCallbackScope&) = delete;
  InlineCallbackScope& operator=(const InlineCallbackScope&) = delete;
};

bool inside_inline_callback() { return inline_callback_depth > 0; }

Error inline_wait_error() {
  return make_error(ErrorCode::invalid_argument,
                    "a synchronous or future-returning call inside an inline callback "
                    "(ClientOptions::inline_callbacks) would wait for the thread it blocks; use "
                    "call_async with a callback there");
}

template <class T>
std::future<Result<T>> ready_future(Result<T> value) {
  std::promise<Result<T>> promise;
  promise.set_value(std::move(value));
  return promise.get_future();
}

pb::LinkRequest link_request(const std::string& a, const std::string& b, double strength) {
  pb::LinkRequest link;
  link.set_a(a);
  link.set_b(b);
  link.set_strength(strength);
  return link;
}

}  // namespace

class Client::Impl {
 public:
  Impl(std::vector<sdk::Endpoint> endpoints, ClientOptions options)
      : options_(options),
        transport_(std::move(endpoints),
                   sdk::TransportOptions{options.connect_timeout, options.max_attempts}) {}

  Status connect(SteadyTime deadline) { return transport_.connect(deadline); }

  // Starts one call; `done` runs exactly once, on an SDK thread (or right here for a bad request).
  void start(pb::Request request, Completion done) {
    if (request.body_case() == pb::Request::BODY_NOT_SET) {
      done(make_error(ErrorCode::invalid_argument,
                      "the request has no body: set one verb's message"));
      return;
    }
    pb::RequestHeader* header = request.mutable_header();
    const bool caller_chose = !header->request_id().empty() || header->deadline_us() != 0;
    if (header->schema_version() == 0) header->set_schema_version(wire::kSchemaVersion);
    if (header->request_id().empty()) header->set_request_id(ids_.next());
    if (header->tenant().empty()) header->set_tenant(options_.tenant);
    if (header->auth_token().empty()) header->set_auth_token(options_.auth_token);
    SteadyTime now = std::chrono::steady_clock::now();
    SteadyTime deadline;
    if (header->deadline_us() == 0) {
      // A long poll may legitimately take its whole wait before the node answers.
      std::chrono::microseconds timeout = options_.request_timeout;
      if (request.has_next_event()) {
        timeout += std::chrono::milliseconds(request.next_event().wait_ms());
      }
      deadline = now + timeout;
      header->set_deadline_us(system_now_us() + timeout.count());
    } else {
      // The caller's absolute deadline is wall-clock time; waiting is measured on the steady clock.
      deadline = now + std::chrono::microseconds(header->deadline_us() - system_now_us());
      if (deadline <= now) {
        done(make_error(ErrorCode::deadline_exceeded,
                        "the request's deadline had already passed when the call started"));
        return;
      }
    }
    std::string key = options_.route_requests ? sdk::route_key(request) : std::string();
    if (options_.coalesce_event_calls) {
      std::string lane =
          sdk::coalesce_lane(request, key, caller_chose, options_.coalesce_max_items);
      if (!lane.empty()) {
        return join_lane(lane, key, Call{std::move(request), deadline, std::move(done)});
      }
    }
    send_alone(request, deadline, std::move(key), std::move(done));
  }

  // Callbacks go through the executor so user code never runs on a CAF thread, unless the user
  // asked for inline callbacks (ClientOptions::inline_callbacks): then they run where the reply
  // was decoded, on the client's actor.
  Completion on_callback_thread(std::function<void(Result<pb::Response>)> callback) {
    if (options_.inline_callbacks) {
      return [callback = std::move(callback)](Result<pb::Response> result) {
        InlineCallbackScope scope;
        callback(std::move(result));
      };
    }
    return [this, callback = std::move(callback)](Result<pb::Response> result) {
      auto shared_result = std::make_shared<Result<pb::Response>>(std::move(result));
      callbacks_.post([callback, shared_result] { callback(std::move(*shared_result)); });
    };
  }

  std::string address() const { return transport_.address(); }

 private:
  // One call waiting in a lane (start, coalesce_lane).
  struct Call {
    pb::Request request;  // header complete
    SteadyTime deadline;
    Completion done;
  };
  // The calls of one lane not sent yet, and its merged requests in flight.
  struct Lane {
    std::deque<Call> queued;
    size_t in_flight = 0;
    bool scheduled = false;  // a send_when_ready of this lane has not taken its calls yet
  };

  // Sends one request as it is.
  void send_alone(const pb::Request& request, SteadyTime deadline, std::string key,
                  Completion done) {
    auto method = static_cast<uint32_t>(request.body_case());
    std::string bytes;
    if (!request.SerializeToString(&bytes)) {
      done(make_error(ErrorCode::invalid_argument, "the request cannot be serialized"));
      return;
    }
    transport_.send(method, std::move(bytes), deadline, key,
                    [this, method, key, done = std::move(done)](Result<RawReply> raw) {
                      done(on_reply(method, key, std::move(raw)));
                    });
  }

  // Decodes a reply and keeps the route cache up to date with it.
  Result<pb::Response> on_reply(uint32_t method, const std::string& key, Result<RawReply> raw) {
    Result<pb::Response> reply = decode_reply(method, std::move(raw));
    if (key.empty()) return reply;
    if (reply.ok() && !reply->served_by().empty()) {
      transport_.learn_route(key, reply->served_by(),
                             {reply->route_shard(), reply->shard_count(), reply->route_tenant()});
    } else if (!reply.ok() && (reply.code() == ErrorCode::unavailable ||
                               reply.code() == ErrorCode::deadline_exceeded)) {
      // The node may be cut off or no longer lead: a retry goes through the client's own node,
      // which finds the leader (and names it again).
      transport_.forget_route(key);
    }
    return reply;
  }

  void join_lane(const std::string& lane, const std::string& key, Call call) {
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(lanes_mu_);
      Lane& l = lanes_[lane];
      l.queued.push_back(std::move(call));
      schedule = claim(l);
    }
    if (schedule) schedule_lane(lane, key);
  }

  // Whether the lane may send now; it then has a send scheduled. Under lanes_mu_.
  bool claim(Lane& l) const {
    if (l.scheduled || l.queued.empty()) return false;
    if (options_.coalesce_in_flight > 0 && l.in_flight >= options_.coalesce_in_flight) return false;
    l.scheduled = true;
    return true;
  }

  // What the lane sends is decided when the transport's actor gets to it: every call queued by
  // then goes in it (up to coalesce_max_items).
  void schedule_lane(const std::string& lane, const std::string& key) {
    transport_.send_when_ready([this, lane, key] { return take_lane(lane, key); });
  }

  std::optional<sdk::PreparedSend> take_lane(const std::string& lane, const std::string& key) {
    auto calls = std::make_shared<std::vector<Call>>();
    bool again = false;
    {
      std::lock_guard<std::mutex> lock(lanes_mu_);
      Lane& l = lanes_[lane];
      l.scheduled = false;
      size_t items = 0;
      while (!l.queued.empty()) {
        size_t n = sdk::coalesce_items(l.queued.front().request);
        if (!calls->empty() && items + n > options_.coalesce_max_items) break;
        items += n;
        calls->push_back(std::move(l.queued.front()));
        l.queued.pop_front();
      }
      if (calls->empty()) return std::nullopt;
      l.in_flight++;
      again = claim(l);
    }
    if (again) schedule_lane(lane, key);
    // One call goes as it is; several as one request carrying all of theirs.
    const bool alone = calls->size() == 1;
    std::vector<const pb::Request*> members;
    members.reserve(calls->size());
    SteadyTime deadline = calls->front().deadline;
    int64_t deadline_us = calls->front().request.header().deadline_us();
    for (const Call& c : *calls) {
      members.push_back(&c.request);
      deadline = std::min(deadline, c.deadline);
      deadline_us = std::min(deadline_us, c.request.header().deadline_us());
    }
    pb::Request merged;
    if (!alone) {
      merged = sdk::merge_requests(members);
      merged.mutable_header()->set_request_id(ids_.next());
      merged.mutable_header()->set_deadline_us(deadline_us);
    }
    const pb::Request& request = alone ? calls->front().request : merged;
    auto method = static_cast<uint32_t>(request.body_case());
    sdk::PreparedSend send{method, std::string(), deadline, key, nullptr};
    if (!request.SerializeToString(&send.bytes)) {
      finish_lane(lane, key);
      for (Call& c : *calls) {
        c.done(make_error(ErrorCode::invalid_argument, "the request cannot be serialized"));
      }
      return std::nullopt;
    }
    send.done = [this, lane, key, method, calls, alone](Result<RawReply> raw) {
      finish_lane(lane, key);
      const std::string from = raw.ok() ? raw->address : std::string();
      Result<pb::Response> reply = on_reply(method, key, std::move(raw));
      if (alone) return calls->front().done(std::move(reply));
      if (!reply.ok()) {
        if (sdk::retry_alone(reply.error())) {
          for (Call& c : *calls) send_alone(c.request, c.deadline, key, std::move(c.done));
        } else {
          for (Call& c : *calls) c.done(reply.error());
        }
        return;
      }
      std::vector<const pb::Request*> members;
      for (const Call& c : *calls) members.push_back(&c.request);
      Result<std::vector<pb::Response>> parts = sdk::split_reply(members, std::move(*reply));
      for (size_t i = 0; i < calls->size(); ++i) {
        Completion& done = (*calls)[i].done;
        if (!parts.ok()) {
          done(parts.error());
        } else if (auto error = status_error((*parts)[i], from)) {
          done(*error);  // a refused ack, alone, is its call's error
        } else {
          done(std::move((*parts)[i]));
        }
      }
    };
    return send;
  }

  // A merged request of the lane completed: the calls that waited for room may go.
  void finish_lane(const std::string& lane, const std::string& key) {
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(lanes_mu_);
      auto it = lanes_.find(lane);
      if (it == lanes_.end()) return;
      Lane& l = it->second;
      if (l.in_flight > 0) l.in_flight--;
      schedule = claim(l);
      if (!schedule && !l.scheduled && l.in_flight == 0 && l.queued.empty()) lanes_.erase(it);
    }
    if (schedule) schedule_lane(lane, key);
  }

  const ClientOptions options_;
  sdk::RequestIdGenerator ids_;
  // Destroyed after the transport, so the callbacks of calls the transport fails at close still
  // run.
  sdk::CallbackExecutor callbacks_;
  // Before the transport: a closing transport fails the calls still waiting in lanes through them.
  std::mutex lanes_mu_;
  std::unordered_map<std::string, Lane> lanes_;  // by coalesce_lane
  sdk::Transport transport_;
};

Result<std::unique_ptr<Client>> Client::connect(const std::vector<std::string>& addresses,
                                                ClientOptions options) {
  if (addresses.empty()) {
    return make_error(ErrorCode::invalid_argument, "no node address given; expected HOST:PORT");
  }
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0) {
    return make_error(ErrorCode::invalid_argument,
                      "connect_timeout and request_timeout must be positive");
  }
  if (options.coalesce_max_items == 0) {
    return make_error(ErrorCode::invalid_argument,
                      "coalesce_max_items must be at least 1 (set coalesce_event_calls to false "
                      "to send every call alone)");
  }
  std::vector<sdk::Endpoint> endpoints;
  for (const std::string& text : addresses) {
    Result<sdk::Endpoint> endpoint = sdk::parse_address(text);
    if (!endpoint.ok()) return endpoint.error();
    endpoints.push_back(std::move(*endpoint));
  }
  size_t count = endpoints.size();
  auto impl = std::make_unique<Impl>(std::move(endpoints), options);
  // Each address gets its full connect_timeout; the margin covers scheduling between them.
  SteadyTime deadline = std::chrono::steady_clock::now() + options.connect_timeout * count +
                        std::chrono::milliseconds(500);
  Status connected = impl->connect(deadline);
  if (!connected.ok()) return connected.error();
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  // Closing waits for the client's actor to end, and an inline callback runs on that actor.
  if (inside_inline_callback() && impl_) std::thread([impl = std::move(impl_)] {}).detach();
}

Result<pb::Response> Client::call(pb::Request request) {
  return call_async(std::move(request)).get();
}

Client::Future<pb::Response> Client::call_async(pb::Request request) {
  if (inside_inline_callback()) return ready_future<pb::Response>(inline_wait_error());
  auto promise = std::make_shared<std::promise<Result<pb::Response>>>();
  Future<pb::Response> future = promise->get_future();
  impl_->start(std::move(request),
               [promise](Result<pb::Response> result) { promise->set_value(std::move(result)); });
  return future;
}

void Client::call_async(pb::Request request, std::function<void(Result<pb::Response>)> callback) {
  impl_->start(std::move(request), impl_->on_callback_thread(std::move(callback)));
}

template <class Reply>
Client::Future<Reply> Client::unary_async(pb::Request request, Reply* (pb::Response::*body)()) {
  if (inside_inline_callback()) return ready_future<Reply>(inline_wait_error());
  auto promise = std::make_shared<std::promise<Result<Reply>>>();
  Future<Reply> future = promise->get_future();
  impl_->start(std::move(request), [promise, body](Result<pb::Response> response) {
    promise->set_value(take_body(std::move(response), body));
  });
  return future;
}

std::string Client::address() const { return impl_->address(); }

// --- typed verbs -------------------------------------------------------------------------------

Result<pb::PingReply> Client::ping() { return ping_async().get(); }
Client::Future<pb::PingReply> Client::ping_async() {
  return unary_async(make_request(&pb::Request::mutable_ping, pb::PingRequest()),
                     &pb::Response::mutable_ping);
}

Result<pb::RememberReply> Client::remember(const std::string& persona, pb::MemoryInput memory) {
  return remember_async(persona, std::move(memory)).get();
}
Client::Future<pb::RememberReply> Client::remember_async(const std::string& persona,
                                                         pb::MemoryInput memory) {
  pb::RememberRequest body;
  body.set_persona_id(persona);
  body.mutable_memory()->Swap(&memory);
  return unary_async(make_request(&pb::Request::mutable_remember, std::move(body)),
                     &pb::Response::mutable_remember);
}

Result<pb::RememberReply> Client::remember(const std::string& persona, const std::string& content,
                                           double importance, std::vector<std::string> tags) {
  return remember_async(persona, content, importance, std::move(tags)).get();
}
Client::Future<pb::RememberReply> Client::remember_async(const std::string& persona,
                                                         const std::string& content,
                                                         double importance,
                                                         std::vector<std::string> tags) {
  pb::MemoryInput memory;
  memory.set_content(content);
  memory.set_importance(importance);
  for (std::string& tag : tags) memory.add_tags(std::move(tag));
  return remember_async(persona, std::move(memory));
}

Result<pb::RememberBatchReply> Client::remember_batch(const std::string& persona,
                                                      std::vector<pb::MemoryInput> memories) {
  return remember_batch_async(persona, std::move(memories)).get();
}
Client::Future<pb::RememberBatchReply> Client::remember_batch_async(
    const std::string& persona, std::vector<pb::MemoryInput> memories) {
  pb::RememberBatchRequest body;
  body.set_persona_id(persona);
  for (pb::MemoryInput& memory : memories) body.add_memories()->Swap(&memory);
  return unary_async(make_request(&pb::Request::mutable_remember_batch, std::move(body)),
                     &pb::Response::mutable_remember_batch);
}

Result<pb::RecallReply> Client::recall(pb::RecallRequest request) {
  return recall_async(std::move(request)).get();
}
Client::Future<pb::RecallReply> Client::recall_async(pb::RecallRequest request) {
  return unary_async(make_request(&pb::Request::mutable_recall, std::move(request)),
                     &pb::Response::mutable_recall);
}

Result<pb::RecallReply> Client::recall(const std::string& persona, const std::string& query,
                                       uint32_t k, bool include_shared) {
  return recall_async(persona, query, k, include_shared).get();
}
Client::Future<pb::RecallReply> Client::recall_async(const std::string& persona,
                                                     const std::string& query, uint32_t k,
                                                     bool include_shared) {
  pb::RecallRequest request;
  request.set_persona_id(persona);
  request.set_query(query);
  request.set_k(k);
  request.set_include_shared(include_shared);
  return recall_async(std::move(request));
}

Result<pb::ItemReply> Client::get(const std::string& id, const std::string& persona) {
  return get_async(id, persona).get();
}
Client::Future<pb::ItemReply> Client::get_async(const std::string& id, const std::string& persona) {
  return unary_async(make_request(&pb::Request::mutable_get, item_request(id, persona)),
                     &pb::Response::mutable_get);
}

Result<pb::ItemReply> Client::update(pb::UpdateRequest request) {
  return update_async(std::move(request)).get();
}
Client::Future<pb::ItemReply> Client::update_async(pb::UpdateRequest request) {
  return unary_async(make_request(&pb::Request::mutable_update, std::move(request)),
                     &pb::Response::mutable_update);
}

Result<pb::ItemReply> Client::forget(const std::string& id, const std::string& reason) {
  return forget_async(id, reason).get();
}
Client::Future<pb::ItemReply> Client::forget_async(const std::string& id,
                                                   const std::string& reason) {
  return unary_async(make_request(&pb::Request::mutable_forget, item_request(id, "", reason)),
                     &pb::Response::mutable_forget);
}

Result<pb::ItemReply> Client::restore(const std::string& id) { return restore_async(id).get(); }
Client::Future<pb::ItemReply> Client::restore_async(const std::string& id) {
  return unary_async(make_request(&pb::Request::mutable_restore, item_request(id)),
                     &pb::Response::mutable_restore);
}

Result<pb::ItemReply> Client::touch(const std::string& id) { return touch_async(id).get(); }
Client::Future<pb::ItemReply> Client::touch_async(const std::string& id) {
  return unary_async(make_request(&pb::Request::mutable_touch, item_request(id)),
                     &pb::Response::mutable_touch);
}

Status Client::remove(const std::string& id) { return remove_async(id).get(); }
std::future<Status> Client::remove_async(const std::string& id) {
  if (inside_inline_callback()) {
    std::promise<Status> refused;
    refused.set_value(Status(inline_wait_error()));
    return refused.get_future();
  }
  // A reply body is not needed, only success: a promise of Status rather than unary_async.
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> future = promise->get_future();
  impl_->start(make_request(&pb::Request::mutable_delete_, item_request(id)),
               [promise](Result<pb::Response> response) {
                 promise->set_value(response.ok() ? Status() : Status(response.error()));
               });
  return future;
}

Result<pb::HistoryReply> Client::history(const std::string& id) { return history_async(id).get(); }
Client::Future<pb::HistoryReply> Client::history_async(const std::string& id) {
  return unary_async(make_request(&pb::Request::mutable_history, item_request(id)),
                     &pb::Response::mutable_history);
}

Result<pb::ListReply> Client::list(pb::ListRequest request) {
  return list_async(std::move(request)).get();
}
Client::Future<pb::ListReply> Client::list_async(pb::ListRequest request) {
  return unary_async(make_request(&pb::Request::mutable_list, std::move(request)),
                     &pb::Response::mutable_list);
}

Result<pb::StatsReply> Client::stats(const std::string& persona) {
  return stats_async(persona).get();
}
Client::Future<pb::StatsReply> Client::stats_async(const std::string& persona) {
  pb::StatsRequest request;
  request.set_persona_id(persona);
  return unary_async(make_request(&pb::Request::mutable_stats, std::move(request)),
                     &pb::Response::mutable_stats);
}

Result<pb::ClusterStatusReply> Client::cluster_status() { return cluster_status_async().get(); }
Client::Future<pb::ClusterStatusReply> Client::cluster_status_async() {
  return unary_async(make_request(&pb::Request::mutable_cluster_status, pb::ClusterStatusRequest()),
                     &pb::Response::mutable_cluster_status);
}

Result<pb::ClusterAdminReply> Client::cluster_admin(pb::ClusterAdminRequest request) {
  return unary_async(make_request(&pb::Request::mutable_cluster_admin, std::move(request)),
                     &pb::Response::mutable_cluster_admin)
      .get();
}

Result<pb::ClusterAdminReply> Client::decommission(const std::string& node) {
  pb::ClusterAdminRequest request;
  request.set_decommission(node);
  return cluster_admin(std::move(request));
}

Result<pb::ClusterAdminReply> Client::recommission(const std::string& node) {
  pb::ClusterAdminRequest request;
  request.set_recommission(node);
  return cluster_admin(std::move(request));
}

Result<pb::LinkReply> Client::link(const std::string& a, const std::string& b, double strength) {
  return link_async(a, b, strength).get();
}
Client::Future<pb::LinkReply> Client::link_async(const std::string& a, const std::string& b,
                                                 double strength) {
  return unary_async(make_request(&pb::Request::mutable_link, link_request(a, b, strength)),
                     &pb::Response::mutable_link);
}

Result<pb::LinkReply> Client::unlink(const std::string& a, const std::string& b) {
  return unlink_async(a, b).get();
}
Client::Future<pb::LinkReply> Client::unlink_async(const std::string& a, const std::string& b) {
  return unary_async(make_request(&pb::Request::mutable_unlink, link_request(a, b, 0)),
                     &pb::Response::mutable_unlink);
}

Result<pb::NeighboursReply> Client::neighbours(const std::string& id) {
  return neighbours_async(id).get();
}
Client::Future<pb::NeighboursReply> Client::neighbours_async(const std::string& id) {
  return unary_async(make_request(&pb::Request::mutable_neighbours, item_request(id)),
                     &pb::Response::mutable_neighbours);
}

Result<pb::ConsolidateReply> Client::consolidate(const std::string& persona) {
  return consolidate_async(persona).get();
}
Client::Future<pb::ConsolidateReply> Client::consolidate_async(const std::string& persona) {
  pb::ConsolidateRequest request;
  request.set_persona_id(persona);
  return unary_async(make_request(&pb::Request::mutable_consolidate, std::move(request)),
                     &pb::Response::mutable_consolidate);
}

Result<pb::ContextReply> Client::context(const std::string& persona, uint32_t n) {
  return context_async(persona, n).get();
}
Client::Future<pb::ContextReply> Client::context_async(const std::string& persona, uint32_t n) {
  pb::ContextRequest request;
  request.set_persona_id(persona);
  request.set_n(n);
  return unary_async(make_request(&pb::Request::mutable_context, std::move(request)),
                     &pb::Response::mutable_context);
}

// --- personas ----------------------------------------------------------------------------------

Result<pb::PersonaReply> Client::create_persona(pb::Persona persona) {
  return create_persona_async(std::move(persona)).get();
}
Client::Future<pb::PersonaReply> Client::create_persona_async(pb::Persona persona) {
  return unary_async(make_request(&pb::Request::mutable_create_persona,
                                  persona_write_request(std::move(persona), 0, {})),
                     &pb::Response::mutable_create_persona);
}

Result<pb::PersonaReply> Client::get_persona(const std::string& id) {
  return get_persona_async(id).get();
}
Client::Future<pb::PersonaReply> Client::get_persona_async(const std::string& id) {
  return unary_async(make_request(&pb::Request::mutable_get_persona, persona_id_request(id)),
                     &pb::Response::mutable_get_persona);
}

Result<pb::ListPersonasReply> Client::list_personas(uint32_t page_size,
                                                    const std::string& page_token) {
  return list_personas_async(page_size, page_token).get();
}
Client::Future<pb::ListPersonasReply> Client::list_personas_async(uint32_t page_size,
                                                                  const std::string& page_token) {
  pb::ListPersonasRequest request;
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  return unary_async(make_request(&pb::Request::mutable_list_personas, std::move(request)),
                     &pb::Response::mutable_list_personas);
}

Result<pb::PersonaReply> Client::update_persona(pb::Persona persona, uint64_t expected_version,
                                                std::vector<std::string> fields) {
  return update_persona_async(std::move(persona), expected_version, std::move(fields)).get();
}
Client::Future<pb::PersonaReply> Client::update_persona_async(pb::Persona persona,
                                                              uint64_t expected_version,
                                                              std::vector<std::string> fields) {
  return unary_async(
      make_request(&pb::Request::mutable_update_persona,
                   persona_write_request(std::move(persona), expected_version, std::move(fields))),
      &pb::Response::mutable_update_persona);
}

Result<pb::PersonaReply> Client::pause_persona(const std::string& id) {
  return pause_persona_async(id).get();
}
Client::Future<pb::PersonaReply> Client::pause_persona_async(const std::string& id) {
  return unary_async(make_request(&pb::Request::mutable_pause_persona, persona_id_request(id)),
                     &pb::Response::mutable_pause_persona);
}

Result<pb::PersonaReply> Client::resume_persona(const std::string& id) {
  return resume_persona_async(id).get();
}
Client::Future<pb::PersonaReply> Client::resume_persona_async(const std::string& id) {
  return unary_async(make_request(&pb::Request::mutable_resume_persona, persona_id_request(id)),
                     &pb::Response::mutable_resume_persona);
}

Result<pb::DeletePersonaReply> Client::delete_persona(const std::string& id, bool confirm) {
  return delete_persona_async(id, confirm).get();
}
Client::Future<pb::DeletePersonaReply> Client::delete_persona_async(const std::string& id,
                                                                    bool confirm) {
  // Checked here as well as on the node: an unconfirmed delete never leaves the process.
  if (!confirm) {
    return ready_future<pb::DeletePersonaReply>(
        make_error(ErrorCode::invalid_argument,
                   "deleting persona '" + id +
                       "' removes its memories, history and tubules for good: pass confirm = "
                       "true to do it"));
  }
  pb::DeletePersonaRequest request;
  request.set_persona_id(id);
  request.set_confirm(true);
  return unary_async(make_request(&pb::Request::mutable_delete_persona, std::move(request)),
                     &pb::Response::mutable_delete_persona);
}

// --- events ------------------------------------------------------------------------------------

Result<pb::PublishReply> Client::publish(pb::EventInput event) {
  return publish_async(std::move(event)).get();
}
Client::Future<pb::PublishReply> Client::publish_async(pb::EventInput event) {
  std::vector<pb::EventInput> events(1);
  events[0].Swap(&event);
  return publish_async(std::move(events));
}

Result<pb::PublishReply> Client::publish(std::vector<pb::EventInput> events) {
  return publish_async(std::move(events)).get();
}
Client::Future<pb::PublishReply> Client::publish_async(std::vector<pb::EventInput> events) {
  pb::PublishRequest request;
  for (pb::EventInput& event : events) request.add_events()->Swap(&event);
  return unary_async(make_request(&pb::Request::mutable_publish, std::move(request)),
                     &pb::Response::mutable_publish);
}

Result<pb::NextEventReply> Client::next_event(const std::string& persona,
                                              std::chrono::milliseconds wait) {
  return next_event_async(persona, wait).get();
}
Client::Future<pb::NextEventReply> Client::next_event_async(const std::string& persona,
                                                            std::chrono::milliseconds wait) {
  // Impl::start adds the wait to the call's deadline.
  pb::NextEventRequest request;
  request.set_persona_id(persona);
  request.set_wait_ms(wait_ms(wait));
  return unary_async(make_request(&pb::Request::mutable_next_event, std::move(request)),
                     &pb::Response::mutable_next_event);
}

Result<pb::NextEventReply> Client::next_events(const std::string& persona,
                                               std::chrono::milliseconds wait,
                                               uint32_t max_events) {
  return next_events_async(persona, wait, max_events).get();
}
Client::Future<pb::NextEventReply> Client::next_events_async(const std::string& persona,
                                                             std::chrono::milliseconds wait,
                                                             uint32_t max_events) {
  pb::NextEventRequest request;
  request.set_persona_id(persona);
  request.set_wait_ms(wait_ms(wait));
  // At least 1: 0 would ask for the single-event reply (`event`).
  request.set_max_events(std::max<uint32_t>(1, max_events));
  return unary_async(make_request(&pb::Request::mutable_next_event, std::move(request)),
                     &pb::Response::mutable_next_event);
}

Result<pb::AckBatchReply> Client::ack_batch(std::vector<pb::AckRequest> acks) {
  return ack_batch_async(std::move(acks)).get();
}
Client::Future<pb::AckBatchReply> Client::ack_batch_async(std::vector<pb::AckRequest> acks) {
  pb::AckBatchRequest request;
  for (pb::AckRequest& ack : acks) request.add_acks()->Swap(&ack);
  return unary_async(make_request(&pb::Request::mutable_ack_batch, std::move(request)),
                     &pb::Response::mutable_ack_batch);
}

Result<pb::EventReply> Client::ack(const std::string& event_id, uint32_t attempt,
                                   const std::string& result) {
  return ack_async(event_id, attempt, result).get();
}
Client::Future<pb::EventReply> Client::ack_async(const std::string& event_id, uint32_t attempt,
                                                 const std::string& result) {
  pb::AckRequest request;
  request.set_event_id(event_id);
  request.set_attempt(attempt);
  request.set_result(result);
  return unary_async(make_request(&pb::Request::mutable_ack, std::move(request)),
                     &pb::Response::mutable_ack);
}

Result<pb::EventReply> Client::nack(const std::string& event_id, uint32_t attempt,
                                    const std::string& reason, bool dead_letter) {
  return nack_async(event_id, attempt, reason, dead_letter).get();
}
Client::Future<pb::EventReply> Client::nack_async(const std::string& event_id, uint32_t attempt,
                                                  const std::string& reason, bool dead_letter) {
  pb::NackRequest request;
  request.set_event_id(event_id);
  request.set_attempt(attempt);
  request.set_reason(reason);
  request.set_dead_letter(dead_letter);
  return unary_async(make_request(&pb::Request::mutable_nack, std::move(request)),
                     &pb::Response::mutable_nack);
}

Result<pb::EventReply> Client::event_status(const std::string& event_id) {
  return event_status_async(event_id).get();
}
Client::Future<pb::EventReply> Client::event_status_async(const std::string& event_id) {
  return unary_async(make_request(&pb::Request::mutable_event_status, event_id_request(event_id)),
                     &pb::Response::mutable_event_status);
}

Result<pb::ListEventsReply> Client::list_dead_letters(uint32_t page_size,
                                                      const std::string& page_token) {
  return list_dead_letters_async(page_size, page_token).get();
}
Client::Future<pb::ListEventsReply> Client::list_dead_letters_async(uint32_t page_size,
                                                                    const std::string& page_token) {
  pb::ListEventsRequest request;
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  return unary_async(make_request(&pb::Request::mutable_list_dead_letters, std::move(request)),
                     &pb::Response::mutable_list_dead_letters);
}

Result<pb::RequeueReply> Client::requeue(std::vector<std::string> event_ids) {
  return requeue_async(std::move(event_ids)).get();
}
Client::Future<pb::RequeueReply> Client::requeue_async(std::vector<std::string> event_ids) {
  pb::RequeueRequest request;
  for (std::string& id : event_ids) request.add_event_ids(std::move(id));
  return unary_async(make_request(&pb::Request::mutable_requeue, std::move(request)),
                     &pb::Response::mutable_requeue);
}

}  // namespace nca
