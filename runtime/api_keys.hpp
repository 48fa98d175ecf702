// runtime/api_keys.hpp: the API keys a node accepts, as read from auth.api-keys-file.
//
// A key looks like "nca_<id>_<secret>": the id (12 hex digits) names it in files and logs, the
// secret (32 random bytes, base64url) proves it. The file stores only the SHA-256 of the whole key,
// one key per line:
//
//   # id           sha256 of the key                                                 tenant role
//   3f9c0a1b2c4d   9b74c9897bac770ffc029102a200c5de8f1a5b8c3f6f5e7d1c2b3a4958677869 acme   writer
//
// A stolen file therefore grants nothing. (The secret has 256 bits of entropy, so an unsalted fast
// hash is enough: there is nothing to guess.) `nca auth create-key` makes a key and its line.
// Immutable once built; thread-safe to read.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "nca/result.hpp"
#include "runtime/principal.hpp"

namespace nca {

class ApiKeyStore {
 public:
  ApiKeyStore() = default;

  // invalid_argument naming `source` and the line for a malformed line, a duplicate id, a bad
  // tenant or role, or "*" on a non-admin key. Nothing is accepted from a file with any bad line.
  static Result<ApiKeyStore> parse(std::string_view text, const std::string& source);
  static Result<ApiKeyStore> load(const std::string& path);

  // The key's principal; nullopt when the key is not in the store (or not a key at all).
  std::optional<Principal> find(std::string_view key) const;

  size_t size() const { return entries_.size(); }

  struct NewKey {
    std::string key;   // shown once to the operator, never stored
    std::string line;  // for the keys file
  };
  // invalid_argument for a bad tenant, or "*" for a non-admin role.
  static Result<NewKey> generate(const std::string& tenant, Role role, const std::string& note);

 private:
  struct Entry {
    std::string hash_hex;
    Principal principal;
  };
  std::map<std::string, Entry, std::less<>> entries_;  // by id
};

}  // namespace nca
