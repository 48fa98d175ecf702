// sdk/src/route_cache.hpp: where the client sends a persona's requests (#7 routing).
//
// Any node answers any request, forwarding it to the leader of the persona's shard (or the node
// serving the tenant's events). Such a forwarded reply names the node that carried it out
// (pb::Response.served_by); the cache keeps that per route key, and the transport sends the next
// request with the same key straight there, sparing the forwarding hop. A stale entry costs one
// hop (the node forwards, and the reply corrects the entry); an entry whose node cannot be reached
// is forgotten and the request goes through the client's own connection.
//
// route_key() is the key: the persona's for requests the node routes by persona (with the persona
// named: item requests route by persona only with its hint), the tenant's events for event
// requests, and "" for requests with no route (ping, cluster views, item requests without a
// persona hint, recall with shared memories). Thread-safe; bounded (it starts over when full).
//
// A persona's reply may also name its shard and the cluster's shard count (pb::Response
// route_shard, shard_count). Once the cache knows the count, a persona's route is its shard's
// (nca/shard_of.hpp): one forwarded reply teaches the route of every persona of that shard, so a
// client that talks to thousands of personas learns at most one route per shard instead of one
// per persona. Requests that name no tenant are placed under the one the node chose for them (its
// default, or the caller's credentials'), which replies name too. A reply whose shard is not the
// one the cache computes (a node of another placement version) is learned for its persona alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "proto/neuroca.pb.h"
#include "sdk/src/address.hpp"

namespace nca::sdk {

std::string route_key(const pb::Request& request);

// What a reply says about its persona's shard: `shard` of `count` shards (count 0: nothing), placed
// under `tenant` (what the node made of a request that named no tenant).
struct ShardHint {
  uint32_t shard = 0;
  uint32_t count = 0;
  std::string tenant;
};

class RouteCache {
 public:
  explicit RouteCache(size_t capacity = 100'000) : capacity_(capacity) {}

  std::optional<Endpoint> find(const std::string& key) const;
  // `address` as a node reported it; ignored when it does not parse.
  void learn(const std::string& key, const std::string& address, ShardHint shard = {});
  // The entry, if it still names `address`: its node could not be reached.
  void forget(const std::string& key, const std::string& address);
  // The entry, whatever it names: its node answered that it cannot serve the key now.
  void forget(const std::string& key);
  size_t size() const;
  // The cluster's shard count, once a reply said it (0 before).
  uint32_t shard_count() const;

 private:
  // `key`'s shard once the count is known and `key` is a persona's whose tenant is known.
  std::optional<uint32_t> shard_locked(const std::string& key) const;

  const size_t capacity_;
  mutable std::mutex mu_;  // guards everything below
  uint32_t shards_ = 0;
  std::string default_tenant_;                        // where requests without a tenant are placed
  std::unordered_map<std::string, Endpoint> routes_;  // by route key
  std::unordered_map<uint32_t, Endpoint> shard_routes_;  // by shard, under shards_
};

}  // namespace nca::sdk
