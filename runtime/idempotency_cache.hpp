// runtime/idempotency_cache.hpp: replies to recent writes by request id, so a retried write (same request
// id, e.g. after the client lost the reply) is answered with the first reply instead of applied again.
//
// Bounded in entries and age: an entry lives `ttl_us` after it was stored, and the oldest entry goes first
// when full. In memory only: a node restart forgets it (the cluster issue replicates it with the log).
// Not thread-safe: one owner.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

#include "runtime/clock.hpp"

namespace nca {

template <class V>
class IdempotencyCache {
 public:
  IdempotencyCache(const Clock& clock, size_t capacity, TimeUs ttl_us)
      : clock_(clock), capacity_(capacity), ttl_us_(ttl_us) {}

  std::optional<V> find(const std::string& request_id) {
    expire();
    auto it = map_.find(request_id);
    if (it == map_.end()) return std::nullopt;
    return it->second.value;
  }

  void put(const std::string& request_id, V value) {
    if (request_id.empty() || capacity_ == 0) return;
    expire();
    auto [it, inserted] = map_.try_emplace(request_id);
    it->second = Entry{std::move(value), clock_.now_us()};
    if (inserted) order_.push_back(request_id);
    while (map_.size() > capacity_ && !order_.empty()) {
      map_.erase(order_.front());
      order_.pop_front();
    }
  }

  size_t size() const { return map_.size(); }

 private:
  struct Entry {
    V value{};
    TimeUs stored_us = 0;
  };

  void expire() {
    TimeUs now = clock_.now_us();
    while (!order_.empty()) {
      auto it = map_.find(order_.front());
      if (it != map_.end() && now - it->second.stored_us < ttl_us_) break;
      if (it != map_.end()) map_.erase(it);
      order_.pop_front();
    }
  }

  const Clock& clock_;
  size_t capacity_;
  TimeUs ttl_us_;
  std::unordered_map<std::string, Entry> map_;
  std::deque<std::string> order_;
};

}  // namespace nca
