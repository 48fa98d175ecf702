#include "storage/keys.hpp"

#include <cstdio>

namespace nca::storage {
namespace {

constexpr char kNodeWidePrefix[] = "\xff\xff";

void append_u64_be(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

}  // namespace

std::string shard_prefix(uint32_t shard) {
  std::string out(2, '\0');
  out[0] = static_cast<char>((shard >> 8) & 0xff);
  out[1] = static_cast<char>(shard & 0xff);
  return out;
}

std::string persona_prefix(uint32_t shard, std::string_view tenant, std::string_view persona) {
  std::string out = shard_prefix(shard);
  out.reserve(2 + tenant.size() + persona.size() + 2);
  out.append(tenant).push_back('\0');
  out.append(persona).push_back('\0');
  return out;
}

std::string item_key(std::string_view persona_prefix, std::string_view item_id) {
  std::string out;
  out.reserve(persona_prefix.size() + item_id.size());
  out.append(persona_prefix).append(item_id);
  return out;
}

std::string history_prefix(std::string_view persona_prefix, std::string_view item_id) {
  std::string out = item_key(persona_prefix, item_id);
  out.push_back('\0');
  return out;
}

std::string history_key(std::string_view persona_prefix, std::string_view item_id, uint64_t seq) {
  std::string out = history_prefix(persona_prefix, item_id);
  append_u64_be(out, seq);
  return out;
}

std::string request_prefix(std::string_view persona_prefix) {
  std::string out(persona_prefix);
  out.append("\x01req", 4);
  out.push_back('\0');
  return out;
}

std::string request_key(std::string_view persona_prefix, std::string_view request_id) {
  std::string out = request_prefix(persona_prefix);
  out.append(request_id);
  return out;
}

std::string lymphatic_key(std::string_view persona_prefix) {
  std::string out(persona_prefix);
  out.append(
      "\x01"
      "lymphatic");
  return out;
}

std::string link_key(std::string_view persona_prefix, std::string_view a, std::string_view b) {
  std::string out(persona_prefix);
  out.append(a);
  out.push_back('\0');
  out.append(b);
  return out;
}

std::string counters_key(std::string_view persona_prefix) {
  std::string out(persona_prefix);
  out.append(
      "\x01"
      "counters");
  return out;
}

std::string locator_key(std::string_view tenant, std::string_view item_id) {
  std::string out(kNodeWidePrefix);
  out.append("loc").push_back('\0');
  out.append(tenant).push_back('\0');
  out.append(item_id);
  return out;
}

uint32_t events_shard(std::string_view tenant, uint32_t shards) {
  return shard_of(tenant, "", shards);
}

std::string events_prefix(uint32_t shard, std::string_view tenant) {
  return persona_prefix(shard, tenant, std::string_view("\x02", 1));
}

std::string event_key(std::string_view events_prefix, std::string_view event_id) {
  return item_key(events_prefix, event_id);
}

std::string node_meta_key(std::string_view name) {
  std::string out(kNodeWidePrefix);
  out.append("node").push_back('\0');
  out.append(name);
  return out;
}

std::string prefix_successor(std::string_view prefix) {
  std::string out(prefix);
  while (!out.empty()) {
    auto last = static_cast<unsigned char>(out.back());
    if (last != 0xff) {
      out.back() = static_cast<char>(last + 1);
      return out;
    }
    out.pop_back();
  }
  return out;
}

Result<PersonaKey> parse_persona_prefix(std::string_view key) {
  auto malformed = [&](const char* why) {
    return make_error(ErrorCode::data_loss,
                      "malformed persona key " + printable_key(key) + ": " + why);
  };
  if (key.size() < 4) return malformed("shorter than a shard and two terminators");
  PersonaKey out;
  out.shard = (static_cast<uint32_t>(static_cast<unsigned char>(key[0])) << 8) |
              static_cast<unsigned char>(key[1]);
  size_t tenant_end = key.find('\0', 2);
  if (tenant_end == std::string_view::npos) return malformed("no end of tenant");
  size_t persona_end = key.find('\0', tenant_end + 1);
  if (persona_end == std::string_view::npos) return malformed("no end of persona");
  out.tenant = std::string(key.substr(2, tenant_end - 2));
  out.persona = std::string(key.substr(tenant_end + 1, persona_end - tenant_end - 1));
  return out;
}

std::string printable_key(std::string_view key) {
  std::string out = "\"";
  for (unsigned char c : key) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out.append(buf);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace nca::storage
