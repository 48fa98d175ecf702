#include "runtime/persona_quota.hpp"

namespace nca {

size_t PersonaQuota::held(const std::string& tenant, TimeUs now) {
  auto it = held_.find(tenant);
  if (it == held_.end()) return 0;
  for (auto p = it->second.begin(); p != it->second.end();) {
    p = p->second <= now ? it->second.erase(p) : std::next(p);
  }
  size_t n = it->second.size();
  if (n == 0) held_.erase(it);
  return n;
}

Status PersonaQuota::admit(const std::string& tenant, const std::string& persona, size_t known,
                           bool exists, TimeUs now) {
  if (limit_ <= 0 || exists) return {};
  const size_t holding = held(tenant, now);
  auto& places = held_[tenant];
  auto mine = places.find(persona);
  if (mine != places.end()) {  // asked again (a retry): keep its place, longer
    mine->second = now + hold_;
    return {};
  }
  if (known + holding >= static_cast<size_t>(limit_)) {
    if (places.empty()) held_.erase(tenant);
    return make_error(ErrorCode::resource_exhausted,
                      "tenant '" + tenant + "' has " + std::to_string(known + holding) +
                          " personas; limits.personas-per-tenant allows " + std::to_string(limit_) +
                          ": delete one, or raise the limit");
  }
  places[persona] = now + hold_;
  return {};
}

void PersonaQuota::settled(const std::string& tenant, const std::string& persona) {
  auto it = held_.find(tenant);
  if (it == held_.end()) return;
  it->second.erase(persona);
  if (it->second.empty()) held_.erase(it);
}

}  // namespace nca
