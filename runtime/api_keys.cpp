#include "runtime/api_keys.hpp"

#include <fstream>
#include <sstream>

#include "runtime/crypto.hpp"
#include "runtime/ids.hpp"

namespace nca {
namespace {

constexpr std::string_view kPrefix = "nca_";
constexpr size_t kIdChars = 12;

bool is_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The id of a well-formed key, or nullopt.
std::optional<std::string_view> key_id(std::string_view key) {
  if (key.size() < kPrefix.size() + kIdChars + 2 || key.substr(0, kPrefix.size()) != kPrefix) {
    return std::nullopt;
  }
  std::string_view id = key.substr(kPrefix.size(), kIdChars);
  if (!is_hex(id) || key[kPrefix.size() + kIdChars] != '_') return std::nullopt;
  return id;
}

Status check_tenant(const std::string& tenant, Role role) {
  if (tenant == kAnyTenant) {
    if (role != Role::admin) {
      return make_error(ErrorCode::invalid_argument, "tenant '*' is for admin keys only");
    }
    return {};
  }
  return validate_id(tenant, "tenant");
}

}  // namespace

Result<ApiKeyStore> ApiKeyStore::parse(std::string_view text, const std::string& source) {
  ApiKeyStore store;
  std::istringstream lines{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    auto bad = [&](const std::string& why) {
      return make_error(ErrorCode::invalid_argument,
                        source + ":" + std::to_string(number) + ": " + why);
    };
    std::istringstream words(line);
    std::string id, hash, tenant, role;
    if (!(words >> id) || id[0] == '#') continue;
    if (!(words >> hash >> tenant >> role)) {
      return bad("expected 'ID SHA256 TENANT ROLE [NOTE]'");
    }
    if (id.size() != kIdChars || !is_hex(id)) return bad("the id must be 12 lowercase hex digits");
    if (hash.size() != 64 || !is_hex(hash)) {
      return bad("the hash must be 64 lowercase hex digits (SHA-256 of the key)");
    }
    auto parsed_role = parse_role(role);
    if (!parsed_role) return bad(parsed_role.error().message);
    if (auto s = check_tenant(tenant, *parsed_role); !s) return bad(s.error().message);
    if (store.entries_.count(id)) return bad("id " + id + " is listed twice");
    store.entries_.emplace(id, Entry{hash, Principal{tenant, *parsed_role, "key " + id}});
  }
  return store;
}

Result<ApiKeyStore> ApiKeyStore::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::invalid_argument, "cannot read auth.api-keys-file '" + path + "'");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (64u << 20)) {
    return make_error(ErrorCode::invalid_argument, path + " is larger than 64 MiB");
  }
  return parse(text.str(), path);
}

std::optional<Principal> ApiKeyStore::find(std::string_view key) const {
  auto id = key_id(key);
  if (!id) return std::nullopt;
  auto it = entries_.find(*id);
  if (it == entries_.end()) return std::nullopt;
  if (!constant_time_equal(sha256_hex(key), it->second.hash_hex)) return std::nullopt;
  return it->second.principal;
}

Result<ApiKeyStore::NewKey> ApiKeyStore::generate(const std::string& tenant, Role role,
                                                  const std::string& note) {
  if (auto s = check_tenant(tenant, role); !s) return s.error();
  auto id_bytes = random_bytes(kIdChars / 2);
  if (!id_bytes) return id_bytes.error();
  auto secret = random_bytes(32);
  if (!secret) return secret.error();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char c : *id_bytes) {
    id += kHex[c >> 4];
    id += kHex[c & 15];
  }
  NewKey out;
  out.key = std::string(kPrefix) + id + "_" + base64url_encode(*secret);
  out.line = id + " " + sha256_hex(out.key) + " " + tenant + " " + to_string(role);
  std::string clean_note;
  for (char c : note) clean_note += (c == '\n' || c == '\r') ? ' ' : c;
  if (!clean_note.empty()) out.line += " " + clean_note;
  return out;
}

}  // namespace nca
