// tests/sdk/fake_node.hpp: an in-process stand-in for nca-node's api actor, for SDK and CLI tests.
//
// FakeNode owns a small CAF actor system, spawns an actor that speaks the wire envelope
// (envelope_atom, method, Request bytes) -> (method, Response bytes), and publishes it on a
// loopback port chosen by the OS. It records every request it sees and answers from per-method
// rules: a canned Response, raw bytes (to test malformed replies), silence (the request is held,
// never answered), or a CAF error (a transport failure, as when a node dies mid-request). Replies
// queued with queue_reply() are used first, one per request, oldest first. Methods without a rule
// get status OK and an empty body of the matching case, except next_event, which behaves like the
// node's long poll: with nothing queued it is held for its wait_ms and then answered with no event,
// or earlier with a reply queued meanwhile. Thread-safe: tests set rules and read requests from any
// thread while the actor runs. The destructor stops the actor system.
//
// Also here: closed_port() (a loopback port nobody listens on) and SilentListener (a TCP listener
// that accepts connections but never speaks CAF).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/publish.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "proto/neuroca.pb.h"
#include "proto/wire.hpp"
#include "tests/support/loopback_port.hpp"

namespace nca::test_support {

class FakeNode {
 public:
  struct Seen {
    uint32_t method = 0;
    bool parsed = false;  // whether the bytes parsed as an nca.pb.Request
    pb::Request request;
    std::string sender;  // the requesting actor (caf::to_string of its address)
  };

  FakeNode() : system_(config_) {
    api_ = system_.spawn<ApiActor>(state_);
    auto port = caf::io::publish(api_, 0, nullptr, true);
    if (!port)
      throw std::runtime_error("FakeNode: publish failed: " + system_.render(port.error()));
    port_ = *port;
  }

  ~FakeNode() {
    caf::anon_send_exit(api_, caf::exit_reason::user_shutdown);
    api_ = caf::actor{};
  }

  FakeNode(const FakeNode&) = delete;
  FakeNode& operator=(const FakeNode&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Answers `method` with this Response (serialized as is).
  void set_reply(uint32_t method, const pb::Response& response) {
    std::string bytes;
    response.SerializeToString(&bytes);
    set_raw(method, method, std::move(bytes));
  }

  // Answers `method` with an error status and no body.
  void set_status(uint32_t method, pb::StatusCode code, const std::string& message) {
    pb::Response response;
    response.mutable_status()->set_code(code);
    response.mutable_status()->set_message(message);
    set_reply(method, response);
  }

  // Answers `method` with (reply_method, bytes), whatever they are.
  void set_raw(uint32_t method, uint32_t reply_method, std::string bytes) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->rules[method] = Rule{Rule::kRaw, reply_method, std::move(bytes)};
  }

  // Holds requests for `method` without ever answering them.
  void set_silent(uint32_t method) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->rules[method] = Rule{Rule::kSilent, 0, std::string()};
  }

  // Answers every request held by set_silent() so far with the method's default reply, late.
  void release_silent() { caf::anon_send(api_, release_atom::value); }

