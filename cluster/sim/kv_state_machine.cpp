#include "cluster/sim/kv_state_machine.hpp"

#include <sstream>

namespace nca::raft::sim {
namespace {

void put_string(std::string& out, const std::string& s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
}

bool get_string(const std::string& in, size_t& pos, std::string& s) {
  size_t colon = in.find(':', pos);
  if (colon == std::string::npos || colon == pos || colon - pos > 9) return false;
  size_t n = 0;
  for (size_t i = pos; i < colon; ++i) {
    if (in[i] < '0' || in[i] > '9') return false;
    n = n * 10 + static_cast<size_t>(in[i] - '0');
  }
  if (colon + 1 + n > in.size()) return false;
  s = in.substr(colon + 1, n);
  pos = colon + 1 + n;
  return true;
}

bool get_u64(const std::string& in, size_t& pos, uint64_t& v) {
  std::string s;
  if (!get_string(in, pos, s) || s.empty() || s.size() > 20) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;  // beyond 2^64 - 1
    v = v * 10 + digit;
  }
  return true;
}

}  // namespace

std::string encode_command(const KvCommand& c) {
  std::string out = c.kind == KvCommand::Kind::put ? "P" : "G";
  put_string(out, std::to_string(c.client));
  put_string(out, std::to_string(c.seq));
  put_string(out, c.key);
  put_string(out, c.value);
  return out;
}

std::optional<KvCommand> decode_command(const std::string& data) {
  if (data.empty() || (data[0] != 'P' && data[0] != 'G')) return std::nullopt;
  KvCommand c;
  c.kind = data[0] == 'P' ? KvCommand::Kind::put : KvCommand::Kind::get;
  size_t pos = 1;
  if (!get_u64(data, pos, c.client) || !get_u64(data, pos, c.seq) ||
      !get_string(data, pos, c.key) || !get_string(data, pos, c.value) || pos != data.size()) {
    return std::nullopt;
  }
  return c;
}

std::optional<KvCommand> KvStateMachine::apply(const std::string& data) {
  auto command = decode_command(data);
  if (!command) return std::nullopt;
  if (command->kind == KvCommand::Kind::get) {
    command->value = get(command->key);
    return command;
  }
  auto [last, first_put] = last_seq_.try_emplace(command->client, command->seq);
  if (first_put || command->seq > last->second) {
    last->second = command->seq;
    values_[command->key] = command->value;
  }
  return command;
}

std::string KvStateMachine::get(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::string() : it->second;
}

std::string KvStateMachine::serialize() const {
  std::string out;
  put_string(out, std::to_string(values_.size()));
  for (const auto& [k, v] : values_) {
    put_string(out, k);
    put_string(out, v);
  }
  put_string(out, std::to_string(last_seq_.size()));
  for (const auto& [client, seq] : last_seq_) {
    put_string(out, std::to_string(client));
    put_string(out, std::to_string(seq));
  }
  return out;
}

Status KvStateMachine::restore(const std::string& data) {
  std::map<std::string, std::string> values;
  std::map<uint64_t, uint64_t> last_seq;
  size_t pos = 0;
  uint64_t n = 0;
  auto bad = [] { return make_error(ErrorCode::data_loss, "kv snapshot is malformed"); };
  if (!data.empty()) {
    if (!get_u64(data, pos, n) || n > data.size()) return bad();
    for (uint64_t i = 0; i < n; ++i) {
      std::string k, v;
      if (!get_string(data, pos, k) || !get_string(data, pos, v)) return bad();
      values[k] = v;
    }
    if (!get_u64(data, pos, n) || n > data.size()) return bad();
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t client = 0, seq = 0;
      if (!get_u64(data, pos, client) || !get_u64(data, pos, seq)) return bad();
      last_seq[client] = seq;
    }
    if (pos != data.size()) return bad();
  }
  values_ = std::move(values);
  last_seq_ = std::move(last_seq);
  return Status{};
}

}  // namespace nca::raft::sim
