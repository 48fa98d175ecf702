// runtime/jwt.hpp: HS256 JSON Web Tokens (RFC 7519) as neuroca issues and accepts them.
//
// Claims: "tenant" (one tenant, or "*" for an admin), "role" (reader | writer | admin), "exp"
// (required), and optionally "sub" (who, for logs), "iat" and "nbf" (seconds since the epoch). Only
// alg HS256 is accepted: "none" and every other algorithm are refused, so a token cannot choose how
// it is checked. Pure functions over an explicit `now`, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "nca/result.hpp"
#include "runtime/principal.hpp"

namespace nca {

struct JwtClaims {
  std::string tenant;
  Role role = Role::reader;
  std::string subject;
  int64_t issued_at_s = 0;
  int64_t not_before_s = 0;  // 0: none
  int64_t expires_at_s = 0;
};

// Clock skew allowed between the issuer and this node, for exp and nbf.
inline constexpr int64_t kJwtLeewayS = 30;

std::string sign_jwt(const JwtClaims& claims, std::string_view secret);

// unauthenticated, with the reason, for a token that is malformed, signed with another secret or
// algorithm, expired, not yet valid, or missing a claim.
Result<JwtClaims> verify_jwt(std::string_view token, std::string_view secret, int64_t now_s);

// A JWT has two dots; API keys have none.
bool looks_like_jwt(std::string_view token);

}  // namespace nca
