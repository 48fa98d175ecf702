// nca/client.hpp: the C++ SDK: a client for one neuroca cluster.
//
// Data types are the protobuf messages of proto/neuroca.proto (namespace nca::pb), as in a gRPC
// client: the SDK adds no parallel set of structs to keep in sync with the schema, and users get
// protobuf's builders, JSON mapping and reflection for free. That is why this header includes
// "proto/neuroca.pb.h". CAF stays behind a pimpl: including this header does not pull in the actor
// framework.
//
// Contract. Client::connect() returns a client connected to the first address that answers. Every
// call fills the request header (request id, deadline, tenant, auth token, schema version) where
// the caller left it empty, sends the request as one CAF envelope and waits at most until the
// deadline. A reply with an error status becomes an Error with the same code and message. A
// transport failure (connection lost, node gone) reconnects, next address first, and resends the
// same request with the same request id, so a retried write is applied once; after max_attempts
// sends, or at the deadline, the call fails with unavailable or deadline_exceeded. No call blocks
// longer than its deadline, which for next_event (a long poll) is its wait plus the request
// timeout.
//
// Thread-safety. All methods may be called concurrently from any number of threads. Async callbacks
// run on one SDK thread, one at a time, in completion order; they may call the client (including
// sync calls) but should not block for long. With ClientOptions::inline_callbacks they run on the
// client's own actor instead and must not block at all (see there). Futures are fulfilled from SDK
// threads.
//
// Ownership and lifetime. Destroying the client closes its connections; async calls still in flight
// complete (futures and callbacks) with unavailable. Do not destroy it while another thread is
// inside a synchronous call.
//
// Example:
//   auto client = nca::Client::connect({"127.0.0.1:7420"});
//   if (!client) { std::cerr << client.error().to_string() << "\n"; return 1; }
//   auto reply = (*client)->remember("ada", "Ada is allergic to peanuts", 0.8, {"health"});
//   auto hits = (*client)->recall("ada", "what is Ada allergic to", 5);
//   auto worker = (*client)->subscribe("ada", [](const nca::pb::Event& event) {
//     return nca::EventDecision::ack("handled " + event.topic());
//   });
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "nca/result.hpp"
#include "nca/subscription.hpp"
#include "proto/neuroca.pb.h"

namespace nca {

struct ClientOptions {
  // Stamped into every request whose header leaves it empty; empty means the node's default tenant.
  std::string tenant;
  std::string auth_token;
  // How long to wait for one address to complete the CAF handshake before trying the next.
  std::chrono::milliseconds connect_timeout{2000};
  // Deadline of a call whose header sets none, counted from the moment the call starts.
  std::chrono::milliseconds request_timeout{10000};
  // Sends per call, including the first; transport failures only (never error statuses).
  int max_attempts = 3;
  // Once a reply names the node that served a persona (a node forwarded the request to the
  // persona's shard leader), send that persona's later requests to that node directly. Off: always
  // through the connected node, e.g. when the nodes' own addresses cannot be reached from here (a
  // proxy or load balancer in between). A node that cannot be reached is skipped for 30 s either
  // way.
  bool route_requests = true;
  // Concurrent publishes of this client travel as one publish, and concurrent acks (ack and
  // ack_batch) as one ack_batch, as a Kafka producer batches records: a call that finds others of
  // its kind waiting to be sent joins them. Each call still gets its own reply, its own events or
  // outcomes, and its own error: a merged request the node refuses whole (a malformed event, a
  // full tenant) is sent again call by call. Only calls whose header leaves the request id and the
  // deadline to the SDK, and publishes of events without a client id, are merged. Off: every call
  // is a request of its own.
  bool coalesce_event_calls = true;
  // The most events or acks in one merged request; keep it within the node's events.max-batch.
  size_t coalesce_max_items = 100;
  // Merged requests of one kind in flight at once; calls beyond that wait and leave together when
  // one completes. 0: no limit (calls then merge only while the client's actor is busy).
  size_t coalesce_in_flight = 0;
  // Callbacks of call_async(request, callback) run on the client's own actor, right where the
  // reply was decoded, instead of on the client's callback thread: two thread hand-offs fewer per
  // call, and a callback that starts the next call sends it from the thread that sends anyway. For
  // event loops whose callbacks only record a result and start other async calls, as an agent's
  // worker or the benchmark does. Such a callback must return quickly and must not wait: while one
  // runs, no other reply of this client is handled. Inside one, a synchronous call or a call that
  // returns a future fails at once with invalid_argument (waiting there could never end), and
  // destroying the client there is finished by a thread of its own. A call refused before it is
  // sent (a closed client) runs its callback on the calling thread.
  bool inline_callbacks = false;
};

class Client {
 public:
  template <class T>
  using Future = std::future<Result<T>>;

