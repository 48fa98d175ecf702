#include "sdk/src/route_cache.hpp"

#include <string_view>

#include "nca/shard_of.hpp"

namespace nca::sdk {
namespace {

constexpr char kPersonaTag[] = "p\x1f";

std::string persona_key(const pb::Request& r, const std::string& persona) {
  if (persona.empty()) return {};
  return kPersonaTag + r.header().tenant() + "\x1f" + persona;
}

// The shard of a persona key among `shards`, with `default_tenant` for a key that names none;
// nullopt for any other key, or when the tenant is unknown.
std::optional<uint32_t> shard_of_persona(const std::string& key, uint32_t shards,
                                         const std::string& default_tenant) {
  const std::string_view tag(kPersonaTag);
  if (shards == 0 || key.compare(0, tag.size(), tag) != 0) return std::nullopt;
  const size_t split = key.find('\x1f', tag.size());
  if (split == std::string::npos) return std::nullopt;
  std::string_view k(key);
  std::string_view tenant = k.substr(tag.size(), split - tag.size());
  if (tenant.empty()) tenant = default_tenant;
  if (tenant.empty()) return std::nullopt;
  return nca::shard_of(tenant, k.substr(split + 1), shards);
}

bool names_no_tenant(const std::string& key) {
  return key.compare(0, 3, std::string(kPersonaTag) + "\x1f") == 0;
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

std::optional<uint32_t> RouteCache::shard_locked(const std::string& key) const {
  return shard_of_persona(key, shards_, default_tenant_);
}

std::optional<Endpoint> RouteCache::find(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  // A persona's own entry (learned from a reply that named no shard) is the more specific one.
  if (auto it = routes_.find(key); it != routes_.end()) return it->second;
  if (auto shard = shard_locked(key)) {
    if (auto it = shard_routes_.find(*shard); it != shard_routes_.end()) return it->second;
  }
  return std::nullopt;
}

void RouteCache::learn(const std::string& key, const std::string& address, ShardHint shard) {
  if (key.empty()) return;
  auto endpoint = parse_address(address);
  if (!endpoint.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto computed = shard_of_persona(key, shard.count, shard.tenant);
  if (computed && *computed == shard.shard) {
    // A request that named no tenant was placed under this one (the node's default, or the
    // caller's credentials'): so are the client's others.
    if (names_no_tenant(key)) default_tenant_ = shard.tenant;
    if (shard.count != shards_) {
      shard_routes_.clear();  // a new placement (or the first one heard): the old routes are void
      shards_ = shard.count;
    }
    routes_.erase(key);  // the shard's route answers for the persona from now on
    shard_routes_[shard.shard] = std::move(*endpoint);
    return;
  }
  if (routes_.size() >= capacity_ && routes_.count(key) == 0) routes_.clear();
  routes_[key] = std::move(*endpoint);
}

void RouteCache::forget(const std::string& key, const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = routes_.find(key); it != routes_.end() && it->second.to_string() == address) {
    routes_.erase(it);
  }
  if (auto shard = shard_locked(key)) {
    auto it = shard_routes_.find(*shard);
    if (it != shard_routes_.end() && it->second.to_string() == address) shard_routes_.erase(it);
  }
}

void RouteCache::forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto shard = shard_locked(key)) shard_routes_.erase(*shard);
  routes_.erase(key);
}

size_t RouteCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return routes_.size() + shard_routes_.size();
}

uint32_t RouteCache::shard_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shards_;
}

}  // namespace nca::sdk
