// runtime/ids.hpp: identifiers.
//
// IdGenerator makes UUIDv7 strings (time-ordered, so item ids sort by creation and list pages are stable).
// It is thread-safe (one mutex around its generator) and owned by whoever needs ids (the node); the Clock
// must outlive it. validate_id() is the one rule for client-supplied ids, persona ids and tenants.
#pragma once

#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include "nca/result.hpp"
#include "nca/uuid_v7.hpp"
#include "runtime/clock.hpp"

namespace nca {

class IdGenerator {
 public:
  explicit IdGenerator(const Clock& clock, uint64_t seed = std::random_device{}());
  std::string uuid_v7();

 private:
  const Clock& clock_;
  std::mutex mu_;
  UuidV7 uuid_;
};

// Ids (items, personas, tenants, sessions) are 1..128 bytes of [A-Za-z0-9._:@-]: printable, no separators
// that our storage keys or URLs use. `what` names the field in the error message.
Status validate_id(std::string_view id, std::string_view what);

}  // namespace nca