  // Tries the addresses ("host:port" or "[ipv6]:port") in order, each for at most connect_timeout.
  // invalid_argument for an empty list or a malformed address (before any network activity);
  // unavailable when no address answers.
  static Result<std::unique_ptr<Client>> connect(const std::vector<std::string>& addresses,
                                                 ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Generic call: any Request with a body. Returns the whole Response (status OK, body of the same
  // case).
  Result<pb::Response> call(pb::Request request);
  Future<pb::Response> call_async(pb::Request request);
  void call_async(pb::Request request, std::function<void(Result<pb::Response>)> callback);

  // Typed verbs. Each returns the body of the reply; each `_async` twin returns a future of the
  // same.
  Result<pb::PingReply> ping();
  Future<pb::PingReply> ping_async();

  Result<pb::RememberReply> remember(const std::string& persona, pb::MemoryInput memory);
  Future<pb::RememberReply> remember_async(const std::string& persona, pb::MemoryInput memory);
  Result<pb::RememberReply> remember(const std::string& persona, const std::string& content,
                                     double importance = 0.5, std::vector<std::string> tags = {});
  Future<pb::RememberReply> remember_async(const std::string& persona, const std::string& content,
                                           double importance = 0.5,
                                           std::vector<std::string> tags = {});

  Result<pb::RememberBatchReply> remember_batch(const std::string& persona,
                                                std::vector<pb::MemoryInput> memories);
  Future<pb::RememberBatchReply> remember_batch_async(const std::string& persona,
                                                      std::vector<pb::MemoryInput> memories);

  Result<pb::RecallReply> recall(pb::RecallRequest request);
  Future<pb::RecallReply> recall_async(pb::RecallRequest request);
  // `include_shared` also searches the tenant's shared persona `_shared` and merges its hits.
  Result<pb::RecallReply> recall(const std::string& persona, const std::string& query,
                                 uint32_t k = 10, bool include_shared = false);
  Future<pb::RecallReply> recall_async(const std::string& persona, const std::string& query,
                                       uint32_t k = 10, bool include_shared = false);

  // `persona` is optional: naming it saves the node a lookup.
  Result<pb::ItemReply> get(const std::string& id, const std::string& persona = "");
  Future<pb::ItemReply> get_async(const std::string& id, const std::string& persona = "");

  Result<pb::ItemReply> update(pb::UpdateRequest request);
  Future<pb::ItemReply> update_async(pb::UpdateRequest request);

  // Archives the item (restorable until the archive expires).
  Result<pb::ItemReply> forget(const std::string& id, const std::string& reason = "");
  Future<pb::ItemReply> forget_async(const std::string& id, const std::string& reason = "");

  Result<pb::ItemReply> restore(const std::string& id);
  Future<pb::ItemReply> restore_async(const std::string& id);

  // Counts as an access: reinforces the item as a recall of it would.
  Result<pb::ItemReply> touch(const std::string& id);
  Future<pb::ItemReply> touch_async(const std::string& id);

  // The `delete` verb: removes the item for good.
  Status remove(const std::string& id);
  std::future<Status> remove_async(const std::string& id);

  Result<pb::HistoryReply> history(const std::string& id);
  Future<pb::HistoryReply> history_async(const std::string& id);

  Result<pb::ListReply> list(pb::ListRequest request);
  Future<pb::ListReply> list_async(pb::ListRequest request);

  // Empty persona: node-wide counters only.
  Result<pb::StatsReply> stats(const std::string& persona = "");
  Future<pb::StatsReply> stats_async(const std::string& persona = "");

  // The connected node's view of the cluster: itself and the peers it knows, with their state.
  Result<pb::ClusterStatusReply> cluster_status();
  Future<pb::ClusterStatusReply> cluster_status_async();
  // Drains a node (its cluster number, or its node.id) before it is removed: its shard replicas
  // and leaderships move to the other live nodes (follow with cluster_status). recommission undoes
  // a drain. Any node takes the command and forwards it to the metadata leader.
  Result<pb::ClusterAdminReply> decommission(const std::string& node);
  Result<pb::ClusterAdminReply> recommission(const std::string& node);
  // Any cluster_admin command (decommission, recommission; partition for fault tests).
  Result<pb::ClusterAdminReply> cluster_admin(pb::ClusterAdminRequest request);

  // Tubules (links between two items of one persona). `strength` 0 means the node's default
  // session strength; link strengthens an existing tubule. unlink replies with the removed tubule.
  Result<pb::LinkReply> link(const std::string& a, const std::string& b, double strength = 0);
  Future<pb::LinkReply> link_async(const std::string& a, const std::string& b, double strength = 0);
  Result<pb::LinkReply> unlink(const std::string& a, const std::string& b);
  Future<pb::LinkReply> unlink_async(const std::string& a, const std::string& b);

  // The items an item is linked to, with each tubule's strength.
  Result<pb::NeighboursReply> neighbours(const std::string& id);
  Future<pb::NeighboursReply> neighbours_async(const std::string& id);

  // Runs one consolidation (lymphatic) tick for the persona now: what it did and the totals.
  Result<pb::ConsolidateReply> consolidate(const std::string& persona);
  Future<pb::ConsolidateReply> consolidate_async(const std::string& persona);

  // The persona's `n` most active items (the working context), most active first.
  Result<pb::ContextReply> context(const std::string& persona, uint32_t n = 10);
  Future<pb::ContextReply> context_async(const std::string& persona, uint32_t n = 10);

  // --- personas (DESIGN §3) ---------------------------------------------------------------------

  // `persona.id` names it; already_exists when it already has a profile set through this call.
  Result<pb::PersonaReply> create_persona(pb::Persona persona);
  Future<pb::PersonaReply> create_persona_async(pb::Persona persona);

  Result<pb::PersonaReply> get_persona(const std::string& id);
  Future<pb::PersonaReply> get_persona_async(const std::string& id);

  // In id order, a page at a time; page_size 0 means the node's default (100), at most 1000. Pass
  // the reply's next_page_token to get the next page; it is empty on the last page.
  Result<pb::ListPersonasReply> list_personas(uint32_t page_size = 0,
                                              const std::string& page_token = "");
  Future<pb::ListPersonasReply> list_personas_async(uint32_t page_size = 0,
                                                    const std::string& page_token = "");

  // Replaces the profile fields named in `fields` (name, role, description, skills,
  // responsibilities, traits, preferences, relationships, capacity) with those of `persona`; no
  // fields means all of them. A nonzero expected_version other than the stored one is a conflict.
  Result<pb::PersonaReply> update_persona(pb::Persona persona, uint64_t expected_version = 0,
                                          std::vector<std::string> fields = {});
  Future<pb::PersonaReply> update_persona_async(pb::Persona persona, uint64_t expected_version = 0,
                                                std::vector<std::string> fields = {});

  // A paused persona keeps its memories and the events it holds, and is assigned no new ones.
  Result<pb::PersonaReply> pause_persona(const std::string& id);
  Future<pb::PersonaReply> pause_persona_async(const std::string& id);
  Result<pb::PersonaReply> resume_persona(const std::string& id);
  Future<pb::PersonaReply> resume_persona_async(const std::string& id);

  // Deletes the persona with its memories, history and tubules for good; its unfinished events go
  // back to the queue. `confirm` must be true: false fails with invalid_argument and sends nothing.
  Result<pb::DeletePersonaReply> delete_persona(const std::string& id, bool confirm);
  Future<pb::DeletePersonaReply> delete_persona_async(const std::string& id, bool confirm);

  // --- events (DESIGN §3) ------------------------------------------------------------------------

  // Persists the events (one batch: all or nothing) and replies with them as stored, already
  // assigned when a persona had room. An event id given again names the same event.
  Result<pb::PublishReply> publish(pb::EventInput event);
  Future<pb::PublishReply> publish_async(pb::EventInput event);
  Result<pb::PublishReply> publish(std::vector<pb::EventInput> events);
  Future<pb::PublishReply> publish_async(std::vector<pb::EventInput> events);

  // Long poll: hands the persona's next assigned event to the caller (it becomes DELIVERED,
  // leased), waiting up to `wait` (capped by the node's events.max-wait) for one. No event within
  // the wait is success with `has_event()` false. The call's deadline is `wait` + request_timeout,
  // so a long poll never times out on the client's side first.
  Result<pb::NextEventReply> next_event(const std::string& persona, std::chrono::milliseconds wait);
  Future<pb::NextEventReply> next_event_async(const std::string& persona,
                                              std::chrono::milliseconds wait);
  // The same, handing out up to `max_events` (at most the node's events.max-batch) in one call and
  // one durable write, all in `events()`; it returns as soon as at least one is there. A worker
  // that can hold several events pays one round trip for all of them.
  Result<pb::NextEventReply> next_events(const std::string& persona, std::chrono::milliseconds wait,
                                         uint32_t max_events);
  Future<pb::NextEventReply> next_events_async(const std::string& persona,
                                               std::chrono::milliseconds wait, uint32_t max_events);

  // Ends a delivery. `attempt` is the delivery being settled (the event's `attempts`; 0: do not
  // check): a delivery that has since been reassigned is a conflict. ack's `result`, when not
  // empty, becomes a memory of the persona linked to the event's memory. nack puts the event back
  // in the queue, or with `dead_letter` straight on the dead-letter list.
  Result<pb::EventReply> ack(const std::string& event_id, uint32_t attempt,
                             const std::string& result = "");
  Future<pb::EventReply> ack_async(const std::string& event_id, uint32_t attempt,
                                   const std::string& result = "");
  // Several acks in one call and one durable write. Each is judged on its own: the reply's
  // `results` (in the order of `acks`) say which were refused and why; the call itself fails only
  // when none could be tried (an empty or oversized batch, an unreachable node).
  Result<pb::AckBatchReply> ack_batch(std::vector<pb::AckRequest> acks);
  Future<pb::AckBatchReply> ack_batch_async(std::vector<pb::AckRequest> acks);
  Result<pb::EventReply> nack(const std::string& event_id, uint32_t attempt,
                              const std::string& reason = "", bool dead_letter = false);
  Future<pb::EventReply> nack_async(const std::string& event_id, uint32_t attempt,
                                    const std::string& reason = "", bool dead_letter = false);

  // The event and where it is in its life cycle.
  Result<pb::EventReply> event_status(const std::string& event_id);
  Future<pb::EventReply> event_status_async(const std::string& event_id);

  // The tenant's dead letters, a page at a time (page_size 0: the node's default).
  Result<pb::ListEventsReply> list_dead_letters(uint32_t page_size = 0,
                                                const std::string& page_token = "");
  Future<pb::ListEventsReply> list_dead_letters_async(uint32_t page_size = 0,
                                                      const std::string& page_token = "");

  // Puts dead letters back in the queue with their attempts reset.
  Result<pb::RequeueReply> requeue(std::vector<std::string> event_ids);
  Future<pb::RequeueReply> requeue_async(std::vector<std::string> event_ids);

  // Starts a background worker that long-polls next_event for `persona` and hands each event to
  // `handler`, then acks or nacks it as the handler decides (nca/subscription.hpp). The client must
  // outlive the subscription. invalid_argument for an empty persona, no handler or bad options.
  Result<Subscription> subscribe(const std::string& persona, Subscription::Handler handler,
                                 SubscriptionOptions options = {});

  // "host:port" of the node this client talks to now.
  std::string address() const;

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);

  // The one plumbing path of every typed verb: sends `request` and moves the reply's body out
  // through `body` (e.g. &pb::Response::mutable_recall). Adding a verb is a request builder and two
  // one-liners.
  template <class Reply>
  Future<Reply> unary_async(pb::Request request, Reply* (pb::Response::*body)());

  std::unique_ptr<Impl> impl_;
};

}  // namespace nca
