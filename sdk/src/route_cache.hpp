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
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "proto/neuroca.pb.h"
#include "sdk/src/address.hpp"

namespace nca::sdk {

std::string route_key(const pb::Request& request);

class RouteCache {
 public:
  explicit RouteCache(size_t capacity = 100'000) : capacity_(capacity) {}

  std::optional<Endpoint> find(const std::string& key) const;
  // `address` as a node reported it; ignored when it does not parse.
  void learn(const std::string& key, const std::string& address);
  // The entry, if it still names `address`: its node could not be reached.
  void forget(const std::string& key, const std::string& address);
  // The entry, whatever it names: its node answered that it cannot serve the key now.
  void forget(const std::string& key);
  size_t size() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Endpoint> routes_;
};

}  // namespace nca::sdk
