// nca/subscription.hpp: a worker that pushes a persona's events to a callback.
//
// Contract. Client::subscribe(persona, handler, options) starts one background thread that
// long-polls next_event(persona, options.wait) and calls `handler` with each event it receives, one
// at a time, in delivery order. The handler's EventDecision is then sent: an ack (with its optional
// result text), a nack (back to the queue, with a reason) or a nack to the dead-letter list. The
// ack or nack names the event's `attempts` as the delivery it settles, so a delivery whose lease
// ran out and that went to another worker is refused by the node (conflict) instead of settling
// someone else's. A handler that throws counts as a nack with the exception's text as the reason.
//
// Errors (a failed poll, e.g. unavailable while a node restarts, or a failed ack/nack) are reported
// to options.on_error and retried after a backoff that doubles from min_backoff up to max_backoff
// and resets after a successful poll; an ack or nack is sent at most settle_attempts times, and an
// event whose settling fails is redelivered by the node when its lease runs out. The worker keeps
// going until it is stopped, whatever the error: on_error may call request_stop() to give up.
//
// Stopping. request_stop() asks the worker to stop and returns at once; stop() also waits for the
// worker's thread to end, which takes at most the poll in flight (options.wait + the client's
// request_timeout) plus the handler's current call. An event that arrives after a stop was
// requested is not handed to the handler: it is nacked with the reason "subscription stopped" so it
// goes back to the queue at once rather than after its lease. The destructor calls stop().
//
// Thread-safety. request_stop(), stop() and running() may be called from any thread, including from
// the handler or on_error (there stop() only requests: a thread cannot wait for itself). The
// handler and on_error run on the subscription's own thread, never concurrently with each other.
//
// Ownership. A Subscription is movable, not copyable; moving one into another stops the target's
// worker first. The Client it came from must outlive it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "nca/result.hpp"
#include "proto/neuroca.pb.h"

namespace nca {

class Client;

// What to do with an event the handler was given.
struct EventDecision {
  enum class Kind { kAck, kNack, kDeadLetter };

  Kind kind = Kind::kAck;
  // ack: the result text (stored as a memory of the persona when not empty); nack: the reason.
  std::string text;

  static EventDecision ack(std::string result = "") { return {Kind::kAck, std::move(result)}; }
  static EventDecision nack(std::string reason) { return {Kind::kNack, std::move(reason)}; }
  static EventDecision dead_letter(std::string reason) {
    return {Kind::kDeadLetter, std::move(reason)};
  }
};

struct SubscriptionOptions {
  // How long one next_event call waits for an event (the node caps it at events.max-wait). 0 polls
  // without waiting, paced by min_backoff.
  std::chrono::milliseconds wait{5000};
  // Pause after a failure: min_backoff, doubled per consecutive failure up to max_backoff.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  // Sends of one ack or nack, including the first; only unavailable and deadline_exceeded are
  // retried (a conflict means the delivery is no longer this worker's).
  int settle_attempts = 3;
  // Called on the subscription's thread with each error, e.g. "next_event for ada: ...".
  std::function<void(const Error&)> on_error;
};

class Subscription {
 public:
  using Handler = std::function<EventDecision(const pb::Event&)>;

  // An empty subscription: nothing runs; stop() does nothing.
  Subscription() = default;
  ~Subscription();
  Subscription(Subscription&& other) noexcept = default;
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  void request_stop();
  void stop();
  // True from subscribe() until a stop was requested.
  bool running() const;

  // What the worker has done so far (for monitoring and tests).
  struct Counters {
    uint64_t polls = 0;     // next_event replies, with or without an event
    uint64_t events = 0;    // events handed to the handler
    uint64_t acked = 0;     // acks the node accepted
    uint64_t nacked = 0;    // nacks the node accepted (dead letters included)
    uint64_t released = 0;  // events nacked because they arrived after a stop request
    uint64_t errors = 0;    // errors reported to on_error
  };
  Counters counters() const;

  struct State;  // shared with the worker's thread; defined in subscription.cpp

 private:
  friend class Client;
  explicit Subscription(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

}  // namespace nca
