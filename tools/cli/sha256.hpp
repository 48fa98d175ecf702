// tools/cli/sha256.hpp: SHA-256 (FIPS 180-4) of a byte string.
//
// Used where the CLI needs an id that depends only on content and must be the same on every machine
// and every run (std::hash promises neither). Pure function, thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace nca::cli {

std::array<uint8_t, 32> sha256(const std::string& bytes);

// The digest as 64 lowercase hex digits.
std::string sha256_hex(const std::string& bytes);

}  // namespace nca::cli
