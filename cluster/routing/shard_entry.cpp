#include "cluster/routing/shard_entry.hpp"

namespace nca::cluster {

std::string encode_persona_write(std::string_view batch_rep) {
  std::string out;
  out.reserve(batch_rep.size() + 1);
  out.push_back(static_cast<char>(ShardEntryKind::persona_write));
  out.append(batch_rep);
  return out;
}

Result<ShardEntry> decode_shard_entry(std::string_view data) {
  if (data.empty()) return make_error(ErrorCode::invalid_argument, "an empty shard entry");
  auto kind = static_cast<uint8_t>(data[0]);
  if (kind != static_cast<uint8_t>(ShardEntryKind::persona_write)) {
    return make_error(
        ErrorCode::invalid_argument,
        "shard entry of unknown kind " + std::to_string(kind) + " (written by a newer node?)");
  }
  return ShardEntry{ShardEntryKind::persona_write, data.substr(1)};
}

}  // namespace nca::cluster
