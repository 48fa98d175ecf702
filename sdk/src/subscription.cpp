#include "nca/subscription.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "nca/client.hpp"
#include "sdk/src/request_id.hpp"

namespace nca {

using std::chrono::milliseconds;

// Shared by the Subscription handle and its worker thread, so a worker left to finish on its own
// (stop() called from the handler) never touches a destroyed handle.
struct Subscription::State {
  Client* client = nullptr;
  std::string persona;
  Handler handler;
  SubscriptionOptions options;

  mutable std::mutex mu;
  std::condition_variable wake;  // signalled by request_stop()
  bool stop_requested = false;
  std::thread thread;
  Counters counters;
  sdk::RequestIdGenerator ids;  // one request id per decision, kept across its resends
};

namespace {

using State = Subscription::State;

// The pause before the next try after consecutive failures: min, 2·min, 4·min, … capped at max.
class Backoff {
 public:
  Backoff(milliseconds min, milliseconds max) : min_(min), max_(max), next_(min) {}
  milliseconds next() {
    milliseconds current = next_;
    next_ = std::min(max_, next_ * 2);
    return current;
  }
  void reset() { next_ = min_; }

 private:
  const milliseconds min_;
  const milliseconds max_;
  milliseconds next_;
};

bool stop_requested(State& state) {
  std::lock_guard<std::mutex> lock(state.mu);
  return state.stop_requested;
}

// Waits for `pause` unless a stop is requested first; false when it was.
bool pause_unless_stopped(State& state, milliseconds pause) {
  std::unique_lock<std::mutex> lock(state.mu);
  return !state.wake.wait_for(lock, pause, [&] { return state.stop_requested; });
}

template <class Field>
void count(State& state, Field field) {
  std::lock_guard<std::mutex> lock(state.mu);
  ++(state.counters.*field);
}

void report(State& state, const std::string& context, const Error& error) {
  count(state, &Subscription::Counters::errors);
  if (!state.options.on_error) return;
  try {
    state.options.on_error(make_error(error.code, context + ": " + error.message));
  } catch (...) {
    // An error reporter that fails has nobody left to report to; the worker carries on.
  }
}

EventDecision decide(State& state, const pb::Event& event) {
  try {
    return state.handler(event);
  } catch (const std::exception& e) {
    return EventDecision::nack(std::string("handler threw: ") + e.what());
  } catch (...) {
    return EventDecision::nack("handler threw an exception that is not a std::exception");
  }
}

pb::Request decision_request(State& state, const pb::Event& event, const EventDecision& decision) {
  pb::Request request;
  // Resends carry the same request id, so a decision the node applied before its reply was lost is
  // not applied twice.
  request.mutable_header()->set_request_id(state.ids.next());
  if (decision.kind == EventDecision::Kind::kAck) {
    pb::AckRequest* ack = request.mutable_ack();
    ack->set_event_id(event.id());
    ack->set_attempt(event.attempts());
    ack->set_result(decision.text);
  } else {
    pb::NackRequest* nack = request.mutable_nack();
    nack->set_event_id(event.id());
    nack->set_attempt(event.attempts());
    nack->set_reason(decision.text);
    nack->set_dead_letter(decision.kind == EventDecision::Kind::kDeadLetter);
  }
  return request;
}

// Sends the decision for this delivery, retrying transport-like failures a bounded number of times.
void settle(State& state, const pb::Event& event, const EventDecision& decision) {
  bool is_ack = decision.kind == EventDecision::Kind::kAck;
  const pb::Request request = decision_request(state, event, decision);
  Backoff backoff(state.options.min_backoff, state.options.max_backoff);
  for (int send = 1; send <= state.options.settle_attempts; ++send) {
    // A fresh deadline per send: the header's deadline stays unset.
    Result<pb::Response> reply = state.client->call(request);
    if (reply.ok()) {
      count(state, is_ack ? &Subscription::Counters::acked : &Subscription::Counters::nacked);
      return;
    }
    report(state,
           std::string(is_ack ? "ack" : "nack") + " of event " + event.id() + " (attempt " +
               std::to_string(event.attempts()) + ")",
           reply.error());
    bool retryable =
        reply.code() == ErrorCode::unavailable || reply.code() == ErrorCode::deadline_exceeded;
    // Given up: the node redelivers the event when its lease runs out.
    if (!retryable || !pause_unless_stopped(state, backoff.next())) return;
  }
}

void run(const std::shared_ptr<State>& state) {
  Backoff backoff(state->options.min_backoff, state->options.max_backoff);
  // Ends when a stop is requested; each turn blocks in a long poll or in a pause.
  while (!stop_requested(*state)) {
    auto started = std::chrono::steady_clock::now();
    Result<pb::NextEventReply> reply =
        state->client->next_event(state->persona, state->options.wait);
    if (!reply.ok()) {
      report(*state, "next_event for " + state->persona, reply.error());
      pause_unless_stopped(*state, backoff.next());
      continue;
    }
    backoff.reset();
    count(*state, &Subscription::Counters::polls);
    if (!reply->has_event()) {
      // A node that answers empty polls at once (wait 0, or capped) is not polled in a tight loop.
      if (std::chrono::steady_clock::now() - started < state->options.min_backoff) {
        pause_unless_stopped(*state, state->options.min_backoff);
      }
      continue;
    }
    pb::Event event;
    event.Swap(reply->mutable_event());
    if (stop_requested(*state)) {
      // Nobody will handle it here: back to the queue now rather than after its lease.
      settle(*state, event, EventDecision::nack("subscription stopped"));
      count(*state, &Subscription::Counters::released);
      return;
    }
    count(*state, &Subscription::Counters::events);
    settle(*state, event, decide(*state, event));
  }
}

Error invalid(const std::string& message) {
  return make_error(ErrorCode::invalid_argument, "subscribe: " + message);
}

}  // namespace

Result<Subscription> Client::subscribe(const std::string& persona, Subscription::Handler handler,
                                       SubscriptionOptions options) {
  if (persona.empty()) return invalid("no persona given");
  if (!handler) return invalid("no handler given");
  if (options.wait.count() < 0) return invalid("options.wait must not be negative");
  if (options.min_backoff.count() <= 0 || options.max_backoff < options.min_backoff) {
    return invalid("options need 0 < min_backoff <= max_backoff");
  }
  if (options.settle_attempts < 1) return invalid("options.settle_attempts must be at least 1");
  auto state = std::make_shared<Subscription::State>();
  state->client = this;
  state->persona = persona;
  state->handler = std::move(handler);
  state->options = std::move(options);
  std::lock_guard<std::mutex> lock(state->mu);
  state->thread = std::thread([state] { run(state); });
  return Subscription(state);
}

Subscription::Subscription(std::shared_ptr<State> state) : state_(std::move(state)) {}

Subscription::~Subscription() { stop(); }

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
  }
  return *this;
}

void Subscription::request_stop() {
  if (!state_) return;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop_requested = true;
  }
  state_->wake.notify_all();
}

void Subscription::stop() {
  if (!state_) return;
  request_stop();
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    thread = std::move(state_->thread);
  }
  if (!thread.joinable()) return;
  if (thread.get_id() == std::this_thread::get_id()) {
    thread.detach();  // called from the handler or on_error: the worker ends after this turn
  } else {
    thread.join();
  }
}

bool Subscription::running() const {
  if (!state_) return false;
  std::lock_guard<std::mutex> lock(state_->mu);
  return !state_->stop_requested;
}

Subscription::Counters Subscription::counters() const {
  if (!state_) return {};
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->counters;
}

}  // namespace nca
