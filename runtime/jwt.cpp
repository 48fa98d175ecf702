#include "runtime/jwt.hpp"

#include <nlohmann/json.hpp>

#include "runtime/crypto.hpp"

namespace nca {
namespace {

using json = nlohmann::json;

Error refused(std::string why) { return make_error(ErrorCode::unauthenticated, "JWT " + why); }

// A claim that must be a whole number of seconds, when present.
Result<int64_t> seconds_claim(const json& payload, const char* name, bool required) {
  auto it = payload.find(name);
  if (it == payload.end()) {
    if (required) return refused(std::string("has no '") + name + "' claim");
    return int64_t{0};
  }
  if (!it->is_number()) {
    return refused(std::string("claim '") + name + "' is not a number of seconds");
  }
  double v = it->get<double>();
  if (!(v >= 0 && v < 1e15)) return refused(std::string("claim '") + name + "' is out of range");
  return static_cast<int64_t>(v);
}

}  // namespace

bool looks_like_jwt(std::string_view token) {
  size_t first = token.find('.');
  return first != std::string_view::npos && token.find('.', first + 1) != std::string_view::npos;
}

std::string sign_jwt(const JwtClaims& claims, std::string_view secret) {
  json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  json payload = {
      {"tenant", claims.tenant}, {"role", to_string(claims.role)}, {"exp", claims.expires_at_s}};
  if (!claims.subject.empty()) payload["sub"] = claims.subject;
  if (claims.issued_at_s != 0) payload["iat"] = claims.issued_at_s;
  if (claims.not_before_s != 0) payload["nbf"] = claims.not_before_s;
  std::string input = base64url_encode(header.dump()) + "." + base64url_encode(payload.dump());
  return input + "." + base64url_encode(hmac_sha256(secret, input));
}

Result<JwtClaims> verify_jwt(std::string_view token, std::string_view secret, int64_t now_s) {
  if (token.size() > 8192) return refused("is longer than 8192 bytes");
  size_t a = token.find('.');
  size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
  if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos) {
    return refused("is malformed: expected three dot-separated parts");
  }
  auto header_bytes = base64url_decode(token.substr(0, a));
  auto payload_bytes = base64url_decode(token.substr(a + 1, b - a - 1));
  auto signature = base64url_decode(token.substr(b + 1));
  if (!header_bytes || !payload_bytes || !signature) {
    return refused("is malformed: a part is not base64url");
  }
  json header = json::parse(*header_bytes, nullptr, false);
  json payload = json::parse(*payload_bytes, nullptr, false);
  if (!header.is_object() || !payload.is_object()) {
    return refused("is malformed: header and payload must be JSON objects");
  }
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get<std::string>() != "HS256") {
    std::string named = alg != header.end() && alg->is_string() ? alg->get<std::string>() : "";
    return refused("algorithm '" + named + "' is not accepted; only HS256");
  }
  // The signature is checked before any claim is believed.
  if (secret.empty() || !constant_time_equal(*signature, hmac_sha256(secret, token.substr(0, b)))) {
    return refused("signature does not match this cluster's auth.jwt-secret");
  }
  JwtClaims claims;
  auto tenant = payload.find("tenant");
  if (tenant == payload.end() || !tenant->is_string() || tenant->get<std::string>().empty()) {
    return refused("has no 'tenant' claim");
  }
  claims.tenant = tenant->get<std::string>();
  auto role = payload.find("role");
  if (role == payload.end() || !role->is_string()) return refused("has no 'role' claim");
  auto parsed = parse_role(role->get<std::string>());
  if (!parsed) return refused("role: " + parsed.error().message);
  claims.role = *parsed;
  if (claims.tenant == kAnyTenant && claims.role != Role::admin) {
    return refused("tenant '*' is for admin tokens only");
  }
  if (auto sub = payload.find("sub"); sub != payload.end() && sub->is_string()) {
    claims.subject = sub->get<std::string>();
  }
  auto exp = seconds_claim(payload, "exp", true);
  if (!exp) return exp.error();
  auto nbf = seconds_claim(payload, "nbf", false);
  if (!nbf) return nbf.error();
  auto iat = seconds_claim(payload, "iat", false);
  if (!iat) return iat.error();
  claims.expires_at_s = *exp;
  claims.not_before_s = *nbf;
  claims.issued_at_s = *iat;
  if (now_s >= claims.expires_at_s + kJwtLeewayS) {
    return refused("expired " + std::to_string(now_s - claims.expires_at_s) +
                   " s ago; ask for a new token");
  }
  if (claims.not_before_s != 0 && now_s + kJwtLeewayS < claims.not_before_s) {
    return refused("is not valid for another " + std::to_string(claims.not_before_s - now_s) +
                   " s (nbf)");
  }
  return claims;
}

}  // namespace nca
