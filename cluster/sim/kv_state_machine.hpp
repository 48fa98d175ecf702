// cluster/sim/kv_state_machine.hpp: the small key-value state machine the Raft simulator
// replicates.
//
// Contract: commands are encoded by encode_command and applied in log order. A put from
// (client, seq) takes effect once, and only if seq is above the client's last applied put (the
// first put of a client always applies): a retried proposal of the same seq that commits twice is
// a no-op the second time (the idempotency a real client needs, and what keeps the history
// linearizable when a client retries). A get through the log observes the value at its position.
// Malformed commands (a new leader's empty no-op included) are ignored, so replaying any committed
// log is safe. serialize()/restore() carry the whole state in a snapshot. Thread-safety: none.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "nca/result.hpp"

namespace nca::raft::sim {

struct KvCommand {
  enum class Kind : uint8_t { put, get };
  Kind kind = Kind::put;
  uint64_t client = 0;
  uint64_t seq = 0;
  std::string key;
  std::string value;
};

std::string encode_command(const KvCommand& command);
std::optional<KvCommand> decode_command(const std::string& data);

class KvStateMachine {
 public:
  // Applies `data` (a committed entry's payload); returns the command when it was one (for a get,
  // `value` is filled with what it observed).
  std::optional<KvCommand> apply(const std::string& data);

  std::string get(const std::string& key) const;
  std::string serialize() const;
  Status restore(const std::string& data);

 private:
  std::map<std::string, std::string> values_;
  std::map<uint64_t, uint64_t> last_seq_;  // client -> highest put seq applied
};

}  // namespace nca::raft::sim