  // Queues one reply for `method`: the next request for it (or one held in a long poll) gets it.
  void queue_reply(uint32_t method, const pb::Response& response) {
    std::string bytes;
    response.SerializeToString(&bytes);
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->queued[method].push_back(std::move(bytes));
    }
    caf::anon_send(api_, flush_atom::value);
  }

  // The next `count` requests (any method) are recorded and then answered with a CAF error.
  void fail_next(int count) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->failures_left = count;
  }

  // Kills the api actor: later requests on existing connections fail with request_receiver_down.
  void kill() { caf::anon_send_exit(api_, caf::exit_reason::kill); }

  std::vector<Seen> requests() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->seen;
  }

  // The requests for one method, in arrival order.
  std::vector<pb::Request> requests_of(uint32_t method) const {
    std::lock_guard<std::mutex> lock(state_->mu);
    std::vector<pb::Request> out;
    for (const Seen& entry : state_->seen) {
      if (entry.method == method) out.push_back(entry.request);
    }
    return out;
  }

  // Waits until at least `count` requests arrived; false when `timeout` passed first.
  bool wait_for_requests(size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(state_->mu);
    return state_->arrived.wait_for(lock, timeout, [&] { return state_->seen.size() >= count; });
  }

  // Waits until at least `count` requests for `method` arrived; false when `timeout` passed first.
  bool wait_for_method(uint32_t method, size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(state_->mu);
    return state_->arrived.wait_for(lock, timeout, [&] {
      return static_cast<size_t>(
                 std::count_if(state_->seen.begin(), state_->seen.end(),
                               [&](const Seen& entry) { return entry.method == method; })) >= count;
    });
  }

 private:
  struct Config : caf::actor_system_config {
    Config() {
      set("scheduler.policy", caf::atom("sharing"));
      set("scheduler.max-threads", size_t{2});
      load<caf::io::middleman>();
    }
  };

  using flush_atom = caf::atom_constant<caf::atom("flush")>;
  using poll_end_atom = caf::atom_constant<caf::atom("pollend")>;
  using release_atom = caf::atom_constant<caf::atom("release")>;

  struct Rule {
    enum Kind { kRaw, kSilent } kind = kRaw;
    uint32_t reply_method = 0;
    std::string bytes;
  };

  // A next_event request waiting for a queued reply or the end of its wait.
  struct HeldPoll {
    uint64_t id = 0;
    uint32_t method = 0;
    caf::response_promise promise;
  };

  struct State {
    mutable std::mutex mu;
    std::condition_variable arrived;
    std::map<uint32_t, Rule> rules;
    int failures_left = 0;
    std::vector<Seen> seen;
    // Silent requests and their methods, kept so they resolve only on release_silent().
    std::vector<std::pair<uint32_t, caf::response_promise>> held;
    std::map<uint32_t, std::deque<std::string>> queued;
    std::deque<HeldPoll> polls;
    uint64_t next_poll_id = 0;

    caf::result<uint32_t, std::string> handle(caf::event_based_actor* self, uint32_t method,
                                              const std::string& bytes) {
      std::unique_lock<std::mutex> lock(mu);
      Seen entry;
      entry.method = method;
      entry.parsed = entry.request.ParseFromString(bytes);
      entry.sender = caf::to_string(self->current_sender());
      seen.push_back(std::move(entry));
      arrived.notify_all();
      if (failures_left > 0) {
        --failures_left;
        return caf::make_error(caf::sec::request_receiver_down);
      }
      auto& queue = queued[method];
      if (!queue.empty()) {
        std::string reply = std::move(queue.front());
        queue.pop_front();
        return {method, std::move(reply)};
      }
      auto rule = rules.find(method);
      if (rule == rules.end() && method == pb::Request::kNextEvent && entry_wait_ms() > 0) {
        HeldPoll poll{++next_poll_id, method, self->make_response_promise()};
        self->delayed_send(caf::actor_cast<caf::actor>(self),
                           std::chrono::milliseconds(entry_wait_ms()), poll_end_atom::value,
                           poll.id);
        polls.push_back(poll);
        return poll.promise;
      }
      if (rule != rules.end()) {
        if (rule->second.kind == Rule::kSilent) {
          held.emplace_back(method, self->make_response_promise());
          return held.back().second;
        }
        return {rule->second.reply_method, rule->second.bytes};
      }
      lock.unlock();
      return {method, default_reply(method)};
    }

    uint32_t entry_wait_ms() const {
      const Seen& last = seen.back();
      return last.request.has_next_event() ? last.request.next_event().wait_ms() : 0;
    }

    // Answers held polls that have a queued reply now, oldest poll first.
    void flush() {
      std::lock_guard<std::mutex> lock(mu);
      for (auto poll = polls.begin(); poll != polls.end();) {
        auto& queue = queued[poll->method];
        if (queue.empty()) {
          ++poll;
          continue;
        }
        poll->promise.deliver(poll->method, std::move(queue.front()));
        queue.pop_front();
        poll = polls.erase(poll);
      }
    }

    void release() {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& [method, promise] : held) promise.deliver(method, default_reply(method));
      held.clear();
    }

    // A held poll's wait is over: it gets no event (unless a reply answered it already).
    void end_poll(uint64_t id) {
      std::lock_guard<std::mutex> lock(mu);
      for (auto poll = polls.begin(); poll != polls.end(); ++poll) {
        if (poll->id != id) continue;
        poll->promise.deliver(poll->method, default_reply(poll->method));
        polls.erase(poll);
        return;
      }
    }

    // Status OK and an empty body of the case numbered `method` (or INVALID_ARGUMENT for no such
    // case).
    static std::string default_reply(uint32_t method) {
      pb::Response response;
      const auto* field = pb::Response::descriptor()->FindFieldByNumber(static_cast<int>(method));
      if (field == nullptr || field->containing_oneof() == nullptr) {
        response.mutable_status()->set_code(pb::INVALID_ARGUMENT);
        response.mutable_status()->set_message("fake node: unknown method " +
                                               std::to_string(method));
      } else {
        response.GetReflection()->MutableMessage(&response, field);
      }
      std::string out;
      response.SerializeToString(&out);
      return out;
    }
  };

  class ApiActor final : public caf::event_based_actor {
   public:
    ApiActor(caf::actor_config& config, std::shared_ptr<State> state)
        : caf::event_based_actor(config), state_(std::move(state)) {}

    caf::behavior make_behavior() override {
      return {
          [this](wire::envelope_atom, uint32_t method, const std::string& bytes)
              -> caf::result<uint32_t, std::string> { return state_->handle(this, method, bytes); },
          [this](flush_atom) { state_->flush(); },
          [this](poll_end_atom, uint64_t id) { state_->end_poll(id); },
          [this](release_atom) { state_->release(); },
      };
    }

    // Held promises reference this actor: drop them so it can be destroyed.
    void on_exit() override {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->held.clear();
      state_->polls.clear();
    }

   private:
    std::shared_ptr<State> state_;
  };

  Config config_;
  caf::actor_system system_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
  caf::actor api_;
  uint16_t port_ = 0;
};

// A loopback port with no listener (bound once by the OS, then released).
inline uint16_t closed_port() { return nca::testing::unused_loopback_port(); }

// Listens on a loopback port; the kernel completes TCP handshakes, nobody ever reads or writes.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("SilentListener: cannot listen on loopback");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace nca::test_support
