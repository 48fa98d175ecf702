#include "actors/persona_directory.hpp"

#include "actors/messages.hpp"
#include "actors/persona_actor.hpp"
#include "storage/keys.hpp"

namespace nca::actors {
namespace {

std::string key_of(const std::string& tenant, const std::string& persona) {
  std::string key = tenant;
  key.push_back('\0');
  key += persona;
  return key;
}

}  // namespace

PersonaDirectory::PersonaDirectory(caf::actor_system& sys, NodeContextPtr ctx)
    : sys_(sys), ctx_(std::move(ctx)) {}

Result<caf::actor> PersonaDirectory::activate(const std::string& tenant,
                                              const std::string& persona) {
  std::string key = key_of(tenant, persona);
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    return make_error(ErrorCode::unavailable, "the node is shutting down; retry on another node");
  }
  auto it = personas_.find(key);
  if (it != personas_.end()) return it->second.actor;
  const uint32_t shard = storage::shard_of(tenant, persona, ctx_->policy.shards);
  if (ctx_->routes) {
    auto route = ctx_->routes->route(shard);
    if (route.kind != cluster::ShardRoutes::Kind::serve) {
      return make_error(ErrorCode::unavailable, route.kind == cluster::ShardRoutes::Kind::forward
                                                    ? "this node does not lead shard " +
                                                          std::to_string(shard) + " of persona '" +
                                                          persona + "'; node " +
                                                          std::to_string(route.leader) + " does"
                                                    : route.reason);
    }
  }
  auto a = spawn_persona(sys_, ctx_, tenant, persona);
  personas_.emplace(std::move(key), Activation{a, shard});
  return a;
}

caf::actor PersonaDirectory::get_or_spawn(const std::string& tenant, const std::string& persona) {
  auto a = activate(tenant, persona);
  return a ? *a : caf::actor{};
}

size_t PersonaDirectory::evict_shard(uint32_t shard) {
  std::vector<caf::actor> evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = personas_.begin(); it != personas_.end();) {
      if (it->second.shard == shard) {
        evicted.push_back(std::move(it->second.actor));
        it = personas_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // A message, not an exit: the actor answers every request it holds before it leaves.
  for (auto& a : evicted) caf::anon_send(a, evict_atom::value);
  ctx_->counters.personas_evicted += evicted.size();
  return evicted.size();
}

std::vector<caf::actor> PersonaDirectory::all() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<caf::actor> out;
  out.reserve(personas_.size());
  for (const auto& [k, a] : personas_) out.push_back(a.actor);
  return out;
}

void PersonaDirectory::remove(const std::string& tenant, const std::string& persona,
                              const caf::actor& actor) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = personas_.find(key_of(tenant, persona));
  if (it != personas_.end() && it->second.actor == actor) personas_.erase(it);
}

void PersonaDirectory::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  personas_.clear();
}

size_t PersonaDirectory::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return personas_.size();
}

}  // namespace nca::actors
