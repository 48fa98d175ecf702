#include "actors/persona_directory.hpp"

#include "actors/persona_actor.hpp"

namespace nca::actors {

PersonaDirectory::PersonaDirectory(caf::actor_system& sys, NodeContextPtr ctx)
    : sys_(sys), ctx_(std::move(ctx)) {}

caf::actor PersonaDirectory::get_or_spawn(const std::string& tenant, const std::string& persona) {
  std::string key = tenant;
  key.push_back('\0');
  key += persona;
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return caf::actor{};
  auto it = personas_.find(key);
  if (it != personas_.end()) return it->second;
  auto a = spawn_persona(sys_, ctx_, tenant, persona);
  personas_.emplace(std::move(key), a);
  return a;
}

std::vector<caf::actor> PersonaDirectory::all() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<caf::actor> out;
  out.reserve(personas_.size());
  for (const auto& [k, a] : personas_) out.push_back(a);
  return out;
}

void PersonaDirectory::remove(const std::string& tenant, const std::string& persona,
                              const caf::actor& actor) {
  std::string key = tenant;
  key.push_back('\0');
  key += persona;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = personas_.find(key);
  if (it != personas_.end() && it->second == actor) personas_.erase(it);
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
