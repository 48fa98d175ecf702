#include "storage/column_family.hpp"

namespace nca::storage {

const char* cf_name(Cf cf) {
  switch (cf) {
    case Cf::items:
      return "items";
    case Cf::vectors:
      return "vectors";
    case Cf::links:
      return "links";
    case Cf::personas:
      return "personas";
    case Cf::events:
      return "events";
    case Cf::history:
      return "history";
    case Cf::archive:
      return "archive";
    case Cf::meta:
      return "meta";
    case Cf::raft_log:
      return "raft_log";
    case Cf::raft_state:
      return "raft_state";
  }
  return "unknown";
}

}  // namespace nca::storage
