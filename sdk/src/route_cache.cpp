#include "sdk/src/route_cache.hpp"

namespace nca::sdk {
namespace {

std::string persona_key(const pb::Request& r, const std::string& persona) {
  if (persona.empty()) return {};
  return "p\x1f" + r.header().tenant() + "\x1f" + persona;
}

}  // namespace

std::string route_key(const pb::Request& r) {
  using R = pb::Request;
  switch (r.body_case()) {
    case R::kRemember:
      return persona_key(r, r.remember().persona_id());
    case R::kRememberBatch:
      return persona_key(r, r.remember_batch().persona_id());
    case R::kRecall:
      return r.recall().include_shared() ? std::string() : persona_key(r, r.recall().persona_id());
    case R::kCreatePersona:
      return persona_key(r, r.create_persona().persona().id());
    case R::kUpdatePersona:
      return persona_key(r, r.update_persona().persona().id());
    case R::kGetPersona:
      return persona_key(r, r.get_persona().persona_id());
    case R::kPausePersona:
      return persona_key(r, r.pause_persona().persona_id());
    case R::kResumePersona:
      return persona_key(r, r.resume_persona().persona_id());
    case R::kDeletePersona:
      return persona_key(r, r.delete_persona().persona_id());
    case R::kList:
      return persona_key(r, r.list().persona_id());
    case R::kStats:
      return persona_key(r, r.stats().persona_id());
    case R::kGet:
      return persona_key(r, r.get().persona_id());
    case R::kUpdate:
      return persona_key(r, r.update().persona_id());
    case R::kForget:
      return persona_key(r, r.forget().persona_id());
    case R::kRestore:
      return persona_key(r, r.restore().persona_id());
    case R::kDelete:
      return persona_key(r, r.delete_().persona_id());
    case R::kHistory:
      return persona_key(r, r.history().persona_id());
    case R::kTouch:
      return persona_key(r, r.touch().persona_id());
    case R::kLink:
      return persona_key(r, r.link().persona_id());
    case R::kUnlink:
      return persona_key(r, r.unlink().persona_id());
    case R::kNeighbours:
      return persona_key(r, r.neighbours().persona_id());
    case R::kConsolidate:
      return persona_key(r, r.consolidate().persona_id());
    case R::kContext:
      return persona_key(r, r.context().persona_id());
    case R::kPublish:
    case R::kNextEvent:
    case R::kAck:
    case R::kAckBatch:
    case R::kNack:
    case R::kEventStatus:
    case R::kListDeadLetters:
    case R::kRequeue:
    case R::kListPersonas:
      return "e\x1f" + r.header().tenant();
    default:
      return {};
  }
}

std::optional<Endpoint> RouteCache::find(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = routes_.find(key);
  if (it == routes_.end()) return std::nullopt;
  return it->second;
}

void RouteCache::learn(const std::string& key, const std::string& address) {
  if (key.empty()) return;
  auto endpoint = parse_address(address);
  if (!endpoint.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (routes_.size() >= capacity_ && routes_.count(key) == 0) routes_.clear();
  routes_[key] = std::move(*endpoint);
}

void RouteCache::forget(const std::string& key, const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = routes_.find(key);
  if (it != routes_.end() && it->second.to_string() == address) routes_.erase(it);
}

void RouteCache::forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  routes_.erase(key);
}

size_t RouteCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return routes_.size();
}

}  // namespace nca::sdk
