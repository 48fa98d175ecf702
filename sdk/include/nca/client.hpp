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
// longer than its deadline.
//
// Thread-safety. All methods may be called concurrently from any number of threads. Async callbacks
// run on one SDK thread, one at a time, in completion order; they may call the client (including
// sync calls) but should not block for long. Futures are fulfilled from SDK threads.
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
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "nca/result.hpp"
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
  Result<pb::RecallReply> recall(const std::string& persona, const std::string& query,
                                 uint32_t k = 10);
  Future<pb::RecallReply> recall_async(const std::string& persona, const std::string& query,
                                       uint32_t k = 10);

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
