// runtime/crypto.hpp: the few cryptographic primitives neuroca uses, over OpenSSL's libcrypto.
//
// SHA-256 (content ids, API key hashes), HMAC-SHA-256 (JWT signatures), base64url without padding
// (JWT segments, API keys), a comparison whose time does not depend on where two strings differ
// (secrets), and random bytes from the OS (new keys). Free functions, thread-safe; none of them
// keeps state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nca/result.hpp"

namespace nca {

std::array<uint8_t, 32> sha256(std::string_view bytes);
// The digest as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

// The 32-byte MAC of `data` under `key`.
std::string hmac_sha256(std::string_view key, std::string_view data);

// RFC 4648 §5 without '=' padding.
std::string base64url_encode(std::string_view bytes);
// nullopt for a character outside the alphabet, padding, or an impossible length.
std::optional<std::string> base64url_decode(std::string_view text);

// Equal length and equal bytes, in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// `n` bytes from the OS's generator; internal when it fails (no entropy source).
Result<std::string> random_bytes(size_t n);

}  // namespace nca
