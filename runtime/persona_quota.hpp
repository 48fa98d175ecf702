// runtime/persona_quota.hpp: limits.personas-per-tenant, as a pure state machine.
//
// Kept by whoever sees every persona of a tenant: the event router of the node that serves the
// tenant's event shard (every persona actor reports its profile there, since event routing needs
// them all). A persona actor asks once, before the write that would create its persona; admit()
// says yes when the persona is already known, or when the tenant's known personas plus the places
// held for personas being created are below the limit. A yes holds a place until the persona's
// profile is reported (settled()) or `hold` passes (its write failed, or the report was lost), so
// concurrent creations cannot overshoot the limit. A persona deleted gives its place back through
// the known count the caller passes.
//
// Not thread-safe: one owner (an actor). Time comes from the caller.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nca/result.hpp"
#include "runtime/clock.hpp"

namespace nca {

class PersonaQuota {
 public:
  // `limit` personas per tenant (0: no limit); a place is held at most `hold` microseconds.
  PersonaQuota(int64_t limit, TimeUs hold) : limit_(limit), hold_(hold) {}

  // `known`: the tenant's personas now; `exists`: whether `persona` is one of them.
  // resource_exhausted, naming the limit, when the persona may not come into being.
  Status admit(const std::string& tenant, const std::string& persona, size_t known, bool exists,
               TimeUs now);
  // The persona's profile arrived (or it is gone): its place, if held, is no longer needed.
  void settled(const std::string& tenant, const std::string& persona);
  // Places held for the tenant's personas being created, after dropping expired ones.
  size_t held(const std::string& tenant, TimeUs now);

 private:
  int64_t limit_;
  TimeUs hold_;
  std::map<std::string, std::map<std::string, TimeUs>> held_;  // tenant -> persona -> until
};

}  // namespace nca
